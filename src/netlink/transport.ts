// Sends batches of encoded requests through the addon and hands back one Reply per request.
// A Session is one NETLINK_ROUTE socket in one namespace for the length of one operation: it is
// opened by the first batch and closed by close() (an open in-namespace socket pins the namespace).

import { EACCES, EINVAL, ENOBUFS, EPERM, ETIMEDOUT } from './nl/errno';
import { constants as osc } from 'node:os';
import { NetlinkError } from '../errors';
import { native, TRANSACT_KEEP, TRANSACT_STOP_ON_ERROR } from './addon';
import type { Netns } from './netns';
import { NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP_INTR } from './nl/constants';
import { attributeAt, parseAck, splitMessages, type NlMessage, type Request } from './nl/message';

export const DEFAULT_TIMEOUT_MS = 30_000;

const ERRNO_NAMES = new Map<number, string>(Object.entries(osc.errno).map(([k, v]) => [v, k]));
export const errnoName = (n: number): string => ERRNO_NAMES.get(n) ?? `errno ${n}`;

export interface Reply {
  request: Request;
  seq: number;
  /** false if the request was never answered (not sent after an earlier failure with stopOnError). */
  answered: boolean;
  /** 0 on success, else the positive errno the kernel answered. */
  errno: number;
  /** The kernel's extended-ack message. */
  extack?: string;
  /** The attribute of our request the kernel pointed at (extended-ack offset, named). */
  attribute?: string;
  /** Echo and dump messages for this request. */
  messages: NlMessage[];
  /** A dump saw NLM_F_DUMP_INTR (the table changed during the dump). */
  interrupted: boolean;
}

export interface TransactOptions {
  timeoutMs?: number;
  /** Stop sending further chunks once a request failed (default false: every request is sent). */
  stopOnError?: boolean;
  /** Requests per sendmsg (default 64); their acks and echoes must fit the socket's receive buffer. */
  chunk?: number;
}

let nextSeq = (Date.now() & 0xffff) << 8;
function seq(): number {
  nextSeq = (nextSeq + 1) >>> 0 || 1;
  return nextSeq;
}

/** Encodes `reqs` with fresh sequence numbers into one buffer. */
export function frame(reqs: Request[]): { bytes: Buffer; seqs: number[] } {
  const seqs: number[] = [];
  const bytes = Buffer.concat(
    reqs.map((r) => {
      const s = seq();
      seqs.push(s);
      const b = Buffer.from(r.bytes);
      b.writeUInt32LE(s, 8);
      return b;
    }),
  );
  return { bytes, seqs };
}

/** Groups the kernel's reply stream by request (pure; used by Session and by tests). */
export function collect(reqs: Request[], seqs: number[], replies: Buffer): Reply[] {
  const bySeq = new Map<number, Reply>();
  const out = reqs.map((request, i) => {
    const r: Reply = { request, seq: seqs[i], answered: false, errno: 0, messages: [], interrupted: false };
    bySeq.set(seqs[i], r);
    return r;
  });
  for (const m of splitMessages(replies)) {
    const r = bySeq.get(m.seq);
    if (!r) continue;
    if (m.flags & NLM_F_DUMP_INTR) r.interrupted = true;
    if (m.type === NLMSG_ERROR || m.type === NLMSG_DONE) {
      const ack = parseAck(m);
      r.answered = true;
      r.errno = ack.error === 0 ? 0 : -ack.error;
      if (ack.message) r.extack = ack.message;
      if (ack.offset !== undefined) {
        const name = attributeAt(r.request, ack.offset);
        if (name) r.attribute = name;
      }
    } else r.messages.push(m);
  }
  return out;
}

function transportError(e: unknown, netns: Netns | undefined, timeoutMs: number): NetlinkError {
  const err = e as { errno?: number; syscall?: string; message?: string };
  const where = netns ? `network namespace ${netns.label}` : "the caller's network namespace";
  const detail = { errno: err.errno, errnoName: err.errno ? errnoName(err.errno) : undefined, op: err.syscall, netns: netns?.id };
  switch (err.errno) {
    case EPERM:
    case EACCES:
      return new NetlinkError('PERMISSION_DENIED', `not allowed to ${err.syscall === 'setns' ? 'enter' : 'use netlink in'} ${where} (needs root or CAP_NET_ADMIN + CAP_SYS_ADMIN)`, {
        detail,
        cause: e,
      });
    case ETIMEDOUT:
      return new NetlinkError('NETLINK_ERROR', `the kernel did not answer within ${timeoutMs} ms (${where})`, { detail, cause: e });
    case ENOBUFS:
      return new NetlinkError('NETLINK_PROTOCOL', `netlink replies were dropped (receive buffer overrun) in ${where}; send smaller batches`, { detail, cause: e });
    default:
      if (err.errno === EINVAL && err.syscall === 'setns') return new NetlinkError('NOT_A_NETNS', `cannot enter ${where}: not a network namespace`, { detail, cause: e });
      return new NetlinkError('NETLINK_ERROR', `netlink ${err.syscall ?? 'transaction'} failed in ${where}: ${err.message ?? String(e)}`, { detail, cause: e });
  }
}

/** One socket in one namespace for the length of one operation. Always close() it (finally). */
export class Session {
  #sock = -1;
  #held: Netns[] = [];
  #closed = false;
  #inFlight = 0;
  #busy: Promise<unknown> = Promise.resolve();

  /** A session in `netns` (default: the caller's namespace). */
  constructor(readonly netns?: Netns) {
    if (netns) this.hold(netns);
  }

  /** Keeps `ns` open until close() and returns its fd, e.g. to encode as IFLA_NET_NS_FD. */
  hold(ns: Netns): number {
    const fd = ns.use();
    this.#held.push(ns);
    return fd;
  }

  /** Opens the socket now (e.g. while other work runs), instead of with the first batch. */
  connect(opts: TransactOptions = {}): Promise<void> {
    const run = this.#busy.then(async () => {
      if (this.#sock < 0) await this.#transact([], opts, true);
    });
    this.#busy = run.catch(() => undefined);
    return run;
  }

  /** Sends `reqs` (in chunks, in order) and returns one Reply per request. */
  transact(reqs: Request[], opts: TransactOptions = {}): Promise<Reply[]> {
    const run = this.#busy.then(() => this.#transact(reqs, opts));
    this.#busy = run.catch(() => undefined);
    return run;
  }

  async #transact(reqs: Request[], opts: TransactOptions, connectOnly = false): Promise<Reply[]> {
    if (this.#closed) throw new NetlinkError('INTERNAL', 'netlink session used after close');
    if (reqs.length === 0 && !connectOnly) return [];
    const { bytes, seqs } = frame(reqs);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const flags = TRANSACT_KEEP | (opts.stopOnError ? TRANSACT_STOP_ON_ERROR : 0);
    const addon = native();
    const nsfd = this.#sock < 0 && this.netns ? this.netns.use() : -1;
    let replies: Buffer;
    this.#inFlight++;
    try {
      const [buf, sock] = await addon.transact(bytes, nsfd, this.#sock, flags, timeoutMs, opts.chunk ?? 64);
      replies = buf;
      this.#sock = sock;
    } catch (e) {
      this.#sock = -1; // a failed transaction closes its socket, whatever failed (the job owns it)
      throw transportError(e, this.netns, timeoutMs);
    } finally {
      if (nsfd >= 0) this.netns!.unuse();
      if (--this.#inFlight === 0 && this.#closed) this.#release();
    }
    return collect(reqs, seqs, replies);
  }

  /** Closes the socket and lets go of held namespaces; waits for a batch still in flight. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#inFlight === 0) this.#release();
  }

  #release(): void {
    if (this.#sock >= 0) native().closeSocket(this.#sock);
    this.#sock = -1;
    for (const ns of this.#held) ns.unuse();
    this.#held = [];
  }
}

/** Runs `fn` with a session in `netns` and closes it afterwards, whatever happens. */
export async function withSession<T>(netns: Netns | undefined, fn: (s: Session) => Promise<T>): Promise<T> {
  const s = new Session(netns);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

/** One batch in a throwaway session. */
export function transact(netns: Netns | undefined, reqs: Request[], opts?: TransactOptions): Promise<Reply[]> {
  return withSession(netns, (s) => s.transact(reqs, opts));
}
