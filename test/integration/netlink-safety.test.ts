import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { Netns, createVeth, deleteLinkGroup, listAddresses, listLinks, nativeStats } from '../../src/netlink';
import { Cleanup, TestNetns, requireRoot } from '../support/env';

const rnd = () => randomBytes(3).toString('hex');

/** net:[ino] of every thread of this process (threads that exit while we look are skipped). */
function threadNamespaces(): Map<string, string> {
  const out = new Map<string, string>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      out.set(tid, readlinkSync(`/proc/self/task/${tid}/ns/net`));
    } catch {
      /* gone */
    }
  }
  return out;
}

async function makeNamespaces(n: number, prefix: string, cleanup: Cleanup): Promise<TestNetns[]> {
  const out: TestNetns[] = [];
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => TestNetns.create(prefix)));
    for (const ns of batch) cleanup.add(() => ns.del());
    out.push(...batch);
  }
  return out;
}

const LIB = path.resolve(__dirname, '../../src/netlink');

/** Runs `node -e script args...`; under scripts/asan.sh the child gets the sanitizer preload too. */
function runNode(script: string, args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const env = { ...process.env, ECDOCK_NETLINK_LIB: LIB };
  if (process.env.ECDOCK_ASAN_PRELOAD) Object.assign(env, { LD_PRELOAD: process.env.ECDOCK_ASAN_PRELOAD, ASAN_OPTIONS: 'detect_leaks=0:handle_segv=0:allow_user_segv_handler=1' });
  return new Promise((resolve) =>
    execFile(process.execPath, ['-e', script, '--', ...args], { env, timeout: 90_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number | null }).code ?? `${(err as { signal?: string }).signal}`) : 0, stdout: String(stdout), stderr: String(stderr) }),
    ),
  );
}

// argv: vswitch namespace name, then 10 container namespace names. Prints one JSON line.
const STORM = `
const nl = require(process.env.ECDOCK_NETLINK_LIB);
const fs = require('node:fs'), fsp = fs.promises, dns = require('node:dns').promises, crypto = require('node:crypto');
const [vsName, ...names] = process.argv.slice(1); // node -e: no script name in argv
const fdCount = () => fs.readdirSync('/proc/self/fd').length;
const rnd = () => crypto.randomBytes(3).toString('hex');
(async () => {
  const home = fs.readlinkSync('/proc/thread-self/ns/net');
  const vs = nl.Netns.open({ name: vsName });
  const handles = names.map((name) => nl.Netns.open({ name }));
  if (handles.length !== 10) throw new Error('expected 10 namespaces, got ' + handles.length);
  // warm up everything that opens descriptors lazily (addon, workers, resolver)
  const warm = await nl.createVeth({ netns: vs, name: 'w' + rnd(), peer: { netns: handles[0], name: 'w' + rnd() } });
  await nl.deleteLink({ netns: vs, index: warm.index });
  await dns.lookup('localhost');
  await fsp.readlink('/proc/thread-self/ns/net');
  const fdsBefore = fdCount();
  // The storm: pool threads resolve /proc/thread-self, i.e. their *own* namespace.
  let stop = false, storms = 0;
  const seen = new Map();
  const storm = async () => {
    while (!stop) {
      const ns = await fsp.readlink('/proc/thread-self/ns/net');
      seen.set(ns, (seen.get(ns) || 0) + 1);
      await dns.lookup('localhost');
      await fsp.readFile('/proc/self/status');
      storms++;
    }
  };
  const stormers = Array.from({ length: 8 }, storm);
  let ops = 0;
  const round = async (ns, i) => {
    const r = await nl.createVeth({ netns: vs, name: 's' + rnd() + i, peer: { netns: ns, name: 'e' + i, configure: { addresses: [{ address: '10.81.' + (i % 250) + '.1', prefixLength: 24 }] } } });
    ops++;
    if (!(await nl.listLinks({ netns: ns })).some((l) => l.index === r.peerIndex)) throw new Error('peer missing');
    ops++;
    if ((await nl.listAddresses({ netns: ns, index: r.peerIndex })).length !== 1) throw new Error('address missing');
    ops++;
    await nl.setLink({ netns: vs, index: r.index, mtu: 1400 });
    ops++;
    if (!(await nl.deleteLink({ netns: vs, index: r.index }))) throw new Error('delete said missing');
    ops++;
  };
  try {
    for (let i = 0; i < 100; i += handles.length) await Promise.all(handles.map((ns, k) => round(ns, i + k)));
  } finally {
    stop = true;
    await Promise.all(stormers);
  }
  const strays = [];
  let threads = 0;
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const ns = fs.readlinkSync('/proc/self/task/' + tid + '/ns/net');
      threads++;
      if (ns !== home) strays.push([tid, ns]);
    } catch {}
  }
  const leftovers = [];
  for (const ns of handles) for (const l of await nl.listLinks({ netns: ns })) if (l.name !== 'lo') leftovers.push(l.name);
  const st = nl.nativeStats();
  const fdsAfter = fdCount();
  vs.close();
  handles.forEach((h) => h.close());
  console.log(JSON.stringify({ ops, storms, home, seen: [...seen], strays, threads, fdsBefore, fdsAfter, sockets: st.socketsOpen, inFlight: st.inFlight, factoryThreads: st.factoryThreads, leftovers }));
})().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
`;

describe('netlink: threads, descriptors and parallel load (root, real namespaces)', function () {
  this.timeout(120_000);
  const cleanup = new Cleanup();
  let vs: TestNetns;
  let vsNs: Netns;
  const home = readlinkSync('/proc/thread-self/ns/net');

  before(async function () {
    requireRoot(this);
    vs = await TestNetns.create('ect-nl-vs-');
    cleanup.add(() => vs.del());
    vsNs = Netns.open({ name: vs.name });
    cleanup.add(() => vsNs.close());
  });
  after(() => cleanup.run());

  it('100 attaches in parallel, each into its own namespace, all configured', async () => {
    const spaces = await makeNamespaces(100, 'ect-nl-p-', cleanup);
    const handles = spaces.map((s) => Netns.open({ name: s.name }));
    cleanup.add(() => handles.forEach((h) => h.close()));
    const g = 0x4ee00000 + Math.floor(Math.random() * 0xfffff);
    cleanup.add(() => deleteLinkGroup({ netns: vsNs, group: g }));
    const base = `pa${rnd()}`;
    const results = await Promise.all(
      handles.map((ns, i) =>
        createVeth({
          netns: vsNs,
          name: `${base}-${i}`,
          group: g,
          mac: `52:00:0a:50:00:${(i + 1).toString(16).padStart(2, '0')}`,
          peer: {
            netns: ns,
            name: 'eth0',
            mac: `52:00:0a:50:01:${(i + 1).toString(16).padStart(2, '0')}`,
            configure: { addresses: [{ address: `10.80.0.${i + 1}`, prefixLength: 24 }], loopbackUp: true, defaultRoutes: ['10.80.0.254'] },
          },
        }),
      ),
    );
    assert.equal(new Set(results.map((r) => r.index)).size, 100);
    const host = (await listLinks({ netns: vsNs, kind: 'veth' })).filter((l) => l.group === g);
    assert.equal(host.length, 100);
    assert.ok(host.every((l) => l.up && l.ipv6AddrGenMode === 'none'));
    const peers = await Promise.all(handles.map((ns) => listAddresses({ netns: ns })));
    peers.forEach((addrs, i) => {
      assert.deepEqual(
        addrs.filter((a) => a.family === 4).map((a) => a.address).sort(),
        ['10.80.0.' + (i + 1), '127.0.0.1'].sort(),
        `namespace ${i}`,
      );
      assert.equal(addrs.some((a) => a.address.startsWith('fe80')), false);
    });
    await deleteLinkGroup({ netns: vsNs, group: g });
    assert.equal((await listLinks({ netns: vsNs, kind: 'veth' })).filter((l) => l.group === g).length, 0);
    // every thread of this process (JS, libuv pool, ours) is still in its own namespace
    assert.deepEqual([...threadNamespaces()].filter(([, ns]) => ns !== home), []);
    assert.equal(nativeStats().socketsOpen, 0);
  });

  it('500 operations while fs and dns.lookup keep the libuv pool busy: every thread stays home, every fd comes back', async () => {
    // Run in a process of its own: other suites of a shared mocha run must not disturb the fd count.
    const spaces = await makeNamespaces(10, 'ect-nl-s-', cleanup);
    const r = await runNode(STORM, [vs.name, ...spaces.map((s) => s.name)]);
    assert.equal(r.code, 0, `child exited ${r.code}: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      ops: number; storms: number; home: string; seen: [string, number][]; strays: [string, string][]; threads: number;
      fdsBefore: number; fdsAfter: number; sockets: number; inFlight: number; factoryThreads: number; leftovers: string[];
    };
    assert.equal(out.ops, 500);
    assert.ok(out.storms > 0, 'the pool was busy');
    assert.deepEqual(out.seen.map(([ns]) => ns), [out.home], `pool threads saw ${JSON.stringify(out.seen)}`);
    assert.deepEqual(out.strays, [], `threads outside ${out.home}`);
    assert.ok(out.threads > 4);
    assert.equal(out.sockets, 0);
    assert.equal(out.inFlight, 0);
    assert.ok(out.factoryThreads >= 300, `factory threads: ${out.factoryThreads}`);
    assert.equal(out.fdsAfter, out.fdsBefore, 'descriptors leaked');
    assert.deepEqual(out.leftovers, []);
  });

  it('survives worker_threads that are terminated with netlink jobs in flight', async () => {
    const r = await runNode(
      `
      const { Worker } = require('node:worker_threads');
      const code = 'const nl = require(process.env.ECDOCK_NETLINK_LIB); const { parentPort } = require("node:worker_threads");' +
        '(async () => { parentPort.postMessage((await nl.listLinks()).length); for (;;) await nl.listLinks(); })();';
      (async () => {
        for (let i = 0; i < 10; i++) {
          const w = new Worker(code, { eval: true });
          await new Promise((r) => w.once('message', r));
          await w.terminate();
        }
        const nl = require(process.env.ECDOCK_NETLINK_LIB);
        const n = (await nl.listLinks()).length;
        console.log(JSON.stringify({ n, sockets: nl.nativeStats().socketsOpen }));
      })();`,
      [],
    );
    assert.equal(r.code, 0, `child exited ${r.code}: ${r.stderr} ${r.stdout}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { n: number; sockets: number };
    assert.ok(out.n >= 1);
    assert.equal(out.sockets, 0, 'sockets held by terminated workers were closed');
  });
});
