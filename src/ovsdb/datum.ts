// Between OVSDB wire datums (RFC 7047 §5.1) and natural TypeScript values, driven by the column
// type. The column type is needed in both directions: the server sends a set of
// one element as the bare atom, so ["uuid","…"] is either a uuid or a set of one uuid, and only
// the schema says which.
//
// Natural values:  uuid → string;  integer → number, or bigint beyond ±(2^53-1);  real → number;
//   boolean;  string;  optional (0..1) → value | undefined;  set (max > 1) → array;  map → Map.
//
// Nothing is rounded: an integer that is not a safe number must be given as a bigint, and a real
// the server cannot parse (NaN, ±Infinity, subnormals) is refused here, naming the column, rather
// than dropping the session. ovsdb-server prints reals with 15 significant digits, so DBL_MAX
// comes back as 1.79769313486232e+308 (beyond DBL_MAX: Infinity) and DBL_MIN as a subnormal;
// reads clamp those to ±DBL_MAX and ±DBL_MIN, the values the server actually holds, so that a
// value read can always be written back.

import { OvsdbError, UsageError } from '../errors';
import { DBL_MIN, INT64_MAX, INT64_MIN, jsonForMessage, unsendableReal } from './json';
import type { BaseType, ColumnType, NormalizedTable } from './schema';

export type Atom = string | number | bigint | boolean;
/** A UUID on the wire: `['uuid', '550e8400-...']`. */
export type WireUuid = ['uuid', string];
/** A reference to a row inserted earlier in the same transaction: `['named-uuid', name]`. */
export type WireNamedUuid = ['named-uuid', string];
/** One value on the wire: a string, number, boolean or UUID. */
export type WireAtom = string | number | bigint | boolean | WireUuid | WireNamedUuid;
/** A set on the wire: `['set', [atoms]]` (one element may also be sent bare). */
export type WireSet = ['set', WireAtom[]];
/** A map on the wire: `['map', [[key, value], ...]]`. */
export type WireMap = ['map', [WireAtom, WireAtom][]];
/** A column value on the wire (RFC 7047 §5.1). */
export type WireDatum = WireAtom | WireSet | WireMap;
/** A row as the wire carries it: column → datum. */
export type WireRow = Record<string, WireDatum>;

export type Value = Atom | undefined | Atom[] | Map<Atom, Atom>;
/** A decoded row: natural values keyed by column name, always with `_uuid`. */
export interface Row {
  _uuid: string;
  [column: string]: unknown;
}

export const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const ID_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && s.length === 36 && UUID_RE.test(s);
}

function bad(message: string, detail?: unknown): UsageError {
  return new UsageError('BAD_ARGUMENT', message, { detail });
}

/** A value for messages: JSON where JSON can say it, something readable where it cannot. */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case 'bigint':
      return `${v}n`;
    case 'function':
      return 'a function';
    case 'symbol':
      return `a symbol (${String(v)})`;
    case 'undefined':
      return 'undefined';
    case 'number':
      return String(v);
    default:
      if (v instanceof Map) return `a Map of ${v.size}`;
      if (v instanceof Set) return `a Set of ${v.size}`;
      try {
        return JSON.stringify(v)?.slice(0, 200) ?? String(v);
      } catch {
        return String(v);
      }
  }
}

function malformed(what: string, value: unknown): OvsdbError {
  return new OvsdbError('OVSDB_PROTOCOL', `OVSDB protocol error: malformed ${what}: ${jsonForMessage(value).slice(0, 200)}`, { detail: value });
}

// ---------------------------------------------------------------- encode

/**
 * Encodes one atom. In uuid columns, a string that is a UUID becomes ["uuid",s] and any other
 * identifier becomes ["named-uuid",s] (a row inserted earlier in the same transaction).
 */
export function encodeAtom(base: BaseType, v: unknown): WireAtom {
  switch (base.type) {
    case 'uuid':
      if (Array.isArray(v) && v.length === 2 && (v[0] === 'uuid' || v[0] === 'named-uuid') && typeof v[1] === 'string') return v as WireUuid;
      if (typeof v === 'string') {
        if (isUuid(v)) return ['uuid', v];
        if (ID_RE.test(v)) return ['named-uuid', v];
      }
      throw bad(`expected a UUID or a uuid-name, got ${describeValue(v)}`);
    case 'integer':
      if (typeof v === 'number') {
        if (Number.isSafeInteger(v)) return v;
        if (Number.isInteger(v)) throw bad(`${v} is not a safe integer (beyond ±(2^53-1) a number is already rounded): give it as a bigint`);
        throw bad(`expected an integer, got ${describeValue(v)}`);
      }
      if (typeof v === 'bigint') {
        if (v < INT64_MIN || v > INT64_MAX) throw bad(`${v} is outside the 64-bit integer range`);
        return v >= Number.MIN_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER ? Number(v) : v;
      }
      throw bad(`expected an integer (number or bigint), got ${describeValue(v)}`);
    case 'real': {
      if (typeof v !== 'number') throw bad(`expected a number, got ${describeValue(v)}`);
      const why = unsendableReal(v);
      if (why) throw bad(`${why} is not a real ovsdb-server accepts (finite, and 0 or at least ${DBL_MIN} in magnitude)`);
      return v;
    }
    case 'boolean':
      if (typeof v === 'boolean') return v;
      throw bad(`expected a boolean, got ${describeValue(v)}`);
    case 'string':
      if (typeof v === 'string') {
        if (base.enum && !base.enum.includes(v)) throw bad(`${JSON.stringify(v)} is not one of ${base.enum.map((x) => JSON.stringify(x)).join(', ')}`);
        return v;
      }
      throw bad(`expected a string, got ${describeValue(v)}`);
  }
}

function elements(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v];
  return [v];
}

function entries(v: unknown): [unknown, unknown][] {
  if (v instanceof Map) return [...v.entries()];
  if (v && typeof v === 'object' && !Array.isArray(v)) return Object.entries(v);
  throw bad(`expected a Map (or a plain object), got ${describeValue(v)}`);
}

/** Encodes a natural value for a column of this type. */
export function encodeDatum(type: ColumnType, v: unknown): WireDatum {
  switch (type.kind) {
    case 'atom':
      return encodeAtom(type.key, v);
    case 'optional':
      if (v === undefined || v === null) return ['set', []];
      if (Array.isArray(v) && v[0] !== 'uuid' && v[0] !== 'named-uuid') {
        if (v.length > 1) throw bad(`expected at most one value, got ${v.length}`);
        return ['set', v.map((x) => encodeAtom(type.key, x))];
      }
      return encodeAtom(type.key, v);
    case 'set': {
      // A lone uuid pair is one element, not a two-element set.
      const list = type.key.type === 'uuid' && Array.isArray(v) && (v[0] === 'uuid' || v[0] === 'named-uuid') && v.length === 2 && typeof v[1] === 'string' ? [v] : elements(v);
      return ['set', list.map((x) => encodeAtom(type.key, x))];
    }
    case 'map':
      return ['map', entries(v).map(([k, x]) => [encodeAtom(type.key, k), encodeAtom(type.value!, x)])];
  }
}

/**
 * Encodes a condition or mutation operand: like encodeDatum, but a set or map may be given
 * as a single element, and an empty set is always accepted.
 */
export function encodeOperand(type: ColumnType, v: unknown): WireDatum {
  if (type.kind === 'atom') {
    if (v === undefined || (Array.isArray(v) && v.length === 0)) return ['set', []];
    return encodeAtom(type.key, v);
  }
  return encodeDatum(type, v);
}

/** Encodes a set of map keys (for `mutate … delete` on a map by key). */
export function encodeKeySet(type: ColumnType, keys: unknown): WireSet {
  return ['set', elements(keys).map((k) => encodeAtom(type.key, k))];
}

// ---------------------------------------------------------------- decode

export function decodeAtom(base: BaseType, w: unknown): Atom {
  if (base.type === 'uuid') {
    if (Array.isArray(w) && (w[0] === 'uuid' || w[0] === 'named-uuid') && typeof w[1] === 'string') return w[1];
    throw malformed('uuid', w);
  }
  switch (base.type) {
    case 'integer':
      if ((typeof w === 'number' && Number.isInteger(w)) || typeof w === 'bigint') return w;
      break;
    case 'real':
      if (typeof w === 'number' || typeof w === 'bigint') return readReal(Number(w));
      break;
    case 'boolean':
      if (typeof w === 'boolean') return w;
      break;
    case 'string':
      if (typeof w === 'string') return w;
      break;
  }
  throw malformed(`${base.type} atom`, w);
}

/** A real as printed by the server (15 digits), back in the range the server can parse. */
function readReal(x: number): number {
  if (x === Infinity) return Number.MAX_VALUE;
  if (x === -Infinity) return -Number.MAX_VALUE;
  if (x !== 0 && Math.abs(x) < DBL_MIN) return x < 0 ? -DBL_MIN : DBL_MIN;
  return x;
}

/** Decodes a wire datum for a column of this type. A bare atom is a one-element set. */
export function decodeDatum(type: ColumnType, w: unknown): Value {
  switch (type.kind) {
    case 'atom':
      if (Array.isArray(w) && w[0] === 'set') {
        const a: unknown = w[1];
        if (Array.isArray(a) && a.length === 1) return decodeAtom(type.key, a[0]);
        throw malformed('single value', w);
      }
      return decodeAtom(type.key, w);
    case 'optional':
      if (Array.isArray(w) && w[0] === 'set') {
        const a: unknown = w[1];
        if (!Array.isArray(a) || a.length > 1) throw malformed('optional value', w);
        return a.length ? decodeAtom(type.key, a[0]) : undefined;
      }
      return decodeAtom(type.key, w);
    case 'set':
      if (Array.isArray(w) && w[0] === 'set') {
        const a: unknown = w[1];
        if (!Array.isArray(a)) throw malformed('set', w);
        const out = new Array<Atom>(a.length);
        for (let i = 0; i < a.length; i++) out[i] = decodeAtom(type.key, a[i]);
        return out;
      }
      return [decodeAtom(type.key, w)];
    case 'map': {
      if (!Array.isArray(w) || w[0] !== 'map' || !Array.isArray(w[1])) throw malformed('map', w);
      const out = new Map<Atom, Atom>();
      for (const pair of w[1] as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2) throw malformed('map pair', pair);
        out.set(decodeAtom(type.key, pair[0]), decodeAtom(type.value!, pair[1]));
      }
      return out;
    }
  }
}

/**
 * The value a column holds when nothing was written to it (RFC 7047 §5.1 defaults), which is also
 * what ovsdb-server leaves out of `initial`/`insert` updates. It depends on `min`: a set or map
 * that must hold at least one element defaults to one default atom (or one default key → default
 * value pair), not to the empty set — OVN's Logical_Router_Port.networks and Open_vSwitch's
 * NetFlow.targets are such columns.
 */
export function defaultValue(type: ColumnType): Value {
  switch (type.kind) {
    case 'optional':
      return undefined;
    case 'set':
      return type.min >= 1 ? [defaultAtom(type.key)] : [];
    case 'map':
      return type.min >= 1 ? new Map([[defaultAtom(type.key), defaultAtom(type.value!)]]) : new Map();
    case 'atom':
      return defaultAtom(type.key);
  }
}

export function defaultAtom(base: BaseType): Atom {
  switch (base.type) {
    case 'integer':
    case 'real':
      return 0;
    case 'boolean':
      return false;
    case 'string':
      return '';
    case 'uuid':
      return ZERO_UUID;
  }
}

/** Decodes a wire row. Unknown columns (a newer server) are kept undecoded rather than dropped. */
export function decodeRow(table: NormalizedTable, wire: Record<string, unknown>, uuid?: string): Row {
  const row: Row = { _uuid: uuid ?? '' };
  for (const col in wire) {
    const type = table.columns.get(col);
    row[col] = type ? decodeDatum(type, wire[col]) : wire[col];
  }
  if (uuid !== undefined) row._uuid = uuid;
  return row;
}

/** Encodes a natural row (only the columns present). `_uuid` and `_version` are never written. */
export function encodeRow(table: NormalizedTable, row: Record<string, unknown>): WireRow {
  const out: WireRow = {};
  for (const col in row) {
    if (col === '_uuid' || col === '_version') continue;
    const v = row[col];
    const type = table.columns.get(col);
    if (!type) throw bad(`table ${table.name} has no column ${col}`);
    if (v === undefined && type.kind !== 'optional') continue;
    try {
      out[col] = encodeDatum(type, v);
    } catch (e) {
      if (e instanceof UsageError) throw bad(`${table.name}.${col}: ${e.message}`, { table: table.name, column: col, value: v });
      throw e;
    }
  }
  return out;
}

// ---------------------------------------------------------------- equality

/** Equality of natural values of one column (arrays compared as sets, maps by entries). */
export function valueEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    if (a.length <= 8) {
      for (const x of a) if (!b.includes(x)) return false;
      return true;
    }
    const s = new Set<unknown>(b);
    for (const x of a) if (!s.has(x)) return false;
    return true;
  }
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || b.get(k) !== v) return false;
    return true;
  }
  return false;
}

export function rowEquals(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!(k in b) || !valueEquals(a[k], b[k])) return false;
  return true;
}
