// A private OVN on one machine: the central part (Northbound and Southbound ovsdb-server, each
// optionally a 3-server raft cluster, and ovn-northd) and N simulated hosts. A host is a network
// namespace with its own ovsdb-server, userspace ovs-vswitchd and ovn-controller, all with a
// private OVS_RUNDIR (ovn-controller finds br-int.mgmt there, not in the system's run dir). The
// hosts share an underlay L2 segment (a Linux bridge in a namespace of its own); each host's
// encap IP sits on its br-phy, as OVS userspace tunnelling wants, and Geneve runs over it.
// Everything is tracked by pid and name and removed by stop(). The central part is ovn-central.ts,
// a simulated host ovn-host.ts; this file holds the sandbox's state and the verbs tests use.

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SandboxError } from '../errors';
import { OVN_SCHEMAS, createCentralDbs, initCentralDbs, raftLeader, startDbServer, startNorthd, type DbServer } from './ovn-central';
import { configureHost, createHostDb, hostState, makeUnderlay, primeTunnels, startHostController, startHostOvsdb, startHostVswitchd, underlayAddress, vsctl, type HostState, type OvnHost } from './ovn-host';
import { killNow, pidAlive, stopPids } from './pids';
import { runTool } from './tools';

export type { OvnHost } from './ovn-host';

/** Options of {@link OvnSandbox.start}. */
export interface OvnSandboxOptions {
  /** Simulated hosts (chassis). Default 2. */
  hosts?: number;
  /** Each database a 3-server raft cluster. Default false. */
  clustered?: boolean;
  /** Tunnel encapsulation. Default geneve. */
  encap?: 'geneve' | 'vxlan';
  /** Run dir; default a fresh directory under the system temp dir. */
  dir?: string;
}

interface OvnState {
  dir: string;
  id: string;
  encap: 'geneve' | 'vxlan';
  clustered: boolean;
  underlayNetns: string;
  nb: DbServer[];
  sb: DbServer[];
  northdPid?: number;
  hosts: HostState[];
}

const READY_TIMEOUT_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A private OVN for tests and demos: Northbound and Southbound databases (optionally raft clusters),
 * ovn-northd, and simulated hosts, each an Open vSwitch with ovn-controller in a network namespace
 * of its own, joined by an underlay. Stopped with everything it made.
 *
 * @example
 * ```ts
 * const ovn = await OvnSandbox.start({ hosts: 2 });
 * const local = await OvsdbClient.connect(ovn.hosts[0].dbUrl);
 * const vs = await VSwitch.create(local, { name: 'ls0', subnet: '10.8.0.254/24', ovn: { northbound: ovn.northbound }, netns: ovn.hosts[0].netns });
 * // ...
 * await ovn.stop();
 * ```
 */
export class OvnSandbox {
  private state: OvnState;
  private stopped = false;

  private constructor(state: OvnState) {
    this.state = state;
  }

  get dir(): string {
    return this.state.dir;
  }
  /** Northbound OVSDB URL (comma-separated servers when clustered). */
  get northbound(): string {
    return this.state.nb.map((s) => s.url).join(',');
  }
  /** Southbound OVSDB URL (comma-separated servers when clustered). */
  get southbound(): string {
    return this.state.sb.map((s) => s.url).join(',');
  }
  get hosts(): OvnHost[] {
    return this.state.hosts.map(({ name, dbUrl, netns, dir, encapIp }) => ({ name, dbUrl, netns, dir, encapIp }));
  }
  get clustered(): boolean {
    return this.state.clustered;
  }
  /** Every pid the sandbox started and believes alive (for tests that check stop()). */
  get pids(): number[] {
    const s = this.state;
    return [...s.nb, ...s.sb].map((x) => x.pid).concat(s.northdPid, ...s.hosts.flatMap((h) => [h.ovsdbPid, h.vswitchdPid, h.controllerPid])).filter((p): p is number => !!p);
  }
  /** Every network namespace name the sandbox made. */
  get netnsNames(): string[] {
    return [this.state.underlayNetns, ...this.state.hosts.map((h) => h.netnsName)];
  }

  /** Starts the central databases, ovn-northd and every host; resolves when every chassis is registered. */
  static async start(o: OvnSandboxOptions = {}): Promise<OvnSandbox> {
    const n = o.hosts ?? 2;
    if (!Number.isInteger(n) || n < 1 || n > 16) throw new SandboxError('SANDBOX_FAILED', `hosts must be an integer from 1 to 16, got ${String(o.hosts)}`);
    for (const f of OVN_SCHEMAS) {
      await fs.access(f).catch((e) => {
        throw new SandboxError('SANDBOX_FAILED', `cannot read ${f}; install OVN (Debian: apt-get install ovn-central ovn-host)`, { cause: e });
      });
    }
    const dir = o.dir ? path.resolve(o.dir) : await fs.mkdtemp(path.join(os.tmpdir(), 'ecovn-'));
    await fs.mkdir(path.join(dir, 'central'), { recursive: true, mode: 0o700 });
    const id = randomBytes(3).toString('hex');
    const st: OvnState = { dir, id, encap: o.encap ?? 'geneve', clustered: !!o.clustered, underlayNetns: `ecovn-${id}-ul`, nb: [], sb: [], hosts: [] };
    for (let i = 1; i <= n; i++) st.hosts.push(hostState(id, dir, i));
    const sb = new OvnSandbox(st);
    try {
      await Promise.all([sb.startCentral(), makeUnderlay(st.underlayNetns, st.hosts)]);
      await sb.save();
      await Promise.all(st.hosts.map((_, i) => sb.startHost(i)));
      await sb.save();
      await sb.waitReady();
      return sb;
    } catch (e) {
      await sb.stop().catch(() => undefined);
      throw e;
    }
  }

  /** Finds a sandbox started by another process (`ec sandbox up --ovn`) from its run dir. */
  static async open(dir: string): Promise<OvnSandbox> {
    try {
      return new OvnSandbox(JSON.parse(await fs.readFile(path.join(dir, 'ovn-sandbox.json'), 'utf8')) as OvnState);
    } catch (e) {
      throw new SandboxError('SANDBOX_FAILED', `no OVN sandbox in ${dir} (missing or unreadable ovn-sandbox.json)`, { cause: e });
    }
  }

  private async save(): Promise<void> {
    if (this.stopped) return;
    await fs.writeFile(path.join(this.dir, 'ovn-sandbox.json'), JSON.stringify(this.state, null, 2) + '\n', { mode: 0o600 });
  }

  // ---- central -----------------------------------------------------------------------------

  private get central(): string {
    return path.join(this.dir, 'central');
  }

  private async startCentral(): Promise<void> {
    [this.state.nb, this.state.sb] = await createCentralDbs(this.central, this.state.clustered);
    await Promise.all([...this.state.nb.map((_, i) => this.startDbServer('nb', i)), ...this.state.sb.map((_, i) => this.startDbServer('sb', i))]);
    await initCentralDbs(this.northbound, this.southbound);
    await this.startNorthd();
  }

  /** Starts (or restarts) Northbound or Southbound server i on its database file. */
  async startDbServer(db: 'nb' | 'sb', i = 0): Promise<void> {
    const s = this.state[db][i];
    if (s.pid && pidAlive(s.pid)) return;
    s.pid = await startDbServer(this.central, this.state.clustered, db, i, s);
    await this.save().catch(() => undefined);
  }

  /** SIGKILLs Northbound or Southbound server i (a crash). */
  async killDbServer(db: 'nb' | 'sb', i = 0): Promise<void> {
    await killNow(this.state[db][i].pid);
    this.state[db][i].pid = undefined;
  }

  /** Index of the Northbound (or Southbound) raft leader, or -1; 0 when not clustered. */
  async leader(db: 'nb' | 'sb'): Promise<number> {
    if (!this.state.clustered) return 0;
    return raftLeader(this.state[db], db);
  }

  /** Starts ovn-northd (again, after {@link OvnSandbox.stopNorthd}). */
  async startNorthd(): Promise<void> {
    if (this.state.northdPid && pidAlive(this.state.northdPid)) return;
    this.state.northdPid = await startNorthd(this.central, this.northbound, this.southbound);
    await this.save().catch(() => undefined);
  }

  /** Stops ovn-northd: the Northbound database is then no longer translated into flows. */
  async stopNorthd(): Promise<void> {
    await stopPids([this.state.northdPid]);
    this.state.northdPid = undefined;
  }

  // ---- hosts -------------------------------------------------------------------------------

  private async startHost(i: number): Promise<void> {
    const h = this.state.hosts[i];
    await createHostDb(h);
    h.ovsdbPid = await startHostOvsdb(h);
    await vsctl(h, '--no-wait', 'init');
    await this.startVswitchd(i);
    await configureHost(h, i, this.southbound, this.state.encap);
    await underlayAddress(h);
    await this.startController(i);
  }

  /** Starts host i's ovs-vswitchd (after `killVswitchd`, with the underlay address put back). */
  async startVswitchd(i: number): Promise<void> {
    const h = this.state.hosts[i];
    if (h.vswitchdPid && pidAlive(h.vswitchdPid)) return;
    h.vswitchdPid = await startHostVswitchd(h);
    await this.save().catch(() => undefined);
  }

  /** Kills host `i`'s ovs-vswitchd (SIGKILL), as a crash would. */
  async killVswitchd(i: number): Promise<void> {
    await killNow(this.state.hosts[i].vswitchdPid);
    this.state.hosts[i].vswitchdPid = undefined;
  }

  /** Kills host i's ovs-vswitchd and starts it again; returns when its tunnels are back. */
  async restartVswitchd(i: number): Promise<void> {
    await this.killVswitchd(i);
    await this.startVswitchd(i);
    const h = this.state.hosts[i];
    const end = Date.now() + READY_TIMEOUT_MS;
    while (!(await runTool('ip', ['-n', h.netnsName, 'link', 'show', 'br-phy']).then(() => true, () => false))) {
      if (Date.now() > end) throw new SandboxError('SANDBOX_FAILED', `br-phy did not come back on ${h.name}`);
      await sleep(50);
    }
    await underlayAddress(h);
    await this.waitReady();
  }

  /** Starts host `i`'s ovn-controller (again). */
  async startController(i: number): Promise<void> {
    const h = this.state.hosts[i];
    if (h.controllerPid && pidAlive(h.controllerPid)) return;
    h.controllerPid = await startHostController(h);
    await this.save().catch(() => undefined);
  }

  /** Stops host i's ovn-controller (SIGTERM: its chassis stays registered, as after a crash). */
  async stopController(i: number): Promise<void> {
    await stopPids([this.state.hosts[i].controllerPid]);
    this.state.hosts[i].controllerPid = undefined;
  }

  /** Waits until every chassis is registered in the Southbound and every host has its tunnels. */
  async waitReady(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const end = Date.now() + timeoutMs;
    const want = this.state.hosts.map((h) => h.name).sort();
    for (;;) {
      const chassis = (await runTool('ovn-sbctl', [`--db=${this.southbound}`, '--timeout=5', '--bare', '--columns=name', 'list', 'Chassis']).catch(() => ''))
        .split('\n')
        .map((x) => x.trim())
        .filter(Boolean)
        .sort();
      if (want.every((w) => chassis.includes(w))) {
        const tunnels = await Promise.all(
          this.state.hosts.map((h) =>
            vsctl(h, '--bare', '--columns=name', 'find', 'Interface', `type=${this.state.encap}`).then(
              (out) => out.split('\n').filter((x) => x.trim()).length,
              () => -1,
            ),
          ),
        );
        if (tunnels.every((t) => t >= want.length - 1)) {
          await primeTunnels(this.state.hosts);
          return;
        }
      }
      if (Date.now() > end) throw new SandboxError('SANDBOX_FAILED', `the OVN sandbox was not ready within ${timeoutMs} ms (chassis: ${chassis.join(' ') || 'none'}); see the logs in ${this.dir}`);
      await sleep(50);
    }
  }

  /** Environment for the OVN and OVS tools aimed at host i (ECDOCK_DB, ECDOCK_NETNS, ECDOCK_OVN_NB too). */
  env(i = 0): Record<string, string> {
    const h = this.state.hosts[i];
    return { ECDOCK_DB: h.dbUrl, ECDOCK_NETNS: h.netns, ECDOCK_OVN_NB: this.northbound, OVN_NB_DB: this.northbound, OVN_SB_DB: this.southbound, OVS_RUNDIR: h.dir };
  }

  /** Stops every daemon by pid, deletes every namespace (and with them the links), removes the run dir. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    const s = this.state;
    const errors: unknown[] = [];
    await stopPids(s.hosts.map((h) => h.controllerPid)).catch((e) => errors.push(e));
    await stopPids([s.northdPid, ...s.hosts.flatMap((h) => [h.vswitchdPid, h.ovsdbPid]), ...s.nb.map((x) => x.pid), ...s.sb.map((x) => x.pid)]).catch((e) => errors.push(e));
    const left = this.pids.filter(pidAlive);
    if (left.length) errors.push(new Error(`processes ${left.join(' ')} did not exit`));
    for (const h of s.hosts) h.controllerPid = h.vswitchdPid = h.ovsdbPid = undefined;
    s.northdPid = undefined;
    for (const x of [...s.nb, ...s.sb]) x.pid = undefined;
    const existing = new Set(
      (await runTool('ip', ['netns', 'list']).catch(() => ''))
        .split('\n')
        .map((l) => l.split(' ')[0])
        .filter(Boolean),
    );
    for (const name of this.netnsNames) if (existing.has(name)) await runTool('ip', ['netns', 'del', name]).catch((e) => errors.push(e));
    await fs.rm(this.dir, { recursive: true, force: true }).catch((e) => errors.push(e));
    if (errors.length) throw new SandboxError('SANDBOX_FAILED', `OVN sandbox ${this.dir} did not stop cleanly`, { detail: errors.map(String) });
  }
}
