// Differential test of the monitor cache against a real ovsdb-server: a schema with every column
// kind (integers with and without bounds, 64-bit values, reals at the edges of the double range,
// booleans, strings, uuids, enums, sets with min 0/1 and max 1/N/unlimited, maps of every key and
// value type, strong and weak references, garbage-collected non-root rows), random transactions
// from a seeded PRNG (some of which fail), and after each one the cache compared with a fresh
// `select`. Typed row events (onRow) must tell the same story as the cache. Partway through, the
// session is dropped (incremental resync) and the server is killed, the database changed behind
// the client's back and the server restarted (full resync), and the comparison goes on.
//
// DIFF_SEED and DIFF_TXNS override the seed (default fixed) and the number of transactions
// (default 200); scripts/ovsdb-differential.sh runs long ones. The schema and the generator are
// test/support/ovsdb-every-kind.ts.
import * as assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OvsdbClient } from '../../src/ovsdb/client';
import { rowEquals, valueEquals, type Row } from '../../src/ovsdb/datum';
import { DBL_MIN, stringifyJson } from '../../src/ovsdb/json';
import type { Monitor } from '../../src/ovsdb/monitor';
import { decodeRows } from '../../src/ovsdb/operations';
import { isEcdockError, UsageError } from '../../src/errors';
import { BareOvsdb } from '../support/bare-ovsdb';
import { sh } from '../support/env';
import { EVERY_KIND, Gen, N, TABLES, b, transaction, type Tables } from '../support/ovsdb-every-kind';


async function serverRows(c: OvsdbClient): Promise<Record<string, Map<string, Row>>> {
  const res = await c.transact('Diff', TABLES.map((t) => b.select(t, [], ['_uuid', ...N.tables.get(t)!.declared])));
  const out: Record<string, Map<string, Row>> = {};
  TABLES.forEach((t, i) => {
    out[t] = new Map(decodeRows<Row>(EVERY_KIND, t, res[i]!.rows!).map((r) => [r._uuid, r]));
  });
  return out;
}

function show(v: unknown): string {
  return stringifyJson(v instanceof Map ? [...v] : v === undefined ? null : v);
}

/** Asserts the cache (and the rows the typed events reported) equal what the server holds. */
function assertSame(server: Record<string, Map<string, Row>>, mon: Monitor<Tables>, shadow: Record<string, Map<string, Row>>, where: string): void {
  for (const t of TABLES) {
    const cache = mon.rows(t);
    const problems: string[] = [];
    for (const [uuid, row] of server[t]!) {
      const cached = cache.get(uuid);
      if (!cached) problems.push(`${uuid} missing from the cache`);
      else if (!rowEquals(cached, row)) {
        for (const col of Object.keys(row)) {
          if (!valueEquals(cached[col], row[col])) problems.push(`${uuid}.${col}: cache ${show(cached[col])}, server ${show(row[col])}`);
        }
      }
      const ev = shadow[t]!.get(uuid);
      if (!ev || !rowEquals(ev, row)) problems.push(`${uuid}: the row events left ${ev ? 'a different row' : 'no row'}`);
    }
    for (const uuid of cache.keys()) if (!server[t]!.has(uuid)) problems.push(`${uuid} is in the cache but not on the server`);
    for (const uuid of shadow[t]!.keys()) if (!server[t]!.has(uuid)) problems.push(`${uuid} is still there after the row events`);
    assert.deepEqual(problems, [], `${where}: table ${t}`);
  }
}

describe('ovsdb differential: monitor cache vs ovsdb-server, every column kind', function () {
  const seed = Number(process.env.DIFF_SEED ?? 20261202);
  const count = Number(process.env.DIFF_TXNS ?? 200);
  this.timeout(60_000 + count * 500);
  let server: BareOvsdb | undefined;
  const clients: OvsdbClient[] = [];

  before(async () => {
    const dir = path.join(os.tmpdir(), `ecdock-diff-schema-${process.pid}.ovsschema`);
    writeFileSync(dir, JSON.stringify(EVERY_KIND));
    try {
      server = await BareOvsdb.start(dir);
    } finally {
      rmSync(dir, { force: true });
    }
  });
  after(async () => {
    for (const c of clients) c.close();
    await server?.stop();
  });

  it('64-bit integers round-trip exactly and match in a where; edge reals read back writable; refused values leave the session up', async () => {
    const c = await OvsdbClient.connect(server!.url);
    clients.push(c);
    const INT64_MAX = 2n ** 63n - 1n;
    const INT64_MIN = -(2n ** 63n);
    const base = { e: 'a', ei: 1, s1ue: ['x'] };
    await c.transact('Diff', [
      b.insert('Root', { ...base, s: 'exact', i: INT64_MAX, r: Number.MAX_VALUE, or: DBL_MIN, m_ii: new Map([[INT64_MIN, 2n ** 60n]]), s05r: [-Number.MAX_VALUE, -DBL_MIN] }),
    ]);
    const [sel] = await c.transact('Diff', [b.select('Root', [['i', '==', INT64_MAX]])]);
    const [row] = decodeRows<Row>(EVERY_KIND, 'Root', sel!.rows!);
    assert.ok(row, 'the where on INT64_MAX found the row');
    assert.equal(row.i, INT64_MAX);
    assert.deepEqual(row.m_ii, new Map([[INT64_MIN, 2n ** 60n]]));
    assert.equal(row.r, Number.MAX_VALUE);
    assert.equal(row.or, DBL_MIN);
    assert.deepEqual([...(row.s05r as number[])].sort((x, y) => x - y), [-Number.MAX_VALUE, -DBL_MIN]);
    // What was read can be written back.
    await c.transact('Diff', [b.update('Root', [['_uuid', '==', row._uuid]], { r: row.r as number, or: row.or as number, s05r: row.s05r as number[], i: row.i as bigint })]);

    // Refused locally, naming the column; a request in flight on the same session is unharmed.
    const pending = c.echo('still here');
    const refused = (e: unknown) => isEcdockError(e, 'BAD_ARGUMENT') && e instanceof UsageError;
    assert.throws(() => b.update('Root', [], { r: 5e-324 }), (e) => refused(e) && /Root\.r: .*subnormal/.test((e as Error).message));
    assert.throws(() => b.update('Root', [], { i: 2 ** 60 }), (e) => refused(e) && /Root\.i: .*bigint/.test((e as Error).message));
    await assert.rejects(c.transact('Diff', [{ op: 'update', table: 'Root', where: [], row: { r: 5e-324 } }]), (e) => refused(e) && /params\[1\]\.row\.r/.test((e as Error).message));
    await assert.rejects(c.transact('Diff', [{ op: 'update', table: 'Root', where: [], row: { s: (() => 'x') as unknown as string } }]), refused);
    assert.deepEqual(await pending, ['still here']);
    assert.equal(c.connected, true);
  });

  it(`${count} random transactions (seed ${seed}), a dropped session and a restart with changes behind the client's back`, async () => {
    const g = new Gen(seed);
    const c = await OvsdbClient.connect(server!.url, { reconnect: { minMs: 20, maxMs: 200 } });
    clients.push(c);
    const writer = await OvsdbClient.connect(server!.url, { reconnect: { minMs: 20, maxMs: 200 } });
    clients.push(writer);
    const mon = await c.monitor<Tables>('Diff', { Root: {}, Child: {}, Other: {} });
    const shadow: Record<string, Map<string, Row>> = { Root: new Map(), Child: new Map(), Other: new Map() };
    for (const t of TABLES) {
      mon.onRow(t, (old, now, ch) => {
        if (now) shadow[t]!.set(ch.uuid, now);
        else shadow[t]!.delete(ch.uuid);
        assert.ok(old || now);
      }, { existing: true });
    }
    let now = await serverRows(c);
    let failed = 0;
    const log: string[] = [];
    for (let txn = 0; txn < count; txn++) {
      const operations = transaction(g, now, txn);
      log.push(stringifyJson(operations));
      if (log.length > 5) log.shift();
      try {
        await c.transact('Diff', operations);
      } catch (e) {
        if (!(e instanceof Error) || !('code' in e) || (e as { code: string }).code !== 'OVSDB_TXN_FAILED') throw e;
        failed++;
        if (process.env.DIFF_VERBOSE) process.stderr.write(`txn ${txn}: ${(e as Error).message}\n`);
      }
      now = await serverRows(c);
      try {
        assertSame(now, mon, shadow, `after transaction ${txn}`);
      } catch (e) {
        (e as Error).message += `\nlast transactions:\n${log.join('\n')}`;
        throw e;
      }

      if (txn === Math.floor(count / 2)) {
        // The server drops every session; another client writes while ours reconnects.
        const resynced = new Promise((r) => mon.once('resync', r));
        await sh('ovs-appctl', ['-t', path.join(server!.dir, 'ctl'), 'ovsdb-server/reconnect']);
        await writer.transact('Diff', transaction(g, now, 100_000 + txn)).catch(() => undefined);
        await resynced;
        now = await serverRows(c);
        assertSame(now, mon, shadow, `after the dropped session at ${txn}`);
      }
      if (txn === Math.floor((count * 3) / 4)) {
        // Killed, changed offline with ovsdb-tool, restarted: the cache is rebuilt from a fresh dump.
        await server!.kill();
        const offline = transaction(g, now, 200_000 + txn);
        await sh('ovsdb-tool', ['transact', server!.dbPath, stringifyJson(['Diff', ...offline])], { allowFail: true });
        const resynced = new Promise((r) => mon.once('resync', r));
        await server!.startServer();
        await resynced;
        now = await serverRows(c);
        assertSame(now, mon, shadow, `after the restart at ${txn}`);
      }
    }
    assert.ok(mon.resyncs.incremental + mon.resyncs.full >= 2, `resyncs: ${JSON.stringify(mon.resyncs)}`);
    // The run must have exercised both outcomes and grown real data.
    assert.ok(failed > 0 && failed < count / 2, `${failed} of ${count} transactions failed`);
    assert.ok(now.Root!.size > 0 && now.Child!.size + now.Other!.size > 0, 'the random transactions left rows behind');
  });
});
