// A raft-clustered Open_vSwitch database: several local ovsdb-servers, no ovs-vswitchd, for tests
// of leader discovery and failover. Servers are tracked and stopped by the pids in their pidfiles.

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SandboxError } from '../errors';
import { DEFAULT_SCHEMA } from './ovs';
import { pidAlive, readPid, stopPid, waitGone } from './pids';
import { freePort, runTool } from './tools';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Options of {@link OvsCluster.start}. */
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

  /** Creates the clustered database and starts every server; resolves when they answer. */
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

  /** Starts server `i` again (after it was stopped); it rejoins the cluster. */
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
    this.pids[i] = await readPid(pidfile, 5000);
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

  /** Stops every server and removes the run dir. */
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
