import * as assert from 'node:assert/strict';
import { cond, decodeRows, mut, op, ops, renameUuidNames, type Operation } from '../../src/ovsdb/operations';
import { OvsdbTransactionError, checkTransactResult } from '../../src/ovsdb/results';
import { openVswitchSchema } from '../../src/ovsdb/schema/open-vswitch';
import { checkSchema, type DatabaseSchema } from '../../src/ovsdb/schema';
import { isEcdockError } from '../../src/errors';

const IF = '5f0c0000-0000-0000-0000-000000000001';
const PORT = '5f0c0000-0000-0000-0000-000000000002';

describe('ovsdb operations', () => {
  const o = ops(openVswitchSchema);

  it('builds the recommended add-port transaction from natural values', () => {
    const txn = [
      o.insert('Interface', { name: 'P', external_ids: new Map([['iface-id', 'LSP']]) }, { uuid: IF }),
      o.insert('Port', { name: 'P', interfaces: [IF], tag: 10 }, { uuid: PORT }),
      o.mutate('Bridge', [cond('name', '==', 'br0')], [mut('ports', 'insert', [PORT])]),
      o.mutate('Open_vSwitch', [], [mut('next_cfg', '+=', 1)]),
      o.select('Open_vSwitch', [], ['next_cfg']),
    ];
    assert.deepEqual(txn, [
      { op: 'insert', table: 'Interface', row: { name: 'P', external_ids: ['map', [['iface-id', 'LSP']]] }, uuid: IF },
      { op: 'insert', table: 'Port', row: { name: 'P', interfaces: ['set', [['uuid', IF]]], tag: 10 }, uuid: PORT },
      { op: 'mutate', table: 'Bridge', where: [['name', '==', 'br0']], mutations: [['ports', 'insert', ['set', [['uuid', PORT]]]]] },
      { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['next_cfg', '+=', 1]] },
      { op: 'select', table: 'Open_vSwitch', where: [], columns: ['next_cfg'] },
    ]);
  });

  it('uses named-uuid for uuid-names and supports every op', () => {
    assert.deepEqual(o.insert('Port', { name: 'p', interfaces: ['iface1'] }, { uuidName: 'port1' }), {
      op: 'insert',
      table: 'Port',
      row: { name: 'p', interfaces: ['set', [['named-uuid', 'iface1']]] },
      'uuid-name': 'port1',
    });
    assert.deepEqual(o.update('Port', [cond('name', '==', 'p')], { tag: undefined, trunks: [1, 2] }), {
      op: 'update',
      table: 'Port',
      where: [['name', '==', 'p']],
      row: { tag: ['set', []], trunks: ['set', [1, 2]] },
    });
    assert.deepEqual(o.delete('Bridge', [cond('name', '!=', 'x'), true]), { op: 'delete', table: 'Bridge', where: [['name', '!=', 'x'], true] });
    assert.deepEqual(o.wait({ table: 'Port', where: [cond('name', '==', 'p')], columns: ['name'], until: '==', rows: [], timeout: 0 }), {
      op: 'wait',
      table: 'Port',
      where: [['name', '==', 'p']],
      columns: ['name'],
      until: '==',
      rows: [],
      timeout: 0,
    });
    assert.deepEqual(o.commit(true), { op: 'commit', durable: true });
    assert.deepEqual(o.abort(), { op: 'abort' });
    assert.deepEqual(o.comment('hi'), { op: 'comment', comment: 'hi' });
    assert.deepEqual(o.assert('lk'), { op: 'assert', lock: 'lk' });
    assert.deepEqual(op.select('Bridge'), { op: 'select', table: 'Bridge', where: [] });
  });

  it('encodes map mutations: delete by keys, delete by pairs, insert', () => {
    const m = o.mutate('Interface', [cond('name', '==', 'P')], [
      mut('external_ids', 'delete', ['k']),
      mut('external_ids', 'delete', new Map([['k2', 'v2']])),
      mut('external_ids', 'insert', new Map([['k', 'v']])),
    ]);
    assert.deepEqual(m.mutations, [
      ['external_ids', 'delete', ['set', ['k']]],
      ['external_ids', 'delete', ['map', [['k2', 'v2']]]],
      ['external_ids', 'insert', ['map', [['k', 'v']]]],
    ]);
  });

  it('encodes conditions by column type (includes on a map, comparisons on optional ints)', () => {
    assert.deepEqual(o.where('Interface', [cond('external_ids', 'includes', new Map([['slot', '4']])), cond('ofport', '>', 0), cond('mac', '==', undefined)]), [
      ['external_ids', 'includes', ['map', [['slot', '4']]]],
      ['ofport', '>', 0],
      ['mac', '==', ['set', []]],
    ]);
  });

  it('rejects unknown tables and columns and bad values at build time', () => {
    const loose = ops(openVswitchSchema as DatabaseSchema);
    assert.throws(() => loose.insert('Nope', {}), (e) => isEcdockError(e, 'BAD_ARGUMENT'));
    assert.throws(() => loose.insert('Port', { nope: 1 }), (e) => isEcdockError(e, 'BAD_ARGUMENT') && /nope/.test(e.message));
    assert.throws(() => loose.insert('Port', { tag: 'five' }), (e) => isEcdockError(e, 'BAD_ARGUMENT') && /Port\.tag/.test(e.message));
    assert.throws(() => loose.select('Port', [['nope', '==', 1]]), (e) => isEcdockError(e, 'BAD_ARGUMENT'));
    assert.throws(() => op.insert('Port', {}, { uuid: 'not-a-uuid' }), (e) => isEcdockError(e, 'BAD_ARGUMENT'));
    assert.throws(() => op.insert('Port', {}, { uuidName: 'has space' }), (e) => isEcdockError(e, 'BAD_ARGUMENT'));
  });

  it('type-checks tables, columns and values at compile time', () => {
    // Each line below must be a compile error; if one is not, tsc fails the build (unused @ts-expect-error).
    const bad = () => [
      // @ts-expect-error unknown table
      o.insert('Nope', {}),
      // @ts-expect-error unknown column
      o.insert('Port', { nope: 1 }),
      // @ts-expect-error tag is a number
      o.insert('Port', { tag: 'five' }),
      // @ts-expect-error fail_mode is an enum
      o.update('Bridge', [], { fail_mode: 'bogus' }),
      // @ts-expect-error external_ids is a Map<string,string>
      o.insert('Bridge', { external_ids: new Map([['a', 1]]) }),
      // @ts-expect-error unknown column in a condition
      o.select('Bridge', [cond('nope', '==', 1)]),
      // @ts-expect-error wrong value type in a condition
      o.select('Bridge', [cond('name', '==', 5)]),
      // @ts-expect-error unknown column in select columns
      o.select('Bridge', [], ['nope']),
      // @ts-expect-error _uuid cannot be written
      o.mutate('Bridge', [], [mut('_uuid', 'insert', 'x')]),
    ];
    assert.equal(typeof bad, 'function');
  });

  it('decodes select results with the column types', () => {
    const rows = decodeRows(openVswitchSchema, 'Port', [{ _uuid: ['uuid', PORT], name: 'p', interfaces: ['uuid', IF], tag: ['set', []] }]);
    assert.deepEqual(rows, [{ _uuid: PORT, name: 'p', interfaces: [IF], tag: undefined }]);
  });

  it('renames uuid-names everywhere they occur, following datum structure', () => {
    const txn: Operation[] = [
      op.insert('Interface', { name: 'i' }, { uuidName: 'i1' }),
      op.insert('Port', { name: 'p', interfaces: ['named-uuid', 'i1'] }, { uuidName: 'p1' }),
      op.mutate('Bridge', [['_uuid', '!=', ['named-uuid', 'p1']]], [['ports', 'insert', ['set', [['named-uuid', 'p1'], ['uuid', PORT]]]]]),
      op.update('X', [], { m: ['map', [[['named-uuid', 'p1'], ['named-uuid', 'i1']]]] }),
      // A set of two strings that merely look like a named-uuid pair must be left alone.
      op.update('Y', [], { s: ['set', ['named-uuid', 'i1']] }),
    ];
    const out = renameUuidNames(txn, (n) => `${n}_x`);
    assert.deepEqual(out[0], { op: 'insert', table: 'Interface', row: { name: 'i' }, 'uuid-name': 'i1_x' });
    assert.deepEqual((out[1] as { row: unknown }).row, { name: 'p', interfaces: ['named-uuid', 'i1_x'] });
    assert.deepEqual(out[2], { op: 'mutate', table: 'Bridge', where: [['_uuid', '!=', ['named-uuid', 'p1_x']]], mutations: [['ports', 'insert', ['set', [['named-uuid', 'p1_x'], ['uuid', PORT]]]]] });
    assert.deepEqual((out[3] as { row: unknown }).row, { m: ['map', [[['named-uuid', 'p1_x'], ['named-uuid', 'i1_x']]]] });
    assert.deepEqual((out[4] as { row: unknown }).row, { s: ['set', ['named-uuid', 'i1']] });
    assert.deepEqual((txn[0] as { 'uuid-name': string })['uuid-name'], 'i1', 'input is not modified');
  });
});

describe('ovsdb transaction results', () => {
  const txn: Operation[] = [op.insert('Interface', { name: 'a' }), op.insert('Port', { name: 'a', interfaces: ['named-uuid', 'x'] }), op.comment('c')];

  it('returns the per-operation results on success', () => {
    const r = [{ uuid: ['uuid', IF] }, { uuid: ['uuid', PORT] }, {}];
    assert.equal(checkTransactResult(txn, r), r);
  });

  it('maps a failed operation to OvsdbTransactionError with its index, tag, details and op', () => {
    let err: unknown;
    try {
      checkTransactResult(txn, [{ uuid: ['uuid', IF] }, { error: 'constraint violation', details: 'bad tag' }, null]);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof OvsdbTransactionError);
    assert.equal(err.code, 'OVSDB_TXN_FAILED');
    assert.equal(err.opIndex, 1);
    assert.equal(err.tag, 'constraint violation');
    assert.equal(err.details, 'bad tag');
    assert.equal(err.op, txn[1]);
    assert.equal(err.message, 'OVSDB transaction failed at operation 1 (insert Port): constraint violation: bad tag');
  });

  it('maps the extra commit-time element to opIndex -1', () => {
    let err: unknown;
    try {
      checkTransactResult(txn, [{}, {}, {}, { error: 'referential integrity violation', details: 'dangling' }]);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof OvsdbTransactionError);
    assert.equal(err.opIndex, -1);
    assert.equal(err.tag, 'referential integrity violation');
    assert.match(err.message, /at commit: referential integrity violation: dangling/);
  });

  it('flags try-again failures and rejects malformed results', () => {
    try {
      checkTransactResult(txn, [{}, { error: 'timed out', details: '"where" clause test failed' }, null]);
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof OvsdbTransactionError && e.tryAgain);
    }
    assert.throws(() => checkTransactResult(txn, { nope: 1 }), (e) => isEcdockError(e, 'OVSDB_PROTOCOL'));
    assert.throws(() => checkTransactResult(txn, [{}]), (e) => isEcdockError(e, 'OVSDB_PROTOCOL'));
  });
});

describe('ovsdb schema compatibility', () => {
  function variant(f: (s: DatabaseSchema) => void): DatabaseSchema {
    const s = JSON.parse(JSON.stringify(openVswitchSchema)) as DatabaseSchema;
    f(s);
    return s;
  }

  it('tolerates extra and missing columns, and reports them', () => {
    const server = variant((s) => {
      delete s.tables.Interface!.columns.lldp;
      s.tables.Port!.columns.newcol = { type: 'string' };
      s.tables.NewTable = { columns: {} };
    });
    const r = checkSchema(openVswitchSchema, server, { Port: ['name', 'interfaces'] });
    assert.deepEqual(r.missingColumns, { Interface: ['lldp'] });
    assert.deepEqual(r.extraColumns, { Port: ['newcol'] });
    assert.deepEqual(r.extraTables, ['NewTable']);
    assert.equal(r.compatible, false);
  });

  it('fails with OVSDB_SCHEMA_MISMATCH only when a required column is missing or changed', () => {
    const server = variant((s) => {
      delete s.tables.Port!.columns.tag;
      s.tables.Bridge!.columns.ports = { type: 'string' };
    });
    assert.throws(() => checkSchema(openVswitchSchema, server, { Port: ['tag'] }), (e) => isEcdockError(e, 'OVSDB_SCHEMA_MISMATCH') && /Port\.tag is missing/.test(e.message));
    assert.throws(() => checkSchema(openVswitchSchema, server, { Bridge: ['ports'] }), (e) => isEcdockError(e, 'OVSDB_SCHEMA_MISMATCH') && /different type/.test(e.message));
    assert.doesNotThrow(() => checkSchema(openVswitchSchema, server, { Port: ['name'] }));
  });
});
