// Network-namespace handles. A Netns holds an open (O_CLOEXEC) file descriptor of a network
// namespace, which keeps that namespace alive until close(). Operations that act in a namespace
// take a Netns; none of them ever switches a JS or libuv thread into it (see README.md here).

import { EACCES, EBADF, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, EPERM, ESRCH } from './nl/errno';
import { statSync } from 'node:fs';
import { NetlinkError } from '../errors';
import { native } from './addon';

/** A network namespace by a process's pid, a file path (`/var/run/netns/blue`), an open fd, or a name under /var/run/netns. */
export type NetnsRef = { pid: number } | { path: string } | { fd: number } | { name: string };

/** What {@link Netns.probe} found: whether the namespace is there, its identity, and why not. */
export interface NetnsProbe {
  alive: boolean;
  /** `${dev}:${ino}` of the namespace, when it could be opened. */
  id?: string;
  /** Why it is not alive (an error code such as NETNS_GONE, NOT_A_NETNS, PERMISSION_DENIED, REPLACED). */
  reason?: string;
}

const NETNS_DIRS = ['/run/netns', '/var/run/netns'];

// Closes the fd of a Netns that was dropped without close(): an open fd pins the namespace.
const finalizer = new FinalizationRegistry<number>((fd) => {
  try {
    native().nsClose(fd);
  } catch {
    /* nothing to do */
  }
});

/** A path as messages show it: long ones cut, so that a hostile 5000-byte path does not fill logs. */
function short(path: string): string {
  return path.length > 200 ? `${path.slice(0, 160)}…(${path.length} bytes)` : path;
}

function describe(ref: NetnsRef): { path?: string; fd?: number; label: string } {
  if (ref === null || typeof ref !== 'object') throw new NetlinkError('BAD_ARGUMENT', 'a namespace reference must be { pid }, { path }, { fd } or { name }');
  if ('pid' in ref) {
    if (!Number.isInteger(ref.pid) || ref.pid <= 0) throw new NetlinkError('BAD_ARGUMENT', `pid ${String(ref.pid)} must be a positive integer`, { detail: { pid: ref.pid } });
    return { path: `/proc/${ref.pid}/ns/net`, label: `process ${ref.pid}` };
  }
  if ('path' in ref) {
    if (typeof ref.path !== 'string' || !ref.path) throw new NetlinkError('BAD_ARGUMENT', 'a namespace path must be a non-empty string');
    // The kernel reads a path up to its first NUL: "/run/netns/a\0x" would open /run/netns/a.
    if (ref.path.includes('\0')) throw new NetlinkError('BAD_ARGUMENT', `the namespace path ${JSON.stringify(short(ref.path))} contains a NUL byte`, { detail: { path: ref.path } });
    return { path: ref.path, label: short(ref.path) };
  }
  if ('name' in ref) {
    const n = ref.name;
    if (typeof n !== 'string' || !n || n.includes('/') || n.includes('\0') || n === '.' || n === '..')
      throw new NetlinkError('BAD_ARGUMENT', `${JSON.stringify(n)} is not a namespace name (as in "ip netns add NAME")`, { detail: { name: n } });
    const dir = NETNS_DIRS.find((d) => {
      try {
        statSync(`${d}/${n}`);
        return true;
      } catch {
        return false;
      }
    });
    const p = `${dir ?? NETNS_DIRS[1]}/${n}`;
    return { path: p, label: p };
  }
  if ('fd' in ref) {
    if (!Number.isInteger(ref.fd) || ref.fd < 0) throw new NetlinkError('BAD_ARGUMENT', `fd ${String(ref.fd)} must be a non-negative integer`, { detail: { fd: ref.fd } });
    return { fd: ref.fd, label: `fd ${ref.fd}` };
  }
  throw new NetlinkError('BAD_ARGUMENT', 'a namespace reference must be { pid }, { path }, { fd } or { name }');
}

function openError(ref: NetnsRef, label: string, e: unknown): NetlinkError {
  const err = e as { errno?: number; code?: string; regular?: boolean; size?: number; syscall?: string; message?: string };
  const detail = { ref, errno: err.errno, syscall: err.syscall };
  if (err.code === 'NOT_A_NETNS') {
    // `ip netns del` unmounts and unlinks; an empty plain file left under /run/netns is a dead namespace.
    const stale = err.regular && err.size === 0 && ('name' in ref || ('path' in ref && NETNS_DIRS.some((d) => ref.path.startsWith(`${d}/`))));
    if (stale) return new NetlinkError('NETNS_GONE', `the network namespace ${label} is gone (only its empty mount point is left)`, { detail });
    return new NetlinkError('NOT_A_NETNS', `${label} is not a network namespace`, { detail });
  }
  switch (err.errno) {
    case ENOENT:
    case ESRCH:
    case ENOTDIR: // a path through a regular file
      return new NetlinkError('NETNS_GONE', 'pid' in ref ? `process ${ref.pid} does not exist (it has exited)` : `the network namespace ${label} does not exist`, { detail });
    case EPERM:
    case EACCES:
      return new NetlinkError('PERMISSION_DENIED', `not allowed to open the network namespace ${label}: ${err.message ?? ''} (needs root or CAP_SYS_ADMIN)`, { detail });
    case ENAMETOOLONG:
      return new NetlinkError('BAD_ARGUMENT', `the namespace path ${label} is longer than the system allows`, { detail });
    case ELOOP:
      return new NetlinkError('NOT_A_NETNS', `${label} is not a network namespace (a symbolic link loop)`, { detail });
    case EBADF:
      return new NetlinkError('BAD_ARGUMENT', `${label} is not an open file descriptor`, { detail });
    default:
      return new NetlinkError('NETLINK_ERROR', `cannot open the network namespace ${label}: ${err.message ?? String(e)}`, { detail, cause: e });
  }
}

/**
 * An open handle on a network namespace, identified by its device and inode (so a namespace file
 * bind-mounted again, or a pid reused, is told apart). Every rtnetlink call takes one as `netns`;
 * close it when done.
 *
 * @example
 * ```ts
 * const ns = Netns.open({ path: '/var/run/netns/blue' });
 * try {
 *   console.log(await listLinks({ netns: ns }));
 * } finally {
 *   ns.close();
 * }
 * ```
 */
export class Netns {
  readonly dev: bigint;
  readonly ino: bigint;
  /** `${dev}:${ino}`: the namespace's identity, stable while it lives (ip shows `net:[ino]`). */
  readonly id: string;
  /** Where it was opened from, for messages: a path, `process N` or `fd N`. */
  readonly label: string;
  #fd: number;
  #closing = false;
  #inUse = 0;

  private constructor(fd: number, dev: bigint, ino: bigint, label: string) {
    this.#fd = fd;
    this.dev = dev;
    this.ino = ino;
    this.id = `${dev}:${ino}`;
    this.label = label;
    finalizer.register(this, fd, this);
  }

  /**
   * Opens a network namespace: `{ pid }` (/proc/PID/ns/net), `{ path }` (/var/run/netns/NAME,
   * /proc/PID/ns/net, any bind mount), `{ name }` (as `ip netns`), or `{ fd }` (duplicated; the
   * caller keeps its own). Throws NETNS_GONE, NOT_A_NETNS, PERMISSION_DENIED or BAD_ARGUMENT.
   */
  static open(ref: NetnsRef): Netns {
    const d = describe(ref);
    let r: [number, bigint, bigint];
    try {
      r = d.path !== undefined ? native().nsOpen(d.path) : native().nsOpenFd(d.fd!);
    } catch (e) {
      if (e instanceof NetlinkError) throw e;
      throw openError(ref, d.label, e);
    }
    return new Netns(r[0], r[1], r[2], d.label);
  }

  /** The caller's network namespace: the JS thread's own (/proc/thread-self/ns/net), never switched. */
  static current(): Netns {
    const ns = Netns.open({ path: '/proc/thread-self/ns/net' });
    return ns;
  }

  /** Identity of the caller's namespace without opening it (a stat of /proc/thread-self/ns/net). */
  static currentId(): string {
    const st = statSync('/proc/thread-self/ns/net', { bigint: true });
    return `${st.dev}:${st.ino}`;
  }

  /** Whether a namespace reference still leads to a live network namespace. Never throws.
   * With `expectId`, a live namespace with another identity (a reused pid) reports REPLACED. */
  static probe(ref: NetnsRef, expectId?: string): NetnsProbe {
    let ns: Netns;
    try {
      ns = Netns.open(ref);
    } catch (e) {
      return { alive: false, reason: e instanceof NetlinkError ? e.code : 'NETLINK_ERROR' };
    }
    const id = ns.id;
    ns.close();
    if (expectId !== undefined && expectId !== id) return { alive: false, id, reason: 'REPLACED' };
    return { alive: true, id };
  }

  /** Same namespace (same device and inode)? Accepts another Netns or an id string. */
  isSameAs(other: Netns | string): boolean {
    return this.id === (typeof other === 'string' ? other : other.id);
  }

  /** Is this the caller's own namespace? */
  isCurrent(): boolean {
    return this.id === Netns.currentId();
  }

  get closed(): boolean {
    return this.#closing;
  }

  /** Closes the descriptor (after operations still using it finish). Idempotent. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    finalizer.unregister(this);
    if (this.#inUse === 0) this.#release();
  }

  #release(): void {
    if (this.#fd >= 0) {
      native().nsClose(this.#fd);
      this.#fd = -1;
    }
  }

  /** @internal The fd, held open until the matching `unuse()`; encoded fds must not be recycled mid-request. */
  use(): number {
    if (this.#closing) throw new NetlinkError('BAD_ARGUMENT', `the handle of network namespace ${this.label} was closed`, { detail: { netns: this.id } });
    this.#inUse++;
    return this.#fd;
  }

  /** @internal */
  unuse(): void {
    if (--this.#inUse === 0 && this.#closing) this.#release();
  }

  /** How the namespace was named when opened (a path, `pid 1234`, ...). */
  toString(): string {
    return `Netns(${this.label}, net:[${this.ino}])`;
  }

  /** Its identity (`dev:ino`) and label, for logs and `--json`. */
  toJSON(): { id: string; label: string } {
    return { id: this.id, label: this.label };
  }
}
