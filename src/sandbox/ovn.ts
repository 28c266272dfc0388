// A private OVN on one machine: the central part (Northbound and Southbound ovsdb-server, each
// optionally a 3-server raft cluster, and ovn-northd) and N simulated hosts. A host is a network
// namespace with its own ovsdb-server, userspace ovs-vswitchd and ovn-controller, all with a
// private OVS_RUNDIR (ovn-controller finds br-int.mgmt there, not in the system's run dir). The
// hosts share an underlay L2 segment (a Linux bridge in a namespace of its own); each host's
// encap IP sits on its br-phy, as OVS userspace tunnelling wants, and Geneve runs over it.
// Everything is tracked by pid and name and removed by stop().

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SandboxError } from '../errors';
import { DEFAULT_SCHEMA } from './ovs';
import { killNow, pidAlive, readPid, stopPids } from './pids';
import { freePort, runTool } from './tools';

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

interface HostState extends OvnHost {
  netnsName: string;
  ovsdbPid?: number;
  vswitchdPid?: number;
  controllerPid?: number;
}

interface DbServer {
  url: string;
  ctl: string;
  pid?: number;
  raftPort?: number;
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

const NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema';
const SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema';
const READY_TIMEOUT_MS = 30_000;
const UNDERLAY_PREFIX = '172.31.255';
const DAEMON_LOG = ['-vsyslog:off', '-vconsole:off', '--detach', '--no-chdir'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

  static async start(o: OvnSandboxOptions = {}): Promise<OvnSandbox> {
    const n = o.hosts ?? 2;
    if (!Number.isInteger(n) || n < 1 || n > 16) throw new SandboxError('SANDBOX_FAILED', `hosts must be an integer from 1 to 16, got ${String(o.hosts)}`);
    for (const f of [NB_SCHEMA, SB_SCHEMA]) {
      await fs.access(f).catch((e) => {
        throw new SandboxError('SANDBOX_FAILED', `cannot read ${f}; install OVN (Debian: apt-get install ovn-central ovn-host)`, { cause: e });
      });
    }
    const dir = o.dir ? path.resolve(o.dir) : await fs.mkdtemp(path.join(os.tmpdir(), 'ecovn-'));
    await fs.mkdir(path.join(dir, 'central'), { recursive: true, mode: 0o700 });
    const id = randomBytes(3).toString('hex');
    const st: OvnState = { dir, id, encap: o.encap ?? 'geneve', clustered: !!o.clustered, underlayNetns: `ecovn-${id}-ul`, nb: [], sb: [], hosts: [] };
    for (let i = 1; i <= n; i++) {
      const name = `ecovn-${id}-h${i}`;
      const hdir = path.join(dir, `h${i}`);
      st.hosts.push({ name: `host${i}-${id}`, netnsName: name, netns: `/var/run/netns/${name}`, dir: hdir, dbUrl: `unix:${path.join(hdir, 'db.sock')}`, encapIp: `${UNDERLAY_PREFIX}.${i}` });
    }
    const sb = new OvnSandbox(st);
    try {
      await Promise.all([sb.startCentral(), sb.makeUnderlay()]);
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

  private async startCentral(): Promise<void> {
    const c = path.join(this.dir, 'central');
    const mk = async (db: 'nb' | 'sb', schema: string, dbName: string): Promise<DbServer[]> => {
      if (!this.state.clustered) {
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
    [this.state.nb, this.state.sb] = await Promise.all([mk('nb', NB_SCHEMA, 'OVN_Northbound'), mk('sb', SB_SCHEMA, 'OVN_Southbound')]);
    await Promise.all([...this.state.nb.map((_, i) => this.startDbServer('nb', i)), ...this.state.sb.map((_, i) => this.startDbServer('sb', i))]);
    await Promise.all([
      runTool('ovn-nbctl', [`--db=${this.northbound}`, '--no-wait', '--timeout=20', 'init']),
      runTool('ovn-sbctl', [`--db=${this.southbound}`, '--timeout=20', 'init']),
    ]);
    await this.startNorthd();
  }

  /** Starts (or restarts) Northbound or Southbound server i on its database file. */
  async startDbServer(db: 'nb' | 'sb', i = 0): Promise<void> {
    const s = this.state[db][i];
    if (s.pid && pidAlive(s.pid)) return;
    const c = path.join(this.dir, 'central');
    const base = this.state.clustered ? `${db}${i}` : db;
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
    s.pid = await readPid(pidfile);
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
    const name = db === 'nb' ? 'OVN_Northbound' : 'OVN_Southbound';
    for (const [i, s] of this.state[db].entries()) {
      if (!s.pid || !pidAlive(s.pid)) continue;
      const out = await runTool('ovs-appctl', ['-t', s.ctl, 'cluster/status', name], undefined, 3000).catch(() => '');
      if (/^Role: leader/m.test(out)) return i;
    }
    return -1;
  }

  async startNorthd(): Promise<void> {
    if (this.state.northdPid && pidAlive(this.state.northdPid)) return;
    const c = path.join(this.dir, 'central');
    const pidfile = path.join(c, 'ovn-northd.pid');
    await fs.rm(pidfile, { force: true });
    await runTool(
      'ovn-northd',
      [`--ovnnb-db=${this.northbound}`, `--ovnsb-db=${this.southbound}`, `--pidfile=${pidfile}`, `--unixctl=${path.join(c, 'ovn-northd.ctl')}`, `--log-file=${path.join(c, 'ovn-northd.log')}`, ...DAEMON_LOG],
      { ...process.env, OVN_RUNDIR: c },
    );
    this.state.northdPid = await readPid(pidfile);
    await this.save().catch(() => undefined);
  }

  async stopNorthd(): Promise<void> {
    await stopPids([this.state.northdPid]);
    this.state.northdPid = undefined;
  }

  // ---- hosts -------------------------------------------------------------------------------

  private async makeUnderlay(): Promise<void> {
    const ul = this.state.underlayNetns;
    await runTool('ip', ['netns', 'add', ul]);
    await runTool('ip', ['-n', ul, 'link', 'add', 'ul', 'type', 'bridge']);
    await runTool('ip', ['-n', ul, 'link', 'set', 'ul', 'up']);
    for (const [i, h] of this.state.hosts.entries()) {
      await runTool('ip', ['netns', 'add', h.netnsName]);
      await runTool('ip', ['-n', ul, 'link', 'add', `u${i + 1}`, 'type', 'veth', 'peer', 'name', 'ul0', 'netns', h.netnsName]);
      await runTool('ip', ['-n', ul, 'link', 'set', `u${i + 1}`, 'master', 'ul', 'up']);
      await runTool('ip', ['-n', h.netnsName, 'link', 'set', 'ul0', 'address', this.underlayMac(i), 'up']);
      await runTool('ip', ['-n', h.netnsName, 'link', 'set', 'lo', 'up']);
    }
  }

  private underlayMac(i: number): string {
    return `02:ec:00:00:00:${(i + 1).toString(16).padStart(2, '0')}`;
  }

  private hostEnv(h: HostState): NodeJS.ProcessEnv {
    return { ...process.env, OVS_RUNDIR: h.dir, OVS_LOGDIR: h.dir, OVS_DBDIR: h.dir, OVN_RUNDIR: h.dir, OVS_PKGDATADIR: path.dirname(DEFAULT_SCHEMA) };
  }

  private vsctl(h: HostState, ...args: string[]): Promise<string> {
    return runTool('ovs-vsctl', [`--db=${h.dbUrl}`, '--timeout=20', ...args]);
  }

  private async startHost(i: number): Promise<void> {
    const h = this.state.hosts[i];
    await fs.mkdir(h.dir, { recursive: true, mode: 0o700 });
    await runTool('ovsdb-tool', ['create', path.join(h.dir, 'conf.db'), DEFAULT_SCHEMA]);
    await this.startHostOvsdb(i);
    await this.vsctl(h, '--no-wait', 'init');
    await this.startVswitchd(i);
    await this.vsctl(
      h,
      ...['add-br', 'br-phy', '--', 'set', 'bridge', 'br-phy', 'datapath_type=netdev', 'fail-mode=standalone', `other_config:hwaddr="${this.underlayMac(i)}"`],
      ...['--', 'add-port', 'br-phy', 'ul0'],
      ...['--', 'add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev', 'fail-mode=secure', 'other_config:disable-in-band=true'],
      ...['--', 'set', 'open_vswitch', '.', `external_ids:system-id=${h.name}`, `external_ids:ovn-remote="${this.southbound}"`],
      ...[`external_ids:ovn-encap-type=${this.state.encap}`, `external_ids:ovn-encap-ip=${h.encapIp}`, 'external_ids:ovn-bridge=br-int', 'external_ids:ovn-bridge-datapath-type=netdev'],
    );
    await this.underlayAddress(i);
    await this.startController(i);
  }

  /** The encap address on br-phy's device (ovs-vswitchd recreates that device, bare, when it restarts). */
  private async underlayAddress(i: number): Promise<void> {
    const h = this.state.hosts[i];
    await runTool('ip', ['-n', h.netnsName, 'addr', 'replace', `${h.encapIp}/24`, 'dev', 'br-phy']);
    await runTool('ip', ['-n', h.netnsName, 'link', 'set', 'br-phy', 'up']);
  }

  private async startHostOvsdb(i: number): Promise<void> {
    const h = this.state.hosts[i];
    const pidfile = path.join(h.dir, 'ovsdb-server.pid');
    await fs.rm(pidfile, { force: true });
    await runTool(
      'ip',
      ['netns', 'exec', h.netnsName, 'ovsdb-server', path.join(h.dir, 'conf.db'), `--remote=punix:${h.dbUrl.slice(5)}`, `--pidfile=${pidfile}`, `--unixctl=${path.join(h.dir, 'ovsdb-server.ctl')}`, `--log-file=${path.join(h.dir, 'ovsdb-server.log')}`, ...DAEMON_LOG],
      this.hostEnv(h),
    );
    h.ovsdbPid = await readPid(pidfile);
  }

  /** Starts host i's ovs-vswitchd (after `killVswitchd`, with the underlay address put back). */
  async startVswitchd(i: number): Promise<void> {
    const h = this.state.hosts[i];
    if (h.vswitchdPid && pidAlive(h.vswitchdPid)) return;
    const pidfile = path.join(h.dir, 'ovs-vswitchd.pid');
    await fs.rm(pidfile, { force: true });
    await runTool(
      'ip',
      ['netns', 'exec', h.netnsName, 'ovs-vswitchd', h.dbUrl, `--pidfile=${pidfile}`, `--unixctl=${path.join(h.dir, 'ovs-vswitchd.ctl')}`, `--log-file=${path.join(h.dir, 'ovs-vswitchd.log')}`, ...DAEMON_LOG],
      this.hostEnv(h),
    );
    h.vswitchdPid = await readPid(pidfile);
    await this.save().catch(() => undefined);
  }

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
    await this.underlayAddress(i);
    await this.waitReady();
  }

  async startController(i: number): Promise<void> {
    const h = this.state.hosts[i];
    if (h.controllerPid && pidAlive(h.controllerPid)) return;
    const pidfile = path.join(h.dir, 'ovn-controller.pid');
    await fs.rm(pidfile, { force: true });
    // ovn-controller 23.03 has no --unixctl: its control socket lands in OVN_RUNDIR.
    await runTool(
      'ip',
      ['netns', 'exec', h.netnsName, 'ovn-controller', h.dbUrl, `--pidfile=${pidfile}`, `--log-file=${path.join(h.dir, 'ovn-controller.log')}`, ...DAEMON_LOG],
      this.hostEnv(h),
    );
    h.controllerPid = await readPid(pidfile);
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
            this.vsctl(h, '--bare', '--columns=name', 'find', 'Interface', `type=${this.state.encap}`).then(
              (out) => out.split('\n').filter((x) => x.trim()).length,
              () => -1,
            ),
          ),
        );
        if (tunnels.every((t) => t >= want.length - 1)) {
          await this.primeTunnels();
          return;
        }
      }
      if (Date.now() > end) throw new SandboxError('SANDBOX_FAILED', `the OVN sandbox was not ready within ${timeoutMs} ms (chassis: ${chassis.join(' ') || 'none'}); see the logs in ${this.dir}`);
      await sleep(50);
    }
  }

  /**
   * One ping between every pair of encap addresses: ovs-vswitchd learns the peers' MACs by
   * snooping that ARP on br-phy (tnl/neigh), else the first tunnelled packets to each peer are
   * dropped while it resolves them.
   */
  private async primeTunnels(): Promise<void> {
    const hs = this.state.hosts;
    await Promise.all(
      hs.map(async (h) => {
        for (const peer of hs) if (peer !== h) await runTool('ip', ['netns', 'exec', h.netnsName, 'ping', '-c1', '-W1', peer.encapIp], undefined, 5000).catch(() => undefined);
      }),
    );
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
