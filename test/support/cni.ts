// Fixtures for the CNI plugin tests and benchmark: the plugin reachable as type "ecdock" in a
// private CNI_PATH directory, conflists written to a temp dir, the Go libcni client built once
// (cached by the hash of its source), and direct plugin calls for what libcni 1.1 cannot send
// (GC, STATUS) or refuses to send (bad input).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { OvsdbClient } from '../../src/ovsdb/client';
import { OvsSandbox } from '../../src/sandbox';
import { VSwitch } from '../../src/vswitch';
import { Cleanup, TestNetns, sh, uniqueName } from './env';

export const CRASH_PRELOAD = resolve(__dirname, 'cni-crash.js');

/** The compiled plugin (dist/src/cni/main.js), from dist/test/support. */
export const PLUGIN_JS = resolve(__dirname, '../../src/cni/main.js');
/** The C forwarder (native/cni-forward.c) node-gyp builds next to the addon, or the prebuilt one. */
export const FORWARDER = [
  resolve(__dirname, '../../../build/Release/ecdock-cni-forward'),
  resolve(__dirname, `../../../prebuilds/${process.platform}-${process.arch}/ecdock-cni-forward`),
].find((p) => existsSync(p)) ?? resolve(__dirname, '../../../build/Release/ecdock-cni-forward');
const CLIENT_SRC = resolve(__dirname, '../../../test/support/cni-client/main.go');
export const REFERENCE_PLUGINS = '/usr/lib/cni';

/** Builds the libcni client offline (Debian's golang-go + golang-github-appc-cni-dev), once per source version. */
export async function buildCniClient(): Promise<string> {
  const src = readFileSync(CLIENT_SRC);
  const dir = join(tmpdir(), `ecdock-cni-client-${createHash('sha256').update(src).digest('hex').slice(0, 12)}`);
  const bin = join(dir, 'cni-client');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}`;
  await new Promise<void>((res, rej) =>
    execFile(
      'go',
      ['build', '-o', tmp, CLIENT_SRC],
      { cwd: dir, timeout: 180_000, env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: join(dir, 'gocache'), GOFLAGS: '' } },
      (err, _o, stderr) => (err ? rej(new Error(`go build of the libcni client failed: ${stderr || err.message}`)) : res()),
    ),
  );
  await sh('mv', [tmp, bin]);
  return bin;
}

export interface CniDirs {
  root: string;
  /** CNI_PATH: our plugin as "ecdock", then the reference plugins. */
  path: string;
  cache: string;
  /** What every call gets in its environment: ECDOCK_CNI_SOCKET when calls go through the forwarder and a daemon. */
  env: Record<string, string>;
  remove(): void;
}

/**
 * A temp dir with bin/ecdock -> the compiled plugin (or, with `socket`, -> the forwarder, which
 * hands calls to the daemon on that socket), a libcni cache and room for conflists.
 */
export function makeCniDirs(o: { socket?: string } = {}): CniDirs {
  const root = mkdtempSync(join(tmpdir(), 'ecdock-cni-'));
  mkdirSync(join(root, 'bin'));
  chmodSync(PLUGIN_JS, 0o755);
  if (o.socket !== undefined && !existsSync(FORWARDER)) throw new Error(`${FORWARDER} is missing: build it with node-gyp rebuild`);
  symlinkSync(o.socket !== undefined ? FORWARDER : PLUGIN_JS, join(root, 'bin', 'ecdock'));
  return {
    root,
    path: `${join(root, 'bin')}:${REFERENCE_PLUGINS}`,
    cache: join(root, 'cache'),
    env: o.socket !== undefined ? { ECDOCK_CNI_SOCKET: o.socket } : {},
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

export interface CniDaemonProcess {
  socket: string;
  child: ChildProcess;
  /** Everything it printed so far (one line per call on stderr). */
  log(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves when it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A unique socket path under /run/ecdock for a test daemon. */
export const testSocket = (): string => `/run/ecdock/${uniqueName('cnid')}.sock`;

/** Starts `ecdock-cni serve --socket SOCKET` and waits until it serves. */
export async function startCniDaemon(socket = testSocket(), o: { preload?: string; env?: Record<string, string> } = {}): Promise<CniDaemonProcess> {
  const child = spawn(process.execPath, [...(o.preload ? ['-r', o.preload] : []), PLUGIN_JS, 'serve', '--socket', socket], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...o.env },
  });
  let out = '';
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`ecdock-cni serve did not start within 60 s: ${out}`)), 60_000);
    const onData = (d: Buffer): void => {
      out += String(d);
      if (out.includes('serving CNI calls')) {
        clearTimeout(t);
        res();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += String(d)));
    void exited.then(() => {
      clearTimeout(t);
      rej(new Error(`ecdock-cni serve exited: ${out}`));
    });
  });
  return {
    socket,
    child,
    log: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export function writeConflist(dirs: CniDirs, name: string, plugins: Record<string, unknown>[], cniVersion = '1.0.0'): string {
  const file = join(dirs.root, `${name}.conflist`);
  writeFileSync(file, JSON.stringify({ cniVersion, name, plugins }, null, 2));
  return file;
}

export interface ClientRun {
  code: number;
  /** Parsed stdout: the ADD result, or { error: { code, msg, details } }. */
  json?: { error?: { code: number; msg: string; details?: string } } & Record<string, unknown>;
  stdout: string;
  stderr: string;
}

export async function runClient(
  client: string,
  dirs: CniDirs,
  args: string[],
  env: { CNI_ARGS?: string; CNI_IPS?: string; CNI_MAC?: string } = {},
  timeoutMs = 60_000,
): Promise<ClientRun> {
  return new Promise((res) => {
    execFile(client, args, { timeout: timeoutMs, env: { ...process.env, CNI_PATH: dirs.path, CNI_CACHE_DIR: dirs.cache, ...dirs.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      let json: ClientRun['json'];
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      res({ code, json, stdout, stderr });
    });
  });
}

export interface PluginRun {
  /** Exit status; -1 when killed by a signal. */
  code: number;
  out?: Record<string, unknown>;
  stdout: string;
  stderr: string;
}

/**
 * Calls the plugin directly with a CNI environment and stdin, as any runtime would: the Node
 * plugin, or the forwarder when the environment names a daemon's socket (ECDOCK_CNI_SOCKET).
 */
export function callPlugin(env: Record<string, string | undefined>, stdin: string | Buffer, timeoutMs = 60_000, preload?: string): Promise<PluginRun> {
  return new Promise((res) => {
    // Only the CNI_* variables given here: a missing one is a test of the plugin's checks.
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('CNI_')) clean[k] = v;
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
    const viaDaemon = clean.ECDOCK_CNI_SOCKET !== undefined && !preload;
    const [file, args] = viaDaemon ? [FORWARDER, []] : [process.execPath, [...(preload ? ['-r', preload] : []), PLUGIN_JS]];
    const child = execFile(file, args, { timeout: timeoutMs, env: clean }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      let out: Record<string, unknown> | undefined;
      try {
        out = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        out = undefined;
      }
      res({ code, out, stdout, stderr });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(stdin);
  });
}

export interface CniFixture {
  sb: OvsSandbox;
  /** The daemon serving the calls, when the fixture was started with { daemon: true }. */
  daemon?: CniDaemonProcess;
  ovs: OvsdbClient;
  /** Name of the sandbox's netns (for `ip -n`). */
  sbns: string;
  dirs: CniDirs;
  cleanup: Cleanup;
  /** The ecdock plugin's entry for a vswitch of this sandbox. */
  pluginConf(vswitch: string, subnet: string, extra?: Record<string, unknown>): Record<string, unknown>;
  /** Destroys the vswitch at cleanup (if the plugin created it). */
  forget(vswitch: string): void;
  netns(): Promise<TestNetns>;
  /** Port names of a vswitch's slots in OVSDB, and its slot links in the sandbox netns. */
  leftovers(vswitch: string): Promise<{ ports: string[]; links: string[] }>;
}

/** A private OVS and CNI dirs; with `daemon`, calls go through the forwarder to an `ecdock-cni serve` of its own. */
export async function startCniFixture(o: { daemon?: boolean } = {}): Promise<CniFixture> {
  const cleanup = new Cleanup();
  const sb = await OvsSandbox.start({ isolated: true });
  cleanup.add(() => sb.stop());
  const ovs = await OvsdbClient.connect(sb.dbUrl);
  cleanup.add(() => ovs.close());
  let daemon: CniDaemonProcess | undefined;
  if (o.daemon) {
    daemon = await startCniDaemon();
    cleanup.add(() => daemon!.stop());
  }
  const dirs = makeCniDirs(daemon ? { socket: daemon.socket } : {});
  cleanup.add(() => dirs.remove());
  const sbns = sb.netns!.split('/').pop()!;
  return {
    sb,
    ...(daemon ? { daemon } : {}),
    ovs,
    sbns,
    dirs,
    cleanup,
    pluginConf: (vswitch, subnet, extra = {}) => ({ type: 'ecdock', vswitch, subnet, usermode: true, db: sb.dbUrl, switchNetns: sb.netns, ...extra }),
    forget(vswitch) {
      cleanup.add(async () => {
        try {
          await (await VSwitch.open(ovs, vswitch)).destroy();
        } catch {
          /* never created, or gone */
        }
      });
    },
    async netns() {
      const ns = await TestNetns.create('ecn-');
      cleanup.add(() => ns.del());
      return ns;
    },
    async leftovers(vswitch) {
      const [res] = await ovs.transact('Open_vSwitch', [{ op: 'select', table: 'Port', where: [], columns: ['name'] }]);
      const ports = ((res as { rows: { name: string }[] }).rows ?? []).map((r) => r.name).filter((n) => n.startsWith(`${vswitch}-`)).sort();
      const links = (JSON.parse((await sh('ip', ['-n', sbns, '-j', 'link'])).stdout) as { ifname: string }[])
        .map((l) => l.ifname)
        .filter((n) => n.startsWith(`${vswitch}-`))
        .sort();
      return { ports, links };
    },
  };
}
