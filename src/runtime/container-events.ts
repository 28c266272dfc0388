// A long-lived stream of container lifecycle events that outlives the connection it rides on.
// When the runtime goes away (dockerd restarts, the socket drops) it reconnects with backoff and
// asks for events `since` the last one it delivered, so nothing that happened in between is lost;
// events replayed by the overlap are recognised and dropped.
import { EventEmitter } from 'node:events';
import { isEcdockError, RuntimeError, type EcdockError } from '../errors';
import { CONTAINER_EVENT_ACTIONS, type ContainerEvent, type ContainerEventAction } from './container-runtime';
import { AsyncQueue } from '../async-queue';

/** One connection to the runtime's event endpoint. */
export interface EventConnection {
  /** Newline-delimited JSON, one event per line. */
  stream: NodeJS.ReadableStream;
  /** The server's clock when it answered (HTTP Date), a floor for `since` before any event arrived. */
  serverDate?: Date;
}

/** Opens one event connection; `since` is Docker's "seconds.nanoseconds" form. */
export type EventConnector = (since: string | undefined, signal: AbortSignal) => Promise<EventConnection>;

/** How a {@link ContainerEvents} stream reconnects after it loses dockerd. */
export interface ContainerEventsOptions {
  /** First reconnect delay (ms); doubles per failed attempt. Default 100. */
  minDelayMs?: number;
  /** Longest reconnect delay (ms). Default 5000. */
  maxDelayMs?: number;
  /** Give up after this many failed attempts in a row (then 'error' and the stream ends). Default: never. */
  maxAttempts?: number;
}

/** What a `reconnect` event says: the attempt, the delay before it, and why the last connection ended. */
export interface ReconnectInfo {
  /** Failed attempts in a row so far (1 for the first retry after a drop). */
  attempt: number;
  delayMs: number;
  /** Why the previous connection ended or failed; absent when the server just closed the stream. */
  error?: EcdockError;
  /** What will be asked for as `since` on the next attempt. */
  since?: string;
}

export interface ContainerEvents {
  /** A container event. */
  on(event: 'event', listener: (ev: ContainerEvent) => void): this;
  /** The stream gave up (maxAttempts) or failed for good; it ends. */
  on(event: 'error', listener: (err: EcdockError) => void): this;
  /** The connection dropped; another attempt follows after `info.delayMs`. */
  on(event: 'reconnect', listener: (info: ReconnectInfo) => void): this;
  /** Connected (again); events missed meanwhile are asked for with `since`. */
  on(event: 'connect', listener: () => void): this;
  /** The stream was closed. */
  on(event: 'close', listener: () => void): this;
  /** As `on('event')`, once. */
  once(event: 'event', listener: (ev: ContainerEvent) => void): this;
  /** As `on('error')`, once. */
  once(event: 'error', listener: (err: EcdockError) => void): this;
  /** As `on('reconnect')`, once. */
  once(event: 'reconnect', listener: (info: ReconnectInfo) => void): this;
  /** As `on('connect')`, once. */
  once(event: 'connect', listener: () => void): this;
  /** As `on('close')`, once. */
  once(event: 'close', listener: () => void): this;
}

const RECENT_KEYS = 512;
const MAX_UNCLAIMED = 1000;

/**
 * Container events as an EventEmitter ('event', 'error', 'reconnect', 'connect', 'close') and as an
 * async iterable. The last 1000 events that arrive before the first iterator is made are kept for it.
 * 'error' is emitted only for failures that end the stream (a refused filter, maxAttempts reached),
 * and only when someone listens for it; iterators see the failure as a rejection.
 * Breaking out of a `for await` loop closes the stream.
 */
export class ContainerEvents extends EventEmitter implements AsyncIterable<ContainerEvent> {
  private readonly connector: EventConnector;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxAttempts: number;
  private closed = false;
  private abort?: AbortController;
  private wake?: () => void;
  /** Time of the newest event delivered: the next `since`. */
  private lastTimeNano?: bigint;
  private connectedAtNano?: bigint;
  private readonly recent = new Set<string>();
  private unclaimed: ContainerEvent[] = [];
  private iterated = false;
  private delivered = 0;
  private readonly iterators = new Set<AsyncQueue<ContainerEvent>>();
  private failure?: EcdockError;
  private readonly readyPromise: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (e: unknown) => void;
  private connectedOnce = false;

  constructor(connector: EventConnector, opts: ContainerEventsOptions = {}) {
    super();
    this.connector = connector;
    this.minDelayMs = opts.minDelayMs ?? 100;
    this.maxDelayMs = opts.maxDelayMs ?? 5000;
    this.maxAttempts = opts.maxAttempts ?? Infinity;
    this.readyPromise = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.readyPromise.catch(() => undefined); // observed through ready() only
    void this.run();
  }

  /** Resolves once the first connection is established: events from then on will be seen. */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Ends the stream: the connection is dropped and iterators finish. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort?.abort();
    this.wake?.();
    for (const q of this.iterators) q.end();
    this.iterators.clear();
    this.rejectReady(new RuntimeError('DOCKER_ERROR', 'the event stream was closed before it connected'));
    this.emit('close');
  }

  /** The events as an async iterator (`for await (const ev of events)`); leaving the loop closes the stream. */
  [Symbol.asyncIterator](): AsyncIterator<ContainerEvent> {
    const q = new AsyncQueue<ContainerEvent>(() => {
      this.iterators.delete(q);
      this.close();
    });
    if (this.failure) q.fail(this.failure);
    else if (this.closed) q.end();
    else {
      for (const ev of this.unclaimed) q.push(ev);
      this.unclaimed = [];
      this.iterated = true;
      this.iterators.add(q);
    }
    return q;
  }

  /** The `since` value a reconnect would use now. */
  get since(): string | undefined {
    const nano = this.lastTimeNano ?? this.connectedAtNano;
    return nano === undefined ? undefined : formatSince(nano);
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      let error: EcdockError | undefined;
      try {
        this.abort = new AbortController();
        const conn = await this.connector(this.since, this.abort.signal);
        if (this.closed) break;
        if (this.connectedAtNano === undefined && conn.serverDate && !Number.isNaN(conn.serverDate.getTime())) {
          // Until an event arrives, the server's clock when we first connected is where a reconnect resumes.
          this.connectedAtNano = BigInt(Math.floor(conn.serverDate.getTime() / 1000)) * 1_000_000_000n;
        }
        if (!this.connectedOnce) {
          this.connectedOnce = true;
          this.resolveReady();
        }
        this.emit('connect');
        const since = Date.now();
        const before = this.delivered;
        try {
          await this.consume(conn.stream);
        } finally {
          // A connection that carried events or lasted is a success: backoff starts over. One that
          // the server drops at once keeps backing off, so a flapping dockerd is not hammered.
          if (this.delivered > before || Date.now() - since >= this.maxDelayMs) attempt = 0;
        }
      } catch (e) {
        if (this.closed) break;
        error = isEcdockError(e) ? e : new RuntimeError('DOCKER_ERROR', `container events: ${(e as Error)?.message ?? String(e)}`, { cause: e });
        if (isFatal(error)) {
          this.fail(error);
          return;
        }
      }
      if (this.closed) break;
      attempt++;
      if (attempt > this.maxAttempts) {
        this.fail(
          new RuntimeError('DOCKER_UNREACHABLE', `container events: gave up after ${this.maxAttempts} reconnect attempts${error ? `: ${error.message}` : ''}`, {
            cause: error,
            detail: error?.detail,
          }),
        );
        return;
      }
      const delayMs = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** Math.min(attempt - 1, 20));
      const info: ReconnectInfo = { attempt, delayMs };
      if (error) info.error = error;
      if (this.since !== undefined) info.since = this.since;
      this.emit('reconnect', info);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delayMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private consume(stream: NodeJS.ReadableStream): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let buf = '';
      const onData = (chunk: Buffer | string) => {
        buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          let raw: unknown;
          try {
            raw = JSON.parse(line);
          } catch (e) {
            done(new RuntimeError('DOCKER_ERROR', `container events: malformed event from dockerd: ${line.slice(0, 200)}`, { cause: e }));
            return;
          }
          // timeNano is a JSON number beyond 2^53: take its exact digits from the text.
          const exact = /"timeNano"\s*:\s*(\d+)/.exec(line)?.[1];
          if (exact && raw && typeof raw === 'object') (raw as { timeNano?: unknown }).timeNano = exact;
          this.deliver(raw);
        }
      };
      const onEnd = () => done();
      const onError = (e: unknown) => done(e);
      const done = (e?: unknown) => {
        stream.removeListener('data', onData);
        stream.removeListener('end', onEnd);
        stream.removeListener('close', onEnd);
        stream.removeListener('error', onError);
        (stream as { destroy?: () => void }).destroy?.();
        if (e === undefined || this.closed) resolve();
        else reject(e instanceof Error ? e : new Error('Docker event stream failed', { cause: e }));
      };
      stream.on('data', onData);
      stream.on('end', onEnd);
      stream.on('close', onEnd);
      stream.on('error', onError);
    });
  }

  private deliver(raw: unknown): void {
    const ev = decodeDockerEvent(raw);
    if (!ev) return;
    const nano = BigInt(ev.timeNano);
    const key = `${ev.timeNano}/${ev.id}/${ev.action}`;
    // `since` is inclusive and may reach back before the last event: drop what was already delivered.
    if (this.recent.has(key)) return;
    this.recent.add(key);
    if (this.recent.size > RECENT_KEYS) this.recent.delete(this.recent.values().next().value as string);
    if (this.lastTimeNano === undefined || nano > this.lastTimeNano) this.lastTimeNano = nano;
    if (this.closed) return;
    this.delivered++;
    this.emit('event', ev);
    if (this.iterators.size) for (const q of this.iterators) q.push(ev);
    else if (!this.iterated) {
      // Kept for the first iterator, which is often created a moment after the events it wants.
      this.unclaimed.push(ev);
      if (this.unclaimed.length > MAX_UNCLAIMED) this.unclaimed.shift();
    }
  }

  private fail(error: EcdockError): void {
    this.failure = error;
    for (const q of this.iterators) q.fail(error);
    this.iterators.clear();
    if (this.listenerCount('error') > 0) this.emit('error', error);
    this.closed = true;
    this.rejectReady(error);
    this.emit('close');
  }
}

/** A request the server refused as malformed will be refused again: don't retry it. */
function isFatal(e: EcdockError): boolean {
  if (e.code === 'BAD_ARGUMENT' || e.code === 'PERMISSION_DENIED') return true;
  const status = (e.detail as { statusCode?: number } | undefined)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}

export function formatSince(nano: bigint): string {
  const s = nano / 1_000_000_000n;
  const ns = nano % 1_000_000_000n;
  return `${s}.${ns.toString().padStart(9, '0')}`;
}

// Attributes Docker puts next to the labels in Actor.Attributes.
const NON_LABEL_ATTRIBUTES = new Set(['name', 'image', 'exitCode', 'signal']);
const ACTIONS = new Set<string>(CONTAINER_EVENT_ACTIONS);

/** A Docker /events message as a ContainerEvent, or undefined if it is not a container event we follow. */
export function decodeDockerEvent(raw: unknown): ContainerEvent | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const m = raw as {
    Type?: string;
    Action?: string;
    status?: string;
    id?: string;
    from?: string;
    time?: number;
    timeNano?: number | string;
    Actor?: { ID?: string; Attributes?: Record<string, string> };
  };
  if (m.Type !== undefined && m.Type !== 'container') return undefined;
  const action = m.Action ?? m.status;
  if (!action || !ACTIONS.has(action)) return undefined;
  const id = m.Actor?.ID ?? m.id;
  if (!id) return undefined;
  const attrs = m.Actor?.Attributes ?? {};
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (!NON_LABEL_ATTRIBUTES.has(k)) labels[k] = String(v);
  // A number timeNano has been rounded by JSON.parse; callers that can pass its exact digits as a string.
  let nano: bigint;
  if (typeof m.timeNano === 'string' && /^\d+$/.test(m.timeNano)) nano = BigInt(m.timeNano);
  else if (typeof m.timeNano === 'number' && Number.isFinite(m.timeNano)) nano = BigInt(Math.round(m.timeNano / 1000)) * 1000n;
  else nano = BigInt(m.time ?? 0) * 1_000_000_000n;
  const ev: ContainerEvent = {
    action: action as ContainerEventAction,
    id,
    name: (attrs.name ?? '').replace(/^\//, ''),
    labels,
    time: new Date(Number(nano / 1_000_000n)),
    timeNano: nano.toString(),
  };
  const image = attrs.image ?? m.from;
  if (image) ev.image = image;
  if (attrs.exitCode !== undefined && /^-?\d+$/.test(attrs.exitCode)) ev.exitCode = Number(attrs.exitCode);
  if (attrs.signal !== undefined) ev.signal = String(attrs.signal);
  return ev;
}
