// ec demo: everything on a fresh machine, no Docker needed: a private OVS (sandbox), a userspace
// vswitch demo0 on 10.0.0.254/24, three network namespaces in slots 1-3, a ping matrix with a TCP
// column (a small transfer to every other slot, byte count checked: ping alone once hid that TCP
// and UDP were dropped), and a teardown that runs however the demo ends (failure, ctrl-c). The
// namespaces, pings and transfers come from the sandbox module, the one place that runs tools.
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { EcdockError } from '../../errors';
import { OvsdbClient } from '../../ovsdb/client';
import { OvsSandbox, ScratchNetns } from '../../sandbox';
import type { SlotInfo } from '../../slot';
import { VSwitch } from '../../vswitch';
import { action } from '../action';
import { addGlobalOptions } from '../context';
import { EXIT } from '../exit-codes';
import { native } from '../../netlink/addon';
import { formatTable } from '../output';
import { SLOT_COLUMNS, slotRow } from '../slot-view';
import { ovnDemo } from './demo-ovn';

const SLOTS = [1, 2, 3];
/** Bytes sent over TCP from every slot to every other slot. */
const TCP_BYTES = 256 * 1024;
const TCP_PORT = 5300;

export interface PingResult {
  from: number;
  to: number | 'gateway';
  address: string;
  ok: boolean;
}

export interface TcpResult {
  from: number;
  to: number;
  address: string;
  bytes: number;
  /** Bytes that arrived (ok when all of them did). */
  received: number;
  ok: boolean;
}

export function demoCommand(): Command {
  const cmd = new Command('demo')
    .summary('sandbox + vswitch + three slots + ping and TCP matrix, then tear down (no Docker needed)')
    .description(
      'Show ecdock end to end on this machine, leaving nothing behind: start a private OVS (userspace\n' +
        'datapath, its own network namespace), create vswitch demo0 on 10.0.0.254/24, plug three network\n' +
        'namespaces into slots 1-3, ping every slot and the gateway from every slot, send 256 KiB over TCP\n' +
        'from every slot to every other slot, print the matrix, and tear everything down (also on failure\n' +
        'or ctrl-c). Needs root, Open vSwitch and iproute2.\n' +
        'Exits 0 when every ping answered and every transfer arrived whole, 6 otherwise.',
    );
  cmd.option('--ovn', 'across hosts: a private OVN with three simulated hosts, one slot on each, ping and TCP matrix');
  addGlobalOptions(cmd, { except: ['db', 'vswitch', 'slot', 'netns', 'ovnNb'] });
  return cmd.action(
    action<{ ovn?: boolean }>(async (ctx, _a, opts) => {
      if (typeof process.getuid === 'function' && process.getuid() !== 0) {
        throw new EcdockError('PERMISSION_DENIED', 'ec demo needs root: it makes network namespaces and starts OVS daemons (try: sudo ec demo)');
      }
      native(); // NATIVE_UNAVAILABLE now, before a sandbox is started for nothing
      let interrupted: string | undefined;
      const onSignal = (sig: string) => () => {
        interrupted = sig;
        ctx.out.note(`\n${sig}: tearing down...`);
      };
      const onInt = onSignal('SIGINT');
      const onTerm = onSignal('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      const check = () => {
        if (interrupted) throw new EcdockError('INTERRUPTED', `demo interrupted by ${interrupted}; everything it made was removed`);
      };
      if (opts.ovn) {
        try {
          return await ovnDemo(ctx, check);
        } finally {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
        }
      }
      const tag = randomBytes(3).toString('hex');
      const namespaces = SLOTS.map((n) => `ecdemo-${tag}-${n}`);
      const made: ScratchNetns[] = [];
      let sb: OvsSandbox | undefined;
      let ovs: OvsdbClient | undefined;
      let vs: VSwitch | undefined;
      try {
        ctx.out.note('1. starting a private Open vSwitch (userspace datapath, own network namespace)...');
        sb = await OvsSandbox.start({ isolated: true });
        check();
        ovs = await OvsdbClient.connect(sb.dbUrl, { reconnect: false });
        ctx.out.note('2. creating vswitch demo0 on 10.0.0.254/24 (ec create-vswitch --usermode)...');
        vs = await VSwitch.create(ovs, { name: 'demo0', subnet: '10.0.0.254/24', usermode: true, ...(sb.netns ? { netns: sb.netns } : {}) });
        check();
        ctx.out.note(`3. plugging three network namespaces into slots ${SLOTS.join(', ')} (ec plug --netns)...`);
        for (const ns of namespaces) made.push(await ScratchNetns.create(ns));
        const slots: SlotInfo[] = [];
        for (const [i, n] of SLOTS.entries()) slots.push((await vs.attach({ slot: n, target: { netns: `/var/run/netns/${namespaces[i]}` } })).info);
        check();
        if (!ctx.out.json && !ctx.out.quiet) ctx.out.stdout.write(formatTable(SLOT_COLUMNS, slots.map((s) => slotRow(s))) + '\n');
        ctx.out.note('4. ping matrix: every slot pings every other slot and the gateway, and sends 256 KiB over TCP to every other slot...');
        const jobs: Promise<PingResult>[] = [];
        for (const [i, from] of SLOTS.entries()) {
          for (const to of [...SLOTS, 'gateway' as const]) {
            if (to === from) continue;
            const address = to === 'gateway' ? vs.plan.gateway : vs.addressOf(to).ipv4;
            jobs.push(made[i]!.ping(address).then((ok) => ({ from, to, address, ok })));
          }
        }
        const pings = await Promise.all(jobs);
        check();
        // One transfer at a time per receiving slot (each listens on its own port per sender).
        const tcp: TcpResult[] = [];
        for (const [j, to] of SLOTS.entries()) {
          const address = vs.addressOf(to).ipv4;
          const senders = SLOTS.map((from, i) => ({ from, i })).filter((x) => x.from !== to);
          const got = await Promise.all(senders.map(({ from, i }) => made[i]!.tcpSendTo(made[j]!, address, TCP_PORT + from, TCP_BYTES)));
          senders.forEach(({ from }, k) => tcp.push({ from, to, address, bytes: TCP_BYTES, received: got[k]!, ok: got[k] === TCP_BYTES }));
          check();
        }
        const ok = pings.every((p) => p.ok) && tcp.every((t) => t.ok);
        const tcpCol = 'TCP 256K to slots';
        const gwCol = `${vs.plan.gateway} (gw)`;
        const header = ['FROM \\ TO', ...SLOTS.map((n) => vs!.addressOf(n).ipv4), gwCol, tcpCol];
        const rows = SLOTS.map((from) => {
          const row: Record<string, string> = { 'FROM \\ TO': `slot ${from} ${vs!.addressOf(from).ipv4}` };
          for (const to of [...SLOTS, 'gateway' as const]) {
            const col = to === 'gateway' ? gwCol : vs!.addressOf(to).ipv4;
            row[col] = to === from ? '·' : pings.find((p) => p.from === from && p.to === to)!.ok ? '✓' : '✗';
          }
          const mine = tcp.filter((t) => t.from === from);
          const good = mine.filter((t) => t.ok).length;
          row[tcpCol] = `${good === mine.length ? '✓' : '✗'} ${good}/${mine.length}`;
          return row;
        });
        const badPings = pings.filter((p) => !p.ok).length;
        const badTcp = tcp.filter((t) => !t.ok).length;
        const summary =
          (badPings ? `${badPings} of ${pings.length} pings failed` : `all ${pings.length} pings answered`) +
          (badTcp ? `; ${badTcp} of ${tcp.length} TCP transfers did not arrive whole` : `; all ${tcp.length} TCP transfers arrived whole`);
        ctx.out.result(
          formatTable(header, rows) + summary,
          { vswitch: vs.toJSON(), slots, pings, tcp, ok },
          { always: true },
        );
        return ok ? EXIT.ok : EXIT.failed;
      } finally {
        ctx.out.note('5. tearing down: vswitch, namespaces, sandbox...');
        const errors: string[] = [];
        if (vs) await vs.destroy().catch((e: Error) => errors.push(`vswitch: ${e.message}`));
        ovs?.close();
        for (const ns of made) await ns.remove().catch((e: Error) => errors.push(`netns ${ns.name}: ${e.message}`));
        if (sb) await sb.stop().catch((e: Error) => errors.push(`sandbox: ${e.message}`));
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        if (errors.length) ctx.out.note(`teardown left something behind:\n  ${errors.join('\n  ')}`);
        else ctx.out.note('done: nothing left behind');
      }
    }),
  );
}
