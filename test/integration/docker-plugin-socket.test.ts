// The plugin's socket is root's door into OVS and the kernel: it is 0600 (0660 with --group),
// never world-writable whatever the umask, never taken from another uid or from a live server,
// and removed on SIGTERM. The plugin answers Docker's activation handshake on it.
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireRoot, sh, uniqueName } from '../support/env';
import { PLUGIN_MAIN, PluginProcess, startPlugin } from '../support/docker-plugin';
import { spawn } from 'node:child_process';

const NO_DB = { ECDOCK_DB: 'unix:/nonexistent/db.sock' };

function post(socket: string, url: string, body: unknown): Promise<{ status: number; type: string; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: url, method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Runs the plugin expecting it to refuse to start; resolves to its exit code and log. */
async function refused(args: string[]): Promise<{ code: number | null; log: string }> {
  const p = new PluginProcess(spawn(process.execPath, [PLUGIN_MAIN, ...args], { env: { ...process.env, ...NO_DB }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const code = await p.exited;
  return { code, log: p.log };
}

/** A socket file left by a process that has gone (python binds and exits without unlinking). */
async function deadSocket(p: string): Promise<void> {
  await sh('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', p]);
}

describe('ecdock-docker-plugin socket', function () {
  this.timeout(30_000);
  let dir: string;
  const running: PluginProcess[] = [];

  before(function () {
    requireRoot(this);
  });
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ecdkt-sock-'));
  });
  afterEach(async () => {
    for (const p of running.splice(0)) await p.stop('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('is 0600 and root-owned, answers Plugin.Activate and GetCapabilities, and goes away on SIGTERM (exit 0)', async () => {
    const sock = path.join(dir, `${uniqueName('ecdks')}.sock`);
    const p = await startPlugin(['--socket', sock], NO_DB);
    running.push(p);
    const st = await fs.stat(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, 0);
    const act = await post(sock, '/Plugin.Activate', null);
    assert.deepEqual([act.status, act.type, act.json], [200, 'application/vnd.docker.plugins.v1+json', { Implements: ['NetworkDriver'] }]);
    assert.deepEqual((await post(sock, '/NetworkDriver.GetCapabilities', {})).json, { Scope: 'local', ConnectivityScope: 'local' });
    const bad = await post(sock, '/NetworkDriver.CreateNetwork', { NetworkID: 'nope' });
    assert.equal(bad.status, 500);
    assert.match((bad.json as { Err: string }).Err, /did not come from dockerd/);
    // A body the route refuses before the driver runs, and the body-less resend dockerd makes after a
    // broken connection: each a 500 with a sentence, and the plugin lives on (it once died of the first).
    const noIds = await post(sock, '/NetworkDriver.CreateEndpoint', {});
    assert.deepEqual([noIds.status, (noIds.json as { Err: string }).Err], [500, 'ecdock BAD_ARGUMENT: a request without a network id: it did not come from dockerd']);
    const resent = await post(sock, '/NetworkDriver.Join', undefined);
    assert.equal(resent.status, 500);
    assert.match((resent.json as { Err: string }).Err, /NetworkDriver\.Join came without its body, as dockerd resends a call when the plugin went away in the middle of it: start the container .* again/);
    assert.equal(p.child.exitCode, null, p.log);
    assert.equal(await p.stop('SIGTERM'), 0);
    await assert.rejects(fs.lstat(sock), /ENOENT/);
  });

  it('with --group: 0660 and that group; an unknown group is refused', async () => {
    const sock = path.join(dir, 'g.sock');
    const p = await startPlugin(['--socket', sock, '--group', 'daemon'], NO_DB);
    running.push(p);
    const st = await fs.stat(sock);
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.gid, 1);
    await p.stop();
    const r = await refused(['--socket', path.join(dir, 'h.sock'), '--group', 'no-such-group-ecdock']);
    assert.equal(r.code, 1);
    assert.match(r.log, /--group no-such-group-ecdock: no such group/);
  });

  it('never world-writable, even started with umask 000', async () => {
    const sock = path.join(dir, 'u.sock');
    const p = new PluginProcess(spawn('sh', ['-c', 'umask 000; exec "$0" "$@"', process.execPath, PLUGIN_MAIN, '--socket', sock], { env: { ...process.env, ...NO_DB }, stdio: ['ignore', 'pipe', 'pipe'] }));
    running.push(p);
    for (let i = 0; i < 200 && !p.log.includes('serving'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await fs.stat(sock)).mode & 0o777, 0o600);
  });

  it("refuses a socket of another uid, a live server's socket, and a path that is not a socket; leaves each as it was", async () => {
    const foreign = path.join(dir, 'foreign.sock');
    await deadSocket(foreign);
    await fs.chown(foreign, 65534, 65534);
    let r = await refused(['--socket', foreign]);
    assert.equal(r.code, 1);
    assert.match(r.log, /belongs to uid 65534, not to this plugin \(uid 0\): refusing to replace it/);
    assert.equal((await fs.stat(foreign)).uid, 65534);

    const live = path.join(dir, 'live.sock');
    const server = net.createServer((c) => c.end());
    await new Promise<void>((resolve) => server.listen(live, resolve));
    try {
      r = await refused(['--socket', live]);
      assert.equal(r.code, 1);
      assert.match(r.log, /another process already serves .*live\.sock/);
    } finally {
      server.close();
    }

    const file = path.join(dir, 'file.sock');
    await fs.writeFile(file, 'not a socket');
    r = await refused(['--socket', file]);
    assert.equal(r.code, 1);
    assert.match(r.log, /exists and is not a socket/);
    assert.equal(await fs.readFile(file, 'utf8'), 'not a socket');
  });

  it('replaces a dead socket of its own uid (a killed predecessor)', async () => {
    const sock = path.join(dir, 'stale.sock');
    await deadSocket(sock);
    const p = await startPlugin(['--socket', sock], NO_DB);
    running.push(p);
    assert.equal((await post(sock, '/Plugin.Activate', {})).status, 200);
    assert.equal((await fs.stat(sock)).mode & 0o777, 0o600);
  });
});
