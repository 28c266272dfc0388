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

/** The package root: dist/src/netlink is three levels below it, src/netlink (ts-node) two. */
function packageRoot(): string {
  const compiled = path.resolve(__dirname, '../../..');
  return fs.existsSync(path.join(compiled, 'package.json')) ? compiled : path.resolve(__dirname, '../..');
}

/**
 * Where the addon is: $ECDOCK_NATIVE, else what node-gyp-build picks — a local build
 * (build/Release, for development) before the prebuilt binary shipped in prebuilds/.
 */
function locate(): string {
  const override = process.env.ECDOCK_NATIVE;
  if (override) {
    if (!fs.existsSync(override)) throw new Error(`ECDOCK_NATIVE names ${override}, which does not exist`);
    return override;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const gypBuild = require('node-gyp-build') as { path(dir: string): string };
  return gypBuild.path(packageRoot());
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
  let file: string;
  try {
    file = locate();
  } catch (e) {
    const why = (e as Error).message.trim().split('\n')[0];
    failure = new NetlinkError('NATIVE_UNAVAILABLE', `the ecdock native addon is neither prebuilt for this platform nor built (${why}); run "npm rebuild ecdock" with a C++ compiler, make and python3 installed`, {
      cause: e,
      detail: { root: packageRoot() },
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
