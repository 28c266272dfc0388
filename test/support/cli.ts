// Running the built `ec` as users do, as a child process against a private OVS: one-shot runs with
// their exit code and output, long-running ones (ec watch) read line by line, ec attach under a
// pseudo-terminal, and snapshots of everything a failed command must not have changed.
import { underPty, type Pty } from './pty';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { OvsdbClient } from '../../src/ovsdb/client';
import { OvsSandbox } from '../../src/sandbox';
import { DockerRuntime } from '../../src/runtime/docker';
import { Cleanup, sh, uniqueName } from './env';

/** dist/src/cli/main.js, next to this file's compiled form in dist/test/support. */
export const EC = join(__dirname, '..', '..', 'src', 'cli', 'main.js');

export interface EcResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface EcOptions {
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** Runs `node dist/src/cli/main.js ARGS` and resolves with its exit code and output (never rejects on a non-zero exit). */
export function ec(args: string[], o: EcOptions = {}): Promise<EcResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...o.env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const child = spawn(process.execPath, [EC, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ec ${args.join(' ')} did not finish within ${o.timeoutMs ?? 60_000} ms; stderr: ${stderr}`));
    }, o.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** `ec` that must succeed; returns stdout (parsed when --json is among the args). */
export async function ecOk<T = string>(args: string[], o: EcOptions = {}): Promise<T> {
  const r = await ec(args, o);
  if (r.code !== 0) throw new Error(`ec ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return (args.includes('--json') ? JSON.parse(r.stdout) : r.stdout) as T;
}

/** A long-running `ec` (watch): its output accumulates; waitFor polls it. Stop it with stop(). */
export class EcProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[], o: EcOptions = {}) {
    const env = { ...process.env, ...o.env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    this.child = spawn(process.execPath, [EC, ...args], { env });
    this.child.stdout.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  async waitFor(stream: 'stdout' | 'stderr', re: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    for (;;) {
      const m = this[stream].match(re);
      if (m) return m;
      if (this.child.exitCode !== null) throw new Error(`ec exited ${this.child.exitCode} before ${re} appeared; stdout: ${this.stdout}; stderr: ${this.stderr}`);
      if (Date.now() > end) throw new Error(`no ${re} on ${stream} within ${ms} ms; stdout: ${this.stdout}; stderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** SIGINT (like ctrl-c), then SIGKILL if it does not end; resolves to the exit code. Stops only this pid. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGINT');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

/** `ec ARGS` under a pseudo-terminal (see support/pty.ts). */
export function ecUnderPty(args: string[], env: Record<string, string | undefined>): Pty {
  return underPty([process.execPath, EC, ...args], env);
}

/** One ping from a process's network namespace (nsenter from util-linux, the host's ping). */
export async function pingFrom(pid: number, address: string, timeoutS = 2): Promise<boolean> {
  const r = await sh('nsenter', [`--net=/proc/${pid}/ns/net`, 'ping', '-c1', `-W${timeoutS}`, address], { allowFail: true, timeoutMs: (timeoutS + 5) * 1000 });
  return r.code === 0;
}

/** Pings until one answers (the first may race ARP) or `tries` fail. */
export async function pingsFrom(pid: number, address: string, tries = 5): Promise<boolean> {
  for (let i = 0; i < tries; i++) if (await pingFrom(pid, address, 1)) return true;
  return false;
}

/** `ip -j addr` inside a process's network namespace. */
export async function linksOf(pid: number): Promise<{ ifname: string; address?: string; addr_info?: { family: string; local: string; prefixlen: number }[] }[]> {
  const r = await sh('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-j', 'addr']);
  return JSON.parse(r.stdout);
}

/** A private isolated OVS for CLI tests, with the environment that points `ec` at it. */
export class CliFixture {
  readonly cleanup = new Cleanup();
  sb!: OvsSandbox;
  ovs!: OvsdbClient;
  /** Name of the sandbox's netns, for `ip -n`. */
  sbns!: string;
  readonly docker = new DockerRuntime();

  static async start(): Promise<CliFixture> {
    const f = new CliFixture();
    f.sb = await OvsSandbox.start({ isolated: true });
    f.cleanup.add(() => f.sb.stop());
    f.ovs = await OvsdbClient.connect(f.sb.dbUrl);
    f.cleanup.add(() => f.ovs.close());
    f.sbns = f.sb.netns!.split('/').pop()!;
    return f;
  }

  /** ECDOCK_DB and ECDOCK_NETNS for this sandbox, plus a vswitch name. */
  env(vswitch?: string): Record<string, string> {
    return { ECDOCK_DB: this.sb.dbUrl, ECDOCK_NETNS: this.sb.netns!, ...(vswitch ? { ECDOCK_VSWITCH: vswitch } : {}) };
  }

  vswitchName(prefix = 'ec'): string {
    return uniqueName(prefix);
  }

  /** Bridge, Port and Interface names in OVSDB, and link names in the sandbox's netns. */
  async snapshot(extra: () => Promise<unknown> = async () => undefined): Promise<string> {
    const names = async (table: string) => {
      const [r] = await this.ovs.transact('Open_vSwitch', [{ op: 'select', table, where: [], columns: ['name'] }]);
      return ((r as { rows: { name: string }[] }).rows ?? []).map((x) => x.name).sort();
    };
    const links = (JSON.parse((await sh('ip', ['-n', this.sbns, '-j', 'link'])).stdout) as { ifname: string }[]).map((l) => l.ifname).sort();
    return JSON.stringify({ bridges: await names('Bridge'), ports: await names('Port'), interfaces: await names('Interface'), links, extra: await extra() }, null, 1);
  }

  /** Port names on a bridge, from OVSDB. */
  async portsOf(bridge: string): Promise<string[]> {
    const out = await sh('ovs-vsctl', [`--db=${this.sb.dbUrl}`, '--timeout=10', 'list-ports', bridge], { allowFail: true });
    return out.stdout.split('\n').filter(Boolean).sort();
  }

  /** Link names in the sandbox's netns (where slot veths' host ends live). */
  async sandboxLinks(): Promise<string[]> {
    return (JSON.parse((await sh('ip', ['-n', this.sbns, '-j', 'link'])).stdout) as { ifname: string }[]).map((l) => l.ifname).sort();
  }

  /** Ids of containers (any state) labelled for this vswitch or named after its slots. */
  async containersOf(vswitch: string): Promise<string[]> {
    const all = await this.docker.list({ all: true });
    return all
      .filter((c) => c.labels['ecdock.vswitch'] === vswitch || c.name.startsWith(`${vswitch}-s`))
      .map((c) => c.id)
      .sort();
  }

  /** Force-removes, by id, every container of this vswitch (after hooks; never throws). */
  async removeContainersOf(vswitch: string): Promise<void> {
    for (const id of await this.containersOf(vswitch).catch(() => [] as string[])) {
      await this.docker.remove(id, { force: true }).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    await this.cleanup.run();
  }
}
