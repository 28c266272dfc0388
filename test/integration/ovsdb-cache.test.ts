// The monitored cache must equal what `select` returns, after many random transactions (some of
// which fail), and after the server was killed, changed behind our back, and restarted.
import * as assert from 'node:assert/strict';
import { OvsSandbox, runTool } from '../../src/sandbox';
import { OvsdbClient } from '../../src/ovsdb/client';
import { cond, decodeRows, mut, ops, type Operation } from '../../src/ovsdb/operations';
import { OvsdbTransactionError } from '../../src/ovsdb/results';
import { openVswitchSchema, type OpenVswitchTables } from '../../src/ovsdb/schema/open-vswitch';
import type { Monitor } from '../../src/ovsdb/monitor';
import { rowEquals, type Row } from '../../src/ovsdb/datum';
import { isEcdockError } from '../../src/errors';
import { requireRoot } from '../support/env';
import { rng } from '../support/rng';

const DB = 'Open_vSwitch';
const o = ops(openVswitchSchema);
const MONITORED = {
  Open_vSwitch: ['bridges', 'next_cfg', 'external_ids'],
  Bridge: ['name', 'ports', 'external_ids', 'fail_mode', 'flood_vlans'],
  Port: ['name', 'interfaces', 'tag', 'trunks', 'external_ids', 'vlan_mode'],
  Interface: ['name', 'type', 'external_ids', 'ofport_request', 'options'],
} as const;


/** Asserts the monitor's cache holds exactly what a fresh select returns. */
async function assertCacheEqualsSelect(c: OvsdbClient, mon: Monitor<OpenVswitchTables>, where: string): Promise<void> {
  const tables = Object.keys(MONITORED) as (keyof typeof MONITORED)[];
  const results = await c.transact(DB, tables.map((t) => ops(openVswitchSchema as import('../../src/ovsdb/schema').DatabaseSchema).select(t, [], ['_uuid', ...MONITORED[t]])));
  tables.forEach((t, i) => {
    const fresh = decodeRows<Row>(openVswitchSchema, t, results[i]!.rows!);
    const cache = mon.rows(t) as unknown as Map<string, Row>;
    assert.equal(cache.size, fresh.length, `${where}: ${t} row count`);
    for (const row of fresh) {
      const cached = cache.get(row._uuid);
      assert.ok(cached, `${where}: ${t} ${row._uuid} (${String(row.name)}) missing from cache`);
      assert.ok(rowEquals(cached as Record<string, unknown>, row as Record<string, unknown>), `${where}: ${t} ${row._uuid} differs:\ncache ${inspect(cached)}\nselect ${inspect(row)}`);
    }
  });
}

function inspect(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x instanceof Map ? Object.fromEntries(x) : x));
}

/** One random transaction over bridges, ports and interfaces. */
function randomTxn(r: () => number, mon: Monitor<OpenVswitchTables>, n: number): Operation[] {
  const pick = <T>(xs: T[]): T | undefined => (xs.length ? xs[Math.floor(r() * xs.length)] : undefined);
  const bridges = [...mon.rows('Bridge').values()];
  const ports = [...mon.rows('Port').values()];
  const ifaces = [...mon.rows('Interface').values()];
  const name = () => `x${Math.floor(r() * 400)}`; // collisions happen on purpose: commit-time failures
  const k = Math.floor(r() * 12);
  const br = pick(bridges);
  switch (k) {
    case 0:
      return [
        o.insert('Interface', { name: `b${n}`, type: 'internal' }, { uuidName: 'i' }),
        o.insert('Port', { name: `b${n}`, interfaces: ['i'] }, { uuidName: 'p' }),
        o.insert('Bridge', { name: `b${n}`, ports: ['p'], external_ids: new Map([['n', String(n)]]) }, { uuidName: 'b' }),
        o.mutate('Open_vSwitch', [], [mut('bridges', 'insert', ['b'])]),
      ];
    case 1:
    case 2:
    case 3: {
      if (!br) return [o.comment('no bridge')];
      const nm = name();
      return [
        o.insert('Interface', { name: nm, external_ids: new Map([['slot', String(n)]]), ofport_request: 1 + Math.floor(r() * 100) }, { uuidName: 'i' }),
        o.insert('Port', { name: nm, interfaces: ['i'], ...(r() < 0.5 ? { tag: Math.floor(r() * 4096) } : {}), trunks: r() < 0.3 ? [1, 2, 3] : [] }, { uuidName: 'p' }),
        o.mutate('Bridge', [cond('name', '==', br.name)], [mut('ports', 'insert', ['p'])]),
      ];
    }
    case 4: {
      const p = pick(ports);
      if (!p) return [o.comment('no port')];
      return [o.update('Port', [cond('_uuid', '==', p._uuid)], { tag: r() < 0.3 ? undefined : Math.floor(r() * 5000) /* >4095 fails */ })];
    }
    case 5: {
      const p = pick(ports);
      if (!p) return [o.comment('no port')];
      return [
        o.mutate('Port', [cond('_uuid', '==', p._uuid)], [
          mut('external_ids', 'delete', ['a']),
          mut('external_ids', 'insert', new Map([['a', String(n)], [`k${n % 5}`, 'v']])),
          mut('trunks', r() < 0.5 ? 'insert' : 'delete', [Math.floor(r() * 10)]),
        ]),
      ];
    }
    case 6: {
      const p = pick(ports);
      if (!p || !br) return [o.comment('nothing')];
      return [o.mutate('Bridge', [cond('ports', 'includes', p._uuid)], [mut('ports', 'delete', [p._uuid])])];
    }
    case 7: {
      const i = pick(ifaces);
      if (!i) return [o.comment('no iface')];
      return [o.update('Interface', [cond('_uuid', '==', i._uuid)], { options: new Map([['peer', name()]]), type: pick(['', 'internal', 'patch'])! })];
    }
    case 8:
      if (!br) return [o.comment('no bridge')];
      return [o.update('Bridge', [cond('_uuid', '==', br._uuid)], { fail_mode: pick([undefined, 'secure', 'standalone']), flood_vlans: r() < 0.5 ? [1, 5] : [] })];
    case 9:
      if (!br || bridges.length < 3) return [o.comment('keep bridges')];
      return [o.mutate('Open_vSwitch', [], [mut('bridges', 'delete', [br._uuid])])];
    case 10:
      return [o.mutate('Open_vSwitch', [], [mut('next_cfg', '+=', 1), mut('external_ids', 'insert', new Map([[`e${n % 7}`, 'x']]))])];
    default: {
      // Several writes in one transaction, one of which may fail and abort them all.
      const p = pick(ports);
      return [
        o.mutate('Open_vSwitch', [], [mut('next_cfg', '+=', 1)]),
        ...(p ? [o.update('Port', [cond('_uuid', '==', p._uuid)], { vlan_mode: pick([undefined, 'access', 'trunk']) })] : []),
        ...(r() < 0.2 ? [o.abort()] : []),
      ];
    }
  }
}

describe('ovsdb monitored cache against ovsdb-server (real)', function () {
  this.timeout(120_000);
  let sb: OvsSandbox | undefined;
  const clients: OvsdbClient[] = [];

  before(async function () {
    requireRoot(this);
    sb = await OvsSandbox.start({ vswitchd: false });
  });
  after(async () => {
    for (const c of clients) c.close();
    await sb?.stop();
  });

  it('equals a fresh select after 1000 random transactions from two writers (some failing)', async () => {
    const reader = await OvsdbClient.connect(sb!.dbUrl);
    const writer = await OvsdbClient.connect(sb!.dbUrl);
    clients.push(reader, writer);
    const mon = await reader.monitor<OpenVswitchTables>(DB, MONITORED);
    const r = rng(7047);
    let failed = 0;
    const inflight: Promise<unknown>[] = [];
    for (let n = 0; n < 1000; n++) {
      const via = r() < 0.5 ? reader : writer;
      // Pipeline a few at a time, so updates and replies interleave on the wire.
      inflight.push(
        via.transact(DB, randomTxn(r, mon, n)).catch((e: unknown) => {
          if (!(e instanceof OvsdbTransactionError)) throw e;
          failed++;
        }),
      );
      if (inflight.length >= 8) await Promise.all(inflight.splice(0));
      if (n % 250 === 249) {
        await Promise.all(inflight.splice(0));
        await reader.echo(); // the writer's updates reach the reader before this reply
        await assertCacheEqualsSelect(reader, mon, `after ${n + 1} transactions`);
      }
    }
    await Promise.all(inflight);
    await reader.echo();
    await assertCacheEqualsSelect(reader, mon, 'at the end');
    assert.ok(failed > 20 && failed < 800, `${failed} transactions failed; the mix should include some failures`);
    assert.ok(mon.rows('Port').size > 20, 'the run should leave ports behind');
  });

  it('reconnects after ovsdb-server is killed mid-stream, and rebuilds the cache without stale rows', async () => {
    const c = await OvsdbClient.connect(sb!.dbUrl, { reconnect: { minMs: 50, maxMs: 400 } });
    clients.push(c);
    const mon = await c.monitor<OpenVswitchTables>(DB, MONITORED);
    await assertCacheEqualsSelect(c, mon, 'before the kill');
    const victim = [...mon.rows('Port').values()].find((p) => p.name.startsWith('x'))!;
    assert.ok(victim, 'a port to delete offline');
    const home = [...mon.rows('Bridge').values()].find((b) => b.ports.includes(victim._uuid))!;
    const changes: { table: string; uuid: string; old?: unknown; new?: unknown }[] = [];
    mon.on('change', (ch) => changes.push(ch));
    const disconnected = new Promise<unknown>((res) => c.once('disconnect', res));
    const resynced = new Promise<void>((res) => mon.once('resync', () => res()));

    // A stream of writes in flight when the server dies: each is rejected, none hangs.
    const stream = Promise.allSettled(Array.from({ length: 200 }, (_, i) => c.transact(DB, [o.mutate('Open_vSwitch', [], [mut('next_cfg', '+=', 1)]), o.comment(`w${i}`)])));
    await new Promise((res) => setImmediate(res));
    await sb!.killOvsdb();
    const settled = await stream;
    const lost = settled.filter((s) => s.status === 'rejected');
    for (const s of lost) assert.ok(isEcdockError((s as PromiseRejectedResult).reason, 'OVSDB_CONNECTION_LOST'), String((s as PromiseRejectedResult).reason));
    assert.ok(isEcdockError(await disconnected, 'OVSDB_CONNECTION_LOST'));
    assert.equal(c.connected, false);

    // While it is down, change the database file behind the client's back.
    await runTool('ovsdb-tool', [
      'transact',
      sb!.dbPath,
      JSON.stringify([
        DB,
        { op: 'mutate', table: 'Bridge', where: [['ports', 'includes', ['uuid', victim._uuid]]], mutations: [['ports', 'delete', ['uuid', victim._uuid]]] },
        { op: 'insert', table: 'Interface', row: { name: 'offline' }, 'uuid-name': 'i' },
        { op: 'insert', table: 'Port', row: { name: 'offline', interfaces: ['named-uuid', 'i'] }, 'uuid-name': 'p' },
        { op: 'mutate', table: 'Bridge', where: [['name', '==', home.name]], mutations: [['ports', 'insert', ['named-uuid', 'p']]] },
      ]),
    ]);
    // A request made while disconnected waits for the new session instead of failing.
    const queued = c.echo('queued');
    await sb!.startOvsdb();
    await resynced;
    assert.deepEqual(await queued, ['queued']);
    assert.equal(c.connected, true);
    assert.equal(mon.get('Port', victim._uuid), undefined, 'the port deleted offline is gone from the cache');
    assert.ok(mon.findBy('Port', 'name', 'offline'), 'the port added offline is in the cache');
    assert.ok(changes.some((x) => x.uuid === victim._uuid && x.old && !x.new), 'a delete change was emitted for it');
    await assertCacheEqualsSelect(c, mon, 'after the restart');
    // And it keeps following updates.
    await c.transact(DB, [o.mutate('Open_vSwitch', [], [mut('external_ids', 'insert', new Map([['after', 'restart']]))])]);
    assert.equal([...mon.rows('Open_vSwitch').values()][0]!.external_ids.get('after'), 'restart');
  });
});
