// A private Open vSwitch: ovsdb-server plus ovs-vswitchd (userspace datapath) in a temporary run
// dir of its own. This is the one place in ecdock that starts processes: the OVS daemons and the
// OVS tools that set them up. Every daemon is started detached, tracked by the pid in its pidfile,
// and stopped by that pid; nothing here looks processes up by name.

import { execFile } from 'node:child_process';
import { promises as fs, constants as fsc, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SandboxError } from '../errors';
import { UNIX_PATH_MAX } from '../ovsdb/transport';
import { VSWITCHD_NETNS_KEY } from '../vswitchd-netns';

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
const TOOL_TIMEOUT_MS = 20_000;

/** Runs an OVS or iproute2 tool; arguments are passed as an array, never through a shell. */
export function runTool(
  file: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
  timeoutMs = TOOL_TIMEOUT_MS,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: env ?? process.env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const what = `${file} ${args.join(' ')}`;
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(
          new SandboxError(
            'SANDBOX_FAILED',
            missing
              ? `${file} is not installed; install Open vSwitch (Debian: apt-get install openvswitch-switch) and iproute2`
              : `${what} failed: ${String(stderr || err.message).trim()}`,
            { cause: err, detail: { file, args, stderr: String(stderr) } },
          ),
        );
      } else resolve(String(stdout));
    });
  });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed daemon whose parent does not reap it lingers as a zombie: count that as gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!pidAlive(pid)) return true;
    await sleep(20);
  }
  return !pidAlive(pid);
}

/** Stops a process we started, by pid: SIGTERM, then SIGKILL. */
export async function stopPid(pid: number | undefined, graceMs = 3000): Promise<void> {
  if (!pid || !pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitGone(pid, graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitGone(pid, 2000);
}

async function readPid(file: string, ms = 5000): Promise<number> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const pid = parseInt(await fs.readFile(file, 'utf8'), 10);
      if (pid > 0) return pid;
    } catch {
      /* not written yet */
    }
    if (Date.now() > end) throw new SandboxError('SANDBOX_FAILED', `no pid appeared in ${file}`);
    await sleep(10);
  }
}

/** A free TCP port on 127.0.0.1 (for raft peers and tcp remotes in tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

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
    this.state.ovsdbPid = await readPid(pidfile);
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
    this.state.vswitchdPid = await readPid(pidfile);
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

export interface OvsClusterOptions {
  /** Number of raft servers (default 3). */
  size?: number;
  dir?: string;
  schema?: string;
}

/**
 * A raft-clustered Open_vSwitch database served by several local ovsdb-servers (no ovs-vswitchd).
 * For tests of leader discovery and failover.
 */
export class OvsCluster {
  readonly dir: string;
  readonly size: number;
  private readonly raftPorts: number[];
  private pids: (number | undefined)[];

  private constructor(dir: string, size: number, raftPorts: number[]) {
    this.dir = dir;
    this.size = size;
    this.raftPorts = raftPorts;
    this.pids = Array.from({ length: size }, () => undefined);
  }

  /** Comma-separated unix: remotes of every server, the form OvsdbClient.connect takes. */
  get dbUrl(): string {
    return this.servers.map((s) => s.url).join(',');
  }

  get servers(): { index: number; url: string; ctl: string; pid: number | undefined }[] {
    return this.raftPorts.map((_, i) => ({
      index: i,
      url: `unix:${path.join(this.dir, `s${i}.sock`)}`,
      ctl: path.join(this.dir, `s${i}.ctl`),
      pid: this.pids[i],
    }));
  }

  static async start(options: OvsClusterOptions = {}): Promise<OvsCluster> {
    const size = options.size ?? 3;
    const schema = options.schema ?? process.env.ECDOCK_OVS_SCHEMA ?? DEFAULT_SCHEMA;
    const dir = options.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'ecdock-raft-')));
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const ports: number[] = [];
    for (let i = 0; i < size; i++) ports.push(await freePort());
    const cl = new OvsCluster(dir, size, ports);
    try {
      const raft = (i: number) => `tcp:127.0.0.1:${ports[i]}`;
      await runTool('ovsdb-tool', ['create-cluster', path.join(dir, 's0.db'), schema, raft(0)]);
      for (let i = 1; i < size; i++) {
        await runTool('ovsdb-tool', ['join-cluster', path.join(dir, `s${i}.db`), 'Open_vSwitch', raft(i), raft(0)]);
      }
      for (let i = 0; i < size; i++) await cl.startServer(i);
      await runTool('ovs-vsctl', [`--db=${cl.dbUrl}`, '--no-wait', '--timeout=20', 'init']);
      return cl;
    } catch (e) {
      await cl.stop().catch(() => undefined);
      throw e;
    }
  }

  async startServer(i: number): Promise<void> {
    if (this.pids[i] && pidAlive(this.pids[i]!)) return;
    const pidfile = path.join(this.dir, `s${i}.pid`);
    await fs.rm(pidfile, { force: true });
    await fs.rm(path.join(this.dir, `s${i}.sock`), { force: true });
    await runTool('ovsdb-server', [
      path.join(this.dir, `s${i}.db`),
      `--remote=punix:${path.join(this.dir, `s${i}.sock`)}`,
      `--pidfile=${pidfile}`,
      `--unixctl=${path.join(this.dir, `s${i}.ctl`)}`,
      `--log-file=${path.join(this.dir, `s${i}.log`)}`,
      '-vsyslog:off',
      '-vconsole:off',
      '--detach',
      '--no-chdir',
    ]);
    this.pids[i] = await readPid(pidfile);
  }

  /** SIGKILLs server i. */
  async killServer(i: number): Promise<void> {
    const pid = this.pids[i];
    if (pid && pidAlive(pid)) {
      process.kill(pid, 'SIGKILL');
      await waitGone(pid, 3000);
    }
    this.pids[i] = undefined;
  }

  /** Index of the server that reports itself leader, or -1 (asks each live server). */
  async leader(): Promise<number> {
    for (const s of this.servers) {
      if (!s.pid || !pidAlive(s.pid)) continue;
      try {
        const out = await runTool('ovs-appctl', ['-t', s.ctl, 'cluster/status', 'Open_vSwitch'], undefined, 3000);
        if (/^Role: leader/m.test(out)) return s.index;
      } catch {
        /* server busy or down */
      }
    }
    return -1;
  }

  /** Waits until some live server is leader; returns its index. */
  async waitLeader(timeoutMs = 15_000): Promise<number> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const l = await this.leader();
      if (l >= 0) return l;
      if (Date.now() > end) throw new SandboxError('SANDBOX_FAILED', 'no raft leader was elected in time');
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    for (let i = 0; i < this.size; i++) {
      const pid = this.pids[i];
      if (pid && pidAlive(pid)) {
        try {
          await runTool('ovs-appctl', ['-t', path.join(this.dir, `s${i}.ctl`), 'exit'], undefined, 5000);
        } catch {
          /* fall through */
        }
        if (!(await waitGone(pid, 3000))) await stopPid(pid);
      }
      this.pids[i] = undefined;
    }
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A scratch network namespace for demos and trials (`ip netns add`), with a ping from inside.
 * Like the daemons above, it lives here so that this file stays the only one that runs tools.
 */
export class ScratchNetns {
  readonly name: string;
  private constructor(name: string) {
    this.name = name;
  }
  get path(): string {
    return `/var/run/netns/${this.name}`;
  }
  static async create(name: string): Promise<ScratchNetns> {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new SandboxError('SANDBOX_FAILED', `"${name}" cannot name a scratch namespace`);
    await runTool('ip', ['netns', 'add', name]);
    return new ScratchNetns(name);
  }
  /** One ICMP echo from inside this namespace (retried: the first may race neighbour setup). */
  async ping(address: string, tries = 3): Promise<boolean> {
    if (!/^[0-9A-Fa-f:.]+$/.test(address)) throw new SandboxError('SANDBOX_FAILED', `"${address}" is not an IP address`);
    for (let i = 0; i < tries; i++) {
      try {
        await runTool('ip', ['netns', 'exec', this.name, 'ping', ...(address.includes(':') ? ['-6'] : []), '-c1', '-W1', address], undefined, 5000);
        return true;
      } catch {
        /* no answer this time */
      }
    }
    return false;
  }
  /**
   * Sends `bytes` over TCP from this namespace to `address`:`port` (a listener this starts in
   * `server`'s namespace) and resolves to how many bytes arrived there; 0 when nothing did. Both
   * ends are Node itself under `ip netns exec`, so nothing beyond iproute2 is needed.
   */
  async tcpSendTo(server: ScratchNetns, address: string, port: number, bytes = 256 * 1024, timeoutMs = 10_000): Promise<number> {
    if (!/^[0-9A-Fa-f:.]+$/.test(address)) throw new SandboxError('SANDBOX_FAILED', `"${address}" is not an IP address`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SandboxError('SANDBOX_FAILED', `${port} is not a TCP port`);
    let out = '';
    let listener!: ReturnType<typeof execFile>;
    const done = new Promise<number>((resolve) => {
      listener = execFile('ip', ['netns', 'exec', server.name, process.execPath, '-e', TCP_RECEIVER, '--', String(port), String(timeoutMs)], { timeout: timeoutMs + 5000 }, (_err, stdout) =>
        resolve(Number(/^(\d+)$/m.exec(String(stdout))?.[1] ?? 0)),
      );
      listener.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    });
    const until = Date.now() + timeoutMs;
    while (!out.includes('ready') && listener.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (!out.includes('ready')) {
      listener.kill('SIGKILL');
      return done;
    }
    await runTool('ip', ['netns', 'exec', this.name, process.execPath, '-e', TCP_SENDER, '--', address, String(port), String(bytes), String(timeoutMs)], undefined, timeoutMs + 5000).catch(() => undefined);
    return done;
  }
  async remove(): Promise<void> {
    await runTool('ip', ['netns', 'del', this.name]);
  }
}

// argv: port, timeout ms. Counts the bytes of one connection, prints the count when it ends.
const TCP_RECEIVER = `const net = require('node:net'); const [port, ms] = process.argv.slice(1).map(Number); let got = 0;
const fin = () => { process.stdout.write(got + '\\n'); process.exit(0); };
net.createServer((c) => { c.on('data', (b) => { got += b.length; }); c.on('end', fin); c.on('error', fin); })
  .listen(port, () => process.stdout.write('ready\\n'));
setTimeout(fin, ms);`;

// argv: address, port, bytes, timeout ms. Sends the bytes and closes.
const TCP_SENDER = `const net = require('node:net'); const [host, port, n, ms] = process.argv.slice(1);
const c = net.connect({ host, port: Number(port) }, () => c.end(Buffer.alloc(Number(n), 120)));
c.on('error', () => process.exit(1)); c.on('close', () => process.exit(0)); setTimeout(() => process.exit(2), Number(ms));`;
