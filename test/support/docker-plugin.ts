// ecdock-docker-plugin for tests: an isolated OVS sandbox, the plugin as a child process under a
// unique driver name (socket /run/docker/plugins/<name>.sock), and tracking of every network and
// container a test makes, so that cleanup removes them by name even when the test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { OvsSandbox } from '../../src/sandbox';
import { OvsdbClient } from '../../src/ovsdb/client';
import { VSwitch } from '../../src/vswitch';
import { BUSYBOX_IMAGE } from './docker';
import { eventually, sh, uniqueName } from './env';

export const PLUGIN_MAIN = path.join(__dirname, '..', '..', 'src', 'docker-plugin', 'main.js');
export const PLUGIN_CRASH_MAIN = path.join(__dirname, 'docker-plugin-crash.js');

export class PluginProcess {
  log = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? -1 : null))));
  }
  get pid(): number {
    return this.child.pid!;
  }
  /** Signals this process (by its pid) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) process.kill(this.pid, signal);
    return this.exited;
  }
}

/** Starts the plugin with `args`; resolves once it says it serves, or rejects with its log. */
export async function startPlugin(args: string[], env: Record<string, string>, main = PLUGIN_MAIN): Promise<PluginProcess> {
  const p = new PluginProcess(spawn(process.execPath, [main, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const started = await Promise.race([
    eventually(() => p.log.includes('serving driver'), 20_000, 25).then(() => true),
    p.exited.then(() => false),
  ]);
  if (!started) throw new Error(`the plugin did not start:\n${p.log}`);
  return p;
}

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The OVS a plugin serves: an OvsSandbox (stopped with the fixture), or an OVN sandbox's host (not). */
export interface PluginHost {
  dbUrl: string;
  netns?: string;
  stop?(): Promise<void>;
}

export class PluginFixture {
  readonly name: string;
  plugin?: PluginProcess;
  readonly networks: string[] = [];
  readonly containers: string[] = [];
  private ovs?: OvsdbClient;

  /** `prefix` names the driver, and the networks and containers the fixture makes (prefix + n/c + hex). */
  constructor(
    readonly sb: PluginHost,
    private readonly prefix = 'ecdk',
  ) {
    this.name = uniqueName(`${prefix}t`);
  }

  /** A plugin on an isolated OVS sandbox of its own (or on `host`, which the fixture does not stop). */
  static async start(prefix?: string, host?: PluginHost): Promise<PluginFixture> {
    const f = new PluginFixture(host ?? (await OvsSandbox.start({ isolated: true })), prefix);
    try {
      await f.startPlugin();
    } catch (e) {
      await f.cleanup();
      throw e;
    }
    return f;
  }

  get socket(): string {
    return `/run/docker/plugins/${this.name}.sock`;
  }
  get staging(): string {
    return `/var/run/netns/ecdock-docker-${this.name}`;
  }
  env(): Record<string, string> {
    return { ECDOCK_DB: this.sb.dbUrl, ...(this.sb.netns ? { ECDOCK_NETNS: this.sb.netns } : {}) };
  }

  async startPlugin(o: { env?: Record<string, string>; main?: string } = {}): Promise<PluginProcess> {
    this.plugin = await startPlugin(['--name', this.name], { ...this.env(), ...o.env }, o.main);
    return this.plugin;
  }

  async client(): Promise<OvsdbClient> {
    this.ovs ??= await OvsdbClient.connect(this.sb.dbUrl, { reconnect: false });
    return this.ovs;
  }
  async vswitches(): Promise<VSwitch[]> {
    return VSwitch.list(await this.client());
  }

  docker(args: string[], timeoutMs = 60_000): Promise<DockerResult> {
    return sh('docker', args, { allowFail: true, timeoutMs });
  }

  /** `docker network create -d <driver>`; resolves to docker's result (the network is tracked). */
  async createNetwork(args: string[]): Promise<DockerResult & { name: string }> {
    const name = uniqueName(`${this.prefix}n`);
    this.networks.push(name);
    return { name, ...(await this.docker(['network', 'create', '-d', this.name, ...args, name])) };
  }

  /** `docker run -d` of the busybox image (tracked); `cmd` defaults to a long sleep. */
  async run(args: string[], cmd: string[] = ['sleep', '3600']): Promise<DockerResult & { name: string }> {
    const name = uniqueName(`${this.prefix}c`);
    this.containers.push(name);
    return { name, ...(await this.docker(['run', '-d', '--name', name, ...args, BUSYBOX_IMAGE, ...cmd])) };
  }

  async pidOf(container: string): Promise<number> {
    return Number((await sh('docker', ['inspect', '-f', '{{.State.Pid}}', container])).stdout.trim());
  }

  async inspectNet(container: string, network: string): Promise<{ IPAddress: string; MacAddress: string; Gateway: string; EndpointID: string }> {
    const r = await sh('docker', ['inspect', '-f', '{{json .NetworkSettings.Networks}}', container]);
    return (JSON.parse(r.stdout) as Record<string, { IPAddress: string; MacAddress: string; Gateway: string; EndpointID: string }>)[network];
  }

  async cleanup(): Promise<void> {
    if (this.containers.length) await this.docker(['rm', '-f', ...this.containers]);
    for (const n of this.networks) await this.docker(['network', 'rm', n]);
    await this.plugin?.stop('SIGKILL');
    this.ovs?.close();
    if (existsSync(this.socket)) await sh('rm', ['-f', this.socket], { allowFail: true });
    await sh('ip', ['netns', 'del', `ecdock-docker-${this.name}`], { allowFail: true });
    await this.sb.stop?.();
  }
}

/** One call of Docker's plugin API over a plugin's socket, as dockerd makes it. */
export function pluginCall(socket: string, method: string, body: object): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ socketPath: socket, path: `/${method}`, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) }, timeout: 60_000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(data);
  });
}
