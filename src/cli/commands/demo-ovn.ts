// ec demo --ovn: slots across hosts on this one machine. A private OVN (Northbound, Southbound,
// ovn-northd, three simulated hosts with their own OVS and ovn-controller over a Geneve underlay),
// vswitch demo0 backed by an OVN logical switch, one network namespace per host in slots 1-3, a
// ping matrix (every slot to every other slot and the gateway) and a TCP matrix (1 MB between
// every pair), then a teardown that runs however the demo ends.
import { randomBytes } from 'node:crypto';
import { EcdockError } from '../../errors';
import { OvsdbClient } from '../../ovsdb/client';
import { OvnSandbox, ScratchNetns } from '../../sandbox';
import type { SlotInfo } from '../../slot';
import { VSwitch } from '../../vswitch';
import type { Context } from '../context';
import { EXIT } from '../exit-codes';
import { formatTable } from '../output';

const SLOTS = [1, 2, 3];
const TCP_BYTES = 1_000_000;

interface Check {
  from: number;
  to: number | 'gateway';
  kind: 'ping' | 'tcp';
  ok: boolean;
}

export async function ovnDemo(ctx: Context, check: () => void): Promise<number> {
  const tag = randomBytes(3).toString('hex');
  const made: ScratchNetns[] = [];
  const clients: OvsdbClient[] = [];
  let ovn: OvnSandbox | undefined;
  let vs: VSwitch | undefined;
  try {
    ctx.out.note('1. starting a private OVN: Northbound, Southbound, ovn-northd and three simulated hosts (own OVS + ovn-controller each, Geneve underlay)...');
    ovn = await OvnSandbox.start({ hosts: 3 });
    check();
    for (const h of ovn.hosts) clients.push(await OvsdbClient.connect(h.dbUrl, { reconnect: false }));
    const nb = await OvsdbClient.connect(ovn.northbound, { reconnect: false });
    clients.push(nb);
    ctx.out.note('2. creating vswitch demo0 on 10.0.0.254/24 as an OVN logical switch (ec --ovn-nb URL create-vswitch)...');
    vs = await VSwitch.create(clients[0]!, { name: 'demo0', subnet: '10.0.0.254/24', ovn: { northbound: nb }, netns: ovn.hosts[0]!.netns });
    const views = [vs];
    for (const i of [1, 2]) views.push(await VSwitch.open(clients[i]!, 'demo0', { ovn: { northbound: nb }, netns: ovn.hosts[i]!.netns }));
    check();
    ctx.out.note(`3. one network namespace per host, in slots ${SLOTS.join(', ')} (ec plug --netns, as each host)...`);
    const slots: SlotInfo[] = [];
    for (const [i, n] of SLOTS.entries()) {
      const ns = await ScratchNetns.create(`ecdemo-${tag}-${n}`);
      made.push(ns);
      slots.push((await views[i]!.attach({ slot: n, target: { netns: ns.path } })).info);
    }
    check();
    if (!ctx.out.json && !ctx.out.quiet) {
      const rows = slots.map((s) => ({ SLOT: s.index, IP: s.ipv4, MAC: s.mac, HOST: s.host ?? '-', MTU: s.mtu ?? '-', STATE: s.state }));
      ctx.out.stdout.write(formatTable(['SLOT', 'IP', 'MAC', 'HOST', 'MTU', 'STATE'], rows) + '\n');
    }
    ctx.out.note(`4. across hosts: every slot pings every other slot and the gateway, and sends ${TCP_BYTES} bytes of TCP to every other slot...`);
    const checks: Check[] = [];
    for (const [i, from] of SLOTS.entries()) {
      for (const to of [...SLOTS, 'gateway' as const]) {
        if (to === from) continue;
        const address = to === 'gateway' ? vs.plan.gateway : vs.addressOf(to).ipv4;
        checks.push({ from, to, kind: 'ping', ok: await made[i]!.ping(address) });
        if (to !== 'gateway') checks.push({ from, to, kind: 'tcp', ok: (await made[i]!.tcpTo(made[SLOTS.indexOf(to)]!, address, TCP_BYTES)) === TCP_BYTES });
        check();
      }
    }
    const ok = checks.every((c) => c.ok);
    const gw = `${vs.plan.gateway} (gw)`;
    const header = ['FROM \\ TO', ...SLOTS.map((n) => `slot ${n}`), gw];
    const rows = SLOTS.map((from) => {
      const row: Record<string, string> = { 'FROM \\ TO': `slot ${from} (${slots[from - 1]!.host ?? '?'})` };
      for (const to of [...SLOTS, 'gateway' as const]) {
        const col = to === 'gateway' ? gw : `slot ${to}`;
        if (to === from) row[col] = '·';
        else {
          const mark = (kind: Check['kind']) => (checks.find((c) => c.from === from && c.to === to && c.kind === kind)?.ok ? '✓' : '✗');
          row[col] = to === 'gateway' ? `ping ${mark('ping')}` : `ping ${mark('ping')} tcp ${mark('tcp')}`;
        }
      }
      return row;
    });
    const failed = checks.filter((c) => !c.ok).length;
    ctx.out.result(formatTable(header, rows) + (ok ? `all ${checks.length} checks passed across 3 hosts` : `${failed} of ${checks.length} checks failed`), { vswitch: vs.toJSON(), slots, checks, ok }, { always: true });
    return ok ? EXIT.ok : EXIT.failed;
  } catch (e) {
    if (e instanceof EcdockError) throw e;
    throw new EcdockError('INTERNAL', `demo failed: ${(e as Error).message}`, { cause: e });
  } finally {
    ctx.out.note('5. tearing down: vswitch, namespaces, OVN sandbox...');
    const errors: string[] = [];
    if (vs) await vs.destroy().catch((e: Error) => errors.push(`vswitch: ${e.message}`));
    for (const c of clients) c.close();
    for (const ns of made) await ns.remove().catch((e: Error) => errors.push(`netns ${ns.name}: ${e.message}`));
    if (ovn) await ovn.stop().catch((e: Error) => errors.push(`sandbox: ${e.message}`));
    if (errors.length) ctx.out.note(`teardown left something behind:\n  ${errors.join('\n  ')}`);
    else ctx.out.note('done: nothing left behind');
  }
}
