// Crash safety of OVN slots: the attaching (or detaching) process is SIGKILLed at every step;
// cleanup on that host then leaves either nothing or a complete, working slot, and the slot can
// be attached again.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { ATTACH_OVN_POINTS, type CrashPoint } from '../../src/crash-points';
import { VSwitch } from '../../src/vswitch';
import { Cleanup, TestNetns, requireRoot, sh } from '../support/env';
import { ovnLeftovers, ovnSwitchSpec, startOvnWorld, stopOvnWorld, type OvnWorld } from '../support/ovn';

const WORKER = join(__dirname, '..', 'support', 'ovn-attach-worker.js');

describe('OVN vswitch: crash safety (attaching process killed at every step, real OVN)', function () {
  this.timeout(180_000);
  let w: OvnWorld;
  let vs: VSwitch;
  let name: string;
  const cleanup = new Cleanup();

  before(async function () {
    requireRoot(this);
    w = await startOvnWorld(2);
    const spec = ovnSwitchSpec();
    name = spec.name;
    vs = await VSwitch.create(w.clients[0], { ...spec, ovn: { northbound: w.ovn.northbound }, netns: w.ovn.hosts[0].netns });
  });
  after(async () => {
    await cleanup.run();
    await stopOvnWorld(w);
  });

  const worker = (job: Record<string, unknown>) =>
    sh(process.execPath, [WORKER, JSON.stringify({ db: w.ovn.hosts[0].dbUrl, nb: w.ovn.northbound, netns: w.ovn.hosts[0].netns, vswitch: name, ...job })], { allowFail: true });

  for (const point of ATTACH_OVN_POINTS) {
    it(`attach killed at ${point}: cleanup leaves nothing or a working slot; the slot attaches again`, async () => {
      const ns = await TestNetns.create('ecovc-');
      cleanup.add(() => ns.del());
      const r = await worker({ slot: 5, target: ns.path, crashAt: point });
      assert.notEqual(r.code, 0, 'the worker was killed');
      await vs.cleanup();
      const left = await ovnLeftovers(w, name);
      if (left.length) {
        // The crash came after the binding was committed: the slot is complete and works.
        const s = await vs.slot(5);
        assert.equal(s?.state, 'up', `left: ${left.join(', ')}`);
        assert.ok(await ns.ping(vs.plan.gateway, { count: 2 }));
        await vs.detach(5);
      }
      assert.deepEqual(await ovnLeftovers(w, name), []);
      const again = await TestNetns.create('ecovc-');
      cleanup.add(() => again.del());
      await vs.attach({ slot: 5, target: { netns: again.path } });
      await vs.detach(5);
    });
  }

  for (const point of ['detach:link-deleted', 'ovn:released'] as CrashPoint[]) {
    it(`detach killed at ${point}: cleanup removes the rest`, async () => {
      const ns = await TestNetns.create('ecovc-');
      cleanup.add(() => ns.del());
      await vs.attach({ slot: 6, target: { netns: ns.path } });
      const r = await worker({ slot: 6, detach: true, crashAt: point });
      assert.notEqual(r.code, 0);
      const report = await vs.cleanup();
      assert.deepEqual(report.ports.map((p) => p.slot), [6]);
      assert.deepEqual(await ovnLeftovers(w, name), []);
    });
  }
});
