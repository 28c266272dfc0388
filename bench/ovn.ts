// Slots across hosts on OVN: ecdock against the shell way (ovn-nbctl lsp-add + lsp-set-addresses +
// lsp-set-port-security + lsp-set-options requested-chassis, the ip steps, ovs-vsctl add-port ...
// iface-id, then waiting for up), side by side in one run on one OvnSandbox with three simulated
// hosts. Measures
//   1. one slot, from the call to the first answered ping from a slot on another host (median of
//      rounds, the two ways alternating), and the floor under it: from the br-int port being
//      committed to ovn-controller marking it ovn-installed (ecdock's crash points time the steps);
//   2. 100 slots spread over the three hosts, from the first call to every one up (and answering
//      a ping sweep). The shell way runs one loop per host, in parallel, as three hosts would.
// Run as root after tsc:  node dist/bench/ovn.js [--quick]. Writes bench/results/ovn.md.
// A benchmark, not a test: it asserts nothing.

import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { setCrashHook, type CrashPoint } from '../src/crash-points';
import { closeOvnConnections } from '../src/ovn/nb-db';
import { loadavg } from 'node:os';
import { OvsdbClient } from '../src/ovsdb/client';
import { OvnSandbox } from '../src/sandbox';
import { VSwitch } from '../src/vswitch';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 7;
const MANY = quick ? 30 : 100;

function run(file: string, args: string[], allowFail = false): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err && !allowFail) reject(new Error(`${file} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(String(stdout));
    }),
  );
}

const now = () => process.hrtime.bigint();
const ms = (t0: bigint, t1 = now()) => Number(t1 - t0) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

/** Pings until one answer comes (1 s per try); resolves when it did. */
async function firstPing(fromNs: string, address: string, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if ((await run('ip', ['netns', 'exec', fromNs, 'ping', '-c1', '-W1', address], true).then((o) => / 0% packet loss/.test(o)))) return;
  }
  throw new Error(`${address} never answered from ${fromNs}`);
}

interface World {
  ovn: OvnSandbox;
  views: VSwitch[];
  name: string;
  gateway: string;
  hostNs: string[];
}

/** The shell way for one slot on host h (one process per step, as a script would). */
async function shellSlot(w: World, h: number, n: number, ns: string): Promise<void> {
  const a = w.views[0]!.addressOf(n);
  const nb = `--db=${w.ovn.northbound}`;
  const addr = `${a.mac} ${a.ipv4}`;
  const host = w.ovn.hosts[h]!;
  await run('ovn-nbctl', [nb, 'lsp-add', w.name, a.portName]);
  await run('ovn-nbctl', [nb, 'lsp-set-addresses', a.portName, addr]);
  await run('ovn-nbctl', [nb, 'lsp-set-port-security', a.portName, addr]);
  await run('ovn-nbctl', [nb, 'lsp-set-options', a.portName, `requested-chassis=${host.name}`]);
  await run('ip', ['-n', w.hostNs[h]!, 'link', 'add', a.portName, 'mtu', '1442', 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', '1442', 'netns', ns]);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'address', a.mac]);
  await run('ip', ['-n', ns, 'addr', 'add', `${a.ipv4}/${a.prefixLength}`, 'dev', 'eth0']);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', ns, 'route', 'add', 'default', 'via', a.gateway]);
  await run('ip', ['-n', w.hostNs[h]!, 'link', 'set', a.portName, 'up']);
  await run('ovs-vsctl', [`--db=${host.dbUrl}`, 'add-port', 'br-int', a.portName, '--', 'set', 'Interface', a.portName, `external_ids:iface-id=${a.portName}`]);
  await run('ovn-nbctl', [nb, 'wait-until', 'Logical_Switch_Port', a.portName, 'up=true']);
}

async function shellRemove(w: World, h: number, n: number): Promise<void> {
  const a = w.views[0]!.addressOf(n);
  await run('ovs-vsctl', [`--db=${w.ovn.hosts[h]!.dbUrl}`, '--if-exists', 'del-port', 'br-int', a.portName], true);
  await run('ip', ['-n', w.hostNs[h]!, 'link', 'del', a.portName], true);
  await run('ovn-nbctl', [`--db=${w.ovn.northbound}`, '--if-exists', 'lsp-del', a.portName], true);
}

async function main(): Promise<void> {
  const ovn = await OvnSandbox.start({ hosts: 3 });
  const clients: OvsdbClient[] = [];
  const made: string[] = [];
  const mkns = async (nm: string) => {
    await run('ip', ['netns', 'add', nm]);
    made.push(nm);
    return nm;
  };
  try {
    for (const h of ovn.hosts) clients.push(await OvsdbClient.connect(h.dbUrl));
    const name = 'obench';
    const views = [await VSwitch.create(clients[0]!, { name, subnet: '10.77.0.254/16', ovn: { northbound: ovn.northbound }, netns: ovn.hosts[0]!.netns })];
    for (const i of [1, 2]) views.push(await VSwitch.open(clients[i]!, name, { ovn: { northbound: ovn.northbound }, netns: ovn.hosts[i]!.netns }));
    const w: World = { ovn, views, name, gateway: views[0]!.plan.gateway, hostNs: ovn.netnsNames.slice(1) };
    // The peer every new slot is pinged from: a slot on host 2.
    const peer = await mkns('ecob-peer');
    await views[1]!.attach({ slot: 1, target: { netns: `/var/run/netns/${peer}` } });

    // ---- 1. one slot, call -> first cross-host ping
    const ec: number[] = [];
    const sh: number[] = [];
    const floor: number[] = [];
    const steps: Record<string, number[]> = {};
    let slot = 10;
    for (let r = 0; r < ROUNDS; r++) {
      for (const way of r % 2 ? ['shell', 'ecdock'] : ['ecdock', 'shell']) {
        const n = slot++;
        const ns = await mkns(`ecob-1-${n}`);
        const addr = views[0]!.addressOf(n).ipv4;
        if (way === 'ecdock') {
          const marks = new Map<CrashPoint, bigint>();
          setCrashHook((p) => marks.set(p, now()));
          const t0 = now();
          await views[0]!.attach({ slot: n, target: { netns: `/var/run/netns/${ns}` } });
          const tAttach = now();
          setCrashHook(undefined);
          await firstPing(peer, addr);
          ec.push(ms(t0));
          const bound = marks.get('ovn:port-bound');
          const inst = marks.get('ovn:installed');
          if (bound && inst) floor.push(ms(bound, inst));
          let prev = t0;
          for (const p of ['ovn:claimed', 'ovn:veth-created', 'ovn:port-bound', 'ovn:installed'] as CrashPoint[]) {
            const t = marks.get(p);
            if (!t) continue;
            (steps[p] ??= []).push(ms(prev, t));
            prev = t;
          }
          (steps['installed -> returned'] ??= []).push(ms(prev, tAttach));
          (steps['returned -> first ping'] ??= []).push(ms(tAttach));
          await views[0]!.detach(n);
        } else {
          const t0 = now();
          await shellSlot(w, 0, n, ns);
          await firstPing(peer, addr);
          sh.push(ms(t0));
          await shellRemove(w, 0, n);
        }
      }
    }

    // ---- 2. MANY slots over three hosts, first call -> all up, then all answering
    const nss = await Promise.all(Array.from({ length: MANY }, (_, i) => mkns(`ecob-m-${i}`)));
    const sweep = async (first: number) => {
      const addrs = Array.from({ length: MANY }, (_, i) => views[0]!.addressOf(first + i).ipv4);
      await pool(addrs, 16, (a) => firstPing(peer, a));
    };
    let t0 = now();
    await Promise.all(nss.map((ns, i) => views[i % 3]!.attach({ slot: 1000 + i, target: { netns: `/var/run/netns/${ns}` } })));
    const ecUp = ms(t0);
    await sweep(1000);
    const ecAll = ms(t0);
    await Promise.all(nss.map((_, i) => views[i % 3]!.detach(1000 + i)));
    // the same namespaces, fresh slots, the shell way: one loop per host, the three in parallel
    t0 = now();
    await Promise.all([0, 1, 2].map(async (h) => {
      for (let i = h; i < MANY; i += 3) await shellSlot(w, h, 2000 + i, nss[i]!);
    }));
    const shUp = ms(t0);
    await sweep(2000);
    const shAll = ms(t0);
    await pool(nss.map((_, i) => i), 8, (i) => shellRemove(w, i % 3, 2000 + i));

    // ---- report
    const f = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);
    const LABEL: Record<string, string> = {
      'ovn:claimed': 'claim (Northbound transaction, replica updated)',
      'ovn:veth-created': 'veth made, target configured (rtnetlink)',
      'ovn:port-bound': 'br-int port with iface-id committed',
      'ovn:installed': 'ovn-controller: ovn-installed (the floor)',
      'installed -> returned': 'installed → attach returned',
      'returned -> first ping': 'attach returned → first ping answered (incl. spawning ping)',
    };
    const stepRows = Object.entries(steps).map(([k, v]) => `| ${LABEL[k] ?? k} | ${f(median(v))} |`);
    const md = [
      '# OVN: slots across hosts, ecdock vs the shell way',
      '',
      `Measured by \`node dist/bench/ovn.js${quick ? ' --quick' : ''}\` on ${new Date().toISOString().slice(0, 10)}: one OvnSandbox (Northbound, Southbound, ovn-northd, three simulated hosts, each with its own ovsdb-server, userspace ovs-vswitchd and ovn-controller, Geneve underlay), both ways side by side in one run on the same logical switch. Load average ${loadavg()[0]!.toFixed(2)} when written (2 vCPUs; on a loaded machine absolute times stretch several-fold): ratios come from the same run.`,
      '',
      `The shell way: \`ovn-nbctl lsp-add\`, \`lsp-set-addresses\`, \`lsp-set-port-security\`, \`lsp-set-options requested-chassis=\`, \`ip link add … veth peer … netns\`, \`ip\` address/up/route steps, \`ovs-vsctl add-port br-int … external_ids:iface-id=\`, then \`ovn-nbctl wait-until Logical_Switch_Port … up=true\`: one process per step.`,
      '',
      `## One slot: call → first ping answered from a slot on another host (median of ${ROUNDS})`,
      '',
      '| | ecdock | shell | shell / ecdock |',
      '|---|---|---|---|',
      `| call → first cross-host ping | ${f(median(ec))} | ${f(median(sh))} | ${(median(sh) / median(ec)).toFixed(1)}× |`,
      `| floor: br-int port committed → ovn-controller marks it ovn-installed | ${f(median(floor))} | | ecdock / floor ${(median(ec) / median(floor)).toFixed(1)}× |`,
      '',
      'Where ecdock\'s time goes (medians; each step from the end of the one before):',
      '',
      '| step | time |',
      '|---|---|',
      ...stepRows,
      '',
      `## ${MANY} slots over three hosts: first call → all up, → all answering a ping sweep`,
      '',
      '| | ecdock | shell (one loop per host, in parallel) | shell / ecdock |',
      '|---|---|---|---|',
      `| first call → every slot up | ${f(ecUp)} | ${f(shUp)} | ${(shUp / ecUp).toFixed(1)}× |`,
      `| first call → every slot answered a ping | ${f(ecAll)} | ${f(shAll)} | ${(shAll / ecAll).toFixed(1)}× |`,
      `| per slot (up) | ${f(ecUp / MANY)} | ${f(shUp / MANY)} | |`,
      '',
      'The ping sweep (16 pings at a time from one slot on host 2, one `ping` process each) costs the same for both ways and is included only in the second row.',
      '',
    ].join('\n');
    process.stdout.write(md);
    const out = path.resolve(__dirname, '..', '..', 'bench', 'results', 'ovn.md');
    await fs.writeFile(out, md);
    process.stdout.write(`\nwritten to ${out}\n`);
  } finally {
    setCrashHook(undefined);
    for (const c of clients) c.close();
    await closeOvnConnections();
    await pool(made, 16, (nm) => run('ip', ['netns', 'del', nm], true));
    await ovn.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
