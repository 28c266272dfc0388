// What a monitor subscribes to: the tables and columns (with optional conditions, selects and
// extra indexes) as callers write them, and the form checked against the server's schema that
// a monitor request is built from. A table or column the server lacks fails here, before any
// request, with OVSDB_SCHEMA_MISMATCH.

import { OvsdbError } from '../errors';
import type { Condition } from './operations';
import { normalizeSchema, type DatabaseSchema } from './schema';

/** Which kinds of change a monitored table reports (RFC 7047 §4.1.5); all by default. */
export interface MonitorSelect {
  initial?: boolean;
  insert?: boolean;
  delete?: boolean;
  modify?: boolean;
}

/** What to monitor of one table: columns, a condition, change kinds, extra indexes. */
export interface MonitorTableSpec {
  /** Columns to monitor; default: every column of the table. */
  columns?: readonly string[];
  /** Only rows matching these (wire) conditions; needs monitor_cond (OVS ≥ 2.6). */
  where?: Condition[];
  select?: MonitorSelect;
  /** Extra columns to index for O(1) findBy (schema indexes on one column are always indexed). */
  indexes?: readonly string[];
}

/** Table name → its columns, or a {@link MonitorTableSpec}: what `OvsdbClient.monitor` subscribes to. */
export type MonitorTables = Record<string, readonly string[] | MonitorTableSpec>;

/** A table spec checked against the schema: explicit columns, without _uuid. */
export interface NormalizedSpec {
  columns: string[];
  where?: Condition[];
  select?: MonitorSelect;
  indexes?: readonly string[];
}

/** Builds the table specs of a monitor request, checked against the server's schema. */
export function normalizeMonitorTables(schema: DatabaseSchema, tables: MonitorTables, where: Record<string, Condition[]> = {}): Map<string, NormalizedSpec> {
  const n = normalizeSchema(schema);
  const out = new Map<string, NormalizedSpec>();
  const missing: string[] = [];
  for (const [table, s] of Object.entries(tables)) {
    const t = n.tables.get(table);
    if (!t) {
      missing.push(`table ${table}`);
      continue;
    }
    const spec: MonitorTableSpec = Array.isArray(s) ? { columns: s as readonly string[] } : (s as MonitorTableSpec);
    const cols = (spec.columns ?? t.declared).filter((c) => c !== '_uuid');
    for (const c of cols) if (!t.columns.has(c)) missing.push(`column ${table}.${c}`);
    const w = spec.where ?? where[table];
    out.set(table, {
      columns: [...new Set(cols)],
      ...(w ? { where: w } : {}),
      ...(spec.select ? { select: spec.select } : {}),
      ...(spec.indexes ? { indexes: spec.indexes } : {}),
    });
  }
  for (const table of Object.keys(where)) if (!(table in tables)) missing.push(`table ${table} (in where, but not monitored)`);
  if (missing.length) {
    throw new OvsdbError('OVSDB_SCHEMA_MISMATCH', `cannot monitor ${schema.name}: the server's schema (${schema.version}) has no ${missing.join(', ')}`, {
      detail: { missing },
    });
  }
  return out;
}
