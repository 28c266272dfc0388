// TCP throughput between two slots of a userspace vswitch (the datapath ecdock uses where there is
// no openvswitch kernel module: VMs, CI runners) against two namespaces joined by a bare veth pair
// (the ceiling: what the kernel does with no switch at all), in one run, rounds interleaved so both
// see the same machine. A third row, a bare veth pair with TX checksum offload off on both ends,
// separates what the offload setting costs from what the userspace datapath costs.
// Run as root after tsc:
//   node dist/bench/traffic.js [--quick]
// Writes the table to bench/results/traffic.md (not with --quick). A benchmark: it asserts nothing.

import { execFile, spawn } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OvsdbClient } from '../src/ovsdb/client';
import { OvsSandbox } from '../src/sandbox';
import { VSwitch } from '../src/vswitch';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 5;
const SECONDS = quick ? 1.5 : 3;
const PY = '/usr/bin/python3';
const PORT = 5301;

function run(file: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { maxBuffer: 16 << 20, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(String(stdout));
    }),
  );
}

// argv: port. One connection; prints "bytes seconds" (first byte to end of stream).
const RECEIVER = String.raw`
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(1); s.settimeout(30)
print('ready', flush=True)
c, _ = s.accept(); c.settimeout(30)
buf = bytearray(4 << 20); view = memoryview(buf); n = 0; t0 = None
while True:
    k = c.recv_into(view)
    if not k: break
    if t0 is None: t0 = time.monotonic()
    n += k
print(n, time.monotonic() - (t0 or time.monotonic()), flush=True)
`;

// argv: address, port, seconds. Sends as fast as it can for that long.
const SENDER = String.raw`
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
chunk = memoryview(b'x' * (1 << 20)); end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end: s.sendall(chunk)
s.close()
`;

/** One timed transfer from namespace `from` to `address` (listening in `to`): bytes per second. */
async function transfer(from: string, to: string, address: string): Promise<number> {
  const rx = spawn('ip', ['netns', 'exec', to, PY, '-c', RECEIVER, String(PORT)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  rx.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((r) => rx.on('close', () => r()));
  const end = Date.now() + 20_000;
  while (!out.includes('ready') && rx.exitCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await run('ip', ['netns', 'exec', from, PY, '-c', SENDER, address, String(PORT), String(SECONDS)]).catch(() => undefined);
  const kill = setTimeout(() => rx.kill('SIGKILL'), 40_000);
  await exited;
  clearTimeout(kill);
  const [bytes, secs] = out.replace('ready', '').trim().split(/\s+/).map(Number);
  return bytes && secs ? bytes / secs : 0;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Packets the kernel dropped at ovs-vswitchd's packet sockets (full receive queues), all ports. */
async function packetSocketDrops(netnsName: string): Promise<number> {
  const out = await run('ip', ['netns', 'exec', netnsName, 'ss', '-0', '-a', '-m', '-n']);
  return [...out.matchAll(/\bd(\d+)\)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

/** Segments the namespace's TCP sent and retransmitted so far. */
async function tcpCounters(netnsName: string): Promise<{ out: number; retrans: number }> {
  const t = await run('ip', ['netns', 'exec', netnsName, 'nstat', '-az', 'TcpOutSegs', 'TcpRetransSegs']);
  const get = (k: string) => Number(new RegExp(`${k}\\s+(\\d+)`).exec(t)?.[1] ?? 0);
  return { out: get('TcpOutSegs'), retrans: get('TcpRetransSegs') };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gbit = (bps: number) => `${((bps * 8) / 1e9).toFixed(2)} Gbit/s`;

interface Case {
  label: string;
  from: string;
  to: string;
  address: string;
  results: number[];
  /** ovs-vswitchd CPU seconds per wall second during this case's transfers. */
  vswitchdCpu?: number[];
  /** The sandbox whose ovs-vswitchd carries this case. */
  sandbox?: OvsSandbox;
  /** Retransmitted / sent TCP segments of the sender, over all rounds. */
  sent: number;
  retrans: number;
}

async function main(): Promise<void> {
  const tag = `bt${process.pid % 10000}`;
  const names = ['va', 'vb', 'oa', 'ob', 'sa', 'sb', 'ta', 'tb'].map((x) => `${tag}${x}`);
  const [va, vb, oa, ob, sa, sb2, ta, tb] = names as [string, string, string, string, string, string, string, string];
  let sb: OvsSandbox | undefined;
  let sbT: OvsSandbox | undefined;
  let ovs: OvsdbClient | undefined;
  let ovsT: OvsdbClient | undefined;
  let vs: VSwitch | undefined;
  let vsT: VSwitch | undefined;
  try {
    for (const n of names) await run('ip', ['netns', 'add', n]);
    // The ceiling: a veth pair straight between two namespaces, offloads as the kernel sets them.
    const pair = async (a: string, b: string, net: string, txOff: boolean) => {
      await run('ip', ['-n', a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b]);
      for (const [ns, ip] of [[a, `${net}.1`], [b, `${net}.2`]] as const) {
        await run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
        await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
        await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        if (txOff) await run('ip', ['netns', 'exec', ns, 'ethtool', '-K', 'eth0', 'tx', 'off']);
      }
    };
    await pair(va, vb, '10.77.1', false);
    await pair(oa, ob, '10.77.2', true);
    // Two slots of a userspace vswitch, made by ecdock.
    sb = await OvsSandbox.start({ isolated: true });
    ovs = await OvsdbClient.connect(sb.dbUrl);
    vs = await VSwitch.create(ovs, { name: `${tag}s`, subnet: '10.77.3.254/24', usermode: true, netns: sb.netns });
    await vs.attach({ slot: 1, target: { netns: `/var/run/netns/${sa}` } });
    const s2 = await vs.attach({ slot: 2, target: { netns: `/var/run/netns/${sb2}` } });
    // Two slots of a second private OVS whose ovs-vswitchd has userspace TSO on: offloads stay on.
    sbT = await OvsSandbox.start({ isolated: true });
    await run('ovs-vsctl', [`--db=${sbT.dbUrl}`, 'set', 'Open_vSwitch', '.', 'other_config:userspace-tso-enable=true']);
    await sbT.stopVswitchd();
    await sbT.startVswitchd();
    ovsT = await OvsdbClient.connect(sbT.dbUrl);
    vsT = await VSwitch.create(ovsT, { name: `${tag}t`, subnet: '10.77.4.254/24', usermode: true, netns: sbT.netns });
    await vsT.attach({ slot: 1, target: { netns: `/var/run/netns/${ta}` } });
    const t2 = await vsT.attach({ slot: 2, target: { netns: `/var/run/netns/${tb}` } });

    const veth: Case = { label: 'bare veth pair (the ceiling)', from: va, to: vb, address: '10.77.1.2', results: [], sent: 0, retrans: 0 };
    const vethOff: Case = { label: 'bare veth pair, TX checksum offload off', from: oa, to: ob, address: '10.77.2.2', results: [], sent: 0, retrans: 0 };
    const slots: Case = { label: 'two ecdock slots, userspace datapath', from: sa, to: sb2, address: s2.ipv4, results: [], vswitchdCpu: [], sandbox: sb, sent: 0, retrans: 0 };
    const slotsTso: Case = { label: 'two ecdock slots, userspace datapath, ovs-vswitchd userspace TSO on', from: ta, to: tb, address: t2.ipv4, results: [], vswitchdCpu: [], sandbox: sbT, sent: 0, retrans: 0 };
    const sbName = sb.netns!.split('/').pop()!;
    let drops = 0;
    const cases = [veth, vethOff, slots, slotsTso];
    // Warm-up (ARP, MAC learning, flow setup), not counted.
    for (const c of cases) await transfer(c.from, c.to, c.address);
    for (let r = 0; r < ROUNDS; r++) {
      for (const c of cases) {
        const pid = (c.sandbox ?? sb).vswitchdPid!;
        const tcp0 = await tcpCounters(c.from);
        const drops0 = c === slots ? await packetSocketDrops(sbName) : 0;
        const cpu0 = cpuSeconds(pid);
        const t0 = process.hrtime.bigint();
        c.results.push(await transfer(c.from, c.to, c.address));
        const wall = Number(process.hrtime.bigint() - t0) / 1e9;
        if (c.vswitchdCpu) c.vswitchdCpu.push((cpuSeconds(pid) - cpu0) / wall);
        if (c === slots) drops += (await packetSocketDrops(sbName)) - drops0;
        const tcp1 = await tcpCounters(c.from);
        c.sent += tcp1.out - tcp0.out;
        c.retrans += tcp1.retrans - tcp0.retrans;
        process.stderr.write(`round ${r + 1}: ${c.label}: ${gbit(c.results.at(-1)!)}\n`);
      }
    }
    const ceiling = median(veth.results);
    const ratio = median(slots.results) / ceiling;
    const ratioTso = median(slotsTso.results) / ceiling;
    const lines = [
      '# TCP throughput: two slots on the userspace datapath vs a bare veth pair',
      '',
      `One TCP stream, ${SECONDS} s per transfer (python3 sender with 1 MiB writes, receiver with`,
      `recv_into a 4 MiB buffer), ${ROUNDS} rounds with the four cases interleaved; median and range.`,
      'Slots are made by ecdock on a private OVS (isolated sandbox, `datapath_type=netdev`), so their',
      'targets send with TX checksum offload off (and with it TSO): see `targetOffloads` in',
      'src/ovs/plumbing.ts. Where ovs-vswitchd has userspace TSO on (`other_config:userspace-tso-enable=true`,',
      'a second private OVS here) ecdock leaves the offloads on. The veth pairs join two namespaces directly (no switch).',
      '',
      '| case | median | min .. max | of the ceiling | TCP segments retransmitted | ovs-vswitchd CPU |',
      '|---|---:|---:|---:|---:|---:|',
      ...cases.map(
        (c) =>
          `| ${c.label} | ${gbit(median(c.results))} | ${gbit(Math.min(...c.results))} .. ${gbit(Math.max(...c.results))} | ${((median(c.results) / ceiling) * 100).toFixed(1)} % | ${c.sent ? ((c.retrans / c.sent) * 100).toFixed(1) : '?'} % of ${c.sent} | ${c.vswitchdCpu ? `${(median(c.vswitchdCpu) * 100).toFixed(0)} % of a core` : '-'} |`,
      ),
      '',
      `Slots reach **${(ratio * 100).toFixed(1)} %** of the ceiling, **${(ratioTso * 100).toFixed(1)} %** with ovs-vswitchd's userspace TSO on (${(median(slotsTso.results) / median(slots.results)).toFixed(1)}×). Frames the kernel dropped at ovs-vswitchd's packet`,
      `sockets (receive queue full) during the slot transfers: ${drops} (\`ss -0 -m\`, skmem d).`,
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, kernel ${os.release()};`,
      `load average ${os.loadavg()[0]!.toFixed(2)} at the end.`,
      'Reproduce: `npx tsc -p . && sudo node dist/bench/traffic.js`.',
      '',
    ];
    const text = lines.join('\n');
    process.stdout.write(text);
    if (!quick) {
      const file = path.join(__dirname, '..', '..', 'bench', 'results', 'traffic.md');
      const old = await fs.readFile(file, 'utf8').catch(() => '');
      // Keep a hand-written analysis below the marker across re-runs.
      const marker = '<!-- analysis -->';
      const analysis = old.includes(marker) ? old.slice(old.indexOf(marker)) : '';
      await fs.writeFile(file, text + (analysis ? `\n${analysis}` : ''));
    }
  } finally {
    await vs?.destroy().catch(() => undefined);
    await vsT?.destroy().catch(() => undefined);
    ovs?.close();
    ovsT?.close();
    await sb?.stop().catch(() => undefined);
    await sbT?.stop().catch(() => undefined);
    for (const n of names) await run('ip', ['netns', 'del', n]).catch(() => undefined);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
