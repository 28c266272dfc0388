// A monitor: one subscription to a database's tables, and the replica it keeps current. The
// subscription survives reconnects — the client re-issues it on every new session, and the
// replica is rebuilt from the new initial dump with only the differences reported.

import { EventEmitter } from 'node:events';
import { OvsdbError } from '../errors';
import { Replica, type RowChange, type TableSpec } from './cache';
import type { Connection } from './connection';
import { ZERO_UUID, isUuid, rowEquals, type Row } from './datum';
import { normalizeMonitorTables, type NormalizedSpec } from './monitor-tables';
import type { Condition } from './operations';
import { errorTag } from './results';
import { normalizeSchema, type DatabaseSchema } from './schema';

export { normalizeMonitorTables } from './monitor-tables';
export type { MonitorSelect, MonitorTableSpec, MonitorTables } from './monitor-tables';

/** What a Monitor needs from the client that owns it. */
export interface MonitorHost {
  readonly closed: boolean;
  readonly connected: boolean;
  call<T>(method: string, params: unknown[], o?: { timeoutMs?: number }): Promise<T>;
  forget(mon: { readonly id: string }): void;
}

/** A typed row-change callback: `old` is absent for an insert, `now` for a delete. */
export type RowHandler<R> = (old: R | undefined, now: R | undefined, change: RowChange<R>) => void;

type Waiter = { check(): boolean; fail(e: Error): void };

type Method = 'monitor_cond_since' | 'monitor_cond' | 'monitor';

/**
 * A change to a row of one of a monitor's tables. With generated row types it is a union by
 * table, so testing `change.table === 'Port'` types `old` and `new` as PortRow.
 */
export type MonitorChange<T> = { [K in Extract<keyof T, string>]: RowChange<T[K]> & { table: K } }[Extract<keyof T, string>];

/**
 * Events: `change` for every row inserted, modified or deleted (after the initial dump); `update`
 * with all the changes of one update notification; `resync` with the differences found when the
 * subscription was rebuilt after a reconnect.
 */
export interface Monitor<T extends object = Record<string, Row>> {
  /** Every row inserted, modified or deleted, typed by table. */
  on(event: 'change', listener: (change: MonitorChange<T>) => void): this;
  /** All the changes of one update notification (`update`), or those found when the subscription was rebuilt (`resync`). */
  on(event: 'update' | 'resync', listener: (changes: MonitorChange<T>[]) => void): this;
  /** Untyped rows, as before typed events (a listener declared with `RowChange`). */
  on(event: 'change', listener: (change: RowChange) => void): this;
  /** As `on('update' | 'resync')` with untyped rows. */
  on(event: 'update' | 'resync', listener: (changes: RowChange[]) => void): this;
  /** As `on('change')`, once. */
  once(event: 'change', listener: (change: MonitorChange<T>) => void): this;
  /** As `on('update' | 'resync')`, once. */
  once(event: 'update' | 'resync', listener: (changes: MonitorChange<T>[]) => void): this;
  /** As `on('change')` with untyped rows, once. */
  once(event: 'change', listener: (change: RowChange) => void): this;
  /** As `on('update' | 'resync')` with untyped rows, once. */
  once(event: 'update' | 'resync', listener: (changes: RowChange[]) => void): this;
  /** Removes a `change` listener. */
  off(event: 'change', listener: (change: MonitorChange<T>) => void): this;
  /** Removes an `update` or `resync` listener. */
  off(event: 'update' | 'resync', listener: (changes: MonitorChange<T>[]) => void): this;
  /** Removes an untyped `change` listener. */
  off(event: 'change', listener: (change: RowChange) => void): this;
  /** Removes an untyped `update` or `resync` listener. */
  off(event: 'update' | 'resync', listener: (changes: RowChange[]) => void): this;
}

/**
 * A live replica of some tables of one database, kept up to date by the server's update
 * notifications and rebuilt after reconnects; made by `OvsdbClient.monitor`. Read rows with
 * `rows`, `get`, `findBy`; follow changes with `onRow` or the events above; wait with `waitFor`.
 *
 * @example
 * ```ts
 * const mon = await ovs.monitor<OpenVswitchTables>('Open_vSwitch', { Bridge: ['name', 'ports'] });
 * const br = mon.findBy('Bridge', 'name', 'ovs0');
 * mon.onRow('Bridge', (old, now) => console.log(old?.name ?? '-', '->', now?.name ?? '-'));
 * ```
 */
export class Monitor<T extends object = Record<string, Row>> extends EventEmitter {
  readonly db: string;
  /** The monitor id on the wire (the same across reconnects). */
  readonly id: string;
  private schemaValue: DatabaseSchema;
  private replica: Replica;
  private readonly specs: Map<string, NormalizedSpec>;
  private readonly host: MonitorHost;
  private lastTxnId = ZERO_UUID;
  private subscribed = false;
  private ended: OvsdbError | undefined;
  private readonly waiters = new Set<Waiter>();
  /** How resubscriptions after reconnects went: `incremental` (monitor_cond_since found the last
   *  transaction, only the changes came) or `full` (a fresh dump, diffed against the cache). */
  readonly resyncs = { incremental: 0, full: 0 };

  /** @internal Created by OvsdbClient.monitor. */
  constructor(host: MonitorHost, id: string, db: string, schema: DatabaseSchema, specs: Map<string, NormalizedSpec>) {
    super();
    this.host = host;
    this.id = id;
    this.db = db;
    this.schemaValue = schema;
    this.specs = specs;
    this.replica = this.makeReplica(schema);
  }

  /** The server schema this monitor decodes with. */
  get schema(): DatabaseSchema {
    return this.schemaValue;
  }

  /** The last transaction id seen (monitor_cond_since / update3); all zeros for standalone databases. */
  get lastTransactionId(): string {
    return this.lastTxnId;
  }

  /** False once the monitor was cancelled or ended by an error (its rows then stay as they were). */
  get active(): boolean {
    return !this.ended;
  }

  /** @internal True once a subscription reply has been applied. */
  get established(): boolean {
    return this.subscribed;
  }

  /** Live view of a monitored table's rows, by uuid. Do not mutate. */
  rows<K extends Extract<keyof T, string>>(table: K): Map<string, T[K]> {
    return this.replica.table(table).rows as unknown as Map<string, T[K]>;
  }

  /** The row of `table` with this UUID, if the replica has it. */
  get<K extends Extract<keyof T, string>>(table: K, uuid: string): T[K] | undefined {
    return this.replica.table(table).rows.get(uuid) as T[K] | undefined;
  }

  /** First row whose column equals value: O(1) for indexed columns (schema indexes such as name), a scan otherwise. */
  findBy<K extends Extract<keyof T, string>>(table: K, column: Extract<keyof T[K], string> | '_uuid', value: unknown): T[K] | undefined {
    return this.replica.table(table).findBy(column, value) as T[K] | undefined;
  }

  /** Every row whose column equals value. */
  findAll<K extends Extract<keyof T, string>>(table: K, column: Extract<keyof T[K], string> | '_uuid', value: unknown): T[K][] {
    return this.replica.table(table).findAll(column, value) as T[K][];
  }

  /**
   * Calls `fn(old, now, change)` for every change to a row of `table`, typed by the monitor's row
   * types: an insert has no `old`, a delete no `now`. These are the 'change' events of that table
   * (so rows of the initial dump are not reported unless `existing` is set, which first calls
   * `fn(undefined, row)` for every row already in the cache). Returns a function that stops it.
   */
  onRow<K extends Extract<keyof T, string>>(table: K, fn: RowHandler<T[K]>, o: { existing?: boolean } = {}): () => void {
    const tc = this.replica.table(table);
    const listener = (c: MonitorChange<T>): void => {
      if (c.table === table) fn(c.old as T[K] | undefined, c.new as T[K] | undefined, c as RowChange<T[K]>);
    };
    this.on('change', listener);
    if (o.existing) for (const [uuid, row] of tc.rows) fn(undefined, row as T[K], { table, uuid, new: row as T[K] });
    return () => {
      this.off('change', listener);
    };
  }

  /**
   * Resolves with the predicate's first truthy value, checking now and after every applied
   * update. Rejects OVSDB_TIMEOUT after timeoutMs, OVSDB_CONNECTION_LOST if the client is closed,
   * OVSDB_CANCELED if the monitor is canceled.
   */
  waitFor<R>(predicate: () => R | undefined | false | null, timeoutMs: number): Promise<R> {
    if (this.ended) return Promise.reject(this.ended);
    return new Promise<R>((resolve, reject) => {
      // Set after the first check, so held in an object the callbacks read when they run.
      const deadline: { timer?: NodeJS.Timeout } = {};
      const w: Waiter = {
        check: () => {
          let v: R | undefined | false | null;
          try {
            v = predicate();
          } catch (e) {
            this.waiters.delete(w);
            if (deadline.timer) clearTimeout(deadline.timer);
            reject(e);
            return true;
          }
          if (v === undefined || v === false || v === null) return false;
          this.waiters.delete(w);
          if (deadline.timer) clearTimeout(deadline.timer);
          resolve(v);
          return true;
        },
        fail: (e) => {
          this.waiters.delete(w);
          if (deadline.timer) clearTimeout(deadline.timer);
          reject(e);
        },
      };
      if (w.check()) return;
      this.waiters.add(w);
      deadline.timer = setTimeout(
        () => w.fail(new OvsdbError('OVSDB_TIMEOUT', `the awaited state did not appear in ${this.db} within ${timeoutMs} ms`, { detail: { timeoutMs } })),
        timeoutMs,
      );
    });
  }

  /**
   * Changes which rows of a table are monitored (monitor_cond_change): rows that stop matching
   * are deleted from the cache, rows that start matching are inserted, with change events, before
   * this resolves. Kept for later reconnects. Needs monitor_cond (OVS ≥ 2.6).
   */
  async setWhere(table: Extract<keyof T, string>, where: Condition[]): Promise<void> {
    if (this.ended) throw this.ended;
    const spec = this.specs.get(table);
    if (!spec) throw new OvsdbError('OVSDB_ERROR', `table ${table} is not monitored here`);
    if (this.method === 'monitor') throw new OvsdbError('OVSDB_ERROR', 'the server does not support conditional monitors (monitor_cond)');
    spec.where = where;
    // A last-txn-id is only valid for the request it came with.
    this.lastTxnId = ZERO_UUID;
    await this.host.call('monitor_cond_change', [this.id, this.id, { [table]: [{ where }] }]);
  }

  /** Stops the subscription (monitor_cancel); the cache stops changing. */
  async cancel(): Promise<void> {
    if (this.ended) return;
    this.end(new OvsdbError('OVSDB_CANCELED', `the monitor of ${this.db} was canceled`));
    this.host.forget(this);
    // Without a session the server has already forgotten the monitor, and we will not resubscribe it.
    if (this.host.closed || !this.host.connected) return;
    try {
      await this.host.call('monitor_cancel', [this.id]);
    } catch (e) {
      // Gone already (connection lost, or the server never knew it): nothing left to cancel.
      const code = (e as OvsdbError).code;
      if (code !== 'OVSDB_CONNECTION_LOST' && code !== 'OVSDB_ERROR' && code !== 'OVSDB_TIMEOUT') throw e;
    }
  }

  // ---------------------------------------------------------------- driven by the client

  /** @internal Ends the monitor (client closed, or canceled); pending waitFor calls reject with err. */
  end(err: OvsdbError): void {
    if (this.ended) return;
    this.ended = err;
    for (const w of [...this.waiters]) w.fail(err);
  }

  /**
   * @internal Subscribes on a session: the first time, or again after a reconnect. The reply is
   * applied synchronously in the dispatcher (RequestOptions.map) before any later update.
   */
  async subscribe(conn: Connection, schema: DatabaseSchema, timeoutMs?: number): Promise<void> {
    if (schema !== this.schemaValue && (schema.version !== this.schemaValue.version || schema.cksum !== this.schemaValue.cksum)) {
      // The database was converted while we were away: decode with the new schema from now on.
      normalizeMonitorTables(schema, Object.fromEntries([...this.specs].map(([k, v]) => [k, { columns: v.columns }])));
      const before = this.replica;
      this.schemaValue = schema;
      this.replica = this.makeReplica(schema);
      this.pendingBefore = before;
      this.lastTxnId = ZERO_UUID;
    }
    for (;;) {
      const method: Method = conn.caps.monitorCondSince !== false ? 'monitor_cond_since' : conn.caps.monitorCond !== false ? 'monitor_cond' : 'monitor';
      const params = method === 'monitor_cond_since' ? [this.db, this.id, this.request(method), this.lastTxnId] : [this.db, this.id, this.request(method)];
      try {
        await conn.request(method, params, { ...(timeoutMs !== undefined ? { timeoutMs } : {}), map: (r) => this.applyReply(method, r) });
        this.method = method;
        return;
      } catch (e) {
        if (errorTag(e) !== 'unknown method') throw e;
        if (method === 'monitor_cond_since') conn.caps.monitorCondSince = false;
        else if (method === 'monitor_cond') conn.caps.monitorCond = false;
        else throw e;
      }
    }
  }

  /** @internal An update/update2/update3 notification for this monitor. Throws if the cache cannot follow it. */
  handleNotification(method: string, params: unknown[]): void {
    if (this.ended) return;
    let changes: RowChange[];
    if (method === 'update2') changes = this.replica.applyUpdate2(params[1]);
    else if (method === 'update3') {
      if (typeof params[1] === 'string' && isUuid(params[1])) this.lastTxnId = params[1];
      changes = this.replica.applyUpdate2(params[2]);
    } else changes = this.replica.applyUpdate1(params[1]);
    for (const c of changes) this.emitSafe('change', c);
    this.emitSafe('update', changes);
    this.runWaiters();
  }

  private pendingBefore: Replica | undefined;
  private method: Method | undefined;

  private request(method: Method): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [table, s] of this.specs) {
      const r: Record<string, unknown> = { columns: s.columns };
      if (s.select) r.select = s.select;
      if (s.where) {
        if (method === 'monitor') {
          throw new OvsdbError('OVSDB_ERROR', `the server does not support conditional monitors (monitor_cond), needed for the where clause on ${table}`);
        }
        r.where = s.where;
      }
      out[table] = method === 'monitor' ? r : [r];
    }
    return out;
  }

  private makeReplica(schema: DatabaseSchema): Replica {
    const specs = new Map<string, TableSpec>();
    for (const [t, s] of this.specs) specs.set(t, { columns: s.columns, ...(s.indexes ? { indexes: s.indexes } : {}) });
    return new Replica(normalizeSchema(schema), specs);
  }

  private applyReply(method: Method, r: unknown): void {
    let updates: unknown;
    let found = false;
    if (method === 'monitor_cond_since') {
      if (!Array.isArray(r) || r.length !== 3 || typeof r[0] !== 'boolean' || typeof r[1] !== 'string') {
        throw new OvsdbError('OVSDB_PROTOCOL', 'OVSDB protocol error: malformed monitor_cond_since reply', { detail: r });
      }
      found = r[0];
      this.lastTxnId = r[1];
      updates = r[2];
    } else updates = r;
    const format = method === 'monitor' ? 1 : 2;
    const first = !this.subscribed;
    const rebuilt = this.pendingBefore !== undefined;
    this.subscribed = true;
    let changes: RowChange[];
    if (this.pendingBefore) {
      // New schema: compare the old replica's rows with the fresh dump.
      const before = this.pendingBefore;
      this.pendingBefore = undefined;
      if (format === 2) this.replica.applyUpdate2(updates);
      else this.replica.applyUpdate1(updates);
      changes = diffReplicas(before, this.replica);
    } else if (found) changes = this.replica.applyUpdate2(updates);
    else if (first) {
      if (format === 2) this.replica.applyUpdate2(updates);
      else this.replica.applyUpdate1(updates);
      changes = [];
    } else changes = this.replica.replace(updates, format);
    if (!first) {
      if (found && !rebuilt) this.resyncs.incremental++;
      else this.resyncs.full++;
      for (const c of changes) this.emitSafe('change', c);
      this.emitSafe('resync', changes);
    }
    this.runWaiters();
  }

  private runWaiters(): void {
    if (!this.waiters.size) return;
    for (const w of [...this.waiters]) w.check();
  }

  /** A listener that throws must not break the dispatcher; it surfaces as an uncaught exception, as in any emitter. */
  private emitSafe(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (e) {
      queueMicrotask(() => {
        throw e;
      });
    }
  }
}

function diffReplicas(before: Replica, after: Replica): RowChange[] {
  const changes: RowChange[] = [];
  for (const [name, tc] of after.tables) {
    const old = before.tables.get(name)?.rows ?? new Map<string, Row>();
    for (const [uuid, row] of tc.rows) {
      const o = old.get(uuid);
      if (!o) changes.push({ table: name, uuid, new: row });
      else if (!rowEquals(o, row)) changes.push({ table: name, uuid, old: o, new: row });
    }
    for (const [uuid, o] of old) if (!tc.rows.has(uuid)) changes.push({ table: name, uuid, old: o });
  }
  return changes;
}
