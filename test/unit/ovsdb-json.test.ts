// Exact integers and refused values at the JSON boundary, and the codec's integer/real rules.
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { isEcdockError, UsageError } from '../../src/errors';
import { decodeDatum, encodeDatum, encodeRow } from '../../src/ovsdb/datum';
import { DBL_MIN, INT64_MAX, INT64_MIN, parseJson, stringifyJson } from '../../src/ovsdb/json';
import { ops } from '../../src/ovsdb/operations';
import { normalizeColumnType, normalizeSchema, type DatabaseSchema } from '../../src/ovsdb/schema';

const SCHEMA: DatabaseSchema = {
  name: 'T',
  version: '1.0.0',
  tables: { T: { columns: { i: { type: 'integer' }, r: { type: 'real' }, s: { type: 'string' }, m: { type: { key: 'integer', value: 'real', min: 0, max: 'unlimited' } } } } },
};
const T = normalizeSchema(SCHEMA).tables.get('T')!;

function usage(re: RegExp) {
  return (e: unknown) => e instanceof UsageError && isEcdockError(e, 'BAD_ARGUMENT') && re.test((e as Error).message);
}

describe('ovsdb JSON: exact integers, refused values', () => {
  it('reads integers beyond ±(2^53-1) as exact bigints, outside strings only', () => {
    const v = parseJson('{"a":9223372036854775807,"b":[-9223372036854775808,9007199254740991,9007199254740992],"c":"12345678901234567890","d":1.5e300}') as Record<string, unknown>;
    assert.equal(v.a, INT64_MAX);
    assert.deepEqual(v.b, [INT64_MIN, 9007199254740991, 9007199254740992n]);
    assert.equal(v.c, '12345678901234567890');
    assert.equal(v.d, 1.5e300);
    assert.deepEqual(parseJson('{"s":"a\\"1234567890123456789","n":1}'), { s: 'a"1234567890123456789', n: 1 });
  });

  it('round-trips any 64-bit integer and any JSON text exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), fc.string(), (n, s) => {
        const back = parseJson(stringifyJson({ n, s, arr: [n] })) as { n: unknown; s: string; arr: unknown[] };
        const want = n >= Number.MIN_SAFE_INTEGER && n <= Number.MAX_SAFE_INTEGER ? Number(n) : n;
        assert.equal(back.n, want);
        assert.equal(back.arr[0], want);
        assert.equal(back.s, s);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses functions, symbols, NaN, ±Infinity, subnormals, undefined in arrays and class instances, naming the place', () => {
    assert.throws(() => stringifyJson({ row: { f: () => 1 } }, 'params'), usage(/params\.row\.f is a function/));
    assert.throws(() => stringifyJson([Symbol('x')], 'params'), usage(/params\[0\] is a symbol/));
    assert.throws(() => stringifyJson([NaN]), usage(/NaN/));
    assert.throws(() => stringifyJson([-Infinity]), usage(/-Infinity/));
    assert.throws(() => stringifyJson([5e-324]), usage(/subnormal/));
    assert.throws(() => stringifyJson([undefined]), usage(/undefined/));
    assert.throws(() => stringifyJson([new Map()]), usage(/Map object/));
    assert.equal(stringifyJson({ a: undefined, b: DBL_MIN, c: 0, d: -0 }), `{"b":${DBL_MIN},"c":0,"d":0}`);
  });
});

describe('ovsdb codec: integers and reals', () => {
  const int = normalizeColumnType('integer');
  const real = normalizeColumnType('real');

  it('writes safe numbers and bigints, refuses unsafe numbers and out-of-range bigints', () => {
    assert.equal(encodeDatum(int, 5), 5);
    assert.equal(encodeDatum(int, 5n), 5);
    assert.equal(encodeDatum(int, INT64_MAX), INT64_MAX);
    assert.throws(() => encodeDatum(int, 2 ** 53), usage(/not a safe integer.*bigint/));
    assert.throws(() => encodeDatum(int, 1.5), usage(/expected an integer/));
    assert.throws(() => encodeDatum(int, INT64_MAX + 1n), usage(/64-bit/));
    assert.equal(decodeDatum(int, INT64_MIN), INT64_MIN);
  });

  it('refuses reals the server cannot parse, naming the column', () => {
    for (const bad of [NaN, Infinity, -Infinity, 5e-324, -1e-310]) {
      assert.throws(() => encodeRow(T, { r: bad }), usage(/^T\.r: /));
    }
    assert.throws(() => encodeRow(T, { m: new Map([[1, NaN]]) }), usage(/^T\.m: /));
    assert.throws(() => encodeRow(T, { r: 1n }), usage(/^T\.r: expected a number, got 1n/));
    assert.equal(encodeDatum(real, DBL_MIN), DBL_MIN);
    assert.equal(encodeDatum(real, -Number.MAX_VALUE), -Number.MAX_VALUE);
  });

  it('reads the server 15-digit prints of DBL_MAX and DBL_MIN back as values it accepts', () => {
    // ovsdb-server prints DBL_MAX as 1.79769313486232e+308 and DBL_MIN as 2.2250738585072e-308.
    const max = decodeDatum(real, (parseJson('[1.79769313486232e+308]') as number[])[0]);
    assert.equal(max, Number.MAX_VALUE);
    assert.equal(decodeDatum(real, -Infinity), -Number.MAX_VALUE);
    assert.equal(decodeDatum(real, (parseJson('[2.2250738585072e-308]') as number[])[0]), DBL_MIN);
    assert.equal(decodeDatum(real, -2.2250738585072e-308), -DBL_MIN);
    assert.equal(encodeDatum(real, max), Number.MAX_VALUE);
  });

  it('every unencodable value is a UsageError naming the column, never a TypeError or a dropped field', () => {
    const b = ops(SCHEMA);
    for (const v of [() => 1, Symbol('x'), {}, 1n, NaN]) {
      assert.throws(() => b.insert('T', { s: v as never }), usage(/^T\.s: /));
    }
    assert.throws(() => b.update('T', [['i', '==', () => 1]], {}), usage(/T\.i/));
    assert.throws(() => b.mutate('T', [], [['i', '+=', 2 ** 60]]), usage(/T\.i.*bigint/));
    assert.deepEqual(b.mutate('T', [], [['i', '+=', 2n ** 60n]]).mutations, [['i', '+=', 2n ** 60n]]);
  });
});
