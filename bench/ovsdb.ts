// OVSDB write throughput: add-port-shaped transactions (insert Interface + insert Port + mutate
// Bridge.ports insert) through OvsdbClient, against the limit (raw JSON written to the same kind
// of socket by a minimal client in this file) and against `ovs-vsctl --no-wait add-port`.
// Run as root after tsc:  node dist/bench/ovsdb.js [--quick]
// Writes the table to bench/results/ovsdb.md. A benchmark, not a test: it asserts nothing.

import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { OvsSandbox } from '../src/sandbox';
import { OvsdbClient } from '../src/ovsdb/client';
import { TransactionBatcher } from '../src/ovsdb/batcher';
import { cond, mut, ops } from '../src/ovsdb/operations';
import { openVswitchSchema } from '../src/ovsdb/schema/open-vswitch';

const DB = 'Open_vSwitch';
const o = ops(openVswitchSchema);
const quick = process.argv.includes('--quick');
const N = quick ? 300 : 1500;
const ROUNDS = quick ? 1 : 11;
const VSCTL_CALLS = quick ? 10 : 40;

/** The minimal client: JSON text out, a brace-counting splitter and JSON.parse in, id → callback. */
class RawClient {
  private sock: net.Socket;
  private next = 1;
  private waiting = new Map<number, (r: unknown) => void>();
  private buf = '';
  private depth = 0;
  private inStr = false;
  private esc = false;
  private scanned = 0;
  private start = 0;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
  }

  static connect(socketPath: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection({ path: socketPath }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  transact(opsJson: string): Promise<unknown> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.sock.write(`{"method":"transact","params":["Open_vSwitch",${opsJson}],"id":${id}}`);
    });
  }

  close(): void {
    this.sock.destroy();
  }

  private onData(d: string): void {
    this.buf += d;
    const b = this.buf;
    for (let i = this.scanned; i < b.length; i++) {
      const c = b.charCodeAt(i);
      if (this.inStr) {
        if (this.esc) this.esc = false;
        else if (c === 92) this.esc = true;
        else if (c === 34) this.inStr = false;
      } else if (c === 34) this.inStr = true;
      else if (c === 123 || c === 91) {
        if (this.depth++ === 0) this.start = i;
      } else if (c === 125 || c === 93) {
        if (--this.depth === 0) {
          const m = JSON.parse(b.slice(this.start, i + 1)) as { id: number | null; result: unknown };
          if (typeof m.id === 'number') {
            const cb = this.waiting.get(m.id);
            this.waiting.delete(m.id);
            cb?.(m.result);
          }
          this.start = i + 1;
        }
      }
    }
    this.buf = this.depth ? b.slice(this.start) : '';
    this.scanned = this.buf.length;
    this.start = 0;
  }
}

function rawAddPort(bridge: string, name: string): string {
  return (
    `{"op":"insert","table":"Interface","uuid-name":"i","row":{"name":"${name}","type":"internal"}},` +
    `{"op":"insert","table":"Port","uuid-name":"p","row":{"name":"${name}","interfaces":["named-uuid","i"]}},` +
    `{"op":"mutate","table":"Bridge","where":[["name","==","${bridge}"]],"mutations":[["ports","insert",["named-uuid","p"]]]}`
  );
}

function ecdockAddPort(bridge: string, name: string) {
  return [
    o.insert('Interface', { name, type: 'internal' }, { uuidName: 'i' }),
    o.insert('Port', { name, interfaces: ['i'] }, { uuidName: 'p' }),
    o.mutate('Bridge', [cond('name', '==', bridge)], [mut('ports', 'insert', ['p'])]),
  ];
}

function run(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout: 60_000 }, (err, _out, stderr) => (err ? reject(new Error(`${file} ${args.join(' ')}: ${stderr || err.message}`)) : resolve())),
  );
}

let bridgeSeq = 0;
/** A fresh bridge (optionally with `ports` ports already on it), so every measurement starts alike. */
async function freshBridge(c: OvsdbClient, ports: number): Promise<string> {
  const name = `bb${bridgeSeq++}`;
  await c.transact(DB, [
    o.insert('Interface', { name, type: 'internal' }, { uuidName: 'bi' }),
    o.insert('Port', { name, interfaces: ['bi'] }, { uuidName: 'bp' }),
    o.insert('Bridge', { name, ports: ['bp'] }, { uuidName: 'br' }),
    o.mutate('Open_vSwitch', [], [mut('bridges', 'insert', ['br'])]),
  ]);
  if (ports > 0) {
    const txn = [];
    for (let i = 0; i < ports; i++) {
      txn.push(o.insert('Interface', { name: `${name}f${i}`, type: 'internal' }, { uuidName: `i${i}` }));
      txn.push(o.insert('Port', { name: `${name}f${i}`, interfaces: [`i${i}`] }, { uuidName: `p${i}` }));
    }
    txn.push(o.mutate('Bridge', [cond('name', '==', name)], [mut('ports', 'insert', Array.from({ length: ports }, (_, i) => `p${i}`))]));
    await c.transact(DB, txn, { timeoutMs: 60_000 });
  }
  return name;
}

async function dropBridge(c: OvsdbClient, name: string): Promise<void> {
  const [sel] = await c.transact(DB, [o.select('Bridge', [cond('name', '==', name)], ['_uuid'])]);
  const uuid = (sel!.rows![0]!._uuid as [string, string])[1];
  await c.transact(DB, [o.mutate('Open_vSwitch', [], [mut('bridges', 'delete', [uuid])])]);
}

type Mode = 'sequential' | 'pipelined';

async function timeIt(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function measureEcdock(admin: OvsdbClient, client: OvsdbClient, mode: Mode, existing: number): Promise<number> {
  const br = await freshBridge(admin, existing);
  const ms = await timeIt(async () => {
    if (mode === 'sequential') for (let i = 0; i < N; i++) await client.transact(DB, ecdockAddPort(br, `${br}e${i}`));
    else await Promise.all(Array.from({ length: N }, (_, i) => client.transact(DB, ecdockAddPort(br, `${br}e${i}`))));
  });
  await dropBridge(admin, br);
  return (N / ms) * 1000;
}

async function measureRaw(admin: OvsdbClient, raw: RawClient, mode: Mode, existing: number): Promise<number> {
  const br = await freshBridge(admin, existing);
  const ms = await timeIt(async () => {
    if (mode === 'sequential') for (let i = 0; i < N; i++) await raw.transact(rawAddPort(br, `${br}r${i}`));
    else await Promise.all(Array.from({ length: N }, (_, i) => raw.transact(rawAddPort(br, `${br}r${i}`))));
  });
  await dropBridge(admin, br);
  return (N / ms) * 1000;
}

async function measureBatcher(admin: OvsdbClient, client: OvsdbClient): Promise<{ perSec: number; transactions: number }> {
  const br = await freshBridge(admin, 0);
  const b = new TransactionBatcher(client, DB);
  const ms = await timeIt(async () => {
    await Promise.all(Array.from({ length: N }, (_, i) => b.submit(ecdockAddPort(br, `${br}b${i}`))));
  });
  await dropBridge(admin, br);
  return { perSec: (N / ms) * 1000, transactions: b.stats.transactions };
}

async function measureVsctl(admin: OvsdbClient, dbUrl: string, existing: number): Promise<number> {
  const br = await freshBridge(admin, existing);
  const ms = await timeIt(async () => {
    for (let i = 0; i < VSCTL_CALLS; i++) await run('ovs-vsctl', [`--db=${dbUrl}`, '--no-wait', 'add-port', br, `${br}v${i}`, '--', 'set', 'Interface', `${br}v${i}`, 'type=internal']);
  });
  await dropBridge(admin, br);
  return (VSCTL_CALLS / ms) * 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const fmt = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
const ratio = (a: number, b: number) => `${(a / b).toFixed(a / b >= 10 ? 0 : 2)}×`;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) process.stderr.write('warning: not root; the sandbox may fail to start\n');
  const loadBefore = os.loadavg()[0]!.toFixed(2);
  const sb = await OvsSandbox.start({ vswitchd: false });
  const socketPath = sb.dbUrl.slice('unix:'.length);
  const admin = await OvsdbClient.connect(sb.dbUrl, { timeoutMs: 60_000 });
  const client = await OvsdbClient.connect(sb.dbUrl, { timeoutMs: 60_000 });
  const raw = await RawClient.connect(socketPath);
  try {
    // Warm up both paths, both modes (JIT, server allocations).
    for (const mode of ['pipelined', 'sequential'] as const) {
      await measureEcdock(admin, client, mode, 0);
      await measureRaw(admin, raw, mode, 0);
    }

    const scenarios: { label: string; mode: Mode; existing: number; monitor?: boolean }[] = [
      { label: 'sequential (one at a time), empty bridge', mode: 'sequential', existing: 0 },
      { label: `pipelined (${N} in flight), empty bridge`, mode: 'pipelined', existing: 0 },
      { label: 'sequential, bridge with 1000 ports', mode: 'sequential', existing: 1000 },
      { label: `pipelined (${N} in flight), bridge with 1000 ports`, mode: 'pipelined', existing: 1000 },
      { label: 'sequential, with a monitored cache of Bridge/Port/Interface', mode: 'sequential', existing: 0, monitor: true },
    ];
    const vsctl0 = await measureVsctl(admin, sb.dbUrl, 0);
    const vsctl1000 = await measureVsctl(admin, sb.dbUrl, 1000);
    const rows: string[] = [];
    const results: Record<string, unknown>[] = [];
    for (const s of scenarios) {
      const mon = s.monitor ? await client.monitor(DB, { Bridge: ['name', 'ports'], Port: ['name', 'interfaces', 'tag'], Interface: ['name', 'type', 'ofport'] }) : undefined;
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        // Alternate the order so drift in the server's state does not favour either side.
        if (r % 2 === 0) {
          ours.push(await measureEcdock(admin, client, s.mode, s.existing));
          theirs.push(await measureRaw(admin, raw, s.mode, s.existing));
        } else {
          theirs.push(await measureRaw(admin, raw, s.mode, s.existing));
          ours.push(await measureEcdock(admin, client, s.mode, s.existing));
        }
      }
      await mon?.cancel();
      const e = median(ours);
      const w = median(theirs);
      // Each round pairs the two clients back to back; the median of those paired ratios shrugs off
      // load that other processes put on the machine better than a ratio of medians does.
      const paired = ours.map((x, i) => x / theirs[i]!).sort((a, b) => a - b);
      const v = s.existing >= 1000 ? vsctl1000 : vsctl0;
      const spread = paired.length > 2 ? ` (${paired[0]!.toFixed(2)}–${paired[paired.length - 1]!.toFixed(2)})` : '';
      rows.push(`| ${s.label} | ${fmt(e)} | ${fmt(w)} | ${median(paired).toFixed(2)}×${spread} | ${fmt(v)} (${s.existing} ports) | ${ratio(e, v)} |`);
      results.push({ scenario: s.label, ecdock: e, raw: w, vsctl: v, pairedRatios: paired, ecdockRuns: ours, rawRuns: theirs });
      process.stdout.write(`${s.label}: ecdock ${fmt(e)}/s, raw ${fmt(w)}/s, ovs-vsctl ${fmt(v)}/s\n`);
    }
    const batch = await measureBatcher(admin, client);
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const ovsVersion = await new Promise<string>((res) => execFile('ovsdb-server', ['--version'], (_e, out) => res(String(out).split('\n')[0] ?? '')));
    const table = [
      `# OVSDB write throughput: ecdock vs raw JSON vs ovs-vsctl`,
      '',
      `Add-port transactions (insert Interface + insert Port + mutate Bridge.ports insert) per second, against a private`,
      `ovsdb-server (standalone DB, unix socket, no ovs-vswitchd), ${N} transactions per run, median of ${ROUNDS} runs.`,
      `"raw JSON" is the limit: a minimal client in the same process writing hand-made JSON to the same socket`,
      `and matching replies by id. ovs-vsctl is \`ovs-vsctl --no-wait add-port\`, one process per port (${VSCTL_CALLS} calls).`,
      `ecdock / raw is the median of the per-round ratios (each round runs both back to back, order alternating).`,
      '',
      '| scenario | ecdock (txn/s) | raw JSON (txn/s) | ecdock / raw (min–max) | ovs-vsctl --no-wait (txn/s) | ecdock / ovs-vsctl |',
      '|---|---:|---:|---:|---:|---:|',
      ...rows,
      '',
      `Through \`TransactionBatcher\`: ${N} concurrent add-port submits → ${batch.transactions} transaction(s), ${fmt(batch.perSec)} ports/s.`,
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${cpu}, Node ${process.version}, ${ovsVersion};`,
      `load average ${loadBefore} at the start (the machine was shared), ${os.loadavg()[0]!.toFixed(2)} at the end.`,
      `Reproduce: \`npx tsc -p . && sudo node dist/bench/ovsdb.js\`.`,
      '',
    ].join('\n');
    process.stdout.write('\n' + table);
    const out = path.resolve(__dirname, '../../bench/results/ovsdb.md');
    await fs.mkdir(path.dirname(out), { recursive: true });
    await fs.writeFile(quick ? out.replace(/\.md$/, '.quick.md.tmp') : out, table);
    await fs.writeFile(out.replace(/\.md$/, quick ? '.quick.json.tmp' : '.json.tmp'), JSON.stringify({ results, batch }, null, 2));
  } finally {
    raw.close();
    client.close();
    admin.close();
    await sb.stop();
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
