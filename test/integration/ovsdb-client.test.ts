// Every OvsdbClient method against a real ovsdb-server 3.x (private sandbox, no ovs-vswitchd).
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { OvsSandbox } from '../../src/sandbox';
import { OvsdbClient } from '../../src/ovsdb/client';
import { cond, decodeRows, mut, op, ops, insertedUuid } from '../../src/ovsdb/operations';
import { OvsdbTransactionError } from '../../src/ovsdb/results';
import { openVswitchSchema, type OpenVswitchTables } from '../../src/ovsdb/schema/open-vswitch';
import { isEcdockError } from '../../src/errors';
import { requireRoot } from '../support/env';
import type { RowChange } from '../../src/ovsdb/cache';

const DB = 'Open_vSwitch';
const o = ops(openVswitchSchema);

function waitEvent(em: NodeJS.EventEmitter, ev: string, ms = 5000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${ev} within ${ms} ms`)), ms);
    em.once(ev, (...a: unknown[]) => {
      clearTimeout(t);
      resolve(a);
    });
  });
}

/** insert Interface + insert Port + mutate Bridge.ports insert: what add-port does. */
function addPort(bridge: string, name: string, extra: { tag?: number } = {}) {
  return [
    o.insert('Interface', { name, type: 'internal' }, { uuidName: 'iface' }),
    o.insert('Port', { name, interfaces: ['iface'], ...extra }, { uuidName: 'port' }),
    o.mutate('Bridge', [cond('name', '==', bridge)], [mut('ports', 'insert', ['port'])]),
  ];
}

function addBridge(name: string) {
  return [
    o.insert('Interface', { name, type: 'internal' }, { uuidName: 'bi' }),
    o.insert('Port', { name, interfaces: ['bi'] }, { uuidName: 'bp' }),
    o.insert('Bridge', { name, ports: ['bp'] }, { uuidName: 'br' }),
    o.mutate('Open_vSwitch', [], [mut('bridges', 'insert', ['br'])]),
  ];
}

describe('ovsdb client against ovsdb-server (real)', function () {
  this.timeout(30_000);
  let sb: OvsSandbox | undefined;
  let c: OvsdbClient;
  const extra: OvsdbClient[] = [];

  before(async function () {
    requireRoot(this);
    sb = await OvsSandbox.start({ vswitchd: false });
    c = await OvsdbClient.connect(sb.dbUrl, {
      schemaCheck: { db: DB, expected: openVswitchSchema, require: { Bridge: ['name', 'ports'], Port: ['name', 'interfaces'] } },
    });
    await c.transact(DB, addBridge('br0'));
  });
  after(async () => {
    for (const x of extra) x.close();
    c?.close();
    await sb?.stop();
  });
  const another = async () => {
    const x = await OvsdbClient.connect(sb!.dbUrl);
    extra.push(x);
    return x;
  };

  it('lists databases, fetches the schema, answers echo and get_server_id', async () => {
    assert.deepEqual((await c.listDbs()).sort(), ['Open_vSwitch', '_Server']);
    const schema = await c.getSchema(DB);
    const file = JSON.parse(readFileSync('/usr/share/openvswitch/vswitch.ovsschema', 'utf8'));
    assert.equal(schema.version, file.version);
    assert.deepEqual(Object.keys(schema.tables).sort(), Object.keys(file.tables).sort());
    assert.equal(await c.getSchema(DB), schema, 'cached per session');
    assert.deepEqual(await c.echo('a', 1, { b: [true] }), ['a', 1, { b: [true] }]);
    assert.match(await c.getServerId(), /^[0-9a-f-]{36}$/);
    assert.equal(c.connected, true);
    assert.equal(c.schemaReport(DB)!.compatible, true);
  });

  it('fails at connect with OVSDB_SCHEMA_MISMATCH when a required column is missing', async () => {
    const expected = JSON.parse(JSON.stringify(openVswitchSchema));
    expected.tables.Port.columns.not_there = { type: 'string' };
    await assert.rejects(
      OvsdbClient.connect(sb!.dbUrl, { schemaCheck: { db: DB, expected, require: { Port: ['not_there'] } } }),
      (e) => isEcdockError(e, 'OVSDB_SCHEMA_MISMATCH') && /Port\.not_there is missing/.test(e.message),
    );
  });

  it('runs an add-port transaction and returns one result per operation', async () => {
    const r = await c.transact(DB, addPort('br0', 'p1', { tag: 10 }));
    assert.equal(r.length, 3);
    assert.match(insertedUuid(r[0])!, /^[0-9a-f-]{36}$/);
    assert.deepEqual(r[2], { count: 1 });
    const [sel] = await c.transact(DB, [o.select('Port', [cond('name', '==', 'p1')], ['name', 'tag', 'interfaces'])]);
    const rows = decodeRows<OpenVswitchTables['Port']>(openVswitchSchema, 'Port', sel!.rows!);
    assert.equal(rows[0]!.tag, 10);
    assert.deepEqual(rows[0]!.interfaces, [insertedUuid(r[0])]);
  });

  it('inserts with a client-chosen uuid; a retry fails with "duplicate uuid" (idempotency)', async () => {
    const uuid = '5f0c0000-aaaa-4bbb-8ccc-000000000001';
    const txn = [o.insert('QoS', { type: 'linux-htb' }, { uuid })];
    const [r] = await c.transact(DB, txn);
    assert.equal(insertedUuid(r), uuid);
    await assert.rejects(c.transact(DB, txn), (e) => e instanceof OvsdbTransactionError && e.tag === 'duplicate uuid' && e.opIndex === 0);
    await c.transact(DB, [o.delete('QoS', [cond('_uuid', '==', uuid)])]);
  });

  it('maps a failing operation to OvsdbTransactionError (constraint violation at op 1)', async () => {
    const err = await c.transact(DB, [o.comment('x'), o.update('Port', [cond('name', '==', 'p1')], { tag: 5000 })]).then(
      () => assert.fail('should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OvsdbTransactionError);
    assert.equal(err.code, 'OVSDB_TXN_FAILED');
    assert.equal(err.opIndex, 1);
    assert.equal(err.tag, 'constraint violation');
    assert.match(err.message, /^OVSDB transaction failed at operation 1 \(update Port\): constraint violation: 5000 is not in the valid range/);
  });

  it('maps a commit-time failure (duplicate name) to opIndex -1', async () => {
    await assert.rejects(c.transact(DB, addPort('br0', 'p1')), (e) => {
      assert.ok(e instanceof OvsdbTransactionError);
      assert.equal(e.opIndex, -1);
      assert.equal(e.tag, 'constraint violation');
      assert.match(e.message, /at commit: constraint violation: .*identical values \(p1\)/);
      return true;
    });
  });

  it('maps referential integrity violations, abort and syntax errors', async () => {
    await assert.rejects(
      c.transact(DB, [o.mutate('Bridge', [cond('name', '==', 'br0')], [mut('ports', 'insert', ['11111111-2222-3333-4444-555555555555'])])]),
      (e) => e instanceof OvsdbTransactionError && e.opIndex === -1 && e.tag === 'referential integrity violation',
    );
    await assert.rejects(c.transact(DB, [o.comment('a'), o.abort()]), (e) => e instanceof OvsdbTransactionError && e.opIndex === 1 && e.tag === 'aborted');
    await assert.rejects(c.transact(DB, [op.insert('Port', { name: 'x', interfaces: ['set', []] })]), (e) => e instanceof OvsdbTransactionError && e.tag === 'syntax error');
  });

  it('reports an unknown database as OVSDB_ERROR', async () => {
    await assert.rejects(c.transact('Nope', [o.comment('x')]), (e) => isEcdockError(e, 'OVSDB_ERROR') && /unknown database/.test(e.message));
    await assert.rejects(c.getSchema('Nope'), (e) => isEcdockError(e, 'OVSDB_ERROR'));
  });

  it('cancels a transaction blocked in a wait: rejected locally, dropped by the server', async () => {
    const ac = new AbortController();
    const p = c.transact(
      DB,
      [
        o.wait({ table: 'Bridge', where: [cond('name', '==', 'trigger')], columns: ['name'], until: '!=', rows: [], timeout: 20_000 }),
        o.mutate('Open_vSwitch', [], [mut('external_ids', 'insert', new Map([['canceled', 'committed']]))]),
      ],
      { signal: ac.signal },
    );
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    await assert.rejects(p, (e) => isEcdockError(e, 'OVSDB_CANCELED'));
    await c.transact(DB, addBridge('trigger'));
    await new Promise((r) => setTimeout(r, 100));
    const [sel] = await c.transact(DB, [o.select('Open_vSwitch', [], ['external_ids'])]);
    const [row] = decodeRows<OpenVswitchTables['Open_vSwitch']>(openVswitchSchema, 'Open_vSwitch', sel!.rows!);
    assert.equal(row!.external_ids.has('canceled'), false);
    assert.deepEqual(await c.echo(), [], 'the session is still healthy');
  });

  it('times out a request client-side with OVSDB_TIMEOUT (blocked wait)', async () => {
    const p = c.transact(DB, [o.wait({ table: 'Bridge', where: [cond('name', '==', 'never')], columns: ['name'], until: '!=', rows: [], timeout: 20_000 })], {
      timeoutMs: 150,
    });
    await assert.rejects(p, (e) => isEcdockError(e, 'OVSDB_TIMEOUT'));
    assert.deepEqual(await c.echo(2), [2]);
  });

  describe('monitor', () => {
    it('loads the initial rows and reflects our own commit by the time transact resolves', async () => {
      const mon = await c.monitor<OpenVswitchTables>(DB, { Bridge: ['name', 'ports'], Port: ['name', 'tag', 'interfaces', 'external_ids'], Interface: ['name', 'type'] });
      try {
        const br0 = mon.findBy('Bridge', 'name', 'br0')!;
        assert.ok(br0.ports.length >= 2);
        assert.equal(mon.findBy('Port', 'name', 'p1')!.tag, 10);
        assert.deepEqual(mon.findBy('Port', 'name', 'br0')!.external_ids, new Map(), 'default filled in for an omitted column');
        const changes: RowChange[] = [];
        mon.on('change', (ch: RowChange) => changes.push(ch));
        let updates = 0;
        mon.on('update', () => updates++);
        const r = await c.transact(DB, addPort('br0', 'p2', { tag: 20 }));
        // Updates caused by our transaction arrive before its reply (ovsdb-server(7)).
        const p2 = mon.get('Port', insertedUuid(r[1])!);
        assert.equal(p2?.tag, 20);
        assert.ok(mon.findBy('Bridge', 'name', 'br0')!.ports.includes(insertedUuid(r[1])!));
        assert.equal(updates, 1);
        assert.deepEqual(changes.map((x) => x.table).sort(), ['Bridge', 'Interface', 'Port']);
        await c.transact(DB, [o.mutate('Port', [cond('name', '==', 'p2')], [mut('external_ids', 'insert', new Map([['k', 'v']]))]), o.update('Port', [cond('name', '==', 'p2')], { tag: undefined })]);
        assert.deepEqual(mon.findBy('Port', 'name', 'p2')!.external_ids, new Map([['k', 'v']]));
        assert.equal(mon.findBy('Port', 'name', 'p2')!.tag, undefined);
        // Delete by removing the port from its bridge: the server garbage-collects Port and Interface.
        await c.transact(DB, [o.mutate('Bridge', [cond('name', '==', 'br0')], [mut('ports', 'delete', [insertedUuid(r[1])!])])]);
        assert.equal(mon.findBy('Port', 'name', 'p2'), undefined);
        assert.equal(mon.findBy('Interface', 'name', 'p2'), undefined);
        const last = changes.slice(-3);
        assert.ok(last.some((x) => x.table === 'Port' && x.old && !x.new));
      } finally {
        await mon.cancel();
      }
    });

    it('sees other clients\' writes, and waitFor resolves on them', async () => {
      const mon = await c.monitor<OpenVswitchTables>(DB, { Port: ['name', 'tag'] });
      const writer = await another();
      const seen = mon.waitFor(() => mon.findBy('Port', 'name', 'w1')?.tag === 7 && mon.findBy('Port', 'name', 'w1'), 5000);
      await writer.transact(DB, addPort('br0', 'w1', { tag: 7 }));
      assert.equal((await seen).tag, 7);
      await assert.rejects(mon.waitFor(() => mon.findBy('Port', 'name', 'nothing'), 100), (e) => isEcdockError(e, 'OVSDB_TIMEOUT'));
      await mon.cancel();
      await assert.rejects(mon.waitFor(() => false, 1000), (e) => isEcdockError(e, 'OVSDB_CANCELED'));
    });

    it('monitors with a where condition (monitor_cond) and stops changing after cancel', async () => {
      const mon = await c.monitor<OpenVswitchTables>(DB, { Port: { columns: ['name', 'tag'], where: o.where('Port', [cond('tag', '==', 99)]) } });
      assert.equal(mon.rows('Port').size, 0);
      await c.transact(DB, addPort('br0', 'c99', { tag: 99 }));
      await c.transact(DB, addPort('br0', 'c98', { tag: 98 }));
      assert.deepEqual([...mon.rows('Port').values()].map((p) => p.name), ['c99']);
      await mon.cancel();
      await c.transact(DB, addPort('br0', 'c99b', { tag: 99 }));
      assert.equal(mon.rows('Port').size, 1);
    });

    it('changes its condition with setWhere (monitor_cond_change): rows leave and join the cache', async () => {
      const mon = await c.monitor<OpenVswitchTables>(DB, { Port: { columns: ['name', 'tag'], where: o.where('Port', [cond('tag', '==', 99)]) } });
      const before = [...mon.rows('Port').values()].map((p) => p.name).sort();
      assert.deepEqual(before, ['c99', 'c99b']);
      const changes: RowChange[] = [];
      mon.on('change', (ch: RowChange) => changes.push(ch));
      await mon.setWhere('Port', o.where('Port', [cond('tag', '==', 98)]));
      assert.deepEqual([...mon.rows('Port').values()].map((p) => p.name), ['c98']);
      assert.equal(changes.filter((x) => !x.new).length, 2);
      assert.equal(changes.filter((x) => !x.old).length, 1);
      await c.transact(DB, addPort('br0', 'c98b', { tag: 98 }));
      assert.equal(mon.rows('Port').size, 2);
      await mon.cancel();
    });

    it('refuses unknown tables/columns with OVSDB_SCHEMA_MISMATCH', async () => {
      await assert.rejects(c.monitor(DB, { Port: ['name', 'bogus'] }), (e) => isEcdockError(e, 'OVSDB_SCHEMA_MISMATCH') && /Port\.bogus/.test(e.message));
    });

    it('survives a schema conversion: db-change-aware monitors are resubscribed', async () => {
      await c.setDbChangeAware(true);
      const mon = await c.monitor<OpenVswitchTables>(DB, { Bridge: ['name'] });
      const converter = await another();
      const reconnected = waitEvent(c, 'reconnect');
      await converter.request('convert', [DB, await converter.getSchema(DB)]);
      await reconnected;
      assert.ok(mon.findBy('Bridge', 'name', 'br0'));
      await converter.transact(DB, addBridge('after-convert'));
      await mon.waitFor(() => mon.findBy('Bridge', 'name', 'after-convert'), 3000);
      await mon.cancel();
    });
  });

  describe('locks', () => {
    it('lock, steal, unlock with locked/stolen notifications, and assert', async () => {
      const a = await another();
      const b = await another();
      assert.equal(await a.lock('ecdock'), true);
      assert.equal(a.holdsLock('ecdock'), true);
      assert.equal(await b.lock('ecdock'), false);
      await assert.rejects(b.transact(DB, [o.assert('ecdock')]), (e) => e instanceof OvsdbTransactionError && e.tag === 'not owner');
      await a.transact(DB, [o.assert('ecdock'), o.comment('guarded')]);
      const bLocked = waitEvent(b, 'locked');
      await a.unlock('ecdock');
      assert.deepEqual(await bLocked, ['ecdock']);
      assert.equal(b.holdsLock('ecdock'), true);
      const bStolen = waitEvent(b, 'stolen');
      assert.equal(await a.steal('ecdock'), true);
      assert.deepEqual(await bStolen, ['ecdock']);
      assert.equal(b.holdsLock('ecdock'), false);
      await assert.rejects(a.unlock('other'), (e) => isEcdockError(e, 'LOCK_NOT_HELD'));
    });
  });

  it('close() rejects pending requests with OVSDB_CONNECTION_LOST and stops the client', async () => {
    const x = await another();
    const p = x.transact(DB, [o.wait({ table: 'Bridge', where: [cond('name', '==', 'never')], columns: ['name'], until: '!=', rows: [], timeout: 20_000 })]);
    const closed = waitEvent(x, 'close');
    x.close();
    await assert.rejects(p, (e) => isEcdockError(e, 'OVSDB_CONNECTION_LOST'));
    await closed;
    assert.equal(x.connected, false);
    await assert.rejects(x.echo(), (e) => isEcdockError(e, 'OVSDB_CONNECTION_LOST'));
  });
});
