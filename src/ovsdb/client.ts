// OvsdbClient: one long-lived OVSDB session that survives the server going away. This file holds
// the public methods (the OVSDB RPCs, monitors, locks); OvsdbSession underneath owns the session
// set-up that every (re)connect repeats — the _Server check for clustered databases, db-change
// awareness, locks, and every monitor — so callers see one client whose caches stay right across
// reconnects.

import { OvsdbError } from '../errors';
import { Monitor } from './monitor';
import { normalizeMonitorTables, type MonitorTables } from './monitor-tables';
import type { Condition, Operation, OperationResult } from './operations';
import { checkTransactResult } from './results';
import type { DatabaseSchema, SchemaReport } from './schema';
import { OVSDB_URL_ENV } from '../defaults';
import { DEFAULT_URL, formatRemote } from './transport';
import type { Row } from './datum';
import { lockResult, protocol, unsendable } from './client-errors';
import type { ConnectOptions, TransactOptions } from './client-options';
import { OvsdbSession } from './session';

export type { ConnectOptions, ReconnectOptions, TransactOptions } from './client-options';

/**
 * A JSON-RPC client of an OVSDB server (RFC 7047, with OVS's extensions): transactions, monitors
 * kept as local replicas, locks, and reconnection with backoff (monitors and locks come back with
 * it). For a clustered database give every server, comma-separated: it finds the leader.
 *
 * @example
 * ```ts
 * const ovs = await OvsdbClient.connect('unix:/var/run/openvswitch/db.sock');
 * const [r] = await ovs.transact('Open_vSwitch', [op.select('Bridge', [], ['name'])]);
 * console.log(r);   // { rows: [{ name: 'ovs0' }, ...] }
 * ovs.close();
 * ```
 */
export class OvsdbClient extends OvsdbSession {
  /**
   * Connects to the first usable remote (url default: $ECDOCK_DB, else the system socket).
   * Rejects with OVSDB_UNREACHABLE, PERMISSION_DENIED, TLS_FAILED, BAD_URL, BAD_TLS_FILES,
   * OVSDB_TIMEOUT or OVSDB_SCHEMA_MISMATCH.
   */
  static async connect(url?: string, opts: ConnectOptions = {}): Promise<OvsdbClient> {
    const client = new OvsdbClient(url ?? process.env[OVSDB_URL_ENV] ?? DEFAULT_URL, opts);
    await client.firstConnect();
    return client;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** The remote of the current session. */
  get remote(): string | undefined {
    return this.conn ? formatRemote(this.conn.remote) : undefined;
  }

  /** What schemaCheck found at the last connect, per database. */
  schemaReport(db: string): SchemaReport | undefined {
    return this.reports.get(db);
  }

  // ---------------------------------------------------------------- RPC methods

  /** The names of the databases the server holds (`list_dbs`). */
  listDbs(): Promise<string[]> {
    return this.call('list_dbs', [], {
      map: (r) => {
        if (!Array.isArray(r) || r.some((x) => typeof x !== 'string')) throw protocol('list_dbs result is not a list of names', r);
        return r as string[];
      },
    });
  }

  /** The database's schema; fetched once per session. */
  getSchema(db: string): Promise<DatabaseSchema> {
    let p = this.schemas.get(db);
    if (!p) {
      p = this.call<DatabaseSchema>('get_schema', [db], {
        map: (r) => {
          if (!r || typeof r !== 'object' || typeof (r as DatabaseSchema).tables !== 'object') throw protocol('get_schema result is not a schema', r);
          return r as DatabaseSchema;
        },
      });
      const schemas = this.schemas;
      schemas.set(db, p);
      p.catch(() => schemas.get(db) === p && schemas.delete(db));
    }
    return p;
  }

  /**
   * Runs one transaction. Resolves with one result per operation; rejects with
   * OvsdbTransactionError (OVSDB_TXN_FAILED) when an operation or the commit fails.
   */
  transact(db: string, operations: Operation[], o: TransactOptions = {}): Promise<OperationResult[]> {
    return this.call('transact', [db, ...operations], {
      map: (r) => checkTransactResult(operations, r),
      cancelOnTimeout: true,
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    }).catch((e: unknown) => {
      throw unsendable(e, operations);
    });
  }

  /**
   * Subscribes to tables (table → columns, or a MonitorTableSpec) and resolves once the initial
   * rows are in the monitor's cache. Uses monitor_cond_since, falling back to monitor_cond and monitor.
   */
  async monitor<T extends object = Record<string, Row>>(
    db: string,
    tables: MonitorTables,
    opts: { where?: Record<string, Condition[]> } = {},
  ): Promise<Monitor<T>> {
    const schema = await this.getSchema(db);
    const specs = normalizeMonitorTables(schema, tables, opts.where);
    const mon = new Monitor<T>(this.monitorHost, `m${this.nextMonitorId++}`, db, schema, specs);
    this.monitors.set(mon.id, mon as unknown as Monitor<object>);
    try {
      await this.withConnection(async (conn) => mon.subscribe(conn, await this.getSchema(db), this.timeoutMs || undefined));
    } catch (e) {
      this.monitors.delete(mon.id);
      mon.end(e as OvsdbError);
      throw e;
    }
    return mon;
  }

  /** Sends `echo` and resolves with what the server sent back: a liveness check. */
  echo(...args: unknown[]): Promise<unknown[]> {
    return this.call('echo', args, {
      map: (r) => {
        if (!Array.isArray(r)) throw protocol('echo result is not an array', r);
        return r as unknown[];
      },
    });
  }

  /** A UUID that changes whenever the server process restarts. */
  getServerId(): Promise<string> {
    return this.call('get_server_id', [], {
      map: (r) => {
        if (typeof r !== 'string') throw protocol('get_server_id result is not a string', r);
        return r;
      },
    });
  }

  /** With awareness on, database conversions cancel monitors instead of dropping the session; kept across reconnects. */
  async setDbChangeAware(v = true): Promise<void> {
    await this.call('set_db_change_aware', [v], {});
    this.dbChangeAware = v;
  }

  /** Asks for a lock; true if granted now. Otherwise 'locked' fires when it is. Re-requested after reconnects. */
  async lock(name: string): Promise<boolean> {
    return this.lockCall('lock', name);
  }

  /** Takes a lock from whoever holds it (they get 'stolen'). */
  async steal(name: string): Promise<boolean> {
    return this.lockCall('steal', name);
  }

  /** Releases a lock this client holds or waits for (LOCK_NOT_HELD otherwise). */
  async unlock(name: string): Promise<void> {
    if (!this.locks.has(name)) throw new OvsdbError('LOCK_NOT_HELD', `cannot unlock ${JSON.stringify(name)}: this client neither holds nor waits for it`);
    this.locks.delete(name);
    try {
      await this.call('unlock', [name], {});
    } catch (e) {
      if ((e as OvsdbError).code === 'OVSDB_CONNECTION_LOST') return; // the server released it with the session
      throw e;
    }
  }

  /** Whether this client holds the lock now. */
  holdsLock(name: string): boolean {
    return this.locks.get(name) === 'held';
  }

  /** Sends any other method (e.g. monitor_cond_change, convert); resolves with the raw result. */
  request(method: string, params: unknown[], o: { timeoutMs?: number } = {}): Promise<unknown> {
    return this.call(method, params, o);
  }

  /** Closes the session for good: pending and waiting requests reject with OVSDB_CONNECTION_LOST. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.closedByUser = true;
    const err = new OvsdbError('OVSDB_CONNECTION_LOST', 'the OVSDB client was closed');
    this.wakeReconnect?.();
    for (const w of [...this.waiting]) w.fail(err);
    this.waiting.clear();
    for (const m of this.monitors.values()) m.end(err);
    this.monitors.clear();
    const conn = this.conn;
    this.conn = undefined;
    this.ready = false;
    conn?.close(err);
    this.emit('close');
  }


  private async lockCall(method: 'lock' | 'steal', name: string): Promise<boolean> {
    if (method === 'lock' && this.locks.has(name)) {
      throw new OvsdbError('OVSDB_ERROR', `lock ${JSON.stringify(name)} was already requested by this client; unlock it first`);
    }
    const locked = await this.call<boolean>(method, [name], { map: lockResult });
    // A 'locked' notification may already have arrived; never downgrade.
    if (locked || this.locks.get(name) !== 'held') this.locks.set(name, locked ? 'held' : 'waiting');
    return locked;
  }
}
