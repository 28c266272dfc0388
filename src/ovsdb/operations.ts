// Transaction operations (RFC 7047 §5.2, plus OVS's explicit-uuid insert): the wire types, an
// untyped builder that takes wire datums (`op`), and a schema-aware builder (`ops(schema)`) that
// takes natural values, encodes them by column type, and — given a generated schema — checks
// table names, column names and value types at compile time. Pure: nothing here touches a socket.

import { UsageError } from '../errors';
import {
  decodeRow,
  describeValue,
  encodeAtom,
  encodeKeySet,
  encodeOperand,
  encodeRow,
  ID_RE,
  isUuid,
  type Row,
  type WireAtom,
  type WireDatum,
  type WireRow,
} from './datum';
import { normalizeSchema, tableOf, type DatabaseSchema, type NormalizedTable, type TypedSchema } from './schema';

// ---------------------------------------------------------------- wire types

export * from './wire-operations';
import type {
  AbortOp,
  AssertOp,
  CommentOp,
  CommitOp,
  Condition,
  ConditionFunction,
  DeleteOp,
  InsertOp,
  MutateOp,
  Mutation,
  Mutator,
  Operation,
  SelectOp,
  UpdateOp,
  WaitOp,
} from './wire-operations';

// ---------------------------------------------------------------- untyped builder (wire datums)

function uuidNameCheck(name: string): string {
  if (!ID_RE.test(name)) throw new UsageError('BAD_ARGUMENT', `uuid-name ${JSON.stringify(name)} is not an identifier ([A-Za-z_][A-Za-z0-9_]*)`);
  return name;
}

function insertOptions(o: { uuid?: string; uuidName?: string }, into: InsertOp): InsertOp {
  if (o.uuidName !== undefined) into['uuid-name'] = uuidNameCheck(o.uuidName);
  if (o.uuid !== undefined) {
    if (!isUuid(o.uuid)) throw new UsageError('BAD_ARGUMENT', `insert uuid ${JSON.stringify(o.uuid)} is not a UUID`);
    into.uuid = o.uuid;
  }
  return into;
}

/** Builders that take wire datums, for any database. */
export const op = {
  /** Inserts a row; `uuidName` names it for later operations of the same transaction (`['named-uuid', name]`). */
  insert(table: string, row: WireRow, o: { uuid?: string; uuidName?: string } = {}): InsertOp {
    return insertOptions(o, { op: 'insert', table, row });
  },
  /** Selects the rows matching `where` (all rows when empty), with these columns (default all). */
  select(table: string, where: Condition[] = [], columns?: string[]): SelectOp {
    return columns ? { op: 'select', table, where, columns } : { op: 'select', table, where };
  },
  /** Sets the given columns of every row matching `where`. */
  update(table: string, where: Condition[], row: WireRow): UpdateOp {
    return { op: 'update', table, where, row };
  },
  /** Applies the mutations to every row matching `where`. */
  mutate(table: string, where: Condition[], mutations: Mutation[]): MutateOp {
    return { op: 'mutate', table, where, mutations };
  },
  /** Deletes every row matching `where`. */
  delete(table: string, where: Condition[]): DeleteOp {
    return { op: 'delete', table, where };
  },
  /** Waits until the matching rows' columns equal (or differ from) `rows`, for at most `timeout` ms. */
  wait(w: { table: string; where: Condition[]; columns: string[]; until: '==' | '!='; rows: WireRow[]; timeout?: number }): WaitOp {
    const o: WaitOp = { op: 'wait', table: w.table, where: w.where, columns: w.columns, until: w.until, rows: w.rows };
    if (w.timeout !== undefined) o.timeout = w.timeout;
    return o;
  },
  /** Commits; `durable` makes the server sync to disk before it replies. */
  commit(durable = false): CommitOp {
    return { op: 'commit', durable };
  },
  /** Aborts the transaction at this point. */
  abort(): AbortOp {
    return { op: 'abort' };
  },
  /** A comment for the server's log. */
  comment(text: string): CommentOp {
    return { op: 'comment', comment: text };
  },
  /** Fails the transaction unless this session holds `lock`. */
  assert(lock: string): AssertOp {
    return { op: 'assert', lock };
  },
};

// ---------------------------------------------------------------- typed builder (natural values)

type Loose = Record<string, Record<string, unknown>>;
/** Table name → row interface; falls back to a loose map for schemas known only at run time. */
export type TablesOf<T> = unknown extends T ? Loose : T;
type TableName<T> = Extract<keyof T, string>;
type ColName<R> = Extract<keyof R, string>;
type Writable<R> = Exclude<ColName<R>, '_uuid' | '_version'>;

/** What a column accepts as input: readonly arrays and maps are fine. */
export type InputValue<V> = [NonNullable<V>] extends [Map<infer K, infer X>]
  ? ReadonlyMap<K, X>
  : [NonNullable<V>] extends [readonly (infer E)[]]
    ? readonly E[]
    : V | (undefined extends V ? null : never);
/** The columns an insert may set on a row of type `R` (all optional; `_uuid` and `_version` excluded), in natural values. */
export type InsertRow<R> = { [C in Writable<R>]?: InputValue<R[C]> };
/** The columns an update may set on a row of type `R`, in natural values. */
export type UpdateRow<R> = { [C in Writable<R>]?: InputValue<R[C]> };

/** What a condition on a column of type `V` compares with: the column's value, or one element of a set. */
export type CondValue<V> = [NonNullable<V>] extends [Map<infer K, infer X>]
  ? ReadonlyMap<K, X>
  : [NonNullable<V>] extends [readonly (infer E)[]]
    ? readonly E[] | E
    : V | undefined;
/** A condition on a row of type `R`, checked against its column names and types (or `true`/`false`). */
export type TypedCondition<R> = { [C in ColName<R>]: readonly [C, ConditionFunction, CondValue<R[C]>] }[ColName<R>] | boolean;

/** What a mutation of a column of type `V` takes: elements (or keys, to delete from a map) or a number. */
export type MutValue<V> = [NonNullable<V>] extends [Map<infer K, infer X>]
  ? ReadonlyMap<K, X> | readonly K[]
  : [NonNullable<V>] extends [readonly (infer E)[]]
    ? readonly E[] | E
    : NonNullable<V>;
/** A mutation of a writable column of a row of type `R`, checked against its name and type. */
export type TypedMutation<R> = { [C in Writable<R>]: readonly [C, Mutator, MutValue<R[C]>] }[Writable<R>];

/** A condition with a natural value; the table it is used with encodes it. */
export function cond<const C extends string, const V>(column: C, fn: ConditionFunction, value: V): readonly [C, ConditionFunction, V] {
  return [column, fn, value] as const;
}

/** A mutation with a natural value; the table it is used with encodes it. */
export function mut<const C extends string, const V>(column: C, mutator: Mutator, value: V): readonly [C, Mutator, V] {
  return [column, mutator, value] as const;
}

/**
 * Operation builders checked against a schema's table and column types, made by {@link ops}.
 *
 * @example
 * ```ts
 * const o = ops(openVswitchSchema);
 * await ovs.transact('Open_vSwitch', [o.select('Bridge', [['name', '==', 'ovs0']], ['ports'])]);
 * ```
 */
export interface TypedOps<T> {
  readonly schema: DatabaseSchema;
  /** Inserts a row given in natural values; `uuidName` names it for later operations of the transaction. */
  insert<K extends TableName<T>>(table: K, row: InsertRow<T[K]>, opts?: { uuid?: string; uuidName?: string }): InsertOp;
  /** Selects the rows matching `where` (all when omitted), with these columns (default all). */
  select<K extends TableName<T>>(table: K, where?: readonly TypedCondition<T[K]>[], columns?: readonly ColName<T[K]>[]): SelectOp;
  /** Sets the given columns of every row matching `where`. */
  update<K extends TableName<T>>(table: K, where: readonly TypedCondition<T[K]>[], row: UpdateRow<T[K]>): UpdateOp;
  /** Applies the mutations to every row matching `where`. */
  mutate<K extends TableName<T>>(table: K, where: readonly TypedCondition<T[K]>[], mutations: readonly TypedMutation<T[K]>[]): MutateOp;
  /** Deletes every row matching `where`. */
  delete<K extends TableName<T>>(table: K, where: readonly TypedCondition<T[K]>[]): DeleteOp;
  /** Waits until the matching rows' columns equal (or differ from) `rows`, for at most `timeout` ms. */
  wait<K extends TableName<T>>(w: {
    table: K;
    where: readonly TypedCondition<T[K]>[];
    columns: readonly ColName<T[K]>[];
    until: '==' | '!=';
    rows: readonly InsertRow<T[K]>[];
    timeout?: number;
  }): WaitOp;
  /** Commits; `durable` makes the server sync to disk before it replies. */
  commit(durable?: boolean): CommitOp;
  /** Aborts the transaction at this point. */
  abort(): AbortOp;
  /** A comment for the server's log. */
  comment(text: string): CommentOp;
  /** Fails the transaction unless this session holds `lock`. */
  assert(lock: string): AssertOp;
  /** Encodes natural conditions into wire conditions (e.g. for a monitor's `where`). */
  where<K extends TableName<T>>(table: K, conditions: readonly TypedCondition<T[K]>[]): Condition[];
  /** Decodes the rows of a select result. */
  decodeRows<K extends TableName<T>>(table: K, rows: readonly Record<string, unknown>[]): T[K][];
}

function encodeConditionFor(t: NormalizedTable, c: unknown): Condition {
  if (typeof c === 'boolean') return c;
  if (!Array.isArray(c) || c.length !== 3) throw new UsageError('BAD_ARGUMENT', `a condition is [column, function, value] or a boolean, got ${describeValue(c)}`);
  const [column, fn, value] = c as [string, ConditionFunction, unknown];
  const type = t.columns.get(column);
  if (!type) throw new UsageError('BAD_ARGUMENT', `table ${t.name} has no column ${column}`);
  try {
    return [column, fn, encodeOperand(type, value)];
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError('BAD_ARGUMENT', `condition on ${t.name}.${column}: ${e.message}`, { cause: e });
    throw e;
  }
}

function encodeMutationFor(t: NormalizedTable, m: unknown): Mutation {
  if (!Array.isArray(m) || m.length !== 3) throw new UsageError('BAD_ARGUMENT', `a mutation is [column, mutator, value], got ${describeValue(m)}`);
  const [column, mutator, value] = m as [string, Mutator, unknown];
  const type = t.columns.get(column);
  if (!type) throw new UsageError('BAD_ARGUMENT', `table ${t.name} has no column ${column}`);
  try {
    if (mutator === 'insert' || mutator === 'delete') {
      if (type.kind === 'map' && mutator === 'delete' && (Array.isArray(value) || value instanceof Set)) return [column, mutator, encodeKeySet(type, value)];
      return [column, mutator, type.kind === 'atom' || type.kind === 'optional' ? encodeOperand({ ...type, kind: 'set' }, value) : encodeOperand(type, value)];
    }
    // Arithmetic applies to the atom (element-wise on sets of numbers).
    return [column, mutator, encodeAtom(type.key, value)];
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError('BAD_ARGUMENT', `mutation of ${t.name}.${column}: ${e.message}`, { cause: e });
    throw e;
  }
}

function checkColumns(t: NormalizedTable, columns: readonly string[]): string[] {
  for (const c of columns) if (!t.columns.has(c)) throw new UsageError('BAD_ARGUMENT', `table ${t.name} has no column ${c}`);
  return [...columns];
}

/** Encodes natural conditions for a table of a schema. */
export function encodeConditions(schema: DatabaseSchema, table: string, conditions: readonly unknown[]): Condition[] {
  const t = tableOf(schema, table);
  return conditions.map((c) => encodeConditionFor(t, c));
}

/** Decodes the rows of a select result (columns absent from a row stay absent). */
export function decodeRows<R = Row>(schema: DatabaseSchema, table: string, rows: readonly Record<string, unknown>[]): R[] {
  const t = tableOf(schema, table);
  return rows.map((r) => {
    const u = r._uuid;
    return decodeRow(t, r, Array.isArray(u) ? (u[1] as string) : undefined) as unknown as R;
  });
}

/**
 * The schema-aware builder. With a generated schema (e.g. `ops(openVswitchSchema)`) table and
 * column names and value types are checked at compile time; with a schema fetched at run time
 * they are checked when the operation is built.
 */
export function ops<T = unknown>(schema: TypedSchema<T>): TypedOps<TablesOf<T>> {
  normalizeSchema(schema);
  const t = (name: string) => tableOf(schema, name);
  const o: TypedOps<Loose> = {
    schema,
    insert(table, row, opts = {}) {
      return op.insert(table, encodeRow(t(table), row as Record<string, unknown>), opts);
    },
    select(table, where = [], columns) {
      const tb = t(table);
      return op.select(table, where.map((c) => encodeConditionFor(tb, c)), columns ? checkColumns(tb, columns) : undefined);
    },
    update(table, where, row) {
      const tb = t(table);
      return op.update(table, where.map((c) => encodeConditionFor(tb, c)), encodeRow(tb, row as Record<string, unknown>));
    },
    mutate(table, where, mutations) {
      const tb = t(table);
      return op.mutate(
        table,
        where.map((c) => encodeConditionFor(tb, c)),
        mutations.map((m) => encodeMutationFor(tb, m)),
      );
    },
    delete(table, where) {
      const tb = t(table);
      return op.delete(table, where.map((c) => encodeConditionFor(tb, c)));
    },
    wait(w) {
      const tb = t(w.table);
      return op.wait({
        table: w.table,
        where: w.where.map((c) => encodeConditionFor(tb, c)),
        columns: checkColumns(tb, w.columns),
        until: w.until,
        rows: w.rows.map((r) => encodeRow(tb, r as Record<string, unknown>)),
        ...(w.timeout !== undefined ? { timeout: w.timeout } : {}),
      });
    },
    commit: (durable) => op.commit(durable),
    abort: () => op.abort(),
    comment: (text) => op.comment(text),
    assert: (lock) => op.assert(lock),
    where(table, conditions) {
      const tb = t(table);
      return conditions.map((c) => encodeConditionFor(tb, c));
    },
    decodeRows(table, rows) {
      return decodeRows(schema, table, rows);
    },
  };
  return o as unknown as TypedOps<TablesOf<T>>;
}

// ---------------------------------------------------------------- uuid-name rewriting

function renameAtom(a: WireAtom, rename: (n: string) => string): WireAtom {
  return Array.isArray(a) && a[0] === 'named-uuid' ? ['named-uuid', rename(a[1])] : a;
}

/** Rewrites every named-uuid reference in a wire datum, following the datum's structure. */
export function renameInDatum(d: WireDatum, rename: (n: string) => string): WireDatum {
  if (!Array.isArray(d)) return d;
  switch (d[0]) {
    case 'named-uuid':
      return ['named-uuid', rename(d[1] as string)];
    case 'set':
      return ['set', (d[1] as WireAtom[]).map((a) => renameAtom(a, rename))];
    case 'map':
      return ['map', (d[1] as [WireAtom, WireAtom][]).map(([k, v]) => [renameAtom(k, rename), renameAtom(v, rename)])];
    default:
      return d;
  }
}

function renameRow(row: WireRow, rename: (n: string) => string): WireRow {
  const out: WireRow = {};
  for (const k in row) out[k] = renameInDatum(row[k]!, rename);
  return out;
}

function renameWhere(where: Condition[], rename: (n: string) => string): Condition[] {
  return where.map((c) => (typeof c === 'boolean' ? c : [c[0], c[1], renameInDatum(c[2], rename)]));
}

/**
 * Returns the operations with every uuid-name (declared by insert, or referenced as
 * ["named-uuid", n]) passed through `rename`. Used to merge independent transactions into one.
 */
export function renameUuidNames(operations: readonly Operation[], rename: (n: string) => string): Operation[] {
  return operations.map((o): Operation => {
    switch (o.op) {
      case 'insert': {
        const n: InsertOp = { ...o, row: renameRow(o.row, rename) };
        if (o['uuid-name'] !== undefined) n['uuid-name'] = rename(o['uuid-name']);
        return n;
      }
      case 'update':
        return { ...o, where: renameWhere(o.where, rename), row: renameRow(o.row, rename) };
      case 'mutate':
        return { ...o, where: renameWhere(o.where, rename), mutations: o.mutations.map(([c, m, v]) => [c, m, renameInDatum(v, rename)] as Mutation) };
      case 'select':
      case 'delete':
        return { ...o, where: renameWhere(o.where, rename) };
      case 'wait':
        return { ...o, where: renameWhere(o.where, rename), rows: o.rows.map((r) => renameRow(r, rename)) };
      default:
        return o;
    }
  });
}
