// A clustered Northbound (3-server raft) whose leader is killed while 50 attaches run on two
// hosts, each host with its own Northbound connection: every attach completes or fails typed, no
// slot is held twice, and (after cleanup on each host) no logical port, br-int port or veth is
// left that no successful attach owns.
import { strict as assert } from 'node:assert';
import { isEcdockError } from '../../src/errors';
import { OvsdbClient } from '../../src/ovsdb/client';
import { VSwitch } from '../../src/vswitch';
import { Cleanup, TestNetns, requireRoot, sh } from '../support/env';
import { ovnLeftovers, ovnSwitchSpec, startOvnWorld, stopOvnWorld, type OvnWorld } from '../support/ovn';

describe('OVN vswitch on a clustered Northbound: leader killed during 50 attaches (real OVN)', function () {
  this.timeout(240_000);
  let w: OvnWorld;
  const cleanup = new Cleanup();

  before(async function () {
    requireRoot(this);
    w = await startOvnWorld(2, { clustered: true });
  });
  after(async () => {
    await cleanup.run();
    await stopOvnWorld(w);
  });

  it('each attach completes or fails typed; no duplicate slot, no orphan', async () => {
    const nbs = await Promise.all([0, 1].map(() => OvsdbClient.connect(w.ovn.northbound, { leaderOnly: true, reconnect: { minMs: 100, maxMs: 1000 } })));
    cleanup.add(() => nbs.forEach((c) => c.close()));
    const { name, subnet } = ovnSwitchSpec();
    const vs0 = await VSwitch.create(w.clients[0], { name, subnet, ovn: { northbound: nbs[0] }, netns: w.ovn.hosts[0].netns });
    const vs1 = await VSwitch.open(w.clients[1], name, { ovn: { northbound: nbs[1] }, netns: w.ovn.hosts[1].netns });
    const vss = [vs0, vs1];
    const nss = await Promise.all(Array.from({ length: 50 }, () => TestNetns.create('ecovr-')));
    cleanup.add(() => Promise.all(nss.map((n) => n.del())));
    const leader = await w.ovn.leader('nb');
    assert.ok(leader >= 0);
    const attaches = nss.map((ns, i) => vss[i % 2].attach({ target: { netns: ns.path }, timeoutMs: 60_000 }));
    await new Promise((r) => setTimeout(r, 150));
    await w.ovn.killDbServer('nb', leader);
    const results = await Promise.allSettled(attaches);
    const ok = results.filter((r): r is PromiseFulfilledResult<Awaited<(typeof attaches)[number]>> => r.status === 'fulfilled').map((r) => r.value);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    for (const e of failed) assert.ok(isEcdockError(e), `untyped failure: ${String(e)}`);
    const indices = ok.map((s) => s.index);
    assert.equal(new Set(indices).size, indices.length, `duplicate slots: ${indices.join(' ')}`);
    process.stdout.write(`      ${ok.length} attached, ${failed.length} failed typed (${[...new Set(failed.map((e) => (e as { code: string }).code))].join(', ') || 'none'})\n`);
    await w.ovn.startDbServer('nb', leader);
    for (const vs of vss) await vs.cleanup();
    // what is left is exactly what succeeded
    // ovn-nbctl fails at once ("database connection failed") while the restarted server rejoins
    // and the cluster elects: ask again, a bounded number of times.
    const find = async () => {
      const args = [`--db=${w.ovn.northbound}`, '--bare', '--columns=name', 'find', 'Logical_Switch_Port', `external_ids:"ecdock:vswitch"=${name}`];
      for (let attempt = 1; ; attempt++) {
        const r = await sh('ovn-nbctl', args, { allowFail: attempt < 40 });
        if (r.code === 0) return r;
        await new Promise((res) => setTimeout(res, 250));
      }
    };
    const lsps = (await find()).stdout
      .split('\n')
      .map((x) => x.trim())
      .filter((x) => x && !x.endsWith('-gw-ls'))
      .sort();
    assert.deepEqual(lsps, ok.map((s) => s.portName).sort());
    const left = await ovnLeftovers(w, name);
    const expected = ok.flatMap((s) => {
      const h = s.host === w.ovn.hosts[0].name ? 0 : 1;
      return [`lsp ${s.portName}`, `host${h} port ${s.portName}`, `host${h} link ${s.portName}`];
    });
    assert.deepEqual(left.sort(), expected.sort());
    for (const s of ok) await vss[s.host === w.ovn.hosts[0].name ? 0 : 1].detach(s.index);
    await vs0.destroy();
  });
});
