// The linux-arm64 prebuilds, made on this x64 machine by scripts/prebuilds-arm64 (Debian's aarch64
// cross compilers), then run as an arm64 machine would run them: Debian 12's arm64 Node 18 (unpacked
// by scripts/arm64-node-sysroot) under qemu-user. The addon is picked by node-gyp-build from a
// package layout without build/, and does real rtnetlink work in a private network namespace; the
// arm64 CNI forwarder hands a call to a daemon, and with none execs the Node plugin itself.
// Skipped when the cross compiler, qemu-aarch64-static or the sysroot is missing, unless
// ECDOCK_REQUIRE_ARM64=1 (scripts/setup test sets it) makes that an error.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup, requireRoot } from '../support/env';
import { startCniDaemon, testSocket } from '../support/cni';

/** The repository root: dist/test/integration is three levels below it. */
const ROOT = join(__dirname, '..', '..', '..');
const SYSROOT = process.env.ECDOCK_ARM64_SYSROOT || '/var/cache/ecdock/arm64-sysroot';
const QEMU = 'qemu-aarch64-static';
const EM_AARCH64 = 183;
const EM_X86_64 = 62;

function run(file: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { cwd: o.cwd ?? ROOT, env: o.env ?? process.env, timeout: o.timeoutMs ?? 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.end(o.input ?? '');
  });
}

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, name)));
}

/** ELF e_machine of a file (62 x86-64, 183 AArch64), or undefined when it is not ELF. */
function elfMachine(file: string): number | undefined {
  const b = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, b, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  return b.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])) ? b.readUInt16LE(18) : undefined;
}

/** Why this suite cannot run here, or undefined when it can. */
function missing(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `the arm64 prebuilds are cross-built on linux-x64 (this is ${process.platform}-${process.arch})`;
  const what: string[] = [];
  if (!onPath('aarch64-linux-gnu-g++') || !onPath('aarch64-linux-gnu-gcc')) what.push('the cross compiler (apt-get install g++-aarch64-linux-gnu gcc-aarch64-linux-gnu)');
  if (!onPath(QEMU)) what.push(`${QEMU} (apt-get install qemu-user-static)`);
  if (!existsSync(join(SYSROOT, 'usr', 'bin', 'node'))) what.push(`an arm64 Node in ${SYSROOT} (scripts/arm64-node-sysroot makes it)`);
  return what.length ? `missing ${what.join(', ')}` : undefined;
}

/** The arm64 Node of the sysroot under qemu-user, in a network namespace of its own (unshare -n). */
function arm64Node(args: string[], o: { cwd: string; env?: NodeJS.ProcessEnv }) {
  return run('unshare', ['-n', QEMU, '-L', SYSROOT, join(SYSROOT, 'usr', 'bin', 'node'), ...args], { cwd: o.cwd, env: o.env });
}

describe('linux-arm64 prebuilds: cross-built here, run by an arm64 Node under qemu-user', function () {
  this.timeout(120_000);
  const cleanup = new Cleanup();
  const prebuilt = join(ROOT, 'prebuilds', 'linux-arm64');
  /** A package as installed: package.json, dist/src, prebuilds/linux-arm64, no build/. */
  let pkg: string;
  let hostAddonBefore: string | undefined;
  const hostAddon = join(ROOT, 'build', 'Release', 'ecdock_native.node');

  before(async function () {
    requireRoot(this);
    const why = missing();
    if (why) {
      if (process.env.ECDOCK_REQUIRE_ARM64 === '1') throw new Error(`the arm64 prebuild test cannot run: ${why}; and ECDOCK_REQUIRE_ARM64=1`);
      process.stderr.write(`      (arm64 prebuilds: skipped, ${why})\n`);
      this.skip();
    }
    hostAddonBefore = existsSync(hostAddon) ? createHash('sha256').update(readFileSync(hostAddon)).digest('hex') : undefined;
    // Made fresh from native/ every time: a prebuild left from older sources would test the wrong code.
    const built = await run('npm', ['run', '--silent', 'prebuilds:arm64'], { env: { ...process.env, ECDOCK_REQUIRE_ARM64: '1' }, timeoutMs: 90_000 });
    assert.equal(built.code, 0, `npm run prebuilds:arm64 failed:\n${built.stdout}\n${built.stderr}`);

    pkg = mkdtempSync(join(tmpdir(), 'ecdock-arm64-pkg-'));
    cleanup.add(() => rmSync(pkg, { recursive: true, force: true }));
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    cpSync(join(ROOT, 'dist', 'src'), join(pkg, 'dist', 'src'), { recursive: true });
    chmodSync(join(pkg, 'dist', 'src', 'cni', 'main.js'), 0o755); // as npm makes a bin on install
    mkdirSync(join(pkg, 'prebuilds'));
    cpSync(prebuilt, join(pkg, 'prebuilds', 'linux-arm64'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  });
  after(() => cleanup.run());

  it('are AArch64 ELF files, and the build leaves this machine\'s own addon in build/ as it was', () => {
    assert.equal(elfMachine(join(prebuilt, 'ecdock.glibc.node')), EM_AARCH64);
    assert.equal(elfMachine(join(prebuilt, 'ecdock-cni-forward')), EM_AARCH64);
    if (hostAddonBefore !== undefined) {
      assert.equal(elfMachine(hostAddon), EM_X86_64, 'build/Release holds an arm64 addon after the cross build');
      assert.equal(createHash('sha256').update(readFileSync(hostAddon)).digest('hex'), hostAddonBefore, 'the cross build rebuilt build/Release');
    }
  });

  it('are in the packed tarball', async () => {
    const packed = await run('npm', ['pack', '--dry-run', '--ignore-scripts', '--json']);
    assert.equal(packed.code, 0, packed.stderr);
    const files = (JSON.parse(packed.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    for (const f of ['prebuilds/linux-arm64/ecdock.glibc.node', 'prebuilds/linux-arm64/ecdock-cni-forward']) assert.ok(files.includes(f), `${f} is not packed: ${files.join(' ')}`);
  });

  it('an arm64 Node 18 loads the addon through node-gyp-build and makes rtnetlink calls', async () => {
    // In the namespace of its own only lo exists: set it up with a new MTU, read it back with its
    // addresses, and an unknown link is the typed error.
    const script = `
      const e = require('./dist/src');
      (async () => {
        const before = await e.listLinks({ name: 'lo' });
        await e.setLink({ name: 'lo', up: true, mtu: 1500 });
        const [lo] = await e.listLinks({ name: 'lo' });
        const addrs = (await e.listAddresses({ index: lo.index })).map((a) => a.address + '/' + a.prefixLength).sort();
        let code;
        try { await e.setLink({ name: 'arm64nosuch0', up: true }); } catch (err) { code = err.code; }
        const loaded = Object.keys(require.cache).filter((k) => k.endsWith('.node'));
        console.log(JSON.stringify({ arch: process.arch, node: process.versions.node, napi: process.versions.napi, loaded, before: before[0].up, lo: { up: lo.up, mtu: lo.mtu }, addrs, code }));
      })().catch((err) => { console.error(err); process.exit(1); });`;
    const env = { ...process.env };
    delete env.ECDOCK_NATIVE; // node-gyp-build must find the prebuild itself
    const r = await arm64Node(['-e', script], { cwd: pkg, env });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { arch: string; node: string; napi: string; loaded: string[]; before: boolean; lo: { up: boolean; mtu: number }; addrs: string[]; code: string };
    assert.equal(out.arch, 'arm64');
    assert.ok(Number(out.node.split('.')[0]) >= 18 && Number(out.napi) >= 8, `Node ${out.node}, N-API ${out.napi}`);
    assert.deepEqual(out.loaded, [join(pkg, 'prebuilds', 'linux-arm64', 'ecdock.glibc.node')]);
    assert.equal(out.before, false, 'lo of a new namespace starts down');
    assert.deepEqual(out.lo, { up: true, mtu: 1500 });
    assert.deepEqual(out.addrs, ['127.0.0.1/8', '::1/128']);
    assert.equal(out.code, 'NO_SUCH_LINK');
  });

  it('the arm64 CNI forwarder hands VERSION to a daemon, and with none execs the Node plugin', async () => {
    const forwarder = join(pkg, 'prebuilds', 'linux-arm64', 'ecdock-cni-forward');
    const stdin = '{"cniVersion":"1.0.0"}';
    const call = (socket: string) => run(QEMU, ['-L', SYSROOT, forwarder], { cwd: pkg, env: { ...process.env, CNI_COMMAND: 'VERSION', ECDOCK_CNI_SOCKET: socket }, input: stdin });
    const served = (log: string) => log.split('\n').filter((l) => l.startsWith('ecdock-cni serve: ')).length;

    mkdirSync('/run/ecdock', { recursive: true });
    const daemon = await startCniDaemon(testSocket());
    cleanup.add(() => daemon.stop());
    const viaDaemon = await call(daemon.socket);
    assert.equal(viaDaemon.code, 0, viaDaemon.stderr + viaDaemon.stdout);
    assert.ok((JSON.parse(viaDaemon.stdout) as { supportedVersions: string[] }).supportedVersions.includes('1.0.0'), viaDaemon.stdout);
    assert.equal(served(daemon.log()), 1, `the daemon did not serve the call: ${daemon.log()}`);

    // No daemon: the forwarder execs dist/src/cni/main.js (two directories up from itself).
    const alone = await call(join(pkg, 'no-daemon.sock'));
    assert.equal(alone.code, 0, alone.stderr + alone.stdout);
    assert.ok((JSON.parse(alone.stdout) as { supportedVersions: string[] }).supportedVersions.includes('1.0.0'), alone.stdout);
    assert.equal(served(daemon.log()), 1);
  });
});
