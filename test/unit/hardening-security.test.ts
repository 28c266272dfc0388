// Issue 6, security (no root needed): the built package spawns no process outside the sandbox (and
// the CLI, which is a program, not library code: its spawns are listed and pinned here); nothing
// runs through a shell; `ssl:` verifies the server's certificate by default and offers no switch
// to turn that off.
import { strict as assert } from 'node:assert';
import { promises as fs, readdirSync, readFileSync, statSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { isEcdockError } from '../../src/errors';
import { OvsdbClient } from '../../src/ovsdb/client';
import { OTHER_CERT, OTHER_KEY, SERVER_CERT, SERVER_KEY } from '../support/hostile-tls';

const DIST_SRC = path.join(__dirname, '..', '..', 'src');

function jsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...jsFiles(p));
    else if (p.endsWith('.js')) out.push(p);
  }
  return out;
}

/** Ways a module can start a process or reach a shell. */
const SPAWN_RE = /\bchild_process\b|\bworker_threads\b|\bprocess\.binding\b|\bexecSync\b|\bspawnSync\b|\bexecFileSync\b|\bfork\s*\(|\bexec\s*\(\s*['"`]/;
const SHELL_RE = /shell\s*:\s*(true|['"`])|\/bin\/(ba)?sh\b|['"`]sh['"`]\s*,\s*\[\s*['"`]-c/;

describe('hardening: security (built package, no root)', function () {
  this.timeout(60_000);

  it('dist/src exists (built by npm test\'s pretest)', () => {
    assert.ok(statSync(path.join(DIST_SRC, 'index.js')).isFile());
  });

  it('no module starts a process: child_process appears only in dist/src/sandbox/ (not even in the CLI)', () => {
    const offenders: string[] = [];
    for (const f of jsFiles(DIST_SRC)) {
      const rel = path.relative(DIST_SRC, f);
      if (rel.startsWith(`sandbox${path.sep}`)) continue;
      const text = readFileSync(f, 'utf8');
      if (SPAWN_RE.test(text)) offenders.push(rel);
    }
    assert.deepEqual(offenders, []);
  });

  it('nothing in dist/src reaches a shell: the modules that spawn use no shell: true, no sh -c, no exec() of a command line', () => {
    // (Other modules mention /bin/sh only as a container's own shell, e.g. the busybox image's CMD.)
    const offenders: string[] = [];
    for (const f of jsFiles(DIST_SRC)) {
      const text = readFileSync(f, 'utf8');
      if (!/\bchild_process\b/.test(text)) continue;
      if (SHELL_RE.test(text) || /\bexec\s*\(\s*[`'"]/.test(text) || /\bexecSync\s*\(/.test(text)) offenders.push(path.relative(DIST_SRC, f));
    }
    assert.deepEqual(offenders, []);
  });

  it('the sandbox spawns only by execFile with an argument array, and only these programs', () => {
    const allowed = new Set(['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-appctl', 'ip', 'ping', 'ovn-northd', 'ovn-controller', 'ovn-nbctl', 'ovn-sbctl']);
    // Files that spawn themselves, and those that spawn through the sandbox's runTool (src/sandbox/tools.ts).
    const spawners = jsFiles(DIST_SRC).filter((f) => /\bchild_process\b|\.runTool\)\(/.test(readFileSync(f, 'utf8')));
    const report: Record<string, string[]> = {};
    for (const f of spawners) {
      const text = readFileSync(f, 'utf8');
      const rel = path.relative(DIST_SRC, f);
      // Only execFile (no exec, spawn with shell, fork) is imported.
      const imported = [...text.matchAll(/(?:child_process_1|require\("node:child_process"\))\.(\w+)/g)].map((m) => m[1]!);
      for (const name of imported) assert.ok(['execFile'].includes(name), `${rel} uses child_process.${name}`);
      // Programs named as string literals in calls to the spawning helpers.
      const programs = [...text.matchAll(/(?:runTool\)?|run|execFile|sh)\(\s*'([\w.-]+)'/g)].map((m) => m[1]!).filter((p) => !['ovsdb', 'ovs'].includes(p));
      report[rel] = [...new Set(programs)].sort();
      for (const p of programs) assert.ok(allowed.has(p), `${rel} spawns ${p}`);
    }
    assert.ok(report[path.join('sandbox', 'ovs.js')]?.includes('ovs-vswitchd'), `the sandbox spawns OVS: ${JSON.stringify(report)}`);
    // Printed so the list of spawns is visible in the test log (docs/RELIABILITY.md copies it).
    process.stdout.write(`      spawns: ${JSON.stringify(report)}\n`);
  });

  describe('ssl: verifies the server by default', () => {
    let tmp: string;
    let server: tls.Server | undefined;
    let port = 0;
    const pair = (name: string) => ({ key: path.join(tmp, `${name}-key.pem`), cert: path.join(tmp, `${name}-cert.pem`) });

    before(async () => {
      tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ecdock-sec-'));
      await fs.writeFile(pair('server').key, SERVER_KEY);
      await fs.writeFile(pair('server').cert, SERVER_CERT);
      await fs.writeFile(pair('other').key, OTHER_KEY);
      await fs.writeFile(pair('other').cert, OTHER_CERT);
      // A TLS server that answers OVSDB echo and list_dbs, with the "server" certificate.
      server = tls.createServer({ key: await fs.readFile(pair('server').key), cert: await fs.readFile(pair('server').cert) }, (sock) => {
        let buf = '';
        sock.on('data', (d) => {
          buf += d.toString();
          let m: RegExpExecArray | null;
          while ((m = /^\s*(\{[^{}]*\})/.exec(buf))) {
            buf = buf.slice(m[0].length);
            const req = JSON.parse(m[1]!) as { id: unknown; method: string; params: unknown[] };
            sock.write(JSON.stringify({ id: req.id, result: req.method === 'list_dbs' ? ['Open_vSwitch'] : req.params, error: null }));
          }
        });
        sock.on('error', () => undefined);
      });
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
      port = (server.address() as net.AddressInfo).port;
    });
    after(async () => {
      server?.close();
      if (tmp) await fs.rm(tmp, { recursive: true, force: true });
    });

    const connect = (tlsOpts: Record<string, unknown>) => OvsdbClient.connect(`ssl:127.0.0.1:${port}`, { reconnect: false, timeoutMs: 5000, tls: tlsOpts });

    it('with the right CA it connects (the harness works)', async () => {
      const c = await connect({ ca: pair('server').cert });
      assert.deepEqual(await c.echo('hi'), ['hi']);
      c.close();
    });

    it('without a CA it refuses to connect at all (BAD_TLS_FILES), rather than trust anything', async () => {
      const e = await connect({}).catch((x: unknown) => x);
      assert.ok(isEcdockError(e, 'BAD_TLS_FILES'), String(e));
    });

    it('a server certificate not signed by the given CA is TLS_FAILED', async () => {
      const e = await connect({ ca: pair('other').cert }).catch((x: unknown) => x);
      assert.ok(isEcdockError(e, 'TLS_FAILED'), String(e));
    });

    it('a server name that does not match, when one is asked for, is TLS_FAILED', async () => {
      const e = await connect({ ca: pair('server').cert, serverName: 'ecdock-someone-else' }).catch((x: unknown) => x);
      assert.ok(isEcdockError(e, 'TLS_FAILED'), String(e));
    });

    it('options that would turn verification off are not honoured (rejectUnauthorized: false is ignored)', async () => {
      const e = await connect({ ca: pair('other').cert, rejectUnauthorized: false, checkServerIdentity: () => undefined }).catch((x: unknown) => x);
      assert.ok(isEcdockError(e, 'TLS_FAILED'), String(e));
    });

    it('a plain-TCP server behind an ssl: URL is TLS_FAILED or unreachable, never a hang', async () => {
      const plain = net.createServer((s) => s.end('not tls\n'));
      await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
      const p = (plain.address() as net.AddressInfo).port;
      const t0 = Date.now();
      const e = await OvsdbClient.connect(`ssl:127.0.0.1:${p}`, { reconnect: false, timeoutMs: 3000, tls: { ca: pair('server').cert } }).catch((x: unknown) => x);
      plain.close();
      assert.ok(isEcdockError(e) && ['TLS_FAILED', 'OVSDB_UNREACHABLE', 'OVSDB_CONNECTION_LOST'].includes(e.code), String(e));
      assert.ok(Date.now() - t0 < 5000);
    });
  });
});
