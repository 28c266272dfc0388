// Codec round trips for every column type of the Open_vSwitch schema (and a synthetic one for the
// forms it lacks, e.g. reals), including the server's habit of sending 1-element sets as bare atoms.
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeDatum, defaultValue, encodeDatum, encodeOperand, valueEquals, type WireDatum } from '../../src/ovsdb/datum';
import { normalizeColumnType, normalizeSchema, type BaseType, type ColumnType, type DatabaseSchema } from '../../src/ovsdb/schema';
import { openVswitchSchema } from '../../src/ovsdb/schema/open-vswitch';
import { isEcdockError } from '../../src/errors';
import { DBL_MIN, INT64_MAX, INT64_MIN, parseJson, stringifyJson } from '../../src/ovsdb/json';

function atomArb(b: BaseType): fc.Arbitrary<string | number | bigint | boolean> {
  if (b.enum) return fc.constantFrom(...b.enum);
  switch (b.type) {
    case 'integer': {
      const small = fc.integer({ min: Math.max(b.minInteger ?? -(2 ** 40), Number.MIN_SAFE_INTEGER), max: Math.min(b.maxInteger ?? 2 ** 40, Number.MAX_SAFE_INTEGER) });
      if (b.minInteger !== undefined || b.maxInteger !== undefined) return small;
      // Unbounded: the whole 64-bit range, as number where safe and bigint beyond.
      const big = fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map((x) => (x >= Number.MIN_SAFE_INTEGER && x <= Number.MAX_SAFE_INTEGER ? Number(x) : x));
      return fc.oneof(small, big, fc.constantFrom(INT64_MIN, INT64_MAX, 2n ** 53n, -(2n ** 53n)));
    }
    case 'real':
      return fc
        .double({ noNaN: true, noDefaultInfinity: true, min: b.minReal ?? -1e300, max: b.maxReal ?? 1e300 })
        .filter((x) => !Object.is(x, -0) && (x === 0 || Math.abs(x) >= DBL_MIN));
    case 'boolean':
      return fc.boolean();
    case 'string':
      return fc.string({ unit: 'binary', minLength: b.minLength ?? 0, maxLength: Math.min(b.maxLength ?? 12, 12) });
    case 'uuid':
      return fc.uuid();
  }
}

function valueArb(t: ColumnType): fc.Arbitrary<unknown> {
  const cap = (n: number) => Math.min(n, 6);
  switch (t.kind) {
    case 'atom':
      return atomArb(t.key);
    case 'optional':
      return fc.option(atomArb(t.key), { nil: undefined });
    case 'set':
      return fc.uniqueArray(atomArb(t.key), { minLength: t.min, maxLength: cap(t.max) });
    case 'map':
      return fc
        .uniqueArray(fc.tuple(atomArb(t.key), atomArb(t.value!)), { selector: (p) => p[0], minLength: t.min, maxLength: cap(t.max) })
        .map((pairs) => new Map(pairs));
  }
}

/** What ovsdb-server would send: a set of exactly one element as the bare atom. */
function serverForm(w: WireDatum): WireDatum {
  if (Array.isArray(w) && w[0] === 'set' && (w[1] as unknown[]).length === 1) return (w[1] as WireDatum[])[0]!;
  return w;
}

const SYNTHETIC: DatabaseSchema = {
  name: 'Synthetic',
  version: '1.0.0',
  tables: {
    T: {
      columns: {
        r: { type: 'real' },
        ro: { type: { key: { type: 'real', minReal: -5, maxReal: 5 }, min: 0, max: 1 } },
        rs: { type: { key: 'real', min: 0, max: 'unlimited' } },
        u: { type: 'uuid' },
        us1: { type: { key: 'uuid', min: 1, max: 'unlimited' } },
        m_ib: { type: { key: 'integer', value: 'boolean', min: 0, max: 'unlimited' } },
        m_ur: { type: { key: 'uuid', value: 'real', min: 1, max: 3 } },
        s_b: { type: { key: 'boolean', min: 0, max: 2 } },
        e: { type: { key: { type: 'integer', enum: ['set', [1, 2, 3]] } } },
      },
    },
  },
};

function columnsOf(schema: DatabaseSchema): [string, ColumnType][] {
  const out: [string, ColumnType][] = [];
  for (const [tname, t] of normalizeSchema(schema).tables) {
    for (const c of t.declared) out.push([`${tname}.${c}`, t.columns.get(c)!]);
  }
  return out;
}

describe('ovsdb datum codec', () => {
  const columns = [...columnsOf(openVswitchSchema), ...columnsOf(SYNTHETIC)];

  it('covers every column of the Open_vSwitch schema', () => {
    const n = Object.values(openVswitchSchema.tables).reduce((s, t) => s + Object.keys(t.columns).length, 0);
    assert.equal(columnsOf(openVswitchSchema).length, n);
    assert.ok(n > 150, `only ${n} columns`);
  });

  it('round-trips natural → wire → JSON → natural for every column type, in both set notations', () => {
    for (const [name, type] of columns) {
      fc.assert(
        fc.property(valueArb(type), (v) => {
          const wire = parseJson(stringifyJson(encodeDatum(type, v))) as WireDatum;
          assert.deepEqual(decodeDatum(type, wire), v, `${name} (client form)`);
          assert.deepEqual(decodeDatum(type, serverForm(wire)), v, `${name} (server form)`);
        }),
        { numRuns: 40 },
      );
    }
  });

  it('decodes a one-element set sent as a bare atom by the column type', () => {
    const ports = normalizeColumnType({ key: { type: 'uuid', refTable: 'Port' }, min: 0, max: 'unlimited' });
    const ssl = normalizeColumnType({ key: { type: 'uuid', refTable: 'SSL' }, min: 0, max: 1 });
    const u = '8da363d5-c83b-43c1-94fa-d4b2eb0f9b8f';
    assert.deepEqual(decodeDatum(ports, ['uuid', u]), [u]);
    assert.equal(decodeDatum(ssl, ['uuid', u]), u);
    assert.equal(decodeDatum(ssl, ['set', []]), undefined);
    assert.deepEqual(decodeDatum(ports, ['set', []]), []);
  });

  it('encodes uuids as ["uuid"] and identifiers as ["named-uuid"]', () => {
    const ports = normalizeColumnType({ key: { type: 'uuid', refTable: 'Port' }, min: 0, max: 'unlimited' });
    const u = '8da363d5-c83b-43c1-94fa-d4b2eb0f9b8f';
    assert.deepEqual(encodeDatum(ports, [u, 'newport']), ['set', [['uuid', u], ['named-uuid', 'newport']]]);
    assert.throws(() => encodeDatum(ports, ['not an id!']), (e) => isEcdockError(e, 'BAD_ARGUMENT'));
  });

  it('encodes maps from Map or plain objects, always as ["map", …]', () => {
    const t = normalizeColumnType({ key: 'string', value: 'string', min: 0, max: 'unlimited' });
    assert.deepEqual(encodeDatum(t, new Map([['a', 'b']])), ['map', [['a', 'b']]]);
    assert.deepEqual(encodeDatum(t, { a: 'b' }), ['map', [['a', 'b']]]);
    assert.deepEqual(encodeDatum(t, new Map()), ['map', []]);
  });

  it('rejects values of the wrong type with BAD_ARGUMENT', () => {
    const int = normalizeColumnType('integer');
    assert.throws(() => encodeDatum(int, 1.5), (e) => isEcdockError(e, 'BAD_ARGUMENT'));
    assert.throws(() => encodeDatum(int, '1'), (e) => isEcdockError(e, 'BAD_ARGUMENT'));
    const mode = normalizeColumnType({ key: { type: 'string', enum: ['set', ['standalone', 'secure']] }, min: 0, max: 1 });
    assert.throws(() => encodeDatum(mode, 'bogus'), (e) => isEcdockError(e, 'BAD_ARGUMENT') && /standalone/.test(e.message));
  });

  it('rejects malformed wire datums with OVSDB_PROTOCOL', () => {
    const t = normalizeColumnType({ key: 'string', value: 'string', min: 0, max: 'unlimited' });
    assert.throws(() => decodeDatum(t, ['set', []]), (e) => isEcdockError(e, 'OVSDB_PROTOCOL'));
    assert.throws(() => decodeDatum(normalizeColumnType('uuid'), 'x'), (e) => isEcdockError(e, 'OVSDB_PROTOCOL'));
    assert.throws(() => decodeDatum(normalizeColumnType('string'), { a: 1 }), (e) => isEcdockError(e, 'OVSDB_PROTOCOL'));
  });

  it('gives schema defaults', () => {
    const n = normalizeSchema(openVswitchSchema).tables.get('Port')!;
    assert.equal(defaultValue(n.columns.get('tag')!), undefined);
    assert.deepEqual(defaultValue(n.columns.get('trunks')!), []);
    assert.deepEqual(defaultValue(n.columns.get('external_ids')!), new Map());
    assert.equal(defaultValue(n.columns.get('name')!), '');
    assert.equal(defaultValue(n.columns.get('fake_bridge')!), false);
  });

  it('gives min-1 sets one default atom and min-1 maps one default pair (as ovsdb-server does)', () => {
    assert.deepEqual(defaultValue(normalizeColumnType({ key: 'integer', min: 1, max: 'unlimited' })), [0]);
    assert.deepEqual(defaultValue(normalizeColumnType({ key: 'string', min: 1, max: 4 })), ['']);
    assert.deepEqual(defaultValue(normalizeColumnType({ key: 'string', value: 'integer', min: 1, max: 'unlimited' })), new Map([['', 0]]));
    assert.deepEqual(defaultValue(normalizeColumnType({ key: 'uuid', value: 'boolean', min: 1, max: 2 })), new Map([['00000000-0000-0000-0000-000000000000', false]]));
    const nf = normalizeSchema(openVswitchSchema).tables.get('NetFlow')!;
    assert.deepEqual(defaultValue(nf.columns.get('targets')!), ['']);
  });

  it('encodes condition operands: a single element for a set, undefined as the empty set', () => {
    const n = normalizeSchema(openVswitchSchema).tables.get('Port')!;
    assert.deepEqual(encodeOperand(n.columns.get('trunks')!, 5), ['set', [5]]);
    assert.deepEqual(encodeOperand(n.columns.get('tag')!, undefined), ['set', []]);
    assert.equal(encodeOperand(n.columns.get('name')!, 'p1'), 'p1');
  });

  it('compares values as sets and maps', () => {
    assert.ok(valueEquals([1, 2, 3], [3, 2, 1]));
    assert.ok(!valueEquals([1, 2], [1, 3]));
    assert.ok(valueEquals(new Map([['a', 'b']]), new Map([['a', 'b']])));
    assert.ok(!valueEquals(new Map([['a', 'b']]), new Map([['a', 'c']])));
  });
});
