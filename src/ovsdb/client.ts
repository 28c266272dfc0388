// OvsdbClient: one long-lived OVSDB session that survives the server going away. It owns the
// session set-up that every (re)connect repeats: the _Server check for clustered
// databases, db-change awareness, locks, and every monitor — so callers see one client whose
// caches stay right across reconnects.

import { EventEmitter } from 'node:events';
import { EcdockError, OvsdbError } from '../errors';
import { Connection, hasNul, type RequestOptions } from './connection';
import { DEFAULT_MAX_MESSAGE_BYTES } from './framer';
import { jsonForMessage, stringifyJson } from './json';
import { Monitor, normalizeMonitorTables, type MonitorHost, type MonitorTables } from './monitor';
import type { Condition, Operation, OperationResult } from './operations';
import { OvsdbTransactionError, checkTransactResult, errorTag } from './results';
import { checkSchema, type DatabaseSchema, type SchemaReport } from './schema';
import { OVSDB_URL_ENV } from '../defaults';
import { DEFAULT_URL, formatRemote, loadTls, openSocket, parseRemotes, type LoadedTls, type Remote, type TlsOptions } from './transport';
import type { Row } from './datum';

export interface ReconnectOptions {
  /** First retry delay after an unhealthy connection (default 250 ms). */
  minMs?: number;
  /** Largest retry delay (default 8000 ms). */
  maxMs?: number;
}

export interface ConnectOptions {
  tls?: TlsOptions;
  /** Connect timeout and default per-request timeout (default 10000 ms; 0 = no request timeout). */
  timeoutMs?: number;
  /** Reconnect after losing the session (default true). */
  reconnect?: boolean | ReconnectOptions;
  /** With a clustered database, use only the raft leader (found through _Server). */
  leaderOnly?: boolean;
  /** Send an echo after this much silence and drop the session if it stays unanswered as long
   *  again. Default 5000 ms on tcp/ssl, 0 (off) on unix sockets. */
  probeIntervalMs?: number;
  /** Largest message accepted (default 64 MiB). */
  maxMessageBytes?: number;
  /**
   * Compare the server's schema of `db` with `expected` at connect (see schemaReport()). Fails
   * with OVSDB_SCHEMA_MISMATCH only if a table or column listed in `require` is missing.
   */
  schemaCheck?: { db: string; expected: DatabaseSchema; require?: Record<string, readonly string[]> };
}

export interface TransactOptions {
  timeoutMs?: number;
  /** Aborting sends `cancel` and rejects with OVSDB_CANCELED (the transaction may have committed). */
  signal?: AbortSignal;
}

interface Waiting {
  go(conn: Connection): void;
  fail(e: OvsdbError): void;
}

/** A _Server.Database row, as far as the client cares. */
interface ServerDb {
  name: string;
  model: string;
  connected: boolean;
  leader: boolean;
  index?: number;
}

const SERVER_MONITOR_ID = 'ecdock-_Server';

class NotUsable extends OvsdbError {}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class OvsdbClient extends EventEmitter {
  readonly url: string;
  readonly remotes: readonly Remote[];
  private readonly timeoutMs: number;
  private readonly reconnect: { minMs: number; maxMs: number } | undefined;
  private readonly leaderOnly: boolean;
  private readonly probeIntervalMs: number | undefined;
  private readonly maxMessageBytes: number;
  private readonly tlsOptions: TlsOptions | undefined;
  private readonly schemaCheckOpt: ConnectOptions['schemaCheck'];
  private tls: LoadedTls | undefined;

  private conn: Connection | undefined;
  private ready = false;
  private closedFlag = false;
  private closedByUser = false;
  private everConnected = false;
  private reconnecting = false;
  private wakeReconnect: (() => void) | undefined;
  private connectedAt = 0;
  private backoffAttempt = 0;
  private remoteIndex = 0;
  private lastError: EcdockError | undefined;
  /** Set when we drop a session on purpose (leader moved): reconnect at once. */
  private deliberate = false;
  private readonly waiting = new Set<Waiting>();
  private schemas = new Map<string, Promise<DatabaseSchema>>();
  private readonly monitors = new Map<string, Monitor<object>>();
  private nextMonitorId = 1;
  private readonly locks = new Map<string, 'held' | 'waiting'>();
  private dbChangeAware = false;
  private readonly serverDbs = new Map<string, ServerDb>();
  private readonly maxIndex = new Map<string, number>();
  private readonly reports = new Map<string, SchemaReport>();

  private constructor(url: string, o: ConnectOptions) {
    super();
    this.url = url;
    this.remotes = parseRemotes(url);
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.reconnect =
      o.reconnect === false ? undefined : { minMs: 250, maxMs: 8000, ...(typeof o.reconnect === 'object' ? o.reconnect : {}) };
    this.leaderOnly = !!o.leaderOnly;
    this.probeIntervalMs = o.probeIntervalMs;
    this.maxMessageBytes = o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.tlsOptions = o.tls;
    this.schemaCheckOpt = o.schemaCheck;
  }

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

  get connected(): boolean {
    return this.ready && !!this.conn && !this.conn.closed;
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

  // ---------------------------------------------------------------- plumbing

  private readonly monitorHost: MonitorHost = ((client: OvsdbClient): MonitorHost => ({
    get closed() {
      return client.closedFlag;
    },
    get connected() {
      return client.connected;
    },
    call: (method, params, o) => client.call(method, params, o ?? {}),
    forget: (mon) => {
      client.monitors.delete(mon.id);
    },
  }))(this);

  private async lockCall(method: 'lock' | 'steal', name: string): Promise<boolean> {
    if (method === 'lock' && this.locks.has(name)) {
      throw new OvsdbError('OVSDB_ERROR', `lock ${JSON.stringify(name)} was already requested by this client; unlock it first`);
    }
    const locked = await this.call<boolean>(method, [name], { map: lockResult });
    // A 'locked' notification may already have arrived; never downgrade.
    if (locked || this.locks.get(name) !== 'held') this.locks.set(name, locked ? 'held' : 'waiting');
    return locked;
  }

  /** Sends on the ready session, or waits (up to the timeout) for the reconnect to make one. */
  private call<T = unknown>(method: string, params: unknown[], o: RequestOptions<T>): Promise<T> {
    const conn = this.conn;
    if (conn && this.ready) return conn.request(method, params, o);
    return this.withConnection((c) => c.request(method, params, o), o.timeoutMs);
  }

  private withConnection<T>(fn: (conn: Connection) => Promise<T>, timeoutMs?: number): Promise<T> {
    if (this.conn && this.ready) return fn(this.conn);
    if (this.closedFlag) {
      const why = this.closedByUser || !this.lastError ? 'the OVSDB client was closed' : `the session with ${this.url} ended (${this.lastError.message}) and reconnect is off`;
      return Promise.reject(new OvsdbError('OVSDB_CONNECTION_LOST', why, this.lastError && !this.closedByUser ? { cause: this.lastError } : {}));
    }
    if (!this.reconnecting) {
      return Promise.reject(
        this.lastError ?? new OvsdbError('OVSDB_CONNECTION_LOST', `not connected to ${this.url} (reconnect is off)`),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const ms = timeoutMs ?? this.timeoutMs;
      let timer: NodeJS.Timeout | undefined;
      const w: Waiting = {
        go: (conn) => {
          if (timer) clearTimeout(timer);
          fn(conn).then(resolve, reject);
        },
        fail: (e) => {
          if (timer) clearTimeout(timer);
          reject(e);
        },
      };
      if (ms > 0) {
        timer = setTimeout(() => {
          this.waiting.delete(w);
          const why = this.lastError ? `: ${this.lastError.message}` : '';
          reject(new OvsdbError('OVSDB_CONNECTION_LOST', `not connected to ${this.url}; still reconnecting after ${ms} ms${why}`, { cause: this.lastError }));
        }, ms);
      }
      this.waiting.add(w);
    });
  }

  private async firstConnect(): Promise<void> {
    this.tls = await loadTls(this.tlsOptions);
    const deadline = Date.now() + (this.timeoutMs || 10_000);
    const errors: EcdockError[] = [];
    for (;;) {
      errors.length = 0;
      let transient = false;
      for (let k = 0; k < this.remotes.length; k++) {
        const i = (this.remoteIndex + k) % this.remotes.length;
        try {
          await this.establish(this.remotes[i]!, Math.max(1, deadline - Date.now()));
          this.remoteIndex = i;
          return;
        } catch (e) {
          const err = asOvsdbError(e);
          errors.push(err);
          // Cluster members without a leader, or elections in progress, settle within seconds.
          if (err instanceof NotUsable) transient = true;
          if (err.code === 'OVSDB_SCHEMA_MISMATCH' || err.code === 'BAD_TLS_FILES') {
            this.closedFlag = true;
            throw err;
          }
        }
      }
      if (!transient || Date.now() >= deadline) break;
      await sleep(Math.min(200, Math.max(0, deadline - Date.now())));
    }
    this.closedFlag = true;
    if (errors.length === 1) throw errors[0]!;
    const codes = new Set(errors.map((e) => e.code));
    throw new OvsdbError(
      codes.size === 1 ? errors[0]!.code : 'OVSDB_UNREACHABLE',
      `no usable OVSDB server among ${this.remotes.length} remotes: ${errors.map((e) => e.message).join('; ')}`,
      { detail: errors.map((e) => e.toJSON()) },
    );
  }

  /** Opens a session to one remote and brings it to the state the client had (monitors, locks, …). */
  private async establish(remote: Remote, timeoutMs: number): Promise<void> {
    const sock = await openSocket(remote, { timeoutMs, ...(this.tls ? { tls: this.tls } : {}) });
    const conn: Connection = new Connection(sock, {
      remote,
      maxMessageBytes: this.maxMessageBytes,
      requestTimeoutMs: this.timeoutMs,
      probeIntervalMs: this.probeIntervalMs ?? (remote.kind === 'unix' ? 0 : 5000),
      onNotification: (method, params) => this.onNotification(conn, method, params),
      onClose: (err) => this.onSessionClosed(conn, err),
    });
    if (this.closedFlag) {
      conn.close();
      throw new OvsdbError('OVSDB_CONNECTION_LOST', 'the OVSDB client was closed');
    }
    this.conn = conn;
    this.ready = false;
    this.schemas = new Map();
    try {
      const setupTimeout = { timeoutMs: Math.max(timeoutMs, 1000) };
      if (this.leaderOnly || this.remotes.length > 1) await this.checkServer(conn, setupTimeout.timeoutMs);
      else if (remote.kind === 'ssl') await conn.request('echo', [], setupTimeout); // the server checks our certificate only now
      if (this.schemaCheckOpt && !this.everConnected) {
        const { db, expected, require } = this.schemaCheckOpt;
        const actual = await this.getSchemaOn(conn, db, setupTimeout.timeoutMs);
        this.reports.set(db, checkSchema(expected, actual, require ?? {}));
      }
      if (this.dbChangeAware) await conn.request('set_db_change_aware', [true], setupTimeout);
      for (const [name, state] of [...this.locks]) {
        const locked = await conn.request<boolean>('lock', [name], { ...setupTimeout, map: lockResult });
        this.locks.set(name, locked ? 'held' : 'waiting');
        if (!locked && state === 'held') this.emit('stolen', name);
      }
      for (const mon of [...this.monitors.values()]) {
        // A monitor still on its first subscription is sent by its own caller once we are ready.
        if (!mon.established) continue;
        const schema = await this.getSchemaOn(conn, mon.db, setupTimeout.timeoutMs);
        try {
          await mon.subscribe(conn, schema, setupTimeout.timeoutMs);
        } catch (e) {
          const code = (e as EcdockError).code;
          if (conn.closed || (code !== 'OVSDB_ERROR' && code !== 'OVSDB_SCHEMA_MISMATCH')) throw e;
          // The monitor no longer fits this server (table gone): end it, keep the session.
          this.monitors.delete(mon.id);
          mon.end(asOvsdbError(e));
          if (mon.listenerCount('error')) mon.emit('error', e);
        }
      }
    } catch (e) {
      const err: EcdockError = conn.error ?? asOvsdbError(e);
      if (this.conn === conn) this.conn = undefined;
      conn.close(err);
      throw err;
    }
    if (conn.closed) {
      if (this.conn === conn) this.conn = undefined;
      throw conn.error!;
    }
    this.ready = true;
    this.connectedAt = Date.now();
    const again = this.everConnected;
    this.everConnected = true;
    this.lastError = undefined;
    for (const w of [...this.waiting]) {
      this.waiting.delete(w);
      w.go(conn);
    }
    this.emit('connect', formatRemote(remote));
    if (again) this.emit('reconnect', formatRemote(remote));
  }

  private getSchemaOn(conn: Connection, db: string, timeoutMs: number): Promise<DatabaseSchema> {
    let p = this.schemas.get(db);
    if (!p) {
      p = conn.request<DatabaseSchema>('get_schema', [db], { timeoutMs });
      this.schemas.set(db, p);
      const schemas = this.schemas;
      p.catch(() => schemas.get(db) === p && schemas.delete(db));
    }
    return p;
  }

  /**
   * Looks at _Server.Database (and keeps watching it): a clustered database must be connected to
   * its cluster, must be the leader when leaderOnly, and must not be behind a server seen before.
   */
  private async checkServer(conn: Connection, timeoutMs: number): Promise<void> {
    this.serverDbs.clear();
    try {
      await conn.request(
        'monitor_cond',
        ['_Server', SERVER_MONITOR_ID, { Database: [{ columns: ['name', 'model', 'connected', 'leader', 'index'] }] }],
        { timeoutMs, map: (r) => this.applyServerUpdate(r) },
      );
    } catch (e) {
      const tag = errorTag(e);
      // Servers before OVS 2.9 have no _Server database: nothing to check.
      if (tag === 'unknown database' || tag === 'unknown method') return;
      throw e;
    }
    const why = this.serverUnusable();
    if (why) throw new NotUsable('OVSDB_UNREACHABLE', `${formatRemote(conn.remote)} is not usable: ${why}`);
  }

  private applyServerUpdate(updates: unknown): void {
    if (!updates || typeof updates !== 'object') return;
    const rows = (updates as Record<string, unknown>).Database as Record<string, Record<string, unknown>> | undefined;
    if (!rows) return;
    for (const [uuid, u] of Object.entries(rows)) {
      if ('delete' in u) {
        this.serverDbs.delete(uuid);
        continue;
      }
      const body = (u.initial ?? u.insert ?? u.modify ?? u.new) as Record<string, unknown> | undefined;
      if (!body) continue;
      const prev = this.serverDbs.get(uuid);
      const pick = <V>(k: string, d: V): V => (k in body ? (bare(body[k]) as V) : prev ? (prev[k as keyof ServerDb] as V) : d);
      this.serverDbs.set(uuid, {
        name: pick('name', ''),
        model: pick('model', 'standalone'),
        connected: pick('connected', false),
        leader: pick('leader', false),
        ...(pick<number | undefined>('index', undefined) !== undefined ? { index: pick<number>('index', 0) } : {}),
      });
    }
  }

  private serverUnusable(): string | undefined {
    for (const d of this.serverDbs.values()) {
      if (d.model === 'clustered') {
        if (!d.connected) return `its ${d.name} database is not connected to a cluster majority`;
        if (this.leaderOnly && !d.leader) return `it is not the raft leader of ${d.name}`;
        const seen = this.maxIndex.get(d.name);
        if (d.index !== undefined) {
          if (seen !== undefined && d.index < seen) return `its copy of ${d.name} is behind one seen earlier (index ${d.index} < ${seen})`;
          this.maxIndex.set(d.name, d.index);
        }
      } else if (d.model === 'relay' && this.leaderOnly) return `it is a relay for ${d.name}, not a leader`;
    }
    return undefined;
  }

  private onNotification(conn: Connection, method: string, params: unknown[]): void {
    if (conn !== this.conn) return;
    switch (method) {
      case 'update':
      case 'update2':
      case 'update3': {
        const id = params[0];
        if (id === SERVER_MONITOR_ID) {
          this.applyServerUpdate(method === 'update3' ? params[2] : params[1]);
          const why = this.serverUnusable();
          if (why) {
            // Leadership moved or the cluster split: find a better server right away.
            this.deliberate = true;
            conn.close(new OvsdbError('OVSDB_CONNECTION_LOST', `leaving ${formatRemote(conn.remote)}: ${why}`));
          }
          return;
        }
        const mon = typeof id === 'string' ? this.monitors.get(id) : undefined;
        if (!mon) return;
        // A cache that cannot follow an update is wrong from here on; a new session rebuilds it.
        mon.handleNotification(method, params);
        return;
      }
      case 'locked': {
        const name = String(params[0]);
        if (this.locks.has(name)) this.locks.set(name, 'held');
        this.emit('locked', name);
        return;
      }
      case 'stolen': {
        const name = String(params[0]);
        if (this.locks.has(name)) this.locks.set(name, 'waiting');
        this.emit('stolen', name);
        return;
      }
      case 'monitor_canceled':
        // The database was converted or removed: a new session re-reads schemas and resubscribes.
        this.deliberate = true;
        conn.close(new OvsdbError('OVSDB_CONNECTION_LOST', `ovsdb-server canceled monitor ${jsonForMessage(params[0])} (database converted or removed); resubscribing`));
        return;
      default:
        return;
    }
  }

  private onSessionClosed(conn: Connection, err: OvsdbError): void {
    if (conn !== this.conn) return;
    const wasReady = this.ready;
    this.conn = undefined;
    this.ready = false;
    if (this.closedFlag || !wasReady) return;
    this.lastError = err;
    if (this.reconnect) {
      // A session that stayed up a while earns an immediate retry; a flapping one backs off.
      const lived = Date.now() - this.connectedAt;
      if (this.deliberate || lived >= Math.max(1000, this.nominalDelay(this.backoffAttempt))) this.backoffAttempt = 0;
      else this.backoffAttempt++;
    }
    this.deliberate = false;
    for (const [name, state] of this.locks) if (state === 'held') this.locks.set(name, 'waiting');
    this.emit('disconnect', err);
    if (this.reconnect) {
      this.remoteIndex = (this.remoteIndex + 1) % this.remotes.length;
      void this.reconnectLoop();
    } else {
      this.closedFlag = true;
      for (const w of [...this.waiting]) w.fail(err);
      this.waiting.clear();
      for (const m of this.monitors.values()) m.end(err);
    }
  }

  private nominalDelay(attempt: number): number {
    const r = this.reconnect!;
    return attempt <= 0 ? 0 : Math.min(r.maxMs, r.minMs * 2 ** (attempt - 1));
  }

  private backoffDelay(attempt: number): number {
    const base = this.nominalDelay(attempt);
    // Jitter spreads the reconnects of many clients after a server restart.
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  private async reconnectLoop(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      while (!this.closedFlag) {
        const delay = this.backoffDelay(this.backoffAttempt);
        if (delay > 0) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, delay);
            this.wakeReconnect = () => {
              clearTimeout(t);
              resolve();
            };
          });
          this.wakeReconnect = undefined;
        }
        if (this.closedFlag) return;
        // Every remote once per round (free tries, as OVS's reconnect FSM gives a cluster).
        for (let k = 0; k < this.remotes.length && !this.closedFlag; k++) {
          const i = (this.remoteIndex + k) % this.remotes.length;
          try {
            await this.establish(this.remotes[i]!, Math.max(1000, Math.min(this.timeoutMs || 10_000, this.reconnect!.maxMs)));
            this.remoteIndex = i;
            if (this.closedFlag) this.conn?.close();
            return;
          } catch (e) {
            this.lastError = asOvsdbError(e);
          }
        }
        this.backoffAttempt++;
      }
    } finally {
      this.reconnecting = false;
      this.wakeReconnect = undefined;
    }
  }
}

function protocol(what: string, detail: unknown): OvsdbError {
  return new OvsdbError('OVSDB_PROTOCOL', `OVSDB protocol error: ${what}`, { detail });
}

function lockResult(r: unknown): boolean {
  if (!r || typeof r !== 'object' || typeof (r as { locked?: unknown }).locked !== 'boolean') throw protocol('lock result has no "locked"', r);
  return (r as { locked: boolean }).locked;
}

function asOvsdbError(e: unknown): EcdockError {
  if (e instanceof EcdockError) return e;
  return new OvsdbError('INTERNAL', `unexpected failure: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/** _Server columns are scalars, optional ones arrive as ["set",[]] when empty. */
function bare(v: unknown): unknown {
  if (Array.isArray(v) && v[0] === 'set') return (v[1] as unknown[])[0];
  return v;
}

/**
 * A transaction the connection refused to send for a NUL character, as the failure of the
 * operation that holds it: the batcher then fails that submitter alone.
 */
function unsendable(e: unknown, operations: Operation[]): unknown {
  const why = e instanceof EcdockError ? (e.detail as { unsendable?: string } | undefined)?.unsendable : undefined;
  // A value JSON cannot carry stays the caller's UsageError (the batcher checks each submission first).
  if (why !== 'nul') return e;
  const opIndex = operations.findIndex((op) => {
    try {
      return hasNul(stringifyJson(op));
    } catch {
      return true;
    }
  });
  if (opIndex < 0) return e;
  const op = operations[opIndex]!;
  const what = 'table' in op ? `${op.op} ${op.table}` : op.op;
  const details = why === 'nul' ? 'a string contains a NUL character, which ovsdb-server does not accept' : (e as Error).message;
  return new OvsdbTransactionError(
    { opIndex, tag: 'syntax error', details, results: [], op },
    `OVSDB transaction not sent: operation ${opIndex} (${what}): ${details}`,
  );
}
