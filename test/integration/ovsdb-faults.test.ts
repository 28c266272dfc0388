// Reaching ovsdb-server the wrong way: no permission, not a socket, nobody listening, IPv6 tcp,
// and the server's own inactivity probe on a tcp session (answered, so we stay connected).
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { OvsSandbox, freePort } from '../../src/sandbox';
import { OvsdbClient } from '../../src/ovsdb/client';
import { isEcdockError } from '../../src/errors';
import { requireRoot } from '../support/env';

describe('ovsdb client connection faults (real ovsdb-server)', function () {
  this.timeout(60_000);
  let sb: OvsSandbox | undefined;
  let port = 0;
  const clients: OvsdbClient[] = [];

  before(async function () {
    requireRoot(this);
    port = await freePort();
    sb = await OvsSandbox.start({ vswitchd: false, remotes: [`ptcp:${port}:[::1]`] });
  });
  after(async () => {
    for (const c of clients) c.close();
    await sb?.stop();
  });

  it('reports PERMISSION_DENIED to a user who may not open the socket', async () => {
    const clientJs = path.resolve(__dirname, '../../src/ovsdb/client.js');
    const script = `require(${JSON.stringify(clientJs)}).OvsdbClient.connect(${JSON.stringify(sb!.dbUrl)}, { reconnect: false })
      .then(() => console.log(JSON.stringify({ ok: true })), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      let err = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`child exited ${code}: ${err}`))));
    });
    const r = JSON.parse(out) as { code: string; message: string };
    assert.equal(r.code, 'PERMISSION_DENIED', r.message);
    assert.match(r.message, /no permission to connect to unix:.*db\.sock/);
  });

  it('reports a path that is not a socket, and a port nobody listens on, as OVSDB_UNREACHABLE', async () => {
    const file = path.join(sb!.dir, 'not-a-socket');
    await fs.writeFile(file, 'x');
    await assert.rejects(OvsdbClient.connect(`unix:${file}`, { reconnect: false }), (e) => isEcdockError(e, 'OVSDB_UNREACHABLE'));
    const closed = await freePort();
    await assert.rejects(OvsdbClient.connect(`tcp:127.0.0.1:${closed}`), (e) => isEcdockError(e, 'OVSDB_UNREACHABLE') && /connection refused/.test(e.message));
  });

  it('fails over to the next remote in a comma-separated list', async () => {
    const closed = await freePort();
    const c = await OvsdbClient.connect(`tcp:127.0.0.1:${closed},${sb!.dbUrl}`);
    clients.push(c);
    assert.equal(c.remote, sb!.dbUrl);
  });

  it('stays connected over tcp:[::1] past the server inactivity probe by answering its echo (>10 s idle)', async function () {
    this.timeout(30_000);
    // Our own probe is off, so the only traffic is the server's echo after 5 s and our answer.
    const c = await OvsdbClient.connect(`tcp:[::1]:${port}`, { probeIntervalMs: 0, reconnect: false });
    clients.push(c);
    let lost: unknown;
    c.on('disconnect', (e) => (lost = e));
    const mon = await c.monitor('Open_vSwitch', { Open_vSwitch: ['next_cfg'] });
    await new Promise((r) => setTimeout(r, 11_500));
    assert.equal(lost, undefined, `disconnected: ${String(lost)}`);
    assert.equal(c.connected, true);
    assert.deepEqual(await c.echo('still here'), ['still here']);
    assert.equal(mon.rows('Open_vSwitch').size, 1);
    const log = await fs.readFile(path.join(sb!.dir, 'ovsdb-server.log'), 'utf8');
    assert.doesNotMatch(log, /no response to inactivity probe/);
  });
});
