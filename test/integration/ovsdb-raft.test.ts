// A 3-server raft cluster: the client finds the leader through _Server, follows it when the
// leader is killed, and its cache stays equal to the database.
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { OvsCluster, runTool } from '../../src/sandbox';
import { OvsdbClient } from '../../src/ovsdb/client';
import { cond, decodeRows, mut, ops } from '../../src/ovsdb/operations';
import { OvsdbTransactionError } from '../../src/ovsdb/results';
import { openVswitchSchema, type OpenVswitchTables } from '../../src/ovsdb/schema/open-vswitch';
import { isEcdockError } from '../../src/errors';
import { requireRoot } from '../support/env';

const DB = 'Open_vSwitch';
const o = ops(openVswitchSchema);

/** An idempotent write: a QoS row with a client-chosen uuid (a retry that finds it committed is success). */
async function writeQos(c: OvsdbClient, uuid: string, n: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await c.transact(DB, [o.insert('QoS', { type: 'linux-htb', external_ids: new Map([['n', String(n)]]) }, { uuid })]);
      return;
    } catch (e) {
      if (e instanceof OvsdbTransactionError && e.tag === 'duplicate uuid') return; // the earlier attempt committed
      if (attempt > 50 || !isEcdockError(e) || (e.code !== 'OVSDB_CONNECTION_LOST' && e.code !== 'OVSDB_TIMEOUT')) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('ovsdb client on a 3-server raft cluster (real)', function () {
  this.timeout(90_000);
  let cl: OvsCluster | undefined;
  const clients: OvsdbClient[] = [];

  before(async function () {
    requireRoot(this);
    cl = await OvsCluster.start({ size: 3 });
    await cl.waitLeader();
  });
  after(async () => {
    for (const c of clients) c.close();
    await cl?.stop();
  });

  it('connects to the leader when leaderOnly, whatever the order of remotes', async () => {
    const leader = await cl!.waitLeader();
    const urls = cl!.servers.map((s) => s.url);
    // Put a follower first.
    const order = [...urls.slice(leader + 1), ...urls.slice(0, leader + 1)].join(',');
    const c = await OvsdbClient.connect(order, { leaderOnly: true });
    clients.push(c);
    assert.equal(c.remote, urls[leader]);
    const any = await OvsdbClient.connect(order);
    clients.push(any);
    assert.equal(any.remote, urls[(leader + 1) % 3], 'without leaderOnly the first (follower) remote is fine');
    await any.transact(DB, [o.mutate('Open_vSwitch', [], [mut('next_cfg', '+=', 1)])]); // forwarded to the leader
  });

  it('follows a new leader after the leader is killed; writes go on and the cache stays exact', async () => {
    const c = await OvsdbClient.connect(cl!.dbUrl, { leaderOnly: true, reconnect: { minMs: 50, maxMs: 500 }, timeoutMs: 15_000 });
    clients.push(c);
    const mon = await c.monitor<OpenVswitchTables>(DB, { QoS: ['type', 'external_ids'] });
    const first = c.remote;
    const uuids: string[] = [];
    const reconnected = new Promise<void>((res) => c.once('reconnect', () => res()));
    let n = 0;
    let stop = false;
    const writes = (async () => {
      const end = Date.now() + 60_000;
      while (Date.now() < end) {
        const u = randomUUID();
        uuids.push(u);
        await writeQos(c, u, n++);
        if (stop) return;
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const leader = await cl!.leader();
    assert.equal(cl!.servers[leader]!.url, first);
    await cl!.killServer(leader);
    await reconnected;
    assert.notEqual(c.remote, first);
    const newLeader = await cl!.waitLeader();
    assert.equal(c.remote, cl!.servers[newLeader]!.url);
    const before = n;
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await writes;
    assert.ok(n > before + 5, `writes continued after the failover (${before} → ${n})`);
    // Cache == select, and every write is there exactly once.
    const [sel] = await c.transact(DB, [o.select('QoS', [], ['_uuid', 'type', 'external_ids'])]);
    const rows = decodeRows<OpenVswitchTables['QoS']>(openVswitchSchema, 'QoS', sel!.rows!);
    const ids = new Set(rows.map((r) => r._uuid));
    for (const u of uuids) assert.ok(ids.has(u), `write ${u} is in the database`);
    await mon.waitFor(() => mon.rows('QoS').size === rows.length || undefined, 5000);
    for (const r of rows) assert.deepEqual(mon.get('QoS', r._uuid)?.external_ids, r.external_ids);
    // The killed server comes back as a follower; the client stays on the leader.
    await cl!.startServer(leader);
    await c.transact(DB, [o.delete('QoS', [cond('type', '==', 'linux-htb')])]);
    assert.equal(mon.rows('QoS').size, 0);
  });
});

describe('ovsdb monitor_cond_since on a clustered database (real)', function () {
  this.timeout(60_000);
  let cl: OvsCluster | undefined;
  const clients: OvsdbClient[] = [];

  before(async function () {
    requireRoot(this);
    cl = await OvsCluster.start({ size: 1 });
    await cl.waitLeader();
  });
  after(async () => {
    for (const c of clients) c.close();
    await cl?.stop();
  });

  it('resumes from the last transaction id after a reconnect (found=true) and applies only the changes', async () => {
    const c = await OvsdbClient.connect(cl!.dbUrl, { reconnect: { minMs: 400, maxMs: 800 } });
    const writer = await OvsdbClient.connect(cl!.dbUrl);
    clients.push(c, writer);
    // Enough rows that the server's history (bounded by the database's size) keeps recent transactions.
    const bulk = Array.from({ length: 200 }, (_, i) => o.insert('QoS', { type: 'linux-htb', external_ids: new Map([['i', String(i)]]) }));
    await writer.transact(DB, bulk);
    const mon = await c.monitor<OpenVswitchTables>(DB, { QoS: ['type', 'external_ids'] });
    assert.equal(mon.rows('QoS').size, 200);
    await writer.transact(DB, [o.insert('QoS', { type: 'before-drop' })]);
    assert.notEqual(mon.lastTransactionId, '00000000-0000-0000-0000-000000000000');
    const changes: unknown[] = [];
    mon.on('change', (ch) => changes.push(ch));
    const resync = new Promise<void>((res) => mon.once('resync', () => res()));
    // Drop every session; the client was up for less than a second, so it waits ~200-400 ms before
    // reconnecting, and this write lands while it is away.
    await runTool('ovs-appctl', ['-t', cl!.servers[0]!.ctl, 'ovsdb-server/reconnect']);
    const w = await OvsdbClient.connect(cl!.dbUrl);
    clients.push(w);
    await w.transact(DB, [o.insert('QoS', { type: 'while-away' })]);
    await resync;
    assert.equal(mon.resyncs.incremental, 1, `resyncs: ${JSON.stringify(mon.resyncs)}`);
    await mon.waitFor(() => mon.findBy('QoS', 'type', 'while-away'), 5000);
    assert.equal(mon.rows('QoS').size, 202);
    assert.ok(changes.length <= 2, `only the change made while away is reported (${changes.length})`);
  });
});
