// Issue 6, faults (fast subset; the full numbers are in scripts/reliability/faults.ts): restart
// ovsdb-server during concurrent attaches, restart ovs-vswitchd during attaches, SIGKILL the
// attaching process at random moments. After each: every attach completed or failed with a typed
// error, and after cleanup there is no ghost port, no orphan veth, no stale claim, and every slot
// is up and pings its gateway.
import { strict as assert } from 'node:assert';
import { killAtRandomMoments, makeNamespaces, ovsdbRestartDuringAttaches, vswitchdRestartDuringAttaches, type ScenarioResult } from '../../scripts/reliability/scenarios';
import type { EcdockError } from '../../src/errors';
import { OvsdbClient } from '../../src/ovsdb/client';
import { VSwitch } from '../../src/vswitch';
import { eventually, requireRoot, sh } from '../support/env';
import { checkInvariants, violations } from '../support/invariants';
import { startSwitchFixture, type SwitchFixture } from '../support/switch';

function expectClean(r: ScenarioResult): void {
  const summary = JSON.stringify({ outcomes: r.outcomes, figures: r.figures, invariants: { ...r.invariants, indexes: undefined } });
  assert.deepEqual(r.violations, [], summary);
  assert.equal(r.outcomes.hung, 0, summary);
  assert.deepEqual(r.outcomes.untyped, [], summary);
  assert.equal(r.outcomes.completed + Object.values(r.outcomes.typed).reduce((a, b) => a + b, 0), r.outcomes.attempted, summary);
}

describe('hardening: faults (private OVS, real namespaces)', function () {
  this.timeout(180_000);
  let f: SwitchFixture | undefined;

  beforeEach(async function () {
    requireRoot(this);
    f = await startSwitchFixture();
  });
  afterEach(async () => {
    await f?.cleanup.run();
    f = undefined;
  });

  it('the invariant checker sees a planted ghost, orphan, stale claim and dead slot (so these tests can fail)', async () => {
    const vs = await f!.vswitch({ subnet: '10.59.0.254/24' });
    const [a, b, c] = [await f!.netns(), await f!.netns(), await f!.netns()];
    await vs.attach({ slot: 1, target: { netns: a.path } });
    await vs.attach({ slot: 2, target: { netns: b.path } });
    await vs.attach({ slot: 3, target: { netns: c.path } });
    assert.deepEqual(violations(await checkInvariants(vs, { sbns: f!.sbns })), []);
    const db = `--db=${f!.sb.dbUrl}`;
    // ghost: the link of slot 1 vanishes behind the library's back
    await sh('ip', ['-n', f!.sbns, 'link', 'del', `${vs.name}-s01`]);
    // orphan: a veth in the vswitch's group that no port uses
    await sh('ip', ['-n', f!.sbns, 'link', 'add', `${vs.name}-s77`, 'group', String(vs.group), 'type', 'veth', 'peer', 'name', `${vs.name}-p77`]);
    // stale claim: slot 2 still marked as being attached
    await sh('ovs-vsctl', [db, 'set', 'Port', `${vs.name}-s02`, 'external_ids:ecdock\\:state=attaching']);
    // dead slot: slot 3's interface is down, so it cannot ping
    await c.exec(['ip', 'link', 'set', 'eth0', 'down']);
    await eventually(async () => (await vs.slot(3))?.state === 'down', 5000);
    const r = await checkInvariants(vs, { sbns: f!.sbns });
    assert.deepEqual(r.ghosts, [`${vs.name}-s01`]);
    assert.deepEqual(r.orphans, [`${vs.name}-s77`]);
    assert.deepEqual(r.staleClaims, [`${vs.name}-s02`]);
    assert.ok(r.notUp.includes('3:down'), JSON.stringify(r));
    assert.equal(violations(r).length, 4, violations(r).join('\n'));
  });

  for (const [when, at] of [
    ['while veths are being made', 'attach:veth-created'],
    ['right after the claims committed', 'attach:port-committed'],
  ] as const) {
    it(`ovsdb-server restarted (kill -9 + start) during 50 concurrent attaches, ${when}`, async () => {
      const r = await ovsdbRestartDuringAttaches(f!, { n: 50, at, triggerAfter: at === 'attach:veth-created' ? 25 : 1 });
      expectClean(r);
      assert.equal(r.figures.restartedDuringAttaches, 'yes', 'the restart should land while attaches are in flight');
      assert.equal(r.invariants.slots, r.outcomes.completed, 'every completed attach is a slot, and nothing else is');
    });
  }

  it('ovs-vswitchd restarted during 20 concurrent attaches, with 10 slots already up', async () => {
    const r = await vswitchdRestartDuringAttaches(f!, { n: 20, before: 10, delayMs: 30, downMs: 300 });
    expectClean(r);
    assert.equal(r.figures.keptSlotsBefore, 10);
  });

  it('two clients attaching veth and internal slots at once (automatic slots): every attach completes', async () => {
    // Without coordination both clients pick the same lowest free slot: the veth's link and the
    // internal port's device then want the same name in ovs-vswitchd's namespace.
    const outcomes: Record<string, number> = {};
    for (let round = 0; round < 3; round++) {
      const vs = await f!.vswitch({ subnet: `10.${56 + round}.0.254/24` });
      const other = await OvsdbClient.connect(f!.sb.dbUrl);
      try {
        const vs2 = await VSwitch.open(other, vs.name);
        const [a, b] = [await makeNamespaces(f!, 10, 'ecr-'), await makeNamespaces(f!, 10, 'ecr-')];
        const rs = await Promise.all([
          ...a.map((ns) => vs.attach({ target: { netns: ns.path }, portType: 'veth' }).then(() => 'veth ok', (e: EcdockError) => `veth ${e.code}`)),
          ...b.map((ns) => vs2.attach({ target: { netns: ns.path }, portType: 'internal' }).then(() => 'internal ok', (e: EcdockError) => `internal ${e.code}`)),
        ]);
        for (const r of rs) outcomes[r] = (outcomes[r] ?? 0) + 1;
        await vs.cleanup();
        assert.deepEqual(violations(await checkInvariants(vs, { sbns: f!.sbns })), []);
      } finally {
        other.close();
      }
    }
    assert.deepEqual(outcomes, { 'veth ok': 30, 'internal ok': 30 });
  });

  it('the attaching process SIGKILLed at 10 random moments (seeded), cleanup after each', async () => {
    const r = await killAtRandomMoments(f!, { rounds: 10, perRound: 3, seed: 6 });
    const summary = JSON.stringify({ outcomes: r.outcomes, figures: r.figures, rounds: r.rounds });
    assert.deepEqual(r.violations, [], summary);
    assert.ok(Number(r.figures.killed) >= 3, `rounds should really be killed mid-way: ${summary}`);
  });
});
