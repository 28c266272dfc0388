// VSwitch under concurrent and crashing attach processes, against a real private OVS (userspace
// datapath, isolated netns) and real network namespaces. The attach worker
// (test/support/attach-worker.ts) runs in child processes, which are killed at every crash point;
// cleanup must then leave nothing but complete, working slots.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { ATTACH_INTERNAL_POINTS, ATTACH_VETH_POINTS, type CrashPoint } from '../../src/crash-points';
import { sh, type TestNetns } from '../support/env';
import { groupLinks, useSwitchFixture, type SwitchFixture } from '../support/switch';

const WORKER = path.join(__dirname, '..', 'support', 'attach-worker.js');

function runWorker(job: Record<string, unknown>): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WORKER, JSON.stringify(job)], { timeout: 60_000 }, (err, stdout) => {
      const e = err as (Error & { code?: number; signal?: NodeJS.Signals }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, out: String(stdout) });
    });
  });
}

describe('VSwitch: concurrency and crash safety (real OVS, userspace datapath, real namespaces)', function () {
  this.timeout(120_000);
  let f!: SwitchFixture;
  useSwitchFixture((x) => {
    f = x;
  });

  describe('concurrency', () => {
    it('4 processes attaching 50 namespaces each at once: no slot, MAC or IP twice, and all ping', async function () {
      const vs = await f.vswitch({ subnet: '10.30.0.254/24' });
      const nss: TestNetns[] = [];
      for (let i = 0; i < 200; i++) nss.push(await f.netns('ecc-'));
      const jobs = [0, 1, 2, 3].map((w) => runWorker({ db: f.sb.dbUrl, vswitch: vs.name, targets: nss.slice(w * 50, w * 50 + 50).map((n) => n.path) }));
      const results = await Promise.all(jobs);
      const slots: { index: number; ipv4: string; mac: string; portName: string; worker: number }[] = [];
      results.forEach((r, worker) => {
        assert.equal(r.code, 0, r.out);
        slots.push(...(JSON.parse(r.out) as { index: number; ipv4: string; mac: string; portName: string }[]).map((s) => ({ ...s, worker })));
      });
      assert.equal(slots.length, 200);
      const twice = slots.filter((s) => slots.some((o) => o !== s && o.index === s.index));
      if (twice.length) {
        // Say everything about a slot given twice: which workers, and what the database and the kernel hold now.
        const listed = (await vs.slots()).filter((s) => twice.some((t) => t.index === s.index));
        assert.fail(`slots given twice: ${JSON.stringify(twice)}; listed now: ${JSON.stringify(listed)}`);
      }
      assert.equal(new Set(slots.map((s) => s.index)).size, 200, 'slots unique');
      assert.equal(new Set(slots.map((s) => s.ipv4)).size, 200, 'IPs unique');
      assert.equal(new Set(slots.map((s) => s.mac)).size, 200, 'MACs unique');
      assert.deepEqual(
        slots.map((s) => s.index).sort((x, y) => x - y),
        Array.from({ length: 200 }, (_, i) => i + 1),
        'the lowest 200 slots, no holes',
      );
      const listed = await vs.slots();
      assert.equal(listed.filter((s) => s.state === 'up').length, 200);
      assert.ok(await nss[0].ping('10.30.0.200'));
      assert.ok(await nss[199].ping('10.30.0.254'));
    });
  });

  describe('crash safety: kill the attaching process at every step, then cleanup', () => {
    const points: [CrashPoint, 'veth' | 'internal'][] = [
      ...ATTACH_VETH_POINTS.map((p) => [p, 'veth'] as [CrashPoint, 'veth']),
      ...ATTACH_INTERNAL_POINTS.map((p) => [p, 'internal'] as [CrashPoint, 'internal']),
    ];
    points.forEach(([point, portType], i) => {
      it(`${portType} attach killed at ${point}: cleanup leaves no ghost, orphan or stale claim, and the slot attaches again`, async () => {
        const net = `10.40.${i}`;
        const vs = await f.vswitch({ subnet: `${net}.254/24` });
        const ns = await f.netns();
        const r = await runWorker({ db: f.sb.dbUrl, vswitch: vs.name, targets: [ns.path], slot: 5, portType, crashAt: point });
        assert.equal(r.signal, 'SIGKILL', `the worker should have died at ${point}: ${r.out}`);
        const report = await vs.cleanup();
        const slots = await vs.slots();
        for (const s of slots) assert.equal(s.state, 'up', `after cleanup slot ${s.index} is ${s.state}`);
        const ports = (await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, 'list-ports', vs.name])).stdout.trim().split('\n').filter(Boolean);
        const links = await groupLinks(f, vs);
        if (slots.length) {
          // the crash came after the slot was complete: it is kept, and works
          assert.deepEqual(ports, [`${vs.name}-s05`]);
          assert.ok(await ns.ping(`${net}.254`));
        } else {
          assert.deepEqual(ports, [], `report ${JSON.stringify(report)}`);
          assert.deepEqual(links, []);
          assert.equal((await ns.ipJson<{ ifname: string }[]>(['link'])).length, 1, 'nothing left in the target');
          const again = await vs.attach({ slot: 5, target: { netns: ns.path }, portType });
          assert.equal(again.state, 'up');
          assert.ok(await ns.ping(`${net}.254`));
        }
        await vs.destroy();
      });
    });

    for (const point of ['attach:veth-created'] as CrashPoint[]) {
      it(`veth attach killed at ${point}: the next attach of that slot repairs it without cleanup`, async () => {
        const vs = await f.vswitch({ subnet: '10.41.0.254/24' });
        const [ns, ns2] = [await f.netns(), await f.netns()];
        const r = await runWorker({ db: f.sb.dbUrl, vswitch: vs.name, targets: [ns.path], slot: 6, crashAt: point });
        assert.equal(r.signal, 'SIGKILL');
        assert.deepEqual(await groupLinks(f, vs), [`${vs.name}-s06`], 'the orphan veth is there');
        const s = await vs.attach({ slot: 6, target: { netns: ns2.path } });
        assert.equal(s.state, 'up');
        assert.ok(await ns2.ping('10.41.0.254'));
        await vs.destroy();
      });
    }

    it('detach killed between link and port: cleanup removes the ghost port', async () => {
      const vs = await f.vswitch({ subnet: '10.42.0.254/24' });
      const ns = await f.netns();
      await vs.attach({ slot: 2, target: { netns: ns.path } });
      const r = await runWorker({ db: f.sb.dbUrl, vswitch: vs.name, targets: [], detach: 2, crashAt: 'detach:link-deleted' });
      assert.equal(r.signal, 'SIGKILL');
      assert.deepEqual((await vs.slots()).map((s) => s.state), ['ghost']);
      const report = await vs.cleanup();
      assert.deepEqual(report.ports.map((p) => p.portName), [`${vs.name}-s02`]);
      assert.deepEqual(await vs.slots(), []);
      await vs.destroy();
    });

    it('cleanup never touches a slot whose namespace lives, nor ports it did not create', async () => {
      const vs = await f.vswitch({ subnet: '10.43.0.254/24' });
      const [a, b] = await Promise.all([f.netns(), f.netns()]);
      await vs.attach({ slot: 1, target: { netns: a.path } });
      await vs.attach({ slot: 2, target: { netns: b.path } });
      await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, '--no-wait', 'add-port', vs.name, 'foreignp0', '--', 'set', 'Interface', 'foreignp0', 'type=internal']);
      await b.del();
      await new Promise((r) => setTimeout(r, 200));
      const report = await vs.cleanup();
      assert.deepEqual(report.ports.map((p) => p.slot), [2]);
      const ports = (await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, 'list-ports', vs.name])).stdout.trim().split('\n').sort();
      assert.deepEqual(ports, ['foreignp0', `${vs.name}-s01`]);
      assert.ok(await a.ping('10.43.0.254'));
    });
  });
});
