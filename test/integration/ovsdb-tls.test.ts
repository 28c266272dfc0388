// ssl: remotes with certificates made by ovs-pki: the chain is verified, the host name is not
// (OVS certificates carry none), and every mismatch is TLS_FAILED, never a hang.
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { OvsSandbox, freePort, runTool } from '../../src/sandbox';
import { OvsdbClient, type ConnectOptions } from '../../src/ovsdb/client';
import { isEcdockError } from '../../src/errors';
import { requireRoot } from '../support/env';

interface Pki {
  dir: string;
  switchCa: string;
  controllerCa: string;
  cert(name: string): { key: string; cert: string };
}

/** An ovs-pki tree (switchca signs servers, controllerca signs clients) in a temp dir. */
async function makePki(dir: string): Promise<Pki> {
  const pkiDir = path.join(dir, 'pki');
  await runTool('ovs-pki', [`--dir=${pkiDir}`, '--force', 'init']);
  return {
    dir,
    switchCa: path.join(pkiDir, 'switchca', 'cacert.pem'),
    controllerCa: path.join(pkiDir, 'controllerca', 'cacert.pem'),
    cert: (name) => ({ key: path.join(dir, `${name}-privkey.pem`), cert: path.join(dir, `${name}-cert.pem`) }),
  };
}

async function signed(pki: Pki, name: string, type: 'switch' | 'controller'): Promise<{ key: string; cert: string }> {
  await runTool('sh', ['-c', `cd "${pki.dir}" && ovs-pki --dir="${path.join(pki.dir, 'pki')}" --force req+sign "${name}" ${type}`]);
  return pki.cert(name);
}

describe('ovsdb client over TLS (ovs-pki certificates, real ovsdb-server)', function () {
  this.timeout(60_000);
  let tmp: string | undefined;
  let sb: OvsSandbox | undefined;
  let url = '';
  let pki: Pki;
  let other: Pki;
  let server: { key: string; cert: string };
  let client: { key: string; cert: string };
  let stranger: { key: string; cert: string };
  const clients: OvsdbClient[] = [];

  before(async function () {
    requireRoot(this);
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ecdock-tls-'));
    await fs.mkdir(path.join(tmp, 'a'));
    await fs.mkdir(path.join(tmp, 'b'));
    pki = await makePki(path.join(tmp, 'a'));
    other = await makePki(path.join(tmp, 'b'));
    server = await signed(pki, 'server', 'switch');
    client = await signed(pki, 'client', 'controller');
    stranger = await signed(other, 'stranger', 'controller');
    const port = await freePort();
    url = `ssl:127.0.0.1:${port}`;
    sb = await OvsSandbox.start({
      vswitchd: false,
      remotes: [`pssl:${port}:127.0.0.1`],
      ovsdbArgs: [`--private-key=${server.key}`, `--certificate=${server.cert}`, `--ca-cert=${pki.controllerCa}`],
    });
  });
  after(async () => {
    for (const c of clients) c.close();
    await sb?.stop();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  const connect = async (tls: ConnectOptions['tls'], extra: ConnectOptions = {}) => {
    const c = await OvsdbClient.connect(url, { tls, reconnect: false, timeoutMs: 5000, ...extra });
    clients.push(c);
    return c;
  };

  it('connects with file paths, verifies the chain, and works', async () => {
    const c = await connect({ ...client, ca: pki.switchCa });
    assert.deepEqual((await c.listDbs()).sort(), ['Open_vSwitch', '_Server']);
    const mon = await c.monitor('Open_vSwitch', { Open_vSwitch: ['next_cfg'] });
    assert.equal(mon.rows('Open_vSwitch').size, 1);
    // The server probes ssl sessions; we answer. And we probe too (default 5 s on ssl).
    assert.equal(c.remote, url);
  });

  it('connects with PEM contents instead of paths', async () => {
    const c = await connect({ key: await fs.readFile(client.key), cert: await fs.readFile(client.cert, 'utf8'), ca: await fs.readFile(pki.switchCa) });
    assert.deepEqual(await c.echo(1), [1]);
  });

  it('checks the server name only when asked, against the certificate CN', async () => {
    const cn = (await runTool('openssl', ['x509', '-in', server.cert, '-noout', '-subject', '-nameopt', 'multiline'])).match(/commonName\s*=\s*(.*)/)![1]!.trim();
    const ok = await connect({ ...client, ca: pki.switchCa, serverName: cn });
    assert.deepEqual(await ok.echo(), []);
    await assert.rejects(connect({ ...client, ca: pki.switchCa, serverName: 'ovs.example.com' }), (e) => isEcdockError(e, 'TLS_FAILED') && /ovs\.example\.com/.test(e.message));
  });

  it('fails with TLS_FAILED when our certificate is signed by another CA', async () => {
    await assert.rejects(connect({ ...stranger, ca: pki.switchCa }), (e) => {
      assert.ok(isEcdockError(e, 'TLS_FAILED'), String(e));
      assert.match(e.message, /rejected our certificate/);
      return true;
    });
  });

  it('fails with TLS_FAILED when the server certificate is not signed by our CA', async () => {
    await assert.rejects(connect({ ...client, ca: other.switchCa }), (e) => isEcdockError(e, 'TLS_FAILED') && /cannot verify the certificate/.test(e.message));
  });

  it('fails with TLS_FAILED without a client certificate', async () => {
    await assert.rejects(connect({ ca: pki.switchCa }), (e) => isEcdockError(e, 'TLS_FAILED'));
  });

  it('fails with BAD_TLS_FILES for missing or non-PEM files, and without a CA', async () => {
    await assert.rejects(connect({ ...client, ca: path.join(tmp!, 'nope.pem') }), (e) => isEcdockError(e, 'BAD_TLS_FILES') && /nope\.pem/.test(e.message));
    await assert.rejects(connect({ ...client, ca: Buffer.from('not pem') }), (e) => isEcdockError(e, 'BAD_TLS_FILES'));
    await assert.rejects(connect({ key: client.key, ca: pki.switchCa }), (e) => isEcdockError(e, 'BAD_TLS_FILES'));
    await assert.rejects(connect({ ...client }), (e) => isEcdockError(e, 'BAD_TLS_FILES') && /CA/.test(e.message));
  });

  it('ec speaks ssl: too, with ovs-vsctl\'s option names (--private-key, --certificate, --ca-cert)', async () => {
    const ec = path.join(__dirname, '..', '..', 'src', 'cli', 'main.js');
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile(process.execPath, [ec, '--json', '--db', url, ...args, 'list-vswitches'], { env: { ...process.env, ECDOCK_DB: '', ECDOCK_TLS_KEY: '', ECDOCK_TLS_CERT: '', ECDOCK_TLS_CA: '' } }, (err, stdout) =>
          resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout: String(stdout) }),
        ),
      );
    const ok = await run(['--private-key', client.key, '--certificate', client.cert, '--ca-cert', pki.switchCa]);
    assert.equal(ok.code, 0, ok.stdout);
    assert.deepEqual(JSON.parse(ok.stdout), []);
    const noCa = await run(['--private-key', client.key, '--certificate', client.cert]);
    assert.equal(noCa.code, 2);
    assert.equal(JSON.parse(noCa.stdout).error.code, 'BAD_TLS_FILES');
    assert.match(JSON.parse(noCa.stdout).error.message, /--ca-cert/);
    const wrongCa = await run(['--private-key', client.key, '--certificate', client.cert, '--ca-cert', other.switchCa]);
    assert.equal(wrongCa.code, 5);
    assert.equal(JSON.parse(wrongCa.stdout).error.code, 'TLS_FAILED');
  });
});
