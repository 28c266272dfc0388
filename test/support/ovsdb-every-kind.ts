// A schema with every OVSDB column kind, and a seeded generator of random transactions over it (some
// of which the server refuses), for test/integration/ovsdb-differential.test.ts (long runs:
// scripts/ovsdb-differential.sh).
import type { Row } from '../../src/ovsdb/datum';
import { DBL_MIN } from '../../src/ovsdb/json';
import { ops, type Operation } from '../../src/ovsdb/operations';
import { normalizeSchema, type BaseType, type ColumnType, type DatabaseSchema } from '../../src/ovsdb/schema';
import { rng } from './rng';

const ref = (refTable: string, refType: 'strong' | 'weak' = 'strong') => ({ type: 'uuid' as const, refTable, refType });

export const EVERY_KIND: DatabaseSchema = {
  name: 'Diff',
  version: '1.0.0',
  tables: {
    Root: {
      isRoot: true,
      columns: {
        i: { type: 'integer' },
        ib: { type: { key: { type: 'integer', minInteger: -5, maxInteger: 5 } } },
        r: { type: 'real' },
        rb: { type: { key: { type: 'real', minReal: -1, maxReal: 1 } } },
        b: { type: 'boolean' },
        s: { type: 'string' },
        sl: { type: { key: { type: 'string', maxLength: 3 } } },
        u: { type: 'uuid' },
        e: { type: { key: { type: 'string', enum: ['set', ['a', 'b', 'c']] } } },
        ei: { type: { key: { type: 'integer', enum: ['set', [1, 2, 3]] } } },
        o: { type: { key: 'integer', min: 0, max: 1 } },
        os: { type: { key: 'string', min: 0, max: 1 } },
        or: { type: { key: 'real', min: 0, max: 1 } },
        s0u: { type: { key: 'string', min: 0, max: 'unlimited' } },
        s1u: { type: { key: 'integer', min: 1, max: 'unlimited' } },
        s13: { type: { key: 'string', min: 1, max: 3 } },
        s05r: { type: { key: 'real', min: 0, max: 5 } },
        s12b: { type: { key: 'boolean', min: 1, max: 2 } },
        s0uu: { type: { key: 'uuid', min: 0, max: 'unlimited' } },
        s1ue: { type: { key: { type: 'string', enum: ['set', ['x', 'y', 'z']] }, min: 1, max: 'unlimited' } },
        m_ss: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
        m_ii: { type: { key: 'integer', value: 'integer', min: 1, max: 'unlimited' } },
        m_rb: { type: { key: 'real', value: 'boolean', min: 0, max: 'unlimited' } },
        m_us: { type: { key: 'uuid', value: 'string', min: 0, max: 'unlimited' } },
        m_bi: { type: { key: 'boolean', value: 'integer', min: 1, max: 2 } },
        m_sr1: { type: { key: 'string', value: 'real', min: 1, max: 1 } },
        m_iu: { type: { key: 'integer', value: 'uuid', min: 0, max: 3 } },
        child: { type: { key: ref('Child'), min: 0, max: 1 } },
        children: { type: { key: ref('Child'), min: 0, max: 'unlimited' } },
        m_child: { type: { key: 'string', value: ref('Child'), min: 0, max: 'unlimited' } },
        others_w: { type: { key: ref('Other', 'weak'), min: 0, max: 'unlimited' } },
        m_other_w: { type: { key: ref('Other', 'weak'), value: 'integer', min: 0, max: 'unlimited' } },
      },
    },
    Child: {
      isRoot: false,
      columns: {
        name: { type: 'string' },
        n: { type: 'integer' },
        tags: { type: { key: 'string', min: 1, max: 'unlimited' } },
        m: { type: { key: 'string', value: 'integer', min: 0, max: 'unlimited' } },
        other_w: { type: { key: ref('Other', 'weak'), min: 0, max: 1 } },
      },
    },
    Other: {
      isRoot: true,
      columns: {
        name: { type: 'string' },
        x: { type: 'real' },
        big: { type: 'integer' },
      },
      indexes: [['name']],
    },
  },
};

export type Tables = { Root: Row; Child: Row; Other: Row };
export const TABLES = ['Root', 'Child', 'Other'] as const;
export const N = normalizeSchema(EVERY_KIND);
export const b = ops(EVERY_KIND);


const INTS: (number | bigint)[] = [0, 1, -1, 7, 42, 2 ** 31, -(2 ** 31), 2 ** 53 - 1, -(2 ** 53 - 1), 2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n), 1234567890123456789n];
// Reals with at most 15 significant digits (the server prints 15), plus the edges of the range.
const REALS = [0, 1, -1, 0.5, 0.1, 0.3, -2.5e10, 1e-300, 1.5e300, 3.14159265358979, Number.MAX_VALUE, -Number.MAX_VALUE, DBL_MIN, -DBL_MIN];
const STRS = ['', 'a', 'b', 'x y', 'ünï', '"q"', '12345678901234567890', 'z'];
const UUIDS = ['11111111-2222-3333-4444-555555555555', '66666666-7777-8888-9999-aaaaaaaaaaaa', '00000000-0000-0000-0000-000000000000'];

export class Gen {
  readonly R: () => number;
  constructor(seed: number) {
    this.R = rng(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.R() * (hi - lo + 1));
  }
  pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.R() * a.length)]!;
  }
  chance(p: number): boolean {
    return this.R() < p;
  }

  /** An atom for a base type; refs point at rows from `refs` (existing rows or named inserts). */
  atom(base: BaseType, refs: Record<string, string[]>): unknown {
    if (base.enum) return this.pick(base.enum);
    switch (base.type) {
      case 'integer': {
        if (base.minInteger !== undefined || base.maxInteger !== undefined) {
          // Now and then out of range: a transaction the server refuses.
          return this.chance(0.05) ? (base.maxInteger ?? 0) + 1 : this.int(base.minInteger ?? -100, base.maxInteger ?? 100);
        }
        return this.pick(INTS);
      }
      case 'real': {
        const inRange = REALS.filter((x) => (base.minReal === undefined || x >= base.minReal) && (base.maxReal === undefined || x <= base.maxReal));
        return this.pick(inRange);
      }
      case 'boolean':
        return this.chance(0.5);
      case 'string': {
        const s = this.pick(STRS);
        return base.maxLength !== undefined && !this.chance(0.05) ? s.slice(0, base.maxLength) : s;
      }
      case 'uuid': {
        if (!base.refTable) return this.pick(UUIDS);
        const pool = refs[base.refTable] ?? [];
        // A dangling weak reference is dropped by the server; a dangling strong one fails the transaction.
        if (!pool.length || this.chance(base.refType === 'weak' ? 0.15 : 0.02)) return this.pick(UUIDS);
        return this.pick(pool);
      }
    }
  }

  value(t: ColumnType, refs: Record<string, string[]>): unknown {
    switch (t.kind) {
      case 'atom':
        return this.atom(t.key, refs);
      case 'optional':
        return this.chance(0.3) ? undefined : this.atom(t.key, refs);
      case 'set': {
        const n = this.int(t.min, Math.min(t.max === Infinity ? 4 : t.max, 4) + (this.chance(0.03) ? 1 : 0));
        const out: unknown[] = [];
        for (let k = 0; k < n * 2 && out.length < n; k++) {
          const a = this.atom(t.key, refs);
          if (!out.some((x) => x === a)) out.push(a);
        }
        return out;
      }
      case 'map': {
        const n = this.int(t.min, Math.min(t.max === Infinity ? 4 : t.max, 4));
        const out = new Map<unknown, unknown>();
        for (let k = 0; k < n * 2 && out.size < n; k++) out.set(this.atom(t.key, refs), this.atom(t.value!, refs));
        return out;
      }
    }
  }

  /** Some columns of a table (each with probability p). */
  row(table: string, refs: Record<string, string[]>, p: number): Record<string, unknown> {
    const t = N.tables.get(table)!;
    const row: Record<string, unknown> = {};
    for (const c of t.declared) if (this.chance(p)) row[c] = this.value(t.columns.get(c)!, refs);
    return row;
  }
}

/** One random transaction of 1–3 operations, built from what the server holds now. */
export function transaction(g: Gen, now: Record<string, Map<string, Row>>, txn: number): Operation[] {
  const existing = (t: string) => [...now[t]!.keys()];
  const refs: Record<string, string[]> = { Child: existing('Child'), Other: existing('Other') };
  const out: Operation[] = [];
  const nOps = g.int(1, 3);
  for (let k = 0; k < nOps; k++) {
    const roots = existing('Root');
    const kind = g.int(0, roots.length ? 9 : 2);
    const byUuid = (u: string) => [['_uuid', '==', u] as const];
    switch (kind) {
      case 0:
      case 1: {
        // A Root, sometimes with a fresh Child it alone references.
        if (g.chance(0.5)) {
          const name = `c${txn}_${k}`;
          out.push(b.insert('Child', g.row('Child', refs, 0.6), { uuidName: name }));
          refs.Child = [...refs.Child!, name];
        }
        // Enum columns that must hold a value have to be given: the server checks their default
        // ("" or 0) against the enum and refuses the insert.
        const row = g.row('Root', refs, 0.5);
        const t = N.tables.get('Root')!;
        for (const c of ['e', 'ei', 's1ue']) if (!(c in row) || g.chance(0.9)) row[c] = g.value(t.columns.get(c)!, refs);
        out.push(b.insert('Root', row));
        break;
      }
      case 2:
        out.push(b.insert('Other', { ...g.row('Other', refs, 0.7), name: `o${txn}_${k}` }));
        break;
      case 3:
      case 4:
        out.push(b.update('Root', byUuid(g.pick(roots)), g.row('Root', refs, 0.25)));
        break;
      case 5: {
        const t = N.tables.get('Root')!;
        const col = g.pick(t.declared);
        const type = t.columns.get(col)!;
        if (type.kind === 'set' || type.kind === 'map') {
          const v = g.value({ ...type, min: 1 }, refs);
          const mutator = g.chance(0.5) ? 'insert' : 'delete';
          const value = type.kind === 'map' && mutator === 'delete' && g.chance(0.5) ? [...(v as Map<unknown, unknown>).keys()] : v;
          out.push(b.mutate('Root', byUuid(g.pick(roots)), [[col, mutator, value]] as never));
        } else if (type.key.type === 'integer' && !type.key.enum) {
          out.push(b.mutate('Root', byUuid(g.pick(roots)), [[col, g.pick(['+=', '-=', '*='] as const), g.pick([1, 3, 2n ** 40n])]] as never));
        } else if (col === 'r') {
          out.push(b.mutate('Root', byUuid(g.pick(roots)), [['r', '*=', g.pick([2, 0.5, -1])]] as never));
        } else out.push(b.update('Root', byUuid(g.pick(roots)), g.row('Root', refs, 0.3)));
        break;
      }
      case 6:
        // Dropping references garbage-collects Child rows no one else references.
        out.push(b.update('Root', byUuid(g.pick(roots)), { child: undefined, children: [], m_child: new Map() }));
        break;
      case 7:
        if (refs.Other!.length && g.chance(0.5)) out.push(b.delete('Other', [['_uuid', '==', g.pick(refs.Other!)]]));
        else out.push(b.delete('Root', byUuid(g.pick(roots))));
        break;
      case 8:
        if (existing('Child').length) out.push(b.update('Child', [['_uuid', '==', g.pick(existing('Child'))]], g.row('Child', refs, 0.5)));
        else out.push(b.update('Other', [], { x: g.atom({ type: 'real' }, refs) as number }));
        break;
      case 9:
        // A condition on a non-uuid column may match many rows, or none.
        out.push(b.update('Root', [['b', '==', g.chance(0.5)]], { ib: g.int(-5, 5), s13: [g.pick(STRS)] }));
        break;
    }
  }
  return out;
}
