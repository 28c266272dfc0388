import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as dns } from 'node:dns';
import { promises as fsp, readdirSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { Netns, createVeth, deleteLink, deleteLinkGroup, getLink, listAddresses, listLinks, nativeStats, setLink } from '../../src/netlink';
import { Cleanup, TestNetns, eventually, requireRoot } from '../support/env';

const rnd = () => randomBytes(3).toString('hex');
const fdCount = (): number => readdirSync('/proc/self/fd').length;

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
  });

  it('500 operations while fs and dns.lookup keep the libuv pool busy: every thread stays home, every fd comes back', async () => {
    const spaces = await makeNamespaces(10, 'ect-nl-s-', cleanup);
    const handles = spaces.map((s) => Netns.open({ name: s.name }));
    cleanup.add(() => handles.forEach((h) => h.close()));
    // warm up everything that opens descriptors lazily (addon, workers, resolver)
    const warm = await createVeth({ netns: vsNs, name: `w${rnd()}`, peer: { netns: handles[0], name: `w${rnd()}` } });
    await deleteLink({ netns: vsNs, index: warm.index });
    await dns.lookup('localhost');
    await fsp.readlink('/proc/thread-self/ns/net');
    const fdsBefore = fdCount();

    // The storm: pool threads resolve /proc/thread-self, i.e. their *own* namespace.
    let stop = false;
    const seen = new Map<string, number>();
    let storms = 0;
    const storm = async () => {
      while (!stop) {
        const ns = await fsp.readlink('/proc/thread-self/ns/net');
        seen.set(ns, (seen.get(ns) ?? 0) + 1);
        await dns.lookup('localhost');
        await fsp.readFile('/proc/self/status');
        storms++;
      }
    };
    const stormers = Array.from({ length: 8 }, storm);

    let ops = 0;
    const round = async (ns: Netns, i: number) => {
      const name = `s${rnd()}${i}`;
      const r = await createVeth({ netns: vsNs, name, peer: { netns: ns, name: `e${i}`, configure: { addresses: [{ address: `10.81.${i % 250}.1`, prefixLength: 24 }] } } });
      ops++;
      assert.ok((await listLinks({ netns: ns })).some((l) => l.index === r.peerIndex));
      ops++;
      assert.equal((await listAddresses({ netns: ns, index: r.peerIndex })).length, 1);
      ops++;
      await setLink({ netns: vsNs, index: r.index, mtu: 1400 });
      ops++;
      assert.equal(await deleteLink({ netns: vsNs, index: r.index }), true);
      ops++;
    };
    try {
      for (let i = 0; i < 100; i += handles.length) await Promise.all(handles.map((ns, k) => round(ns, i + k)));
    } finally {
      stop = true;
      await Promise.all(stormers);
    }
    assert.equal(ops, 500);
    assert.ok(storms > 0, 'the pool was busy');
    assert.deepEqual([...seen.keys()], [home], `pool threads saw ${JSON.stringify([...seen])}`);
    const tasks = threadNamespaces();
    const strays = [...tasks].filter(([, ns]) => ns !== home);
    assert.deepEqual(strays, [], `threads outside ${home}`);
    assert.ok(tasks.size > 4);
    const stats = nativeStats();
    assert.equal(stats.socketsOpen, 0);
    assert.equal(stats.inFlight, 0);
    assert.ok(stats.factoryThreads >= 300, `factory threads: ${stats.factoryThreads}`);
    await eventually(() => fdCount() === fdsBefore, 2000).catch(() => assert.equal(fdCount(), fdsBefore, 'descriptors leaked'));
    // nothing of ours left in the namespaces
    for (const ns of handles) assert.deepEqual((await listLinks({ netns: ns })).map((l) => l.name), ['lo']);
    assert.equal(await getLink({ netns: vsNs, name: 'nothing' }), undefined);
  });

  it('survives worker_threads that are terminated with netlink jobs in flight', async () => {
    const lib = JSON.stringify(path.resolve(__dirname, '../../src/netlink'));
    const script = `
      const { Worker } = require('node:worker_threads');
      const code = 'const nl = require(' + JSON.stringify(${lib}) + '); const { parentPort } = require("node:worker_threads");' +
        '(async () => { parentPort.postMessage((await nl.listLinks()).length); for (;;) await nl.listLinks(); })();';
      (async () => {
        for (let i = 0; i < 10; i++) {
          const w = new Worker(code, { eval: true });
          await new Promise((r) => w.once('message', r));
          await w.terminate();
        }
        const nl = require(${lib});
        const n = (await nl.listLinks()).length;
        console.log(JSON.stringify({ n, sockets: nl.nativeStats().socketsOpen }));
      })();`;
    // Under scripts/asan.sh the child runs with the sanitizer too (memory errors abort; leaks are not counted here).
    const env = { ...process.env };
    if (process.env.ECDOCK_ASAN_PRELOAD) Object.assign(env, { LD_PRELOAD: process.env.ECDOCK_ASAN_PRELOAD, ASAN_OPTIONS: 'detect_leaks=0:handle_segv=0:allow_user_segv_handler=1' });
    const r = await new Promise<{ code: number | string; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, ['-e', script], { env, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number | null }).code ?? `${(err as { signal?: string }).signal}`) : 0, stdout: String(stdout), stderr: String(stderr) }),
      ),
    );
    assert.equal(r.code, 0, `child exited ${r.code}: ${r.stderr} ${r.stdout}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { n: number; sockets: number };
    assert.ok(out.n >= 1);
    assert.equal(out.sockets, 0);
  });
});
