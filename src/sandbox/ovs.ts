// A private Open vSwitch: ovsdb-server plus ovs-vswitchd (userspace datapath) in a temporary run
// dir of its own. With the rest of src/sandbox/ this is the one place in ecdock that starts
// processes: the OVS daemons and the OVS tools that set them up (tools.ts runTool). Every daemon is
// started detached, tracked by the pid in its pidfile, and stopped by that pid (pids.ts); nothing
// here looks processes up by name. A raft-clustered database is ovs-cluster.ts.

import { promises as fs, constants as fsc } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SandboxError } from '../errors';
import { UNIX_PATH_MAX } from '../ovsdb/transport';
import { VSWITCHD_NETNS_KEY } from '../vswitchd-netns';
import { pidAlive, readPid, stopPid, waitGone } from './pids';
import { runTool } from './tools';

/** Options of {@link OvsSandbox.start}. */
export interface OvsSandboxOptions {
  /** Run dir; created 0700 if missing. Default: a fresh directory under the system temp dir. */
  dir?: string;
  /** Give ovs-vswitchd a network namespace of its own (`sb.netns`). Default false. */
  isolated?: boolean;
  /** Start ovs-vswitchd too. Default true. */
  vswitchd?: boolean;
  /** Schema to create the database from. Default: the installed vswitch.ovsschema. */
  schema?: string;
  /** Extra `--remote` values for ovsdb-server, e.g. `ptcp:0:127.0.0.1`. */
  remotes?: string[];
  /** Extra arguments to ovsdb-server (e.g. SSL options). */
  ovsdbArgs?: string[];
}

/** What a sandbox writes to `<dir>/sandbox.json`, so another process can find and stop it. */
interface SandboxState {
  dir: string;
  dbUrl: string;
  netns?: string;
  netnsName?: string;
  ovsdbPid?: number;
  vswitchdPid?: number;
  isolated: boolean;
  schema: string;
  remotes: string[];
  ovsdbArgs: string[];
}

export const DEFAULT_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

/**
 * A private Open vSwitch for tests and demos: ovsdb-server and ovs-vswitchd (userspace datapath)
 * started in a run dir of their own, optionally in a network namespace of their own (`isolated`),
 * and stopped with everything they made. The only part of ecdock that starts processes.
 *
 * @example
 * ```ts
 * const sb = await OvsSandbox.start({ isolated: true });
 * const ovs = await OvsdbClient.connect(sb.dbUrl);
 * const vs = await VSwitch.create(ovs, { name: 'try0', subnet: '10.9.0.254/24', usermode: true, netns: sb.netns });
 * // ...
 * ovs.close();
 * await sb.stop();
 * ```
 */
export class OvsSandbox {
  private state: SandboxState;
  private stopped = false;

  private constructor(state: SandboxState) {
    this.state = state;
  }

  /** Run dir holding the database, sockets, pidfiles and logs. */
  get dir(): string {
    return this.state.dir;
  }
  /** OVSDB URL of this sandbox's ovsdb-server. */
  get dbUrl(): string {
    return this.state.dbUrl;
  }
  /** Path of ovs-vswitchd's network namespace when isolated (`/var/run/netns/NAME`), else undefined. */
  get netns(): string | undefined {
    return this.state.netns;
  }
  get ovsdbPid(): number | undefined {
    return this.state.ovsdbPid;
  }
  get vswitchdPid(): number | undefined {
    return this.state.vswitchdPid;
  }
  get dbPath(): string {
    return path.join(this.dir, 'conf.db');
  }
  get ovsdbCtl(): string {
    return path.join(this.dir, 'ovsdb-server.ctl');
  }
  get vswitchdCtl(): string {
    return path.join(this.dir, 'ovs-vswitchd.ctl');
  }
  /** Environment for OVS tools (ovs-vsctl, ovs-appctl, ovs-ofctl) aimed at this sandbox. */
  env(): Record<string, string> {
    return {
      ECDOCK_DB: this.dbUrl,
      OVS_RUNDIR: this.dir,
      OVS_LOGDIR: this.dir,
      OVS_DBDIR: this.dir,
      ...(this.netns ? { ECDOCK_NETNS: this.netns } : {}),
    };
  }

  /** Starts the daemons; resolves when ovsdb-server answers and ovs-vswitchd is connected. */
  static async start(options: OvsSandboxOptions = {}): Promise<OvsSandbox> {
    let dir: string;
    if (options.dir) {
      dir = path.resolve(options.dir);
      // Clients reach the database through <dir>/db.sock, and a unix socket path holds 107 bytes.
      const sock = Buffer.byteLength(path.join(dir, 'db.sock'));
      if (sock > UNIX_PATH_MAX) {
        throw new SandboxError('SANDBOX_FAILED', `the sandbox dir ${dir} is too long: its socket path would be ${sock} bytes, and a unix socket path holds at most ${UNIX_PATH_MAX}; use a shorter dir`, {
          detail: { dir },
        });
      }
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await fs.chmod(dir, 0o700);
    } else {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ecdock-sb-'));
    }
    const schema = options.schema ?? process.env.ECDOCK_OVS_SCHEMA ?? DEFAULT_SCHEMA;
    try {
      await fs.access(schema, fsc.R_OK);
    } catch (e) {
      throw new SandboxError(
        'SANDBOX_FAILED',
        `cannot read the OVS schema ${schema}; install Open vSwitch (Debian: apt-get install openvswitch-switch)`,
        { cause: e },
      );
    }
    const sb = new OvsSandbox({
      dir,
      dbUrl: `unix:${path.join(dir, 'db.sock')}`,
      isolated: !!options.isolated,
      schema,
      remotes: options.remotes ?? [],
      ovsdbArgs: options.ovsdbArgs ?? [],
    });
    try {
      await runTool('ovsdb-tool', ['create', sb.dbPath, schema]);
      await sb.startOvsdb();
      await runTool('ovs-vsctl', [`--db=${sb.dbUrl}`, '--no-wait', '--timeout=10', 'init']);
      if (options.isolated) {
        const name = `ecdock-sb-${randomBytes(4).toString('hex')}`;
        await runTool('ip', ['netns', 'add', name]);
        sb.state.netnsName = name;
        sb.state.netns = `/var/run/netns/${name}`;
        // Loopback up, so that ovs-vswitchd's own netlink and tap work behaves as on a host.
        await runTool('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
        // Recorded in the database, so that a client given only ECDOCK_DB finds ovs-vswitchd's namespace.
        await runTool('ovs-vsctl', [`--db=${sb.dbUrl}`, '--no-wait', '--timeout=10', 'set', 'Open_vSwitch', '.', `external_ids:"${VSWITCHD_NETNS_KEY}"="${sb.state.netns}"`]);
      }
      if (options.vswitchd !== false) await sb.startVswitchd();
      await sb.save();
      return sb;
    } catch (e) {
      await sb.stop().catch(() => undefined);
      throw e;
    }
  }

  /** Finds a sandbox started by another process (e.g. `ec sandbox up`) from its run dir. */
  static async open(dir: string): Promise<OvsSandbox> {
    let state: SandboxState;
    try {
      state = JSON.parse(await fs.readFile(path.join(dir, 'sandbox.json'), 'utf8')) as SandboxState;
    } catch (e) {
      throw new SandboxError('SANDBOX_FAILED', `no sandbox in ${dir} (missing or unreadable sandbox.json)`, { cause: e });
    }
    return new OvsSandbox(state);
  }

  private async save(): Promise<void> {
    await fs.writeFile(path.join(this.dir, 'sandbox.json'), JSON.stringify(this.state, null, 2) + '\n', { mode: 0o600 });
  }

  private daemonEnv(): NodeJS.ProcessEnv {
    return { ...process.env, OVS_RUNDIR: this.dir, OVS_LOGDIR: this.dir, OVS_DBDIR: this.dir, OVS_PKGDATADIR: path.dirname(this.state.schema) };
  }

  /** Starts (or restarts after `killOvsdb`) ovsdb-server on the same database and socket. */
  async startOvsdb(): Promise<void> {
    if (this.state.ovsdbPid && pidAlive(this.state.ovsdbPid)) return;
    const pidfile = path.join(this.dir, 'ovsdb-server.pid');
    await fs.rm(pidfile, { force: true });
    await fs.rm(path.join(this.dir, 'db.sock'), { force: true });
    await runTool(
      'ovsdb-server',
      [
        this.dbPath,
        `--remote=punix:${path.join(this.dir, 'db.sock')}`,
        ...this.state.remotes.map((r) => `--remote=${r}`),
        ...this.state.ovsdbArgs,
        `--pidfile=${pidfile}`,
        `--unixctl=${this.ovsdbCtl}`,
        `--log-file=${path.join(this.dir, 'ovsdb-server.log')}`,
        '-vsyslog:off',
        '-vconsole:off',
        '--detach',
        '--no-chdir',
      ],
      this.daemonEnv(),
    );
    this.state.ovsdbPid = await readPid(pidfile, 5000);
    if (!this.stopped) await this.save().catch(() => undefined);
  }

  /** Kills ovsdb-server with SIGKILL (a crash, for fault tests). */
  async killOvsdb(): Promise<void> {
    const pid = this.state.ovsdbPid;
    if (pid && pidAlive(pid)) {
      process.kill(pid, 'SIGKILL');
      await waitGone(pid, 3000);
    }
  }

  /** Kills ovsdb-server and starts it again on the same database (for reconnection tests). */
  async restartOvsdb(): Promise<void> {
    await this.killOvsdb();
    await this.startOvsdb();
  }

  /** Starts ovs-vswitchd (in the sandbox's own netns when isolated). */
  async startVswitchd(): Promise<void> {
    if (this.state.vswitchdPid && pidAlive(this.state.vswitchdPid)) return;
    const pidfile = path.join(this.dir, 'ovs-vswitchd.pid');
    await fs.rm(pidfile, { force: true });
    const args = [
      this.dbUrl,
      `--pidfile=${pidfile}`,
      `--unixctl=${this.vswitchdCtl}`,
      `--log-file=${path.join(this.dir, 'ovs-vswitchd.log')}`,
      '-vsyslog:off',
      '-vconsole:off',
      '--detach',
      '--no-chdir',
    ];
    if (this.state.netnsName) await runTool('ip', ['netns', 'exec', this.state.netnsName, 'ovs-vswitchd', ...args], this.daemonEnv());
    else await runTool('ovs-vswitchd', args, this.daemonEnv());
    this.state.vswitchdPid = await readPid(pidfile, 5000);
    if (!this.stopped) await this.save().catch(() => undefined);
  }

  /** Stops ovs-vswitchd the clean way (`exit --cleanup` removes its tap devices), then by pid. */
  async stopVswitchd(): Promise<void> {
    const pid = this.state.vswitchdPid;
    if (!pid || !pidAlive(pid)) return;
    try {
      await runTool('ovs-appctl', ['-t', this.vswitchdCtl, 'exit', '--cleanup'], undefined, 10_000);
    } catch {
      /* fall through to signals */
    }
    if (!(await waitGone(pid, 5000))) await stopPid(pid);
    this.state.vswitchdPid = undefined;
  }

  /** Kills ovs-vswitchd with SIGKILL (a crash, for fault tests). Its taps stay until restart. */
  async killVswitchd(): Promise<void> {
    const pid = this.state.vswitchdPid;
    if (pid && pidAlive(pid)) {
      process.kill(pid, 'SIGKILL');
      await waitGone(pid, 3000);
    }
  }

  /** Stops ovsdb-server (`exit`, then signals), leaving ovs-vswitchd running. */
  async stopOvsdb(): Promise<void> {
    const pid = this.state.ovsdbPid;
    if (!pid || !pidAlive(pid)) return;
    try {
      await runTool('ovs-appctl', ['-t', this.ovsdbCtl, 'exit'], undefined, 5000);
    } catch {
      /* fall through to signals */
    }
    if (!(await waitGone(pid, 3000))) await stopPid(pid);
    this.state.ovsdbPid = undefined;
  }

  /** Runs ovs-appctl against one of the daemons (tests and diagnostics). */
  appctl(target: 'ovsdb-server' | 'ovs-vswitchd', ...args: string[]): Promise<string> {
    return runTool('ovs-appctl', ['-t', target === 'ovsdb-server' ? this.ovsdbCtl : this.vswitchdCtl, ...args]);
  }

  /** Stops both daemons, removes the netns and the run dir. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    const errors: unknown[] = [];
    await this.stopVswitchd().catch((e) => errors.push(e));
    await this.stopOvsdb().catch((e) => errors.push(e));
    if (this.state.netnsName) {
      await runTool('ip', ['netns', 'del', this.state.netnsName]).catch((e) => errors.push(e));
      this.state.netnsName = undefined;
      this.state.netns = undefined;
    }
    await fs.rm(this.dir, { recursive: true, force: true }).catch((e) => errors.push(e));
    if (errors.length) throw new SandboxError('SANDBOX_FAILED', `sandbox ${this.dir} did not stop cleanly`, { detail: errors });
  }
}
