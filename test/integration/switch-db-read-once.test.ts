// One-shot readers (`ec list`) read the vswitch tables with one transaction of selects
// (SwitchDb.readOnce) instead of a monitor: the rows, and the slots a VSwitch reports from them,
// must be the ones the monitor gives, and the wire must carry no get_schema or monitor request.
import { strict as assert } from 'node:assert';
import { SwitchDb } from '../../src/ovs/switch-db';
import { OvsdbClient } from '../../src/ovsdb/client';
import { VSwitch } from '../../src/vswitch';
import { CliFixture, ecOk } from '../support/cli';
import { TestNetns, requireRoot } from '../support/env';

const TABLES = ['Open_vSwitch', 'Bridge', 'Port', 'Interface'] as const;

describe('SwitchDb.readOnce: the tables of a one-shot reader, read in one transaction', function () {
  this.timeout(90_000);
  let f: CliFixture;
  const namespaces: TestNetns[] = [];
  let name: string;

  before(async function () {
    requireRoot(this);
    f = await CliFixture.start();
    name = f.vswitchName('ro');
    const vs = await VSwitch.create(f.ovs, { name, subnet: '10.94.0.254/24', usermode: true, netns: f.sb.netns });
    for (let i = 0; i < 2; i++) {
      const ns = await TestNetns.create('csro-');
      namespaces.push(ns);
      await vs.attach({ target: { netns: ns.path } });
    }
  });
  after(async () => {
    for (const ns of namespaces) await ns.del();
    await f?.cleanup.run();
  });

  it('has the rows the monitor has, table by table', async () => {
    const once = await OvsdbClient.connect(f.sb.dbUrl, { reconnect: false });
    const live = await OvsdbClient.connect(f.sb.dbUrl, { reconnect: false });
    try {
      const a = await SwitchDb.readOnce(once);
      const b = await SwitchDb.for(live);
      for (const t of TABLES) {
        assert.ok(b.mon.rows(t).size > 0, `${t} is empty`);
        assert.deepEqual(new Map([...a.mon.rows(t)].sort()), new Map([...b.mon.rows(t)].sort()), `${t} differs`);
      }
      // It is the client's shared instance from then on.
      assert.equal(await SwitchDb.for(once), a);
    } finally {
      once.close();
      live.close();
    }
  });

  it('gives VSwitch the same slots as the monitor does', async () => {
    const once = await OvsdbClient.connect(f.sb.dbUrl, { reconnect: false });
    try {
      await SwitchDb.readOnce(once);
      const viaSelect = (await (await VSwitch.open(once, name)).slots()).map((s) => s.info);
      const viaMonitor = (await (await VSwitch.open(f.ovs, name)).slots()).map((s) => s.info);
      assert.equal(viaSelect.length, 2);
      assert.deepEqual(viaSelect, viaMonitor);
    } finally {
      once.close();
    }
  });

  it('ec list prints the same as before, with no get_schema or monitor on the wire', async () => {
    const env = { ECDOCK_DB: f.sb.dbUrl, ECDOCK_NETNS: f.sb.netns, ECDOCK_VSWITCH: name };
    const slots = await ecOk<{ slot: number; state: string }[]>(['list', '--json'], { env });
    assert.deepEqual(
      slots.map((s) => [s.slot, s.state]),
      [
        [1, 'up'],
        [2, 'up'],
      ],
    );
    // What one client of this process would send, counted on its session.
    const once = await OvsdbClient.connect(f.sb.dbUrl, { reconnect: false });
    const methods: string[] = [];
    const session = once as unknown as { call(method: string, ...rest: unknown[]): Promise<unknown> };
    const call = session.call.bind(session);
    session.call = (method, ...rest) => {
      methods.push(method);
      return call(method, ...rest);
    };
    try {
      await SwitchDb.readOnce(once);
      await (await VSwitch.open(once, name)).slots();
      assert.deepEqual(methods, ['transact']);
    } finally {
      once.close();
    }
  });
});
