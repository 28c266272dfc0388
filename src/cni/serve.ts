// `ecdock-cni serve`: the resident daemon. A runtime still execs a plugin for every call, but the
// plugin it execs is the small forwarder (native/cni-forward.c), which hands the call's
// environment and stdin to this process over a root-only unix socket and prints what comes back.
// This process pays Node's start-up and module loading once, and keeps one OVSDB session per
// database (with its monitored replica, shared by every call) open across calls.
//
// A call is served here only when the forwarder lives in the same mount and PID namespaces as this
// process, so that CNI_NETNS (a path) names the same namespace here; otherwise the answer is
// "run it yourself" and the forwarder execs the Node plugin in its own process.

import { statSync } from 'node:fs';
import * as net from 'node:net';
import { UsageError } from '../errors';
import type { OvsdbClient } from '../ovsdb/client';
import { listenOnSocket, type SocketHandle } from '../docker-plugin/plugin-socket';
import { CNI_CODE, CniError, errorObject } from './cni-error';
import { LATEST_VERSION } from './config';
import type { NetConf } from './config';
import { setSessionSource } from './network';
import { runCall } from './run';
import { FALLBACK, MAX_REQUEST, decodeRequest, encodeResponse } from './wire';

export const DEFAULT_SOCKET = '/run/ecdock/cni.sock';
export const SOCKET_ENV = 'ECDOCK_CNI_SOCKET';

const CONNECT_TIMEOUT_MS = 20_000;
/** How long a stopping daemon lets the calls in flight finish. */
const DRAIN_MS = 30_000;

/** One line per call on stderr: what a service manager's log keeps. */
function log(line: string): void {
  process.stderr.write(`ecdock-cni serve: ${line}\n`);
}

function nsInode(kind: 'mnt' | 'pid'): string {
  return String(statSync(`/proc/self/ns/${kind}`).ino);
}

export interface CniDaemon {
  socket: string;
  /** Stops accepting, lets calls in flight finish, closes the OVSDB sessions and removes the socket. */
  stop(): Promise<void>;
}

/** Long-lived OVSDB sessions, one per database and TLS files; a failed connect is forgotten so the next call tries again. */
function sessionPool(): { get(conf: NetConf): Promise<OvsdbClient>; closeAll(): Promise<void> } {
  const pool = new Map<string, Promise<OvsdbClient>>();
  return {
    get(conf) {
      const key = JSON.stringify([conf.db ?? process.env.ECDOCK_DB ?? '', conf.tls ?? null]);
      let p = pool.get(key);
      if (!p) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { OvsdbClient } = require('../ovsdb/client') as typeof import('../ovsdb/client');
        p = OvsdbClient.connect(conf.db, { timeoutMs: CONNECT_TIMEOUT_MS, reconnect: true, ...(conf.tls ? { tls: conf.tls } : {}) });
        pool.set(key, p);
        p.catch(() => pool.delete(key));
      }
      return p.then((c) => {
        if (!c.closed) return c;
        pool.delete(key);
        return this.get(conf);
      });
    },
    async closeAll() {
      const all = [...pool.values()];
      pool.clear();
      for (const p of all) (await p.catch(() => undefined))?.close();
    },
  };
}

/** Starts serving on `socket` (default $ECDOCK_CNI_SOCKET, else /run/ecdock/cni.sock), mode 0600. */
export async function startDaemon(o: { socket?: string } = {}): Promise<CniDaemon> {
  const socket = o.socket ?? process.env[SOCKET_ENV] ?? DEFAULT_SOCKET;
  if (!socket.startsWith('/')) throw new UsageError('BAD_ARGUMENT', `--socket ${socket}: give an absolute path`);
  const own = { mnt: nsInode('mnt'), pid: nsInode('pid') };
  const pool = sessionPool();
  setSessionSource(async (conf) => ({ ovs: await pool.get(conf), done: () => undefined }));

  // Every open connection is a call in flight (still arriving, being run, or being answered).
  const inFlight = new Set<Promise<void>>();
  // Half-open: the forwarder shuts down its side after the request and reads the answer.
  const server = net.createServer({ allowHalfOpen: true }, (conn) => {
    const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
    inFlight.add(closed);
    void closed.then(() => inFlight.delete(closed));
    const chunks: Buffer[] = [];
    let size = 0;
    conn.on('error', () => conn.destroy());
    conn.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_REQUEST) {
        conn.end(encodeResponse(1, JSON.stringify(errorObject(new CniError(CNI_CODE.DECODE_FAILED, `the call is larger than ${MAX_REQUEST} bytes`, 'BAD_ARGUMENT'), LATEST_VERSION)) + '\n'));
        conn.destroy();
        return;
      }
      chunks.push(d);
    });
    conn.on('end', () => {
      serveOne(Buffer.concat(chunks)).then(
        (resp) => {
          if (!conn.destroyed) conn.end(resp);
        },
        () => {
          conn.destroy();
        },
      );
    });
  });

  async function serveOne(buf: Buffer): Promise<Buffer> {
    let call;
    try {
      call = decodeRequest(buf);
    } catch (e) {
      return encodeResponse(1, JSON.stringify(errorObject(new CniError(CNI_CODE.DECODE_FAILED, `ecdock-cni daemon: ${(e as Error).message}`, 'BAD_ARGUMENT'), LATEST_VERSION)) + '\n');
    }
    // CNI_NETNS is a path: it names the same namespace here only within the same mount and PID namespaces.
    const what = `${call.env.CNI_COMMAND ?? '?'} ${call.env.CNI_CONTAINERID || '-'} ${call.env.CNI_IFNAME || '-'}`;
    if (call.env.ECDOCK_CNI_MNTNS !== own.mnt || call.env.ECDOCK_CNI_PIDNS !== own.pid) {
      log(`${what}: handed back (the caller is in another mount or PID namespace)`);
      return encodeResponse(FALLBACK, '');
    }
    const t = Date.now();
    const r = await runCall(call.env, call.stdin);
    log(`${what}: exit ${r.code} in ${Date.now() - t} ms`);
    return encodeResponse(r.code, r.stdout);
  }

  let handle: SocketHandle;
  try {
    handle = await listenOnSocket(server, socket);
  } catch (e) {
    await pool.closeAll();
    throw e;
  }
  let stopping: Promise<void> | undefined;
  return {
    socket,
    stop() {
      stopping ??= (async () => {
        // New forwarders find no socket and run their calls themselves from here on.
        await handle.remove();
        server.close();
        await Promise.race([Promise.allSettled([...inFlight]), new Promise((resolve) => setTimeout(resolve, DRAIN_MS).unref())]);
        await pool.closeAll();
      })();
      return stopping;
    },
  };
}

/** `ecdock-cni serve [--socket PATH]`: serves until SIGTERM or SIGINT. */
export async function serveMain(argv: string[]): Promise<void> {
  let socket: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--socket' && argv[i + 1]) socket = argv[++i];
    else if (argv[i].startsWith('--socket=')) socket = argv[i].slice('--socket='.length);
    else throw new UsageError('BAD_ARGUMENT', `ecdock-cni serve: unknown argument "${argv[i]}"; usage: ecdock-cni serve [--socket PATH]`);
  }
  const d = await startDaemon(socket !== undefined ? { socket } : {});
  process.stdout.write(`ecdock-cni: serving CNI calls on ${d.socket}\n`);
  const stop = (): void => {
    void d.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
