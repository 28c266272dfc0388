// Attach N network namespaces to a vswitch until they can ping, ecdock against the way the original
// ecDock script and ovs-docker do it (`ip` + `ovs-vsctl` per container), side by side in one run;
// then detach, and cleanup of N ghosts. Run as root after tsc:
//   node dist/bench/attach.js [--quick]
// Writes the table to bench/results/attach.md. A benchmark, not a test: it asserts nothing.

import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressPlan } from '../src/addressing';
import { OvsdbClient } from '../src/ovsdb/client';
import { OvsSandbox } from '../src/sandbox';
import { VSwitch } from '../src/vswitch';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [50] : [100, 1000];
/** Slots done the shell way per size (the shell way at 1000 takes many minutes; see the note). */
const SHELL_SAMPLE = quick ? 20 : 100;

function run(file: string, args: string[], allowFail = false): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err && !allowFail) reject(new Error(`${file} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(String(stdout));
    }),
  );
}

async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function makeNetns(prefix: string, n: number): Promise<string[]> {
  const names = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  await pool(names, 16, (nm) => run('ip', ['netns', 'add', nm]));
  return names;
}

async function delNetns(names: string[]): Promise<void> {
  await pool(names, 16, (nm) => run('ip', ['netns', 'del', nm], true));
}

/** Every namespace pings `gw` once; returns how many succeeded. One process per ping: slow, but it is the containers' view. */
async function pingAll(names: string[], gw: string): Promise<number> {
  let ok = 0;
  await pool(names, 32, async (nm) => {
    const out = await run('ip', ['netns', 'exec', nm, 'ping', '-c1', '-W2', gw], true);
    if (/ 0% packet loss/.test(out)) ok++;
  });
  return ok;
}

// ICMP echo to many addresses from one process (python3, raw socket), run in the vswitch's
// namespace: how long until every slot answers its gateway, without 1000 process spawns.
const SWEEP = `
import socket, struct, sys, time, os
ips = sys.argv[1].split(',')
deadline = time.time() + float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.setblocking(False)
ident = os.getpid() & 0xffff
def csum(b):
    if len(b) % 2: b += b'\\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
def echo(seq):
    h = struct.pack('!BBHHH', 8, 0, 0, ident, seq); return struct.pack('!BBHHH', 8, 0, csum(h + b'ecdock'), ident, seq) + b'ecdock'
pending = {ip: i for i, ip in enumerate(ips)}
last = 0
while pending and time.time() < deadline:
    if time.time() - last > 0.2:
        for ip, i in list(pending.items()): s.sendto(echo(i), (ip, 0))
        last = time.time()
    try:
        data, addr = s.recvfrom(2048)
        if data[20] == 0 and struct.unpack('!H', data[24:26])[0] == ident: pending.pop(addr[0], None)
    except BlockingIOError:
        time.sleep(0.001)
print(len(ips) - len(pending))
`;

/** Pings every IP from the vswitch's namespace until all answer or the deadline; returns [answered, ms]. */
async function sweep(sbns: string, ips: string[], deadlineS = 20): Promise<[number, number]> {
  const t = process.hrtime.bigint();
  const out = await run('ip', ['netns', 'exec', sbns, 'python3', '-c', SWEEP, ips.join(','), String(deadlineS)]);
  return [Number(out.trim()), ms(t)];
}

interface Row {
  n: number;
  ecAttach: number;
  ecAttachPing: number;
  ecPinged: number;
  ecPingedFromInside: number;
  ecDetach: number;
  ecCleanup: number;
  shellFirst: number; // ms per slot, first SHELL_SAMPLE slots on an empty bridge
  shellAtScale?: number; // ms per slot for SHELL_SAMPLE slots added on top of n - SHELL_SAMPLE existing ports
  shellDetach: number; // ms per slot
  shellPinged: number;
}

/** What ecDock's `start` and ovs-docker's `add-port` run for one container (host side in the sandbox netns). */
async function shellAttach(sbns: string, bridge: string, plan: AddressPlan, slot: number, ns: string): Promise<void> {
  const a = plan.addressOf(slot);
  const peer = `c-${a.portName}`;
  const ipn = (...args: string[]) => run('ip', ['-n', sbns, ...args]);
  await ipn('link', 'add', a.portName, 'type', 'veth', 'peer', 'name', peer);
  await ipn('link', 'set', peer, 'netns', ns);
  await run('ip', ['-n', ns, 'link', 'set', peer, 'name', 'eth0']);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'address', a.mac]);
  await run('ip', ['-n', ns, 'addr', 'add', `${a.ipv4}/${a.prefixLength}`, 'dev', 'eth0']);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', ns, 'route', 'add', 'default', 'via', a.gateway]);
  await ipn('link', 'set', a.portName, 'up');
  await run('ovs-vsctl', [`--db=${dbUrl}`, '--timeout=60', 'add-port', bridge, a.portName, '--', 'set', 'Interface', a.portName, `ofport_request=${slot}`]);
}

async function shellDetach(sbns: string, bridge: string, plan: AddressPlan, slot: number): Promise<void> {
  const a = plan.addressOf(slot);
  await run('ovs-vsctl', [`--db=${dbUrl}`, '--timeout=60', 'del-port', bridge, a.portName]);
  await run('ip', ['-n', sbns, 'link', 'del', a.portName], true);
}

let dbUrl = '';

async function measure(n: number): Promise<Row> {
  const sb = await OvsSandbox.start({ isolated: true });
  dbUrl = sb.dbUrl;
  const sbns = sb.netns!.split('/').pop()!;
  const ovs = await OvsdbClient.connect(sb.dbUrl);
  const nss: string[] = [];
  try {
    const subnet = n > 250 ? '10.0.255.254/16' : '10.0.0.254/24';
    // ---- ecdock
    const vs = await VSwitch.create(ovs, { name: 'ec0', subnet, usermode: true, netns: sb.netns });
    const names = await makeNetns('eb', n);
    nss.push(...names);
    let t = process.hrtime.bigint();
    const slots = await Promise.all(names.map((nm) => vs.attach({ target: { netns: `/var/run/netns/${nm}` } })));
    const ecAttach = ms(t);
    const [ecPinged] = await sweep(sbns, slots.map((x) => x.ipv4));
    const ecAttachPing = ms(t);
    const ecPingedFromInside = await pingAll(names.slice(0, 100), vs.plan.gateway);
    t = process.hrtime.bigint();
    await Promise.all(slots.map((s) => vs.detach(s.index)));
    const ecDetach = ms(t);
    // cleanup of n ghosts: attach again, let every namespace die, then one cleanup
    await Promise.all(names.map((nm) => vs.attach({ target: { netns: `/var/run/netns/${nm}` } })));
    await delNetns(names);
    nss.length = 0;
    t = process.hrtime.bigint();
    const report = await vs.cleanup();
    const ecCleanup = ms(t);
    if (report.ports.length !== n) process.stderr.write(`warning: cleanup removed ${report.ports.length} of ${n} ghosts\n`);
    await vs.destroy();

    // ---- the shell way, on its own bridge in the same sandbox
    const bridge = 'sh0';
    const plan = AddressPlan.parse(bridge, subnet);
    await run('ovs-vsctl', [`--db=${dbUrl}`, 'add-br', bridge, '--', 'set', 'Bridge', bridge, 'datapath_type=netdev', `other-config:hwaddr=${plan.gatewayMac}`]);
    await run('ip', ['-n', sbns, 'addr', 'add', plan.cidr, 'dev', bridge]);
    await run('ip', ['-n', sbns, 'link', 'set', bridge, 'up']);
    const shellNames = await makeNetns('sb', Math.min(n, SHELL_SAMPLE));
    nss.push(...shellNames);
    t = process.hrtime.bigint();
    for (let i = 0; i < shellNames.length; i++) await shellAttach(sbns, bridge, plan, i + 1, shellNames[i]);
    const shellFirst = ms(t) / shellNames.length;
    const [shellPinged] = await sweep(sbns, shellNames.map((_, i) => plan.addressOf(i + 1).ipv4));
    let shellAtScale: number | undefined;
    if (n > SHELL_SAMPLE) {
      // Fill the bridge to n - SHELL_SAMPLE ports (with ecdock, for time), then time the shell way on top.
      const fill = await VSwitch.create(ovs, { name: 'fill0', subnet: '10.9.255.254/16', usermode: true, netns: sb.netns });
      const fillNames = await makeNetns('fb', n - 2 * SHELL_SAMPLE);
      nss.push(...fillNames);
      // ovs-vsctl downloads and verifies every port of the database, whichever bridge they are on
      await Promise.all(fillNames.map((nm) => fill.attach({ target: { netns: `/var/run/netns/${nm}` } })));
      const more = await makeNetns('sc', SHELL_SAMPLE);
      nss.push(...more);
      t = process.hrtime.bigint();
      for (let i = 0; i < more.length; i++) await shellAttach(sbns, bridge, plan, SHELL_SAMPLE + i + 1, more[i]);
      shellAtScale = ms(t) / more.length;
    }
    t = process.hrtime.bigint();
    for (let i = 0; i < shellNames.length; i++) await shellDetach(sbns, bridge, plan, i + 1);
    const shellDetachMs = ms(t) / shellNames.length;
    return { n, ecAttach, ecAttachPing, ecPinged, ecPingedFromInside, ecDetach, ecCleanup, shellFirst, shellAtScale, shellDetach: shellDetachMs, shellPinged };
  } finally {
    ovs.close();
    await delNetns(nss);
    await sb.stop();
  }
}

function fmt(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(x >= 10 ? 1 : 2);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const n of SIZES) {
    process.stderr.write(`measuring n=${n}...\n`);
    rows.push(await measure(n));
  }
  const lines: string[] = [];
  lines.push('# Attaching namespaces: ecdock vs the shell way (ecDock / ovs-docker)');
  lines.push('');
  lines.push('Private OVS (ovsdb-server + ovs-vswitchd, userspace datapath, isolated netns), one vswitch, N fresh');
  lines.push('network namespaces. ecdock: N concurrent `vs.attach()` (veth, wait for ovs-vswitchd), then the gateway');
  lines.push('pings every slot (one process sending ICMP echo to all N, retrying every 200 ms) until all answer: that');
  lines.push('is "attach + all pinged". The shell way: per namespace the steps of ecDock `start` / ovs-docker');
  lines.push('`add-port` — `ip link add` veth, move the peer, rename, MAC, address, up, default route, host end up,');
  lines.push('`ovs-vsctl add-port … ofport_request=N` (waits for ovs-vswitchd, as both scripts do) — one slot after');
  lines.push(`another. The shell way is timed on ${SHELL_SAMPLE} slots of an empty bridge and, for N=1000, on ${SHELL_SAMPLE} slots added`);
  lines.push('with ~900 ports already in the database (its cost per call grows with the database); its total for N is');
  lines.push('that per-slot cost × N (marked ≈).');
  lines.push('');
  lines.push('| N | ecdock attach (all N) | ecdock attach + all pinged | shell way per slot | shell way for N (≈) | per-slot speedup | detach, ecdock (all N) | detach, shell per slot | detach speedup | cleanup of N ghosts, ecdock |');
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const shellPer = r.shellAtScale ?? r.shellFirst;
    const ecPer = r.ecAttach / r.n;
    lines.push(
      `| ${r.n} | ${fmt(r.ecAttach)} ms (${fmt(ecPer)} ms/slot) | ${fmt(r.ecAttachPing)} ms (${r.ecPinged}/${r.n} ping) | ${fmt(shellPer)} ms` +
        `${r.shellAtScale !== undefined ? ` (${fmt(r.shellFirst)} ms on an empty bridge)` : ''} | ≈${fmt((shellPer * r.n) / 1000)} s | ${Math.round(shellPer / ecPer)}× |` +
        ` ${fmt(r.ecDetach)} ms | ${fmt(r.shellDetach)} ms | ${Math.round(r.shellDetach / (r.ecDetach / r.n))}× | ${fmt(r.ecCleanup)} ms |`,
    );
  }
  lines.push('');
  lines.push(`Shell-way slots answering the gateway: ${rows.map((r) => `${r.shellPinged}/${Math.min(r.n, SHELL_SAMPLE)}`).join(', ')}. ecdock slots that`);
  lines.push(`also pinged the gateway from inside (\`ip netns exec … ping\`, first 100): ${rows.map((r) => `${r.ecPingedFromInside}/${Math.min(r.n, 100)}`).join(', ')}.`);
  lines.push(`Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}, kernel ${os.release()};`);
  lines.push(`load average ${os.loadavg()[0].toFixed(2)} at the end.`);
  lines.push('Reproduce: `npx tsc -p . && sudo node dist/bench/attach.js`.');
  const text = lines.join('\n') + '\n';
  process.stdout.write(text);
  if (!quick) await fs.writeFile(path.join(__dirname, '..', '..', 'bench', 'results', 'attach.md'), text);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
