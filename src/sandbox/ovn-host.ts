// A simulated host of a private OVN: a network namespace on the shared underlay (a Linux bridge in
// a namespace of its own) with its own ovsdb-server, userspace ovs-vswitchd and ovn-controller, all
// with a private OVS_RUNDIR (ovn-controller finds br-int.mgmt there, not in the system's run dir).
// Its encap IP sits on br-phy, as OVS userspace tunnelling wants. Each start function returns the
// daemon's pid; the OvnSandbox (ovn.ts) records the pids and stops them.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_SCHEMA } from './ovs';
import { readPid } from './pids';
import { DAEMON_LOG, runTool } from './tools';

/** One simulated host of an {@link OvnSandbox}: its chassis name, OVSDB, namespace and tunnel address. */
export interface OvnHost {
  /** The chassis name (system-id). */
  name: string;
  /** OVSDB URL of this host's Open_vSwitch database. */
  dbUrl: string;
  /** Path of the host's network namespace (where its ovs-vswitchd and br-int live). */
  netns: string;
  /** The host's private run dir (OVS_RUNDIR). */
  dir: string;
  /** The host's tunnel endpoint address on the underlay. */
  encapIp: string;
}

export interface HostState extends OvnHost {
  netnsName: string;
  ovsdbPid?: number;
  vswitchdPid?: number;
  controllerPid?: number;
}

const UNDERLAY_PREFIX = '172.31.255';

/** Host i's record: names, run dir and underlay address, nothing started yet. */
export function hostState(id: string, dir: string, i: number): HostState {
  const name = `ecovn-${id}-h${i}`;
  const hdir = path.join(dir, `h${i}`);
  return { name: `host${i}-${id}`, netnsName: name, netns: `/var/run/netns/${name}`, dir: hdir, dbUrl: `unix:${path.join(hdir, 'db.sock')}`, encapIp: `${UNDERLAY_PREFIX}.${i}` };
}

/** The underlay: a Linux bridge in namespace `ul`, and a veth from it into each host's new namespace. */
export async function makeUnderlay(ul: string, hosts: HostState[]): Promise<void> {
  await runTool('ip', ['netns', 'add', ul]);
  await runTool('ip', ['-n', ul, 'link', 'add', 'ul', 'type', 'bridge']);
  await runTool('ip', ['-n', ul, 'link', 'set', 'ul', 'up']);
  for (const [i, h] of hosts.entries()) {
    await runTool('ip', ['netns', 'add', h.netnsName]);
    await runTool('ip', ['-n', ul, 'link', 'add', `u${i + 1}`, 'type', 'veth', 'peer', 'name', 'ul0', 'netns', h.netnsName]);
    await runTool('ip', ['-n', ul, 'link', 'set', `u${i + 1}`, 'master', 'ul', 'up']);
    await runTool('ip', ['-n', h.netnsName, 'link', 'set', 'ul0', 'address', underlayMac(i), 'up']);
    await runTool('ip', ['-n', h.netnsName, 'link', 'set', 'lo', 'up']);
  }
}

function underlayMac(i: number): string {
  return `02:ec:00:00:00:${(i + 1).toString(16).padStart(2, '0')}`;
}

function hostEnv(h: HostState): NodeJS.ProcessEnv {
  return { ...process.env, OVS_RUNDIR: h.dir, OVS_LOGDIR: h.dir, OVS_DBDIR: h.dir, OVN_RUNDIR: h.dir, OVS_PKGDATADIR: path.dirname(DEFAULT_SCHEMA) };
}

/** ovs-vsctl against host h's database. */
export function vsctl(h: HostState, ...args: string[]): Promise<string> {
  return runTool('ovs-vsctl', [`--db=${h.dbUrl}`, '--timeout=20', ...args]);
}

/** Host h's run dir and its (empty) Open_vSwitch database file. */
export async function createHostDb(h: HostState): Promise<void> {
  await fs.mkdir(h.dir, { recursive: true, mode: 0o700 });
  await runTool('ovsdb-tool', ['create', path.join(h.dir, 'conf.db'), DEFAULT_SCHEMA]);
}

/** Host i's bridges (br-phy on the underlay, br-int for OVN) and its chassis settings. */
export async function configureHost(h: HostState, i: number, southbound: string, encap: 'geneve' | 'vxlan'): Promise<void> {
  await vsctl(
    h,
    ...['add-br', 'br-phy', '--', 'set', 'bridge', 'br-phy', 'datapath_type=netdev', 'fail-mode=standalone', `other_config:hwaddr="${underlayMac(i)}"`],
    ...['--', 'add-port', 'br-phy', 'ul0'],
    ...['--', 'add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev', 'fail-mode=secure', 'other_config:disable-in-band=true'],
    ...['--', 'set', 'open_vswitch', '.', `external_ids:system-id=${h.name}`, `external_ids:ovn-remote="${southbound}"`],
    ...[`external_ids:ovn-encap-type=${encap}`, `external_ids:ovn-encap-ip=${h.encapIp}`, 'external_ids:ovn-bridge=br-int', 'external_ids:ovn-bridge-datapath-type=netdev'],
  );
}

/** The encap address on br-phy's device (ovs-vswitchd recreates that device, bare, when it restarts). */
export async function underlayAddress(h: HostState): Promise<void> {
  await runTool('ip', ['-n', h.netnsName, 'addr', 'replace', `${h.encapIp}/24`, 'dev', 'br-phy']);
  await runTool('ip', ['-n', h.netnsName, 'link', 'set', 'br-phy', 'up']);
}

/** Starts host h's ovsdb-server in its namespace; returns its pid. */
export async function startHostOvsdb(h: HostState): Promise<number> {
  const pidfile = path.join(h.dir, 'ovsdb-server.pid');
  await fs.rm(pidfile, { force: true });
  await runTool(
    'ip',
    ['netns', 'exec', h.netnsName, 'ovsdb-server', path.join(h.dir, 'conf.db'), `--remote=punix:${h.dbUrl.slice(5)}`, `--pidfile=${pidfile}`, `--unixctl=${path.join(h.dir, 'ovsdb-server.ctl')}`, `--log-file=${path.join(h.dir, 'ovsdb-server.log')}`, ...DAEMON_LOG],
    hostEnv(h),
  );
  return readPid(pidfile);
}

/** Starts host h's ovs-vswitchd in its namespace; returns its pid. */
export async function startHostVswitchd(h: HostState): Promise<number> {
  const pidfile = path.join(h.dir, 'ovs-vswitchd.pid');
  await fs.rm(pidfile, { force: true });
  await runTool(
    'ip',
    ['netns', 'exec', h.netnsName, 'ovs-vswitchd', h.dbUrl, `--pidfile=${pidfile}`, `--unixctl=${path.join(h.dir, 'ovs-vswitchd.ctl')}`, `--log-file=${path.join(h.dir, 'ovs-vswitchd.log')}`, ...DAEMON_LOG],
    hostEnv(h),
  );
  return readPid(pidfile);
}

/** Starts host h's ovn-controller in its namespace; returns its pid. */
export async function startHostController(h: HostState): Promise<number> {
  const pidfile = path.join(h.dir, 'ovn-controller.pid');
  await fs.rm(pidfile, { force: true });
  // ovn-controller 23.03 has no --unixctl: its control socket lands in OVN_RUNDIR.
  await runTool(
    'ip',
    ['netns', 'exec', h.netnsName, 'ovn-controller', h.dbUrl, `--pidfile=${pidfile}`, `--log-file=${path.join(h.dir, 'ovn-controller.log')}`, ...DAEMON_LOG],
    hostEnv(h),
  );
  return readPid(pidfile);
}

/**
 * One ping between every pair of encap addresses: ovs-vswitchd learns the peers' MACs by
 * snooping that ARP on br-phy (tnl/neigh), else the first tunnelled packets to each peer are
 * dropped while it resolves them.
 */
export async function primeTunnels(hs: HostState[]): Promise<void> {
  await Promise.all(
    hs.map(async (h) => {
      for (const peer of hs) if (peer !== h) await runTool('ip', ['netns', 'exec', h.netnsName, 'ping', '-c1', '-W1', peer.encapIp], undefined, 5000).catch(() => undefined);
    }),
  );
}
