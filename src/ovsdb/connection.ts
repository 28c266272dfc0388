// One JSON-RPC session over one socket: request ids and the replies that settle them, per-request
// timeouts, answers to the server's echo probes, our own inactivity probe, and a single place
// where the session ends and every pending request is rejected. Reconnecting is the client's job.
//
// Every inbound message is dispatched synchronously, in arrival order, and a request may carry a
// `map` that runs inside the dispatcher before later messages are looked at. The monitor cache
// depends on that: a monitor reply and the update that follows it can sit in one chunk, and the
// reply's initial rows must be in the cache before that update is applied.

import type { Duplex } from 'node:stream';
import { OvsdbError, UsageError, type EcdockError } from '../errors';
import { JsonFramer } from './framer';
import { jsonForMessage, parseJson } from './json';
import { classify, encode, encodeRequest, failure, notification, success } from './jsonrpc';
import { rpcError } from './results';
import { formatRemote, socketError, type Remote } from './transport';

export interface ConnectionOptions {
  remote: Remote;
  maxMessageBytes: number;
  /** Default per-request timeout; 0 = none. */
  requestTimeoutMs: number;
  /** Send an echo after this much receive silence, and give up after as much again; 0 = never. */
  probeIntervalMs: number;
  onNotification(method: string, params: unknown[]): void;
  onClose(err: OvsdbError): void;
}

export interface RequestOptions<T> {
  timeoutMs?: number;
  /** Runs synchronously in the dispatcher on the result; its return value resolves the request. */
  map?: (result: unknown) => T;
  /** Aborting rejects with OVSDB_CANCELED and sends a `cancel` for the request. */
  signal?: AbortSignal;
  /** Send `cancel` when the request times out (transact: frees the server-side trigger). */
  cancelOnTimeout?: boolean;
}

interface Pending {
  method: string;
  resolve(v: unknown): void;
  reject(e: Error): void;
  map: ((r: unknown) => unknown) | undefined;
  /** Date.now() after which the request times out; 0 = never. */
  deadline: number;
  timeoutMs: number;
  cancelOnTimeout: boolean;
  cleanup: (() => void) | undefined;
}

const MAX_ABANDONED = 4096;

/** A JSON `\u0000` escape preceded by an even number of backslashes (else it is literal text). */
const NUL_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u0000/;

/** Whether JSON text carries a NUL character inside a string. */
export function hasNul(text: string): boolean {
  return text.includes('\\u0000') && NUL_ESCAPE.test(text);
}

export class Connection {
  readonly remote: Remote;
  /** Feature flags learned on this session (e.g. which monitor methods the server knows). */
  readonly caps: { monitorCondSince?: boolean; monitorCond?: boolean } = {};
  private readonly socket: Duplex;
  private readonly opts: ConnectionOptions;
  private readonly framer: JsonFramer;
  private readonly pending = new Map<number, Pending>();
  /** Ids we stopped waiting for (timed out, canceled): their late replies are dropped quietly. */
  private readonly abandoned = new Set<number>();
  private nextId = 1;
  private closeError: OvsdbError | undefined;
  private socketError: NodeJS.ErrnoException | undefined;
  private corked = false;
  private tickWrites = 0;
  private bytesIn = 0;
  private lastRx = Date.now();
  private probeOutstanding = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepAt = Infinity;

  constructor(socket: Duplex, opts: ConnectionOptions) {
    this.socket = socket;
    this.opts = opts;
    this.remote = opts.remote;
    this.framer = new JsonFramer((text) => this.onText(text), { maxMessageBytes: opts.maxMessageBytes });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      this.socketError ??= e;
    });
    socket.on('close', () => this.close(this.lostError()));
    if (opts.probeIntervalMs > 0) this.armProbe(opts.probeIntervalMs);
  }

  get closed(): boolean {
    return this.closeError !== undefined;
  }

  /** Why the session ended (undefined while open). */
  get error(): OvsdbError | undefined {
    return this.closeError;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  get label(): string {
    return formatRemote(this.remote);
  }

  request<T = unknown>(method: string, params: unknown[], o: RequestOptions<T> = {}): Promise<T> {
    if (this.closeError) return Promise.reject(this.closeError);
    if (o.signal?.aborted) return Promise.reject(this.canceledError(method));
    const id = this.nextId++;
    let text: string;
    try {
      text = encodeRequest(id, method, params);
    } catch (e) {
      const detail = { ...((e as EcdockError).detail as object | undefined), unsendable: 'json' };
      return Promise.reject(new UsageError('BAD_ARGUMENT', `OVSDB ${method} not sent: ${(e as Error).message}`, { cause: e, detail }));
    }
    // ovsdb-server drops the whole session when a string holds a NUL character, failing every
    // other request on it: refuse this one alone, before it is sent.
    if (hasNul(text)) {
      return Promise.reject(
        new OvsdbError('BAD_ARGUMENT', `OVSDB ${method} not sent: a string in it contains a NUL character, which ovsdb-server does not accept`, { detail: { unsendable: 'nul' } }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = o.timeoutMs ?? this.opts.requestTimeoutMs;
      const p: Pending = {
        method,
        resolve: resolve as (v: unknown) => void,
        reject,
        map: o.map,
        deadline: timeoutMs > 0 ? Date.now() + timeoutMs : 0,
        timeoutMs,
        cancelOnTimeout: o.cancelOnTimeout === true,
        cleanup: undefined,
      };
      if (p.deadline && p.deadline < this.sweepAt) this.armSweep(p.deadline);
      if (o.signal) {
        const signal = o.signal;
        const onAbort = () => {
          if (!this.pending.has(id)) return;
          this.abandon(id, p, true);
          reject(this.canceledError(method));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        p.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.pending.set(id, p);
      this.write(text);
    });
  }

  /** Sends a notification (no reply expected). */
  notify(method: string, params: unknown[]): void {
    if (!this.closeError) this.write(encode(notification(method, params)));
  }

  /** Ends the session; pending requests are rejected with `err`. Idempotent. */
  close(err?: OvsdbError): void {
    if (this.closeError) return;
    const e = err ?? new OvsdbError('OVSDB_CONNECTION_LOST', `connection to ${this.label} closed`);
    this.closeError = e;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.socket.destroy();
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.abandoned.clear();
    for (const p of pending) {
      p.cleanup?.();
      p.reject(e);
    }
    this.opts.onClose(e);
  }

  private canceledError(method: string): OvsdbError {
    return new OvsdbError('OVSDB_CANCELED', `OVSDB ${method} was canceled; if it was a transaction, it may or may not have committed`);
  }

  /**
   * One timer per session, armed for the earliest deadline, rather than one per request: a
   * timer per request costs more CPU than the rest of the client's request path together.
   */
  private armSweep(at: number): void {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepAt = at;
    const t = setTimeout(() => {
      if (this.sweepTimer !== t) return;
      this.sweepTimer = undefined;
      this.sweepAt = Infinity;
      // Through setImmediate: replies that arrived during a stall of our event loop are read first.
      setImmediate(this.sweep);
    }, Math.max(0, at - Date.now()));
    this.sweepTimer = t;
  }

  private readonly sweep = (): void => {
    if (this.closeError) return;
    const now = Date.now();
    let next = Infinity;
    for (const [id, p] of this.pending) {
      if (!p.deadline) continue;
      if (p.deadline <= now) {
        this.abandon(id, p, p.cancelOnTimeout);
        p.reject(new OvsdbError('OVSDB_TIMEOUT', `OVSDB ${p.method} got no reply from ${this.label} within ${p.timeoutMs} ms`, { detail: { method: p.method, id, timeoutMs: p.timeoutMs } }));
      } else if (p.deadline < next) next = p.deadline;
    }
    if (next < this.sweepAt) this.armSweep(next);
  };

  private abandon(id: number, p: Pending, sendCancel: boolean): void {
    this.pending.delete(id);
    p.cleanup?.();
    if (this.abandoned.size >= MAX_ABANDONED) this.abandoned.clear();
    this.abandoned.add(id);
    // The server answers a cancel only when db-change-aware; the caller is released either way.
    if (sendCancel) this.notify('cancel', [id]);
  }

  private write(text: string): void {
    // A lone request goes out at once (lowest latency). When more follow in the same tick
    // (pipelining), they are corked and leave together in one writev, not one syscall each.
    if (this.tickWrites++ === 0) {
      process.nextTick(this.endTick);
    } else if (!this.corked) {
      const s = this.socket as Duplex & { cork?: () => void };
      if (s.cork) {
        this.corked = true;
        s.cork();
      }
    }
    this.socket.write(text);
  }

  private readonly endTick = (): void => {
    this.tickWrites = 0;
    if (this.corked) {
      this.corked = false;
      (this.socket as Duplex & { uncork?: () => void }).uncork?.();
    }
  };

  private lostError(): OvsdbError {
    const n = this.pending.size;
    const pendingNote = n ? ` with ${n} request${n === 1 ? '' : 's'} pending` : '';
    if (this.socketError) {
      const e = socketError(this.remote, this.socketError, 'session', this.bytesIn === 0);
      if (e.code === 'OVSDB_CONNECTION_LOST') {
        return new OvsdbError('OVSDB_CONNECTION_LOST', `${e.message}${pendingNote}`, { cause: this.socketError, detail: e.detail });
      }
      return e;
    }
    if (this.remote.kind === 'ssl' && this.bytesIn === 0) {
      return new OvsdbError('TLS_FAILED', `${this.label} closed the TLS session before answering; it probably rejected our certificate`, {
        detail: { remote: this.label },
      });
    }
    const mid = this.framer.bufferedBytes ? ` in the middle of a message (${this.framer.bufferedBytes} bytes received)` : '';
    return new OvsdbError('OVSDB_CONNECTION_LOST', `ovsdb-server at ${this.label} closed the connection${mid}${pendingNote}`, {
      detail: { remote: this.label, pending: n },
    });
  }

  private onData(chunk: Buffer): void {
    if (this.closeError) return;
    this.bytesIn += chunk.length;
    this.lastRx = Date.now();
    this.probeOutstanding = false;
    try {
      this.framer.push(chunk);
    } catch (e) {
      this.close(e instanceof OvsdbError ? e : new OvsdbError('INTERNAL', `OVSDB dispatcher failed: ${(e as Error).message}`, { cause: e }));
    }
  }

  private onText(text: string): void {
    if (this.closeError) return;
    let value: unknown;
    try {
      value = parseJson(text);
    } catch (e) {
      throw new OvsdbError('OVSDB_PROTOCOL', `OVSDB protocol error: invalid JSON from ${this.label}: ${(e as Error).message}`, {
        detail: { text: text.slice(0, 200) },
      });
    }
    const m = classify(value);
    switch (m.type) {
      case 'success':
      case 'error': {
        const id = m.message.id;
        const p = typeof id === 'number' ? this.pending.get(id) : undefined;
        if (!p) {
          if (typeof id === 'number' && this.abandoned.delete(id)) return;
          // A reply to nothing we asked: the peer is confused; OVS drops such sessions too.
          throw new OvsdbError('OVSDB_PROTOCOL', `OVSDB protocol error: reply to unknown request id ${jsonForMessage(id)}`, { detail: value });
        }
        this.pending.delete(id as number);
        p.cleanup?.();
        if (m.type === 'error') {
          p.reject(rpcError(p.method, m.error));
          return;
        }
        let out: unknown = m.message.result;
        if (p.map) {
          try {
            out = p.map(out);
          } catch (e) {
            p.reject(e as Error);
            return;
          }
        }
        p.resolve(out);
        return;
      }
      case 'request': {
        const r = m.message;
        // Answer probes at once, even in the middle of a burst of updates.
        if (r.method !== 'echo') this.write(encode(failure(r.id, 'unknown method')));
        else {
          // Echo what was sent; params we could not send back (a subnormal real, which the codec
          // refuses on the way out) get an error reply instead of failing the session.
          let reply: string;
          try {
            reply = encode(success(r.id, r.params ?? []));
          } catch {
            reply = encode(failure(r.id, 'echo parameters cannot be sent back'));
          }
          this.write(reply);
        }
        return;
      }
      case 'notification':
        this.opts.onNotification(m.message.method, (m.message.params ?? []) as unknown[]);
        return;
    }
  }

  private armProbe(interval: number): void {
    const check = () => {
      if (this.closeError) return;
      const idle = Date.now() - this.lastRx;
      if (idle >= interval) {
        if (this.probeOutstanding) {
          // Timers run before the poll phase: after a long stall of our own event loop the answer
          // may be sitting unread in the socket. Look once more after I/O has been polled.
          setImmediate(() => {
            if (this.closeError) return;
            if (this.probeOutstanding && Date.now() - this.lastRx >= interval) {
              this.close(
                new OvsdbError('OVSDB_TIMEOUT', `${this.label} did not answer an inactivity probe within ${interval} ms; dropping the connection`, {
                  detail: { remote: this.label, probeIntervalMs: interval },
                }),
              );
            } else {
              this.probeTimer = setTimeout(check, interval);
              this.probeTimer.unref();
            }
          });
          return;
        }
        this.probeOutstanding = true;
        this.request('echo', ['ecdock-probe'], { timeoutMs: 0 }).catch(() => undefined);
        this.probeTimer = setTimeout(check, interval);
      } else {
        this.probeTimer = setTimeout(check, interval - idle);
      }
      this.probeTimer.unref();
    };
    this.probeTimer = setTimeout(check, interval);
    this.probeTimer.unref();
  }
}
