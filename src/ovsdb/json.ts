// JSON text ⇄ values, exact for OVSDB's 64-bit integers, and strict about what JSON cannot carry.
//
// Reading: JSON.parse turns every number into a double, so 9223372036854775807 would arrive as
// 9223372036854776000 — a different value, which the server then refuses in a `where`. Integer
// tokens that are not safe integers (beyond ±(2^53-1)) are therefore read as `bigint`. The check
// is one regular-expression test for a run of 16 digits; only messages that have one take the
// slow path (the big tokens are rewritten to tagged strings outside string literals, then revived).
//
// Writing: JSON.stringify silently drops functions, symbols and undefined object members, writes
// NaN and ±Infinity as null, throws a plain TypeError on a bigint, and happily writes subnormal
// doubles that ovsdb-server cannot parse (it then drops the whole session, failing every request
// in flight). `stringifyJson` walks the value first and refuses all of these with a UsageError
// that says where the value sits; bigints become integer tokens.

import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors';

/** The smallest positive normal double (DBL_MIN); ovsdb-server's strtod refuses anything smaller but 0. */
export const DBL_MIN = 2.2250738585072014e-308;
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

// A tag no server string can hold (ovsdb-server refuses NUL characters), made unique per process.
const TAG = `\u0000ecdock-int-${randomBytes(6).toString('hex')}:`;
const TAG_JSON = JSON.stringify(TAG).slice(1, -1);
const LONG_DIGITS = /\d{16}/;
// A string literal (skipped) or a number token; a number token preceded by nothing that could
// make it part of a string, since string literals are consumed whole.
const TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

function revive(_key: string, v: unknown): unknown {
  return typeof v === 'string' && v.startsWith(TAG) ? BigInt(v.slice(TAG.length)) : v;
}

/** JSON.parse, except that integers beyond ±(2^53-1) come back as exact `bigint`s. */
export function parseJson(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  let tagged = false;
  const rewritten = text.replace(TOKEN, (tok) => {
    if (tok.charCodeAt(0) === 0x22 || /[.eE]/.test(tok)) return tok;
    if (Number.isSafeInteger(Number(tok))) return tok;
    tagged = true;
    return `"${TAG_JSON}${tok}"`;
  });
  return tagged ? JSON.parse(rewritten, revive) : JSON.parse(text);
}

function refuse(path: string, what: string, value?: unknown): never {
  throw new UsageError('BAD_ARGUMENT', `${path} is ${what}, which cannot be sent to ovsdb-server`, { detail: { path, value } });
}

/** Why a double cannot go on the wire, or undefined when it can. */
export function unsendableReal(x: number): string | undefined {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return `${x}`;
  if (x !== 0 && Math.abs(x) < DBL_MIN) return `the subnormal number ${x} (smaller in magnitude than ${DBL_MIN})`;
  return undefined;
}

/** Checks a value before serialization; returns true when it holds a bigint. */
function check(v: unknown, path: string, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return false;
    case 'number': {
      const why = unsendableReal(v);
      if (why) refuse(path, why);
      return false;
    }
    case 'bigint':
      return true;
    case 'undefined':
      return refuse(path, 'undefined');
    case 'function':
      return refuse(path, 'a function');
    case 'symbol':
      return refuse(path, `a symbol (${String(v)})`);
    case 'object': {
      if (v === null) return false;
      if (depth > 1000) refuse(path, 'nested deeper than 1000 levels');
      let big = false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (check(v[i], `${path}[${i}]`, depth + 1)) big = true;
        return big;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        refuse(path, `a ${(v as object).constructor?.name ?? 'non-plain'} object (only arrays and plain objects are JSON)`);
      }
      for (const k in v as Record<string, unknown>) {
        const x = (v as Record<string, unknown>)[k];
        // An undefined member is an absent member, as in JSON.stringify.
        if (x !== undefined && check(x, `${path}.${k}`, depth + 1)) big = true;
      }
      return big;
    }
  }
}

/** Throws the UsageError stringifyJson would throw, without building the text. */
export function checkJson(value: unknown, path = 'value'): void {
  check(value, path, 0);
}

/**
 * JSON text for a value, refusing (UsageError BAD_ARGUMENT, naming the place) anything JSON or
 * ovsdb-server cannot carry, and writing bigints as exact integer tokens.
 */
export function stringifyJson(value: unknown, path = 'value'): string {
  if (!check(value, path, 0)) return JSON.stringify(value);
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${TAG}${v}` : v));
  return text.replace(new RegExp(`"${TAG_JSON.replace(/\\/g, '\\\\')}(-?\\d+)"`, 'g'), '$1');
}

/** JSON text of a value from the wire, for messages: never throws (bigints are written as digits). */
export function jsonForMessage(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x)) ?? String(v);
  } catch {
    return String(v);
  }
}
