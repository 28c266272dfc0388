// Loads the N-API addon on first use, so that importing ecdock works on any platform and only
// netlink calls fail (NATIVE_UNAVAILABLE) where the addon cannot exist or was not built.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { NetlinkError } from '../errors';

/** The addon's surface (native/addon.cc). Internal: not exported from ecdock. */
export interface Binding {
  /** One batch of requests on one socket -> every reply addressed to them, and the socket if kept. */
  transact(request: Buffer, nsfd: number, sock: number, flags: number, timeoutMs: number, chunkMsgs: number): Promise<[Buffer, number]>;
  closeSocket(sock: number): void;
  nsOpen(path: string): [number, bigint, bigint];
  nsOpenFd(fd: number): [number, bigint, bigint];
  /** Closes a namespace fd of nsOpen/nsOpenFd; throws (and closes nothing) for any other number. */
  nsClose(fd: number): void;
  configure(o: { workers?: number }): void;
  stats(): { workers: number; maxWorkers: number; queued: number; inFlight: number; socketsOpen: number; factoryThreads: number; namespacesOpen: number };
}

export const TRANSACT_KEEP = 1;
export const TRANSACT_STOP_ON_ERROR = 2;

let binding: Binding | undefined;
let failure: NetlinkError | undefined;

function candidates(): string[] {
  const override = process.env.ECDOCK_NATIVE;
  if (override) return [override];
  // dist/src/netlink -> package root is three levels up; src/netlink (ts-node) two.
  const roots = [path.resolve(__dirname, '../../..'), path.resolve(__dirname, '../..')];
  return roots.flatMap((r) => [path.join(r, 'build/Release/ecdock_native.node'), path.join(r, 'build/Debug/ecdock_native.node')]);
}

export function native(): Binding {
  if (binding) return binding;
  if (failure) throw failure;
  if (process.platform !== 'linux') {
    failure = new NetlinkError('NATIVE_UNAVAILABLE', `network namespaces and rtnetlink exist only on Linux (this is ${process.platform})`, {
      detail: { platform: process.platform },
    });
    throw failure;
  }
  const tried = candidates();
  const file = tried.find((f) => fs.existsSync(f));
  if (!file) {
    failure = new NetlinkError('NATIVE_UNAVAILABLE', `the ecdock native addon is not built (looked for ${tried.join(', ')}); run "npm rebuild ecdock" or "npx node-gyp rebuild"`, {
      detail: { tried },
    });
    throw failure;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    binding = require(file) as Binding;
    return binding;
  } catch (e) {
    failure = new NetlinkError('NATIVE_UNAVAILABLE', `cannot load the ecdock native addon ${file}: ${(e as Error).message}`, { cause: e, detail: { file } });
    throw failure;
  }
}

/** Native statistics, for tests and diagnostics: worker threads, open sockets, factory threads run. */
export function nativeStats(): ReturnType<Binding['stats']> {
  return native().stats();
}

/** How many worker threads may run netlink transactions at once (default 2; rtnl_lock serialises writes anyway). */
export function setNetlinkWorkers(n: number): void {
  native().configure({ workers: n });
}
