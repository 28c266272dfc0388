// OVSDB schemas (RFC 7047 §3.2): the JSON form as servers and .ovsschema files hold it, a
// normalized form the codec works from, and the compatibility check a client runs at connect.

import { OvsdbError, UsageError } from '../errors';

/** The atomic types of OVSDB (RFC 7047 §3.2). */
export type AtomicType = 'integer' | 'real' | 'boolean' | 'string' | 'uuid';

/** A base type as written in a schema: a bare atomic type name, or an object with constraints. */
export interface BaseTypeJson {
  type: AtomicType;
  enum?: unknown;
  minInteger?: number;
  maxInteger?: number;
  minReal?: number;
  maxReal?: number;
  minLength?: number;
  maxLength?: number;
  refTable?: string;
  refType?: 'strong' | 'weak';
}

/** A column's type as a schema writes it: an atomic type, or key (and value) types with element counts. */
export type ColumnTypeJson =
  | AtomicType
  | {
      key: AtomicType | BaseTypeJson;
      value?: AtomicType | BaseTypeJson;
      min?: number;
      max?: number | 'unlimited';
    };

/** A column of a table schema. */
export interface ColumnSchema {
  type: ColumnTypeJson;
  ephemeral?: boolean;
  mutable?: boolean;
}

/** A table of a database schema. */
export interface TableSchema {
  columns: Record<string, ColumnSchema>;
  maxRows?: number;
  isRoot?: boolean;
  indexes?: string[][];
}

/** A database schema as servers send it (`get_schema`) and .ovsschema files hold it. */
export interface DatabaseSchema {
  name: string;
  version: string;
  cksum?: string;
  tables: Record<string, TableSchema>;
}

/**
 * A schema that also carries, at the type level only, the row interfaces generated for it.
 * The typed operation builders read the table and column types from `T`.
 */
export type TypedSchema<T> = DatabaseSchema & { readonly __rows?: T };

/** A base type, normalized. */
export interface BaseType {
  readonly type: AtomicType;
  readonly enum?: readonly (string | number | boolean)[];
  readonly minInteger?: number;
  readonly maxInteger?: number;
  readonly minReal?: number;
  readonly maxReal?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly refTable?: string;
  readonly refType?: 'strong' | 'weak';
}

/**
 * How a column's values look, decided once from min/max/value:
 * `atom` exactly one value; `optional` zero or one; `set` up to max > 1; `map` key → value.
 */
export type ColumnKind = 'atom' | 'optional' | 'set' | 'map';

export interface ColumnType {
  readonly key: BaseType;
  readonly value?: BaseType;
  readonly min: number;
  /** Infinity for "unlimited". */
  readonly max: number;
  readonly kind: ColumnKind;
}

export interface NormalizedTable {
  readonly name: string;
  readonly columns: ReadonlyMap<string, ColumnType>;
  /** Columns declared in the schema (without the implicit _uuid and _version). */
  readonly declared: readonly string[];
  readonly indexes: readonly (readonly string[])[];
  readonly isRoot: boolean;
  readonly maxRows?: number;
  readonly schema: TableSchema;
}

export interface NormalizedSchema {
  readonly name: string;
  readonly version: string;
  readonly tables: ReadonlyMap<string, NormalizedTable>;
}

export const UUID_TYPE: ColumnType = Object.freeze({ key: Object.freeze({ type: 'uuid' as const }), min: 1, max: 1, kind: 'atom' as const });

function normalizeBase(b: AtomicType | BaseTypeJson, where: string): BaseType {
  const base: BaseTypeJson = typeof b === 'string' ? { type: b } : b;
  if (!['integer', 'real', 'boolean', 'string', 'uuid'].includes(base.type)) {
    throw new OvsdbError('OVSDB_PROTOCOL', `schema: ${where} has unknown atomic type ${JSON.stringify(base.type)}`);
  }
  const out: { -readonly [K in keyof BaseType]: BaseType[K] } = { type: base.type };
  if (base.enum !== undefined) {
    const e = base.enum;
    if (Array.isArray(e) && e[0] === 'set' && Array.isArray(e[1])) out.enum = e[1] as (string | number | boolean)[];
    else out.enum = [e as string | number | boolean];
  }
  for (const k of ['minInteger', 'maxInteger', 'minReal', 'maxReal', 'minLength', 'maxLength'] as const) {
    if (typeof base[k] === 'number') out[k] = base[k];
  }
  if (base.refTable !== undefined) {
    out.refTable = base.refTable;
    out.refType = base.refType ?? 'strong';
  }
  return Object.freeze(out);
}

export function normalizeColumnType(t: ColumnTypeJson, where = 'column'): ColumnType {
  if (typeof t === 'string') {
    return Object.freeze({ key: normalizeBase(t, where), min: 1, max: 1, kind: 'atom' as const });
  }
  if (!t || typeof t !== 'object' || t.key === undefined) {
    throw new OvsdbError('OVSDB_PROTOCOL', `schema: ${where} has a malformed type ${JSON.stringify(t)}`);
  }
  const key = normalizeBase(t.key, where);
  const value = t.value === undefined ? undefined : normalizeBase(t.value, where);
  const min = t.min ?? 1;
  const max = t.max === undefined ? 1 : t.max === 'unlimited' ? Infinity : t.max;
  const kind: ColumnKind = value ? 'map' : max === 1 ? (min === 0 ? 'optional' : 'atom') : 'set';
  return Object.freeze(value ? { key, value, min, max, kind } : { key, min, max, kind });
}

const normalized = new WeakMap<DatabaseSchema, NormalizedSchema>();

/** The normalized form of a schema; computed once per schema object. */
export function normalizeSchema(schema: DatabaseSchema): NormalizedSchema {
  let n = normalized.get(schema);
  if (n) return n;
  if (!schema || typeof schema !== 'object' || typeof schema.tables !== 'object' || schema.tables === null) {
    throw new OvsdbError('OVSDB_PROTOCOL', 'schema: not a database schema object', { detail: schema });
  }
  const tables = new Map<string, NormalizedTable>();
  for (const [name, ts] of Object.entries(schema.tables)) {
    const columns = new Map<string, ColumnType>();
    columns.set('_uuid', UUID_TYPE);
    columns.set('_version', UUID_TYPE);
    for (const [col, cs] of Object.entries(ts.columns ?? {})) {
      columns.set(col, normalizeColumnType(cs.type, `${name}.${col}`));
    }
    tables.set(
      name,
      Object.freeze({
        name,
        columns,
        declared: Object.keys(ts.columns ?? {}),
        indexes: ts.indexes ?? [],
        isRoot: !!ts.isRoot,
        ...(ts.maxRows !== undefined ? { maxRows: ts.maxRows } : {}),
        schema: ts,
      }),
    );
  }
  n = Object.freeze({ name: schema.name, version: schema.version, tables });
  normalized.set(schema, n);
  return n;
}

export function tableOf(schema: DatabaseSchema, table: string): NormalizedTable {
  const t = normalizeSchema(schema).tables.get(table);
  if (!t) throw new UsageError('BAD_ARGUMENT', `database ${schema.name} has no table ${table}`);
  return t;
}

export function columnOf(schema: DatabaseSchema, table: string, column: string): ColumnType {
  const c = tableOf(schema, table).columns.get(column);
  if (!c) throw new UsageError('BAD_ARGUMENT', `table ${table} of database ${schema.name} has no column ${column}`);
  return c;
}

/** What differs between the schema a program was built for and the one a server serves. */
export interface SchemaReport {
  database: string;
  expectedVersion: string;
  actualVersion: string;
  missingTables: string[];
  /** table → columns the program knows that the server lacks. */
  missingColumns: Record<string, string[]>;
  extraTables: string[];
  extraColumns: Record<string, string[]>;
  /** table → columns whose type differs (value kind or atomic types). */
  changedColumns: Record<string, string[]>;
  /** True when nothing is missing or changed (extra tables and columns are harmless). */
  compatible: boolean;
}

function sameShape(a: ColumnType, b: ColumnType): boolean {
  return a.kind === b.kind && a.key.type === b.key.type && a.value?.type === b.value?.type;
}

/**
 * Compares the expected schema (e.g. the generated one) with the server's. Extra tables and
 * columns on either side are tolerated and reported; the check fails (OVSDB_SCHEMA_MISMATCH)
 * only when a table or column listed in `required` is missing or has changed shape.
 */
export function checkSchema(
  expected: DatabaseSchema,
  actual: DatabaseSchema,
  required: Record<string, readonly string[]> = {},
): SchemaReport {
  const e = normalizeSchema(expected);
  const a = normalizeSchema(actual);
  const report: SchemaReport = {
    database: actual.name,
    expectedVersion: expected.version,
    actualVersion: actual.version,
    missingTables: [],
    missingColumns: {},
    extraTables: [],
    extraColumns: {},
    changedColumns: {},
    compatible: true,
  };
  for (const [name, et] of e.tables) {
    const at = a.tables.get(name);
    if (!at) {
      report.missingTables.push(name);
      continue;
    }
    for (const col of et.declared) {
      const ac = at.columns.get(col);
      if (!ac) (report.missingColumns[name] ??= []).push(col);
      else if (!sameShape(et.columns.get(col)!, ac)) (report.changedColumns[name] ??= []).push(col);
    }
    const extra = at.declared.filter((c) => !et.columns.has(c));
    if (extra.length) report.extraColumns[name] = extra;
  }
  for (const name of a.tables.keys()) if (!e.tables.has(name)) report.extraTables.push(name);
  report.compatible = !report.missingTables.length && !Object.keys(report.missingColumns).length && !Object.keys(report.changedColumns).length;

  const problems: string[] = [];
  for (const [table, cols] of Object.entries(required)) {
    const at = a.tables.get(table);
    if (!at) {
      problems.push(`table ${table} is missing`);
      continue;
    }
    const et = e.tables.get(table);
    for (const col of cols) {
      const ac = at.columns.get(col);
      if (!ac) problems.push(`column ${table}.${col} is missing`);
      else if (et?.columns.get(col) && !sameShape(et.columns.get(col)!, ac)) problems.push(`column ${table}.${col} has a different type`);
    }
  }
  if (problems.length) {
    throw new OvsdbError(
      'OVSDB_SCHEMA_MISMATCH',
      `the ${actual.name} database on the server (schema ${actual.version}) lacks what this program needs: ${problems.join('; ')}; ` +
        `it was built for schema ${expected.version}`,
      { detail: report },
    );
  }
  return report;
}
