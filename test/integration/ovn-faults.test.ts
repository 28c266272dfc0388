// Bad input and faults on an OVN vswitch, against real OVN (OvnSandbox, two hosts): each is a
// typed error that leaves nothing behind (no logical port, no br-int port, no veth).
import { strict as assert } from 'node:assert';
import { isEcdockError } from '../../src/errors';
import { VSwitch } from '../../src/vswitch';
import { Cleanup, TestNetns, eventually, requireRoot, sh } from '../support/env';
import { tcpBulk } from '../support/traffic';
import { openFrom, ovnLeftovers, ovnSwitchSpec, startOvnWorld, stopOvnWorld, type OvnWorld } from '../support/ovn';

const code = (c: string) => (e: unknown) => {
  assert.ok(isEcdockError(e), `not an EcdockError: ${String(e)}`);
  assert.equal(e.code, c, e.message);
  return true;
};

describe('OVN vswitch: bad input and faults (real OVN)', function () {
  this.timeout(120_000);
  let w: OvnWorld;
  const cleanup = new Cleanup();
  let name: string;
  let vs: VSwitch[];

  before(async function () {
    requireRoot(this);
    w = await startOvnWorld(2);
    const spec = ovnSwitchSpec();
    name = spec.name;
    const vs0 = await VSwitch.create(w.clients[0], { ...spec, ovn: { northbound: w.ovn.northbound }, netns: w.ovn.hosts[0].netns });
    vs = [vs0, await openFrom(w, 1, name)];
  });
  after(async () => {
    await cleanup.run();
    await stopOvnWorld(w);
  });

  const nbSnapshot = async () => (await sh('ovn-nbctl', [`--db=${w.ovn.northbound}`, 'show'])).stdout;
  const freshNetns = async () => {
    const ns = await TestNetns.create('ecovf-');
    cleanup.add(() => ns.del());
    return ns;
  };

  it('Northbound unreachable: OVSDB_UNREACHABLE, nothing changed', async () => {
    const before = await nbSnapshot();
    const bad = { northbound: `unix:${w.ovn.dir}/central/nope.sock` };
    await assert.rejects(VSwitch.create(w.clients[0], { name: 'ovnx', subnet: '10.9.9.254/24', ovn: bad, netns: w.ovn.hosts[0].netns }), code('OVSDB_UNREACHABLE'));
    await assert.rejects(VSwitch.open(w.clients[0], name, { ovn: bad, netns: w.ovn.hosts[0].netns }), code('OVSDB_UNREACHABLE'));
    assert.equal(await nbSnapshot(), before);
  });

  it('a logical switch of that name not made by ecdock: NOT_OURS, left alone', async () => {
    const foreign = `${name}f`;
    await sh('ovn-nbctl', [`--db=${w.ovn.northbound}`, 'ls-add', foreign]);
    cleanup.add(() => sh('ovn-nbctl', [`--db=${w.ovn.northbound}`, '--if-exists', 'ls-del', foreign]));
    const before = await nbSnapshot();
    await assert.rejects(VSwitch.create(w.clients[0], { name: foreign, subnet: '10.9.8.254/24', ovn: { northbound: w.ovn.northbound }, netns: w.ovn.hosts[0].netns }), code('NOT_OURS'));
    await assert.rejects(openFrom(w, 1, foreign), code('NOT_OURS'));
    assert.equal(await nbSnapshot(), before);
  });

  it('plan mismatch: VSWITCH_PLAN_MISMATCH; the same plan again opens it', async () => {
    const again = await VSwitch.create(w.clients[1], { name, subnet: vs[0].plan.cidr, ovn: { northbound: w.ovn.northbound }, netns: w.ovn.hosts[1].netns });
    assert.equal(again.plan.cidr, vs[0].plan.cidr);
    await assert.rejects(VSwitch.create(w.clients[1], { name, subnet: '10.9.7.254/24', ovn: { northbound: w.ovn.northbound }, netns: w.ovn.hosts[1].netns }), code('VSWITCH_PLAN_MISMATCH'));
  });

  it('no such vswitch, slot out of range, unsupported options: typed, nothing changed', async () => {
    await assert.rejects(openFrom(w, 0, `${name}zz`), code('NO_SUCH_VSWITCH'));
    const ns = await freshNetns();
    await assert.rejects(vs[0].attach({ slot: 254, target: { netns: ns.path } }), code('SLOT_OUT_OF_RANGE'));
    await assert.rejects(vs[0].attach({ slot: 3, target: { netns: ns.path }, portType: 'internal' }), code('BAD_ARGUMENT'));
    await assert.rejects(vs[0].attach({ slot: 3, target: { netns: ns.path }, vlan: 5 }), code('BAD_VLAN'));
    await assert.rejects(vs[0].attach({ slot: 3, target: { netns: w.ovn.hosts[0].netns } }), code('HOST_NETNS_REFUSED'));
    await assert.rejects(vs[0].detach(3), code('NO_SUCH_SLOT'));
    assert.deepEqual(await ovnLeftovers(w, name), []);
  });

  it('two hosts racing for one slot: one wins, the other gets SLOT_TAKEN and leaves nothing', async () => {
    const [a, b] = [await freshNetns(), await freshNetns()];
    for (let round = 0; round < 3; round++) {
      const r = await Promise.allSettled([vs[0].attach({ slot: 10, target: { netns: a.path } }), vs[1].attach({ slot: 10, target: { netns: b.path } })]);
      const won = r.filter((x) => x.status === 'fulfilled');
      assert.equal(won.length, 1, JSON.stringify(r.map((x) => (x.status === 'rejected' ? String(x.reason) : 'ok'))));
      const lost = r.find((x): x is PromiseRejectedResult => x.status === 'rejected')!;
      code('SLOT_TAKEN')(lost.reason);
      const winner = r[0].status === 'fulfilled' ? 0 : 1;
      const left = await ovnLeftovers(w, name);
      assert.deepEqual(left.filter((l) => !l.includes('s10') || !l.startsWith(`host${1 - winner} `)), left.filter((l) => !l.startsWith(`host${1 - winner} `)));
      assert.ok(!left.some((l) => l.startsWith(`host${1 - winner} `)), `loser left ${left.join(', ')}`);
      // the loser's target got no link
      const loserNs = winner === 0 ? b : a;
      assert.doesNotMatch((await loserNs.exec(['ip', '-br', 'link'])).stdout, /eth0/);
      await vs[winner].detach(10);
    }
    assert.deepEqual(await ovnLeftovers(w, name), []);
  });

  it('ovn-controller down on the attaching host: OVN_TIMEOUT naming ovn-controller, nothing left', async () => {
    const ns = await freshNetns();
    await w.ovn.stopController(1);
    try {
      const t = Date.now();
      await assert.rejects(vs[1].attach({ slot: 11, target: { netns: ns.path }, timeoutMs: 2000 }), (e: unknown) => {
        code('OVN_TIMEOUT')(e);
        assert.match((e as Error).message, /ovn-controller/);
        return true;
      });
      assert.ok(Date.now() - t < 15_000);
      assert.deepEqual(await ovnLeftovers(w, name), []);
    } finally {
      await w.ovn.startController(1);
    }
    const s = await vs[1].attach({ slot: 11, target: { netns: ns.path } });
    assert.equal(s.state, 'up');
    await vs[1].detach(11);
  });

  it('ovn-northd down: OVN_TIMEOUT naming ovn-northd, nothing left; works again once it is back', async () => {
    const ns = await freshNetns();
    await w.ovn.stopNorthd();
    try {
      await assert.rejects(vs[0].attach({ slot: 12, target: { netns: ns.path }, timeoutMs: 2000 }), (e: unknown) => {
        code('OVN_TIMEOUT')(e);
        assert.match((e as Error).message, /ovn-northd/);
        return true;
      });
      assert.deepEqual(await ovnLeftovers(w, name), []);
    } finally {
      await w.ovn.startNorthd();
    }
    const s = await vs[0].attach({ slot: 12, target: { netns: ns.path } });
    assert.equal(s.state, 'up');
    await vs[0].detach(12);
  });

  it("a host's ovs-vswitchd restarted: its slots carry traffic again after cleanup", async () => {
    const [a, b] = [await freshNetns(), await freshNetns()];
    const sa = await vs[0].attach({ slot: 20, target: { netns: a.path } });
    const sb = await vs[1].attach({ slot: 21, target: { netns: b.path } });
    await w.ovn.restartVswitchd(1);
    const report = await vs[1].cleanup();
    assert.deepEqual(report.ports, []);
    const deadline = Date.now() + 20_000;
    while (!(await b.ping(sa.ipv4)) && Date.now() < deadline);
    assert.equal(await tcpBulk(a.path, b.path, sa.ipv4, 500_000), 500_000);
    assert.ok(await b.ping(vs[1].plan.gateway));
    assert.equal((await vs[0].slot(21))?.state, 'up');
    await vs[0].detach(20);
    await vs[1].detach(21);
    void sb;
  });

  it('cleanup: a slot whose target is gone (this host) and one whose chassis is gone (from any host) are removed', async () => {
    const a = await freshNetns();
    const b = await freshNetns();
    await vs[0].attach({ slot: 30, target: { netns: a.path } });
    await vs[1].attach({ slot: 31, target: { netns: b.path } });
    await a.del();
    const local = await vs[0].cleanup();
    assert.deepEqual(local.ports.map((p) => [p.slot, p.reason]), [[30, 'target-gone']]);
    // host 2 goes away: its ovn-controller stops and its chassis leaves the Southbound
    await w.ovn.stopController(1);
    await sh('ovn-sbctl', [`--db=${w.ovn.southbound}`, '--if-exists', 'chassis-del', w.ovn.hosts[1].name]);
    // ovn-sbctl returns once the Southbound committed; this host's replica of it follows a moment later.
    await eventually(async () => (await vs[0].slot(31))?.state === 'ghost' || Promise.reject(new Error(`slot 31 is ${(await vs[0].slot(31))?.state}, not ghost`)));
    const remote = await vs[0].cleanup();
    assert.deepEqual(remote.ports.map((p) => [p.slot, p.reason]), [[31, 'chassis-gone']]);
    // host 2 comes back (ovn-controller re-registers); its own cleanup removes its leftovers
    await w.ovn.startController(1);
    await w.ovn.waitReady();
    const back = await vs[1].cleanup();
    assert.deepEqual(back.ports.map((p) => p.slot), [31]);
    assert.deepEqual(await ovnLeftovers(w, name), []);
  });
});
