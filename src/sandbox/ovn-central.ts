// The central part of a private OVN: the Northbound and Southbound databases, each one
// ovsdb-server or a 3-server raft cluster, and ovn-northd between them. Each function starts what
// it names and returns its pid; the OvnSandbox (ovn.ts) records the pids and stops them.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pidAlive, readPid } from './pids';
import { DAEMON_LOG, freePort, runTool } from './tools';

/** One database server: its socket URL, control socket, pid while it runs, raft port when clustered. */
export interface DbServer {
  url: string;
  ctl: string;
  pid?: number;
  raftPort?: number;
}

export type CentralDb = 'nb' | 'sb';

const NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema';
const SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema';
export const OVN_SCHEMAS = [NB_SCHEMA, SB_SCHEMA];

/** Creates the database files of both databases in `central` (one file each, or a raft cluster of 3). */
export async function createCentralDbs(central: string, clustered: boolean): Promise<[DbServer[], DbServer[]]> {
  const c = central;
  const mk = async (db: CentralDb, schema: string, dbName: string): Promise<DbServer[]> => {
    if (!clustered) {
      await runTool('ovsdb-tool', ['create', path.join(c, `${db}.db`), schema]);
      return [{ url: `unix:${path.join(c, `${db}.sock`)}`, ctl: path.join(c, `${db}.ctl`) }];
    }
    const servers: DbServer[] = [];
    for (let i = 0; i < 3; i++) servers.push({ url: `unix:${path.join(c, `${db}${i}.sock`)}`, ctl: path.join(c, `${db}${i}.ctl`), raftPort: await freePort() });
    const raft = (i: number) => `tcp:127.0.0.1:${servers[i].raftPort}`;
    await runTool('ovsdb-tool', ['create-cluster', path.join(c, `${db}0.db`), schema, raft(0)]);
    for (let i = 1; i < 3; i++) await runTool('ovsdb-tool', ['join-cluster', path.join(c, `${db}${i}.db`), dbName, raft(i), raft(0)]);
    return servers;
  };
  return Promise.all([mk('nb', NB_SCHEMA, 'OVN_Northbound'), mk('sb', SB_SCHEMA, 'OVN_Southbound')]);
}

/** Initialises both databases once their servers run. */
export async function initCentralDbs(northbound: string, southbound: string): Promise<void> {
  await Promise.all([
    runTool('ovn-nbctl', [`--db=${northbound}`, '--no-wait', '--timeout=20', 'init']),
    runTool('ovn-sbctl', [`--db=${southbound}`, '--timeout=20', 'init']),
  ]);
}

/** Starts server i of a database on its file; returns its pid. */
export async function startDbServer(central: string, clustered: boolean, db: CentralDb, i: number, s: DbServer): Promise<number> {
  const c = central;
  const base = clustered ? `${db}${i}` : db;
  const pidfile = path.join(c, `${base}.pid`);
  await fs.rm(pidfile, { force: true });
  await runTool('ovsdb-server', [
    path.join(c, `${base}.db`),
    `--remote=punix:${s.url.slice(5)}`,
    `--pidfile=${pidfile}`,
    `--unixctl=${s.ctl}`,
    `--log-file=${path.join(c, `${base}.log`)}`,
    ...DAEMON_LOG,
  ]);
  return readPid(pidfile);
}

/** Index of the live server that reports itself raft leader of `db`, or -1. */
export async function raftLeader(servers: DbServer[], db: CentralDb): Promise<number> {
  const name = db === 'nb' ? 'OVN_Northbound' : 'OVN_Southbound';
  for (const [i, s] of servers.entries()) {
    if (!s.pid || !pidAlive(s.pid)) continue;
    const out = await runTool('ovs-appctl', ['-t', s.ctl, 'cluster/status', name], undefined, 3000).catch(() => '');
    if (/^Role: leader/m.test(out)) return i;
  }
  return -1;
}

/** Starts ovn-northd between the two databases; returns its pid. */
export async function startNorthd(central: string, northbound: string, southbound: string): Promise<number> {
  const c = central;
  const pidfile = path.join(c, 'ovn-northd.pid');
  await fs.rm(pidfile, { force: true });
  await runTool(
    'ovn-northd',
    [`--ovnnb-db=${northbound}`, `--ovnsb-db=${southbound}`, `--pidfile=${pidfile}`, `--unixctl=${path.join(c, 'ovn-northd.ctl')}`, `--log-file=${path.join(c, 'ovn-northd.log')}`, ...DAEMON_LOG],
    { ...process.env, OVN_RUNDIR: c },
  );
  return readPid(pidfile);
}
