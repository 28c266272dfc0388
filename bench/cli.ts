// Cold start of `ec` and of `require('ecdock')`, side by side with bare node and `ovs-vsctl show`:
// every call and every CNI call pays it. Each round runs every command once, in a rotating order;
// the table gives medians and the ratios the targets are stated in.
// Run as root after tsc:  node dist/bench/cli.js [--quick]
// Writes the table to bench/results/cli.md. A benchmark, not a test: it asserts nothing.

import { spawnSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { OvsdbClient } from '../src/ovsdb/client';
import { OvsSandbox } from '../src/sandbox';
import { VSwitch } from '../src/vswitch';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 5 : 21;
const ROOT = path.resolve(__dirname, '..', '..');
const EC = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

interface Case {
  name: string;
  file: string;
  args: string[];
}

/** CPU time (user + system, ms) of the children this process has waited for: /proc/self/stat's cutime + cstime, in clock ticks of 10 ms. */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/** Wall time of one run, and the CPU time it used (10 ms resolution: only its mean over many runs says much). */
function timeOnce(c: Case, env: NodeJS.ProcessEnv): { wall: number; cpu: number } {
  const cpu0 = childrenCpuMs();
  const t = process.hrtime.bigint();
  const r = spawnSync(c.file, c.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${String(r.stderr)}`);
  return { wall, cpu: childrenCpuMs() - cpu0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** One list_dbs request and its reply on an open unix socket: the OVSDB round trip, in ms. */
async function roundTripMs(socketPath: string): Promise<number> {
  const sock = net.createConnection({ path: socketPath });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      sock.once('data', () => resolve());
      sock.write(`{"method":"list_dbs","params":[],"id":${i}}`);
    });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  sock.destroy();
  return median(times);
}

async function main(): Promise<void> {
  const sb = await OvsSandbox.start({ isolated: true });
  const ovs = await OvsdbClient.connect(sb.dbUrl);
  const name = `bcli${process.pid % 10000}`;
  try {
    await VSwitch.create(ovs, { name, subnet: '10.77.0.254/24', usermode: true, netns: sb.netns });
    const env = { ...process.env, ECDOCK_DB: sb.dbUrl, ECDOCK_NETNS: sb.netns, ECDOCK_VSWITCH: name };
    const socketPath = sb.dbUrl.replace(/^unix:/, '');
    const cases: Case[] = [
      { name: 'node -e 0', file: process.execPath, args: ['-e', '0'] },
      { name: 'ec --version', file: process.execPath, args: [EC, '--version'] },
      { name: "node -e \"require('ecdock')\"", file: process.execPath, args: ['-e', `require(${JSON.stringify(ROOT)})`] }, // package.json main, as require('ecdock') resolves
      // What the first use then costs: reading VSwitch loads the model (no connection, no addon yet).
      { name: "node -e \"require('ecdock').VSwitch\"", file: process.execPath, args: ['-e', `require(${JSON.stringify(ROOT)}).VSwitch`] },
      { name: 'ec list', file: process.execPath, args: [EC, 'list'] },
      { name: 'ovs-vsctl show', file: 'ovs-vsctl', args: [`--db=${sb.dbUrl}`, 'show'] },
    ];
    const times = new Map(cases.map((c) => [c.name, [] as number[]]));
    const cpus = new Map(cases.map((c) => [c.name, [] as number[]]));
    for (const c of cases) timeOnce(c, env); // warm the page cache
    const loadStart = os.loadavg()[0]!;
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < cases.length; i++) {
        const c = cases[(i + r) % cases.length]!;
        const { wall, cpu } = timeOnce(c, env);
        times.get(c.name)!.push(wall);
        cpus.get(c.name)!.push(cpu);
      }
    }
    const loadEnd = os.loadavg()[0]!;
    const rtt = await roundTripMs(socketPath);
    const med = (n: string) => median(times.get(n)!);
    const node0 = med('node -e 0');
    const cpuMean = (n: string) => cpus.get(n)!.reduce((a, b) => a + b, 0) / cpus.get(n)!.length;
    const cpu0 = cpuMean('node -e 0');
    const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;
    const rows = cases.map((c) => {
      const m = med(c.name);
      const cpu = cpuMean(c.name);
      return `| \`${c.name}\` | ${m.toFixed(1)} | ${(m / node0).toFixed(2)}× | ${signed(m - node0)} | ${cpu.toFixed(0)} | ${(cpu / cpu0).toFixed(2)}× |`;
    });
    const targets = [
      `- \`ec --version\` ≤ 1.3× \`node -e 0\`: ${(med('ec --version') / node0).toFixed(2)}× — ${med('ec --version') <= 1.3 * node0 ? 'met' : 'NOT met'}`,
      `- \`ec list\` ≤ 2× \`node -e 0\` + one OVSDB round trip (${rtt.toFixed(2)} ms): ${med('ec list').toFixed(1)} ms vs ${(2 * node0 + rtt).toFixed(1)} ms — ${med('ec list') <= 2 * node0 + rtt ? 'met' : 'NOT met'}`,
      `- \`require('ecdock')\` ≤ 50 ms over bare node: ${signed(med("node -e \"require('ecdock')\"") - node0)} ms — ${med("node -e \"require('ecdock')\"") - node0 <= 50 ? 'met' : 'NOT met'}`,
    ];
    const text = [
      '# Cold start: `ec` and `require(\'ecdock\')` vs bare node and ovs-vsctl',
      '',
      `Wall time of one process from spawn to exit, median of ${ROUNDS} rounds; each round runs every command once,`,
      'the order rotating from round to round. `ec list` lists an empty vswitch of a private OVS (isolated sandbox,',
      'userspace datapath) given by ECDOCK_DB, ECDOCK_NETNS and ECDOCK_VSWITCH; `ovs-vsctl show` reads the same database.',
      'CPU is user + system time of the process, the mean over the rounds (the kernel counts it in 10 ms ticks): on a',
      'loaded machine wall times stretch (bare node most), so the CPU ratio is the steadier comparison.',
      '',
      '| command | wall, median (ms) | × `node -e 0` | over `node -e 0` (ms) | CPU, mean (ms) | CPU × `node -e 0` |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows,
      '',
      `One OVSDB round trip (list_dbs on an open unix socket, median of 50): ${rtt.toFixed(2)} ms.`,
      '',
      'Targets:',
      ...targets,
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version};`,
      `load average ${loadStart.toFixed(2)} at the start, ${loadEnd.toFixed(2)} at the end (the machine was shared).`,
      'Reproduce: `npx tsc -p . && sudo node dist/bench/cli.js`.',
      '',
    ].join('\n');
    process.stdout.write(text);
    if (!quick) await fs.writeFile(path.join(ROOT, 'bench', 'results', 'cli.md'), text);
  } finally {
    ovs.close();
    await sb.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
