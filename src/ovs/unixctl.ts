// ovs-appctl's protocol spoken directly: JSON-RPC 1.0 on a daemon's control socket, with the same
// framing and message rules as OVSDB (so the OVSDB framer and adapter serve both). Used for what
// OVSDB cannot say, such as static MAC table entries. Failures carry UNIXCTL_* codes: this is
// ovs-vswitchd's control socket, not the database, and a user debugging one must not look at the other.

import { promises as fs, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { VSwitchError, isEcdockError } from '../errors';
import { JsonFramer } from '../ovsdb/framer';
import { classify, describeRpcError, encodeRequest } from '../ovsdb/jsonrpc';

export interface UnixctlCall {
  method: string;
  params: string[];
}

export type UnixctlResult = { ok: true; result: string } | { ok: false; error: string };

/** A reply's result as text: ovs-appctl's replies are strings (or null); anything else is shown as JSON. */
function resultText(r: unknown): string {
  if (typeof r === 'string') return r;
  return r === undefined || r === null ? '' : JSON.stringify(r);
}

/** Sends the calls on one connection, pipelined; resolves with one result per call, in order. */
export function unixctl(ctlPath: string, calls: UnixctlCall[], timeoutMs = 5000): Promise<UnixctlResult[]> {
  return new Promise((resolve, reject) => {
    const results = new Array<UnixctlResult | undefined>(calls.length).fill(undefined);
    let pending = calls.length;
    const sock = net.createConnection({ path: ctlPath });
    const timer = setTimeout(() => fail(new VSwitchError('UNIXCTL_TIMEOUT', `${ctlPath} did not answer ${pending} of ${calls.length} control requests within ${timeoutMs} ms`)), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
    };
    const fail = (e: unknown) => {
      done();
      reject(e);
    };
    const framer = new JsonFramer((text) => {
      const m = classify(JSON.parse(text));
      const id = Number((m.message as { id?: unknown }).id);
      if (!Number.isInteger(id) || id < 0 || id >= calls.length || results[id]) return;
      results[id] = m.type === 'error' ? { ok: false, error: describeRpcError(m.error) } : { ok: true, result: resultText((m.message as { result?: unknown }).result) };
      if (--pending === 0) {
        done();
        resolve(results as UnixctlResult[]);
      }
    });
    sock.on('connect', () => sock.write(calls.map((c, i) => encodeRequest(i, c.method, c.params)).join('')));
    sock.on('data', (d: Buffer) => {
      try {
        framer.push(d);
      } catch (e) {
        fail(isEcdockError(e) || e instanceof SyntaxError ? new VSwitchError('UNIXCTL_PROTOCOL', `${ctlPath} sent a malformed reply: ${(e as Error).message}`, { cause: e }) : e);
      }
    });
    sock.on('error', (e) => fail(new VSwitchError('UNIXCTL_UNREACHABLE', `cannot talk to the control socket ${ctlPath}: ${e.message}`, { cause: e })));
    sock.on('close', () => {
      if (pending) fail(new VSwitchError('UNIXCTL_CONNECTION_LOST', `${ctlPath} closed with ${pending} control requests unanswered`));
    });
    if (!calls.length) {
      done();
      resolve([]);
    }
  });
}

async function isSocket(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isSocket();
  } catch {
    return false;
  }
}

/**
 * ovs-vswitchd's control socket for the OVS whose database is at `dbUrl`, found the way OVS lays
 * out a run dir: next to a unix db socket, `ovs-vswitchd.ctl` (an explicit --unixctl, as the
 * sandbox does) or `ovs-vswitchd.<pid>.ctl` (the default) with the pid from `ovs-vswitchd.pid`.
 * Undefined when there is none to be found (a tcp: database, another host).
 */
export async function findVswitchdCtl(dbUrl: string): Promise<string | undefined> {
  const first = dbUrl.split(',')[0] ?? '';
  if (!first.startsWith('unix:')) return undefined;
  const dir = path.dirname(first.slice('unix:'.length));
  const named = path.join(dir, 'ovs-vswitchd.ctl');
  if (await isSocket(named)) return named;
  try {
    const pid = parseInt(await fs.readFile(path.join(dir, 'ovs-vswitchd.pid'), 'utf8'), 10);
    const byPid = path.join(dir, `ovs-vswitchd.${pid}.ctl`);
    if (pid > 0 && (await isSocket(byPid))) return byPid;
  } catch {
    /* no pidfile */
  }
  return undefined;
}

/** Whether ovs-vswitchd runs: 'unknown' when that cannot be told from here (a remote database). */
export type DaemonState = 'running' | 'stopped' | 'unknown';

async function pidFromFile(file: string): Promise<number | undefined> {
  try {
    const pid = parseInt(await fs.readFile(file, 'utf8'), 10);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True when /proc shows that pid as a zombie (dead, not reaped) or as another program. */
function isDeadVswitchd(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X' || comm !== 'ovs-vswitchd';
}

function canConnect(ctlPath: string, timeoutMs: number): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const sock = net.createConnection({ path: ctlPath });
    const finish = (v: boolean | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    // A busy event loop can run this timer before it delivers the connect's outcome (timers come
    // first in a loop turn): let the poll phase deliver it before calling the daemon unknown.
    const timer = setTimeout(() => setImmediate(() => finish(undefined)), timeoutMs);
    sock.on('connect', () => finish(true));
    sock.on('error', () => finish(false));
  });
}

/**
 * Whether the ovs-vswitchd of the OVS whose database is at `dbUrl` is running, told without a
 * process and without asking it anything: its control socket accepts a connection (a killed
 * daemon leaves the socket file, which then refuses), or, when it has none, the run dir is OVS's
 * (ovsdb-server's pidfile is there) and so ovs-vswitchd would have one if it ran. The database
 * cannot say: a stopped ovs-vswitchd leaves every row (ofport, link_state) as it was.
 */
export async function vswitchdState(dbUrl: string, timeoutMs = 2000): Promise<DaemonState> {
  const first = dbUrl.split(',')[0] ?? '';
  if (!first.startsWith('unix:')) return 'unknown';
  // Its pidfile naming a zombie, or a process that is not ovs-vswitchd, settles it: a socket can
  // outlive its daemon as far as connect() can tell (seen after a SIGKILL once the daemon had been
  // restarted). A pid with no /proc entry proves nothing (OVS may run in another pid namespace).
  const pid = await pidFromFile(path.join(path.dirname(first.slice('unix:'.length)), 'ovs-vswitchd.pid'));
  if (pid !== undefined && isDeadVswitchd(pid)) return 'stopped';
  const ctl = await findVswitchdCtl(dbUrl);
  if (ctl) {
    const ok = await canConnect(ctl, timeoutMs);
    return ok === undefined ? 'unknown' : ok ? 'running' : 'stopped';
  }
  const dir = path.dirname(first.slice('unix:'.length));
  try {
    await fs.access(path.join(dir, 'ovsdb-server.pid'));
    return 'stopped';
  } catch {
    return 'unknown';
  }
}
