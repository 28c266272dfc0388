// The npm package as users get it: `npm pack`, then `npm install` of that tarball into a fresh
// project with no compiler on PATH (only node, npm and sh). The prebuilt addon in prebuilds/ must
// be picked (nothing is compiled, no build/ appears) and `require('ecdock')` must load it.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Cleanup, requireRoot } from '../support/env';

/** The repository root: dist/test/integration is three levels below it. */
const ROOT = join(__dirname, '..', '..', '..');

function run(file: string, args: string[], o: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { cwd: o.cwd, env: o.env ?? process.env, timeout: o.timeoutMs ?? 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    // A child that exits without reading its stdin (most here) must not fail the test with EPIPE.
    child.stdin?.on('error', () => undefined);
    if (o.input !== undefined) child.stdin?.end(o.input);
    else child.stdin?.end();
  });
}

/** Finds an executable on the current PATH (the test's own, which has the compiler). */
function which(name: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(':')) {
    const f = join(d, name);
    if (d && existsSync(f)) return f;
  }
  return undefined;
}

describe('npm package: install from the packed tarball without a compiler', function () {
  this.timeout(240_000);
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it('installs the prebuilt addon, compiles nothing, and loads it', async function () {
    requireRoot(this);
    // Made fresh from native/ every time, as the package script does (a prebuild left from older
    // sources would test the wrong addon).
    const env0 = { ...process.env };
    if (!env0.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) env0.npm_config_nodedir = '/usr';
    const built = await run('npm', ['run', 'prebuilds'], { cwd: ROOT, env: env0 });
    assert.equal(built.code, 0, `npm run prebuilds failed: ${built.stderr}`);
    const prebuildDir = join(ROOT, 'prebuilds', `linux-${process.arch}`);
    assert.ok(readdirSync(prebuildDir).some((f) => f.endsWith('.node')), 'npm run prebuilds made no .node file');

    const work = mkdtempSync(join(tmpdir(), 'ecdock-pkg-'));
    cleanup.add(() => rmSync(work, { recursive: true, force: true }));
    // prepack would rebuild dist/ and the prebuild; both are fresh here, so skip scripts.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT });
    assert.equal(packed.code, 0, packed.stderr);
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    const files = info.files.map((f) => f.path);
    assert.ok(files.some((f) => f.startsWith(`prebuilds/linux-${process.arch}/`) && f.endsWith('.node')), `no prebuild in the tarball: ${files.join(' ')}`);
    assert.ok(!files.some((f) => f.startsWith('build/')), 'a local build/ must not be packed');
    assert.ok(files.includes(`prebuilds/linux-${process.arch}/ecdock-cni-forward`), `no CNI forwarder in the tarball: ${files.join(' ')}`);

    // PATH: node, npm and sh only — no g++, cc, make.
    const bin = join(work, 'bin');
    mkdirSync(bin);
    for (const tool of ['node', 'npm', 'sh']) {
      const found = which(tool);
      assert.ok(found, `${tool} is not on PATH`);
      symlinkSync(realpathSync(found), join(bin, tool));
    }
    const env: NodeJS.ProcessEnv = { HOME: process.env.HOME, PATH: bin, npm_config_nodedir: '' };
    const probe = await run('sh', ['-c', 'command -v g++ || command -v cc || command -v make || echo none'], { cwd: work, env });
    assert.equal(probe.stdout.trim(), 'none', `a compiler is still reachable: ${probe.stdout}`);

    const project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-ecdock', version: '1.0.0', private: true }));
    const inst = await run(join(bin, 'npm'), ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, info.filename)], { cwd: project, env });
    assert.equal(inst.code, 0, `npm install failed:\n${inst.stdout}\n${inst.stderr}`);
    const pkgDir = join(project, 'node_modules', 'ecdock');
    assert.ok(!existsSync(join(pkgDir, 'build')), 'the addon was compiled on install although a prebuild matches');
    assert.ok(!existsSync(join(project, 'node_modules', 'node-gyp')), 'node-gyp must not be a runtime dependency');

    const script = `
      const e = require('ecdock');
      e.listLinks().then((links) => {
        const lo = links.find((l) => l.name === 'lo');
        if (!lo) throw new Error('no lo');
        const loaded = Object.keys(require.cache).find((k) => k.endsWith('.node'));
        console.log(JSON.stringify({ loaded, links: links.length }));
      }).catch((err) => { console.error(err); process.exit(1); });`;
    const used = await run(join(bin, 'node'), ['-e', script], { cwd: project, env });
    assert.equal(used.code, 0, used.stderr);
    const out = JSON.parse(used.stdout) as { loaded: string };
    assert.equal(dirname(out.loaded), join(realpathSync(pkgDir), 'prebuilds', `linux-${process.arch}`));

    const version = await run(join(bin, 'node'), [join(pkgDir, 'dist', 'src', 'cli', 'main.js'), '--version'], { cwd: project, env });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+/);

    // The CNI forwarder came prebuilt too: `ecdock-cni forwarder` names it, and with no daemon
    // listening it runs the call itself (exec of the Node plugin) — VERSION answers.
    const cniMain = join(pkgDir, 'dist', 'src', 'cni', 'main.js');
    const where = await run(join(bin, 'node'), [cniMain, 'forwarder'], { cwd: project, env });
    assert.equal(where.code, 0, where.stderr);
    assert.equal(where.stdout.trim(), join(realpathSync(pkgDir), 'prebuilds', `linux-${process.arch}`, 'ecdock-cni-forward'));
    const cniEnv = { ...env, CNI_COMMAND: 'VERSION', ECDOCK_CNI_SOCKET: join(work, 'no-daemon.sock') };
    const viaForwarder = await run(where.stdout.trim(), [], { cwd: project, env: cniEnv, input: '{"cniVersion":"1.0.0"}' });
    assert.equal(viaForwarder.code, 0, viaForwarder.stderr);
    assert.ok((JSON.parse(viaForwarder.stdout) as { supportedVersions: string[] }).supportedVersions.includes('1.0.0'), viaForwarder.stdout);
  });
});
