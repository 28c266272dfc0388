// The local replica of monitored tables, fed by monitor replies and update notifications. Pure:
// it takes table-updates (v1) or table-updates2 (v2/v3) objects and returns the row changes it
// made, so it can be tested without a server.
//
// update2 rules: `initial`/`insert` omit columns that hold their default value;
// `modify` sends, per changed column, the new value for columns of at most one element, the
// symmetric difference for sets, and for maps the keys present on one side only plus changed keys
// with their new value (a map with max 1, like any single-element column, gets its new value). Rows are replaced, never mutated in place, so the `old` row of a change
// stays what it was.

import { OvsdbError } from '../errors';
import { decodeAtom, decodeDatum, decodeRow, defaultValue, rowEquals, valueEquals, type Atom, type Row } from './datum';
import type { ColumnType, NormalizedSchema, NormalizedTable } from './schema';

/** One row inserted (no `old`), modified, or deleted (no `new`). */
export interface RowChange<R = Row> {
  table: string;
  uuid: string;
  /** The row before the change; absent for an insert. */
  old?: R;
  /** The row after the change; absent for a delete. */
  new?: R;
}

export interface TableSpec {
  /** Columns monitored (without _uuid, which every row has). */
  columns: readonly string[];
  /** Extra columns to index for findBy (atom or optional columns). */
  indexes?: readonly string[];
}

function inconsistent(message: string, detail?: unknown): OvsdbError {
  return new OvsdbError('OVSDB_PROTOCOL', `OVSDB cache inconsistent: ${message}`, { detail });
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class TableCache {
  readonly name: string;
  readonly table: NormalizedTable;
  readonly columns: readonly string[];
  readonly rows = new Map<string, Row>();
  /** column → value → uuids; only for atom and optional columns. */
  readonly indexes = new Map<string, Map<Atom, Set<string>>>();
  private readonly defaults: [string, ColumnType][];

  constructor(table: NormalizedTable, spec: TableSpec) {
    this.name = table.name;
    this.table = table;
    this.columns = spec.columns;
    this.defaults = spec.columns.filter((c) => c !== '_uuid' && c !== '_version').map((c) => [c, table.columns.get(c)!] as [string, ColumnType]);
    const want = new Set<string>(spec.indexes ?? []);
    for (const idx of table.indexes) if (idx.length === 1) want.add(idx[0]!);
    for (const col of want) {
      const t = table.columns.get(col);
      if (t && (t.kind === 'atom' || t.kind === 'optional') && (col === '_uuid' || spec.columns.includes(col))) this.indexes.set(col, new Map());
    }
  }

  /** A row that update2 sent without its default-valued columns, completed. */
  withDefaults(row: Row): Row {
    for (const [col, type] of this.defaults) if (!(col in row)) row[col] = defaultValue(type);
    return row;
  }

  set(uuid: string, row: Row): void {
    const old = this.rows.get(uuid);
    if (old) this.unindex(uuid, old);
    this.rows.set(uuid, row);
    for (const [col, idx] of this.indexes) {
      const v = row[col] as Atom | undefined;
      if (v === undefined) continue;
      let s = idx.get(v);
      if (!s) idx.set(v, (s = new Set()));
      s.add(uuid);
    }
  }

  delete(uuid: string): Row | undefined {
    const old = this.rows.get(uuid);
    if (!old) return undefined;
    this.unindex(uuid, old);
    this.rows.delete(uuid);
    return old;
  }

  clear(): void {
    this.rows.clear();
    for (const idx of this.indexes.values()) idx.clear();
  }

  findBy(column: string, value: unknown): Row | undefined {
    const idx = this.indexes.get(column);
    if (idx) {
      const s = idx.get(value as Atom);
      if (!s) return undefined;
      for (const uuid of s) return this.rows.get(uuid);
      return undefined;
    }
    for (const row of this.rows.values()) if (valueEquals(row[column], value)) return row;
    return undefined;
  }

  findAll(column: string, value: unknown): Row[] {
    const idx = this.indexes.get(column);
    if (idx) return [...(idx.get(value as Atom) ?? [])].map((u) => this.rows.get(u)!);
    const out: Row[] = [];
    for (const row of this.rows.values()) if (valueEquals(row[column], value)) out.push(row);
    return out;
  }

  private unindex(uuid: string, row: Row): void {
    for (const [col, idx] of this.indexes) {
      const v = row[col] as Atom | undefined;
      if (v === undefined) continue;
      const s = idx.get(v);
      if (s) {
        s.delete(uuid);
        if (!s.size) idx.delete(v);
      }
    }
  }
}

/** Applies one column's update2 diff to its current natural value. */
export function applyColumnDiff(type: ColumnType, current: unknown, diff: unknown): unknown {
  switch (type.kind) {
    case 'atom':
    case 'optional':
      return decodeDatum(type, diff);
    case 'set': {
      const toggle = decodeDatum(type, diff) as Atom[];
      const cur = Array.isArray(current) ? (current as Atom[]) : [];
      if (toggle.length <= 8) {
        // The common case (a port added to a bridge of thousands): a copy and a few scans, no hashing.
        const out = cur.slice();
        for (const e of toggle) {
          const i = out.indexOf(e);
          if (i < 0) out.push(e);
          else {
            out[i] = out[out.length - 1]!;
            out.pop();
          }
        }
        return out;
      }
      const out = new Set<Atom>(cur);
      for (const e of toggle) {
        if (out.has(e)) out.delete(e);
        else out.add(e);
      }
      return [...out];
    }
    case 'map': {
      // Like every column of at most one element, a map with max 1 gets its new value, not a diff
      // (ovsdb-server's monitor and OVS's own IDL agree; the differential test pins it).
      if (type.max === 1) return decodeDatum(type, diff);
      const out = new Map<Atom, Atom>(current instanceof Map ? (current as Map<Atom, Atom>) : []);
      if (!Array.isArray(diff) || diff[0] !== 'map' || !Array.isArray(diff[1])) throw inconsistent('map diff is not a map', diff);
      for (const pair of diff[1] as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2) throw inconsistent('bad map diff pair', pair);
        const k = decodeAtom(type.key, pair[0]);
        const v = decodeAtom(type.value!, pair[1]);
        if (out.has(k) && out.get(k) === v) out.delete(k);
        else out.set(k, v);
      }
      return out;
    }
  }
}

export class Replica {
  readonly tables = new Map<string, TableCache>();

  constructor(schema: NormalizedSchema, specs: ReadonlyMap<string, TableSpec>) {
    for (const [name, spec] of specs) {
      const t = schema.tables.get(name);
      if (!t) throw new OvsdbError('OVSDB_SCHEMA_MISMATCH', `database ${schema.name} has no table ${name}`);
      this.tables.set(name, new TableCache(t, spec));
    }
  }

  table(name: string): TableCache {
    const t = this.tables.get(name);
    if (!t) throw new OvsdbError('OVSDB_ERROR', `table ${name} is not monitored here`);
    return t;
  }

  /** Applies a <table-updates2> (update2/update3 params, or a found=true monitor_cond_since reply). */
  applyUpdate2(updates: unknown): RowChange[] {
    return this.eachRowUpdate(updates, (tc, tname, uuid, u, changes) => {
      let body: unknown;
      if ((body = u.modify) !== undefined) {
        const old = tc.rows.get(uuid);
        if (!old) throw inconsistent(`modify of ${tname} row ${uuid}, which is not in the cache`, u);
        if (!isObj(body)) throw inconsistent('modify body is not an object', u);
        const row: Row = { ...old };
        for (const col in body) {
          const type = tc.table.columns.get(col);
          row[col] = type ? applyColumnDiff(type, old[col], body[col]) : body[col];
        }
        tc.set(uuid, row);
        changes.push({ table: tname, uuid, old, new: row });
      } else if ((body = u.initial ?? u.insert) !== undefined) {
        if (!isObj(body)) throw inconsistent('insert body is not an object', u);
        putRow(tc, tname, uuid, body, changes);
      } else if ('delete' in u) {
        removeRow(tc, tname, uuid, changes);
      } else {
        throw inconsistent(`update for ${tname} ${uuid} has no initial/insert/modify/delete`, u);
      }
    });
  }

  /** Applies a v1 <table-updates> (`update` params or a `monitor` reply). */
  applyUpdate1(updates: unknown): RowChange[] {
    return this.eachRowUpdate(updates, (tc, tname, uuid, u, changes) => {
      // v1 `new` carries every monitored column, so it replaces the row.
      if (isObj(u.new)) putRow(tc, tname, uuid, u.new, changes);
      else removeRow(tc, tname, uuid, changes);
    });
  }

  /** The walk both update formats share: <table-updates> → table → row uuid → one row's update object. */
  private eachRowUpdate(
    updates: unknown,
    apply: (tc: TableCache, tname: string, uuid: string, u: Record<string, unknown>, changes: RowChange[]) => void,
  ): RowChange[] {
    if (!isObj(updates)) throw inconsistent('table-updates is not an object', updates);
    const changes: RowChange[] = [];
    for (const tname in updates) {
      const tc = this.tables.get(tname);
      const rows = updates[tname];
      if (!tc) continue;
      if (!isObj(rows)) throw inconsistent(`updates for ${tname} are not an object`, rows);
      for (const uuid in rows) {
        const u = rows[uuid];
        if (!isObj(u)) throw inconsistent(`update for ${tname} ${uuid} is not an object`, u);
        apply(tc, tname, uuid, u, changes);
      }
    }
    return changes;
  }

  /**
   * Replaces the whole replica with an initial dump (after a reconnect with found=false) and
   * returns the differences from what it held before: no stale row survives.
   */
  replace(updates: unknown, format: 1 | 2): RowChange[] {
    const before = new Map<string, Map<string, Row>>();
    for (const [name, tc] of this.tables) {
      before.set(name, new Map(tc.rows));
      tc.clear();
    }
    if (format === 2) this.applyUpdate2(updates);
    else this.applyUpdate1(updates);
    const changes: RowChange[] = [];
    for (const [name, tc] of this.tables) {
      const old = before.get(name)!;
      for (const [uuid, row] of tc.rows) {
        const o = old.get(uuid);
        if (!o) changes.push({ table: name, uuid, new: row });
        else if (!rowEquals(o, row)) changes.push({ table: name, uuid, old: o, new: row });
        else tc.rows.set(uuid, o); // unchanged: keep the object callers may hold
      }
      for (const [uuid, o] of old) if (!tc.rows.has(uuid)) changes.push({ table: name, uuid, old: o });
    }
    return changes;
  }

  clear(): void {
    for (const tc of this.tables.values()) tc.clear();
  }
}

/** A whole row arrives (insert, initial, or v1 `new`): it replaces what the cache held. */
function putRow(tc: TableCache, table: string, uuid: string, body: Record<string, unknown>, changes: RowChange[]): void {
  const row = tc.withDefaults(decodeRow(tc.table, body, uuid));
  const old = tc.rows.get(uuid);
  tc.set(uuid, row);
  changes.push(old ? { table, uuid, old, new: row } : { table, uuid, new: row });
}

function removeRow(tc: TableCache, table: string, uuid: string, changes: RowChange[]): void {
  const old = tc.delete(uuid);
  if (old) changes.push({ table, uuid, old });
}
