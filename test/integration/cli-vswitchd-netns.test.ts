// ECDOCK_DB alone is enough: an isolated sandbox records where its ovs-vswitchd runs
// (Open_vSwitch external_ids:ecdock:netns), and `ec` and the library use it when no netns is given.
// Without the record, the missing bridge device is explained (naming --netns) and nothing is left.
import { strict as assert } from 'node:assert';
import { OvsdbClient } from '../../src/ovsdb/client';
import { VSwitch } from '../../src/vswitch';
import { isEcdockError } from '../../src/errors';
import { recordedVswitchdNetns, VSWITCHD_NETNS_KEY } from '../../src/vswitchd-netns';
import { CliFixture, ec, ecOk } from '../support/cli';
import { TestNetns, requireRoot, sh, uniqueName } from '../support/env';
import { udpEcho } from '../support/traffic';

describe('ec with ECDOCK_DB only: ovs-vswitchd namespace recorded in the database', function () {
  this.timeout(90_000);
  let f: CliFixture;
  const namespaces: TestNetns[] = [];

  before(async function () {
    requireRoot(this);
    f = await CliFixture.start();
  });
  after(async () => {
    for (const ns of namespaces) await ns.del();
    await f?.cleanup.run();
  });

  const dbOnly = (vswitch?: string) => ({ ECDOCK_DB: f.sb.dbUrl, ECDOCK_NETNS: undefined, ...(vswitch ? { ECDOCK_VSWITCH: vswitch } : {}) });

  it('the isolated sandbox records its namespace in the Open_vSwitch row', async () => {
    const r = await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, 'get', 'Open_vSwitch', '.', `external_ids:"${VSWITCHD_NETNS_KEY}"`]);
    assert.equal(r.stdout.trim().replace(/^"|"$/g, ''), f.sb.netns);
    assert.equal(await recordedVswitchdNetns(f.ovs), f.sb.netns);
  });

  it('ec create-vswitch, plug and list work with ECDOCK_DB alone, and the slots carry traffic', async () => {
    const name = f.vswitchName('ecdb');
    await ecOk(['create-vswitch', '--usermode', '10.93.0.254/24'], { env: dbOnly(name) });
    const [vs] = (await ecOk<{ name: string; netns?: string }[]>(['list-vswitches', '--json'], { env: dbOnly() })).filter((v) => v.name === name);
    assert.equal(vs?.netns, f.sb.netns, 'the vswitch was made in the recorded namespace');
    const a = await TestNetns.create('ecdba-');
    namespaces.push(a);
    const b = await TestNetns.create('ecdbb-');
    namespaces.push(b);
    await ecOk(['plug', '--slot=1', '--netns', a.path], { env: dbOnly(name) });
    await ecOk(['plug', '--slot=2', '--netns', b.path], { env: dbOnly(name) });
    const slots = await ecOk<{ slot: number; state: string }[]>(['list', '--json'], { env: dbOnly(name) });
    assert.deepEqual(slots.map((s) => s.state), ['up', 'up']);
    assert.ok((await udpEcho(b, a, '10.93.0.2')) > 0, 'UDP from slot 1 to slot 2');
    await ecOk(['delete-vswitch', '--force'], { env: dbOnly(name) });
  });

  it('without a record, a missing bridge device is explained (--netns) and nothing is left behind', async () => {
    const client = await OvsdbClient.connect(f.sb.dbUrl);
    try {
      await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, '--no-wait', 'remove', 'Open_vSwitch', '.', 'external_ids', `"${VSWITCHD_NETNS_KEY}"`]);
      assert.equal(await recordedVswitchdNetns(client), undefined);
      const name = uniqueName('ecnr');
      const before = await f.snapshot();
      const r = await ec(['create-vswitch', '--usermode', '10.94.0.254/24'], { env: dbOnly(name) });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /did not appear in this process's network namespace: ovs-vswitchd probably runs in another network namespace; name it with --netns/);
      assert.match(r.stderr, /code NO_SUCH_LINK/);
      assert.equal(await f.snapshot(), before, 'a failed create leaves nothing');
      // The library says the same.
      await assert.rejects(VSwitch.create(client, { name, subnet: '10.94.0.254/24', usermode: true }), (e: unknown) => isEcdockError(e, 'NO_SUCH_LINK') && /--netns/.test((e as Error).message));
    } finally {
      await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, '--no-wait', 'set', 'Open_vSwitch', '.', `external_ids:"${VSWITCHD_NETNS_KEY}"="${f.sb.netns}"`]);
      client.close();
    }
  });
});
