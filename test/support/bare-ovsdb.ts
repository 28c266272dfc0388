// A bare ovsdb-server on any schema (no ovs-vswitchd, no Open_vSwitch table), in a temp dir, for
// the OVSDB client's tests: the differential cache test and the type generator's --db mode.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sh } from './env';

export class BareOvsdb {
  readonly dir: string;
  readonly dbPath: string;
  readonly sock: string;
  private child: ChildProcess | undefined;

  private constructor(dir: string) {
    this.dir = dir;
    this.dbPath = path.join(dir, 'db.db');
    this.sock = path.join(dir, 'db.sock');
  }

  get url(): string {
    return `unix:${this.sock}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Creates a database from the schema file and starts a server on it. */
  static async start(schemaPath: string): Promise<BareOvsdb> {
    const b = new BareOvsdb(mkdtempSync(path.join(os.tmpdir(), 'ecdock-bare-')));
    try {
      const r = await sh('ovsdb-tool', ['create', b.dbPath, schemaPath]);
      if (r.code !== 0) throw new Error(`ovsdb-tool create failed: ${r.stderr}`);
      await b.startServer();
      return b;
    } catch (e) {
      await b.stop();
      throw e;
    }
  }

  /** Starts (or restarts after kill) the server on the same database and socket. */
  async startServer(): Promise<void> {
    if (this.child) return;
    rmSync(this.sock, { force: true });
    const child = spawn(
      'ovsdb-server',
      [this.dbPath, `--remote=punix:${this.sock}`, `--unixctl=${path.join(this.dir, 'ctl')}`, `--log-file=${path.join(this.dir, 'log')}`, '-vconsole:off', '-vsyslog:off', '--no-chdir'],
      { stdio: 'ignore' },
    );
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + 10_000;
    while (!existsSync(this.sock)) {
      if (!this.child) throw new Error('ovsdb-server exited at start');
      if (Date.now() > deadline) throw new Error('ovsdb-server did not create its socket within 10 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGKILLs the server (by its pid) and waits for it to be gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) {
      this.child = undefined;
      return;
    }
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
    this.child = undefined;
  }

  /** Stops the server and removes the directory. Safe to call twice. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
