// OvsdbSession: the connection lifecycle under OvsdbClient. Every (re)connect repeats the same
// set-up — the _Server check for clustered databases, db-change awareness, locks, and every
// monitor — so the client's caches stay right across reconnects; requests made while the
// session is down wait here for the reconnect (or their timeout). The public RPC methods live on
// OvsdbClient, which extends this class.

import { EventEmitter } from 'node:events';
import { EcdockError, OvsdbError } from '../errors';
import { Connection, type RequestOptions } from './connection';
import { DEFAULT_MAX_MESSAGE_BYTES } from './framer';
import { jsonForMessage } from './json';
import type { Monitor, MonitorHost } from './monitor';
import { checkSchema, type DatabaseSchema, type SchemaReport } from './schema';
import { formatRemote, loadTls, openSocket, parseRemotes, type LoadedTls, type Remote, type TlsOptions } from './transport';
import { backoffDelay, nominalDelay } from './backoff';
import { asOvsdbError, lockResult, NotUsable } from './client-errors';
import type { ConnectOptions } from './client-options';
import { SERVER_MONITOR_ID, ServerStatus } from './server-status';
import { errorTag } from './results';

interface Waiting {
  go(conn: Connection): void;
  fail(e: OvsdbError): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export abstract class OvsdbSession extends EventEmitter {
  readonly url: string;
  readonly remotes: readonly Remote[];
  protected readonly timeoutMs: number;
  private readonly reconnect: { minMs: number; maxMs: number } | undefined;
  private readonly leaderOnly: boolean;
  private readonly probeIntervalMs: number | undefined;
  private readonly maxMessageBytes: number;
  private readonly tlsOptions: TlsOptions | undefined;
  private readonly schemaCheckOpt: ConnectOptions['schemaCheck'];
  private tls: LoadedTls | undefined;

  protected conn: Connection | undefined;
  protected ready = false;
  protected closedFlag = false;
  protected closedByUser = false;
  private everConnected = false;
  private reconnecting = false;
  protected wakeReconnect: (() => void) | undefined;
  private connectedAt = 0;
  private backoffAttempt = 0;
  private remoteIndex = 0;
  private lastError: EcdockError | undefined;
  /** Set when we drop a session on purpose (leader moved): reconnect at once. */
  private deliberate = false;
  protected readonly waiting = new Set<Waiting>();
  protected schemas = new Map<string, Promise<DatabaseSchema>>();
  protected readonly monitors = new Map<string, Monitor<object>>();
  protected nextMonitorId = 1;
  protected readonly locks = new Map<string, 'held' | 'waiting'>();
  protected dbChangeAware = false;
  /** What _Server.Database says about the current server (clustered databases only). */
  private readonly server = new ServerStatus();
  protected readonly reports = new Map<string, SchemaReport>();

  protected constructor(url: string, o: ConnectOptions) {
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

  /** Whether a session is up and set up (requests go straight out). */
  get connected(): boolean {
    return this.ready && !!this.conn && !this.conn.closed;
  }

  protected readonly monitorHost: MonitorHost = ((client: OvsdbSession): MonitorHost => ({
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

  /** Sends on the ready session, or waits (up to the timeout) for the reconnect to make one. */
  protected call<T = unknown>(method: string, params: unknown[], o: RequestOptions<T>): Promise<T> {
    const conn = this.conn;
    if (conn && this.ready) return conn.request(method, params, o);
    return this.withConnection((c) => c.request(method, params, o), o.timeoutMs);
  }

  protected withConnection<T>(fn: (conn: Connection) => Promise<T>, timeoutMs?: number): Promise<T> {
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

  protected async firstConnect(): Promise<void> {
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
    this.server.clear();
    try {
      await conn.request(
        'monitor_cond',
        ['_Server', SERVER_MONITOR_ID, { Database: [{ columns: ['name', 'model', 'connected', 'leader', 'index'] }] }],
        { timeoutMs, map: (r) => this.server.apply(r) },
      );
    } catch (e) {
      const tag = errorTag(e);
      // Servers before OVS 2.9 have no _Server database: nothing to check.
      if (tag === 'unknown database' || tag === 'unknown method') return;
      throw e;
    }
    const why = this.server.unusable(this.leaderOnly);
    if (why) throw new NotUsable('OVSDB_UNREACHABLE', `${formatRemote(conn.remote)} is not usable: ${why}`);
  }

  private onNotification(conn: Connection, method: string, params: unknown[]): void {
    if (conn !== this.conn) return;
    switch (method) {
      case 'update':
      case 'update2':
      case 'update3': {
        const id = params[0];
        if (id === SERVER_MONITOR_ID) {
          this.server.apply(method === 'update3' ? params[2] : params[1]);
          const why = this.server.unusable(this.leaderOnly);
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
      if (this.deliberate || lived >= Math.max(1000, nominalDelay(this.reconnect, this.backoffAttempt))) this.backoffAttempt = 0;
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

  private async reconnectLoop(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      while (!this.closedFlag) {
        const delay = backoffDelay(this.reconnect!, this.backoffAttempt);
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
