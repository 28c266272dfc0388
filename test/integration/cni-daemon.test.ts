// The resident daemon (`ecdock-cni serve`) and the C forwarder a runtime execs in its place: the
// socket is root's alone (0600) and never taken over; the forwarder trusts only such a socket and
// otherwise runs the call in its own process; a daemon killed in the middle of an ADD leaves
// nothing a DEL does not remove, and the next calls work (run by the forwarder itself); a caller
// in another mount namespace is handed back; ADD then DEL through the daemon leaves nothing.
import { strict as assert } from 'node:assert';
import { chownSync, existsSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { requireRoot, sh, uniqueName, type TestNetns } from '../support/env';
import { decodeResponse, encodeRequest } from '../../src/cni/wire';
import { CRASH_PRELOAD, FORWARDER, callPlugin, startCniDaemon, startCniFixture, testSocket, type CniFixture } from '../support/cni';

interface AddResult {
  interfaces: { name: string; mac?: string; sandbox?: string }[];
  ips: { address: string }[];
}

describe('CNI plugin: the resident daemon and the forwarder', function () {
  this.timeout(180_000);
  let f: CniFixture;
  const vswitch = uniqueName('cd');
  const net0 = uniqueName('net');
  const stdin = () => JSON.stringify({ cniVersion: '1.0.0', name: net0, ...f.pluginConf(vswitch, '10.64.0.254/24') });
  const env = (command: string, ns: TestNetns | string, id: string, socket: string) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: id,
    CNI_NETNS: typeof ns === 'string' ? ns : ns.path,
    CNI_IFNAME: 'eth0',
    CNI_PATH: f.dirs.path,
    ECDOCK_CNI_SOCKET: socket,
  });
  const calls = (log: string) => log.split('\n').filter((l) => l.startsWith('ecdock-cni serve: ')).length;

  before(async function () {
    requireRoot(this);
    f = await startCniFixture({ daemon: true });
    f.forget(vswitch);
  });
  after(async () => {
    await f?.cleanup.run();
  });

  it('serves on a socket of mode 0600 owned by root', () => {
    const st = statSync(f.daemon!.socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, 0);
  });

  it('ADD and DEL through the daemon: the host end has its MAC in the result, and DEL leaves nothing', async () => {
    const ns = await f.netns();
    const before = calls(f.daemon!.log());
    const add = await callPlugin(env('ADD', ns, 'ctr-d1', f.daemon!.socket), stdin());
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const res = add.out as unknown as AddResult;
    assert.equal(res.ips[0].address, '10.64.0.1/24');
    assert.equal(res.interfaces[0].name, `${vswitch}-s01`);
    const host = JSON.parse((await sh('ip', ['-n', f.sbns, '-j', 'link', 'show', `${vswitch}-s01`])).stdout) as { address: string }[];
    assert.equal(res.interfaces[0].mac, host[0].address);
    assert.equal(calls(f.daemon!.log()), before + 1, 'the daemon served the ADD');
    const del = await callPlugin(env('DEL', ns, 'ctr-d1', f.daemon!.socket), stdin());
    assert.equal(del.code, 0, del.stdout);
    assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
    assert.notEqual((await ns.exec(['ip', 'link', 'show', 'eth0'], { allowFail: true })).code, 0, 'no eth0 left in the netns');
  });

  it('refuses to take over a socket path another user owns', async () => {
    const socket = testSocket();
    const other = net.createServer((c) => c.destroy());
    await new Promise<void>((res) => other.listen(socket, res));
    try {
      chownSync(socket, 65534, 65534);
      await assert.rejects(startCniDaemon(socket), /NOT_OURS|belongs to uid 65534/);
      assert.equal(statSync(socket).uid, 65534, 'the socket is left as it was');
    } finally {
      await new Promise((res) => other.close(res));
    }
  });

  it('the forwarder does not talk to a socket it does not own, or one open to others: it runs the call itself', async () => {
    for (const [uid, mode] of [
      [65534, 0o600],
      [0, 0o666],
    ] as const) {
      const socket = testSocket();
      let connections = 0;
      const fake = net.createServer((c) => {
        connections++;
        c.end(Buffer.from([0, 0, 0, 0, 2, 0x7b, 0x7d]));
      });
      await new Promise<void>((res) => fake.listen(socket, res));
      try {
        chownSync(socket, uid, 0);
        await sh('chmod', [mode.toString(8), socket]);
        const r = await callPlugin({ CNI_COMMAND: 'VERSION', ECDOCK_CNI_SOCKET: socket }, '{"cniVersion":"1.0.0"}');
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.deepEqual((r.out as { supportedVersions: string[] }).supportedVersions.includes('1.0.0'), true, r.stdout);
        assert.equal(connections, 0, `the forwarder connected to a socket of uid ${uid} mode ${mode.toString(8)}`);
      } finally {
        await new Promise((res) => fake.close(res));
      }
    }
  });

  it('with no daemon at all, the forwarder runs the call in its own process', async () => {
    const ns = await f.netns();
    const nobody = testSocket();
    const add = await callPlugin(env('ADD', ns, 'ctr-nod', nobody), stdin());
    assert.equal(add.code, 0, add.stdout + add.stderr);
    assert.equal((add.out as unknown as AddResult).ips[0].address, '10.64.0.1/24');
    assert.equal((await callPlugin(env('DEL', ns, 'ctr-nod', nobody), stdin())).code, 0);
    assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
  });

  it('hands a call from another mount namespace back to the forwarder, which runs it itself', async () => {
    const ns = await f.netns();
    const before = f.daemon!.log();
    // unshare(1) execs the forwarder in a new mount namespace: CNI_NETNS may not name the same file there.
    const r = await sh('unshare', ['-m', 'env', ...Object.entries(env('VERSION', ns, 'ctr-u', f.daemon!.socket)).map(([k, v]) => `${k}=${v}`), FORWARDER], {
      input: '{"cniVersion":"1.0.0"}',
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok((JSON.parse(r.stdout) as { supportedVersions: string[] }).supportedVersions.includes('1.0.0'), r.stdout);
    assert.match(f.daemon!.log().slice(before.length), /VERSION .*handed back/);
  });

  it('on SIGTERM it removes its socket at once, finishes the call in flight, then exits 0', async () => {
    const d = await startCniDaemon();
    try {
      const conn = net.connect(d.socket);
      await new Promise<void>((res, rej) => conn.once('connect', res).once('error', rej));
      const chunks: Buffer[] = [];
      conn.on('data', (b: Buffer) => chunks.push(b));
      const closed = new Promise<void>((res) => conn.once('close', () => res()));
      const ns = (k: string) => String(statSync(`/proc/self/ns/${k}`).ino);
      const req = encodeRequest({ env: { ECDOCK_CNI_MNTNS: ns('mnt'), ECDOCK_CNI_PIDNS: ns('pid'), CNI_COMMAND: 'VERSION' }, stdin: '{"cniVersion":"1.0.0"}' });
      // Half the request now, the rest after the signal: the call is in flight when it arrives.
      conn.write(req.subarray(0, 10));
      const exited = new Promise<number | null>((res) => d.child.once('exit', (code) => res(code)));
      d.child.kill('SIGTERM');
      const t = Date.now();
      while (existsSync(d.socket) && Date.now() - t < 10_000) await new Promise((r) => setTimeout(r, 20));
      assert.equal(existsSync(d.socket), false, 'the socket is gone: new calls are run by their forwarders');
      assert.equal(d.child.exitCode, null, 'still running while a call is in flight');
      conn.end(req.subarray(10));
      await closed;
      const resp = decodeResponse(Buffer.concat(chunks));
      assert.equal(resp?.status, 0, JSON.stringify(resp));
      assert.ok((JSON.parse(resp.stdout) as { supportedVersions: string[] }).supportedVersions.includes('1.0.0'));
      assert.equal(await exited, 0);
    } finally {
      await d.stop();
    }
  });

  it('a daemon killed in the middle of an ADD: the ADD fails with code 11, DEL (run by the forwarder) leaves nothing, and the next ADD works', async () => {
    const socket = testSocket();
    const d = await startCniDaemon(socket, { preload: CRASH_PRELOAD, env: { ECDOCK_CRASH_AT: 'attach:port-committed' } });
    try {
      const ns = await f.netns();
      const add = await callPlugin(env('ADD', ns, 'ctr-k', socket), stdin());
      assert.equal(add.code, 1, add.stdout);
      assert.equal(add.out?.code, 11, add.stdout);
      await new Promise<void>((res) => (d.child.exitCode !== null || d.child.signalCode !== null ? res() : d.child.once('exit', () => res())));
      assert.equal(d.child.signalCode, 'SIGKILL');
      // The socket file of the dead daemon is still there: the forwarder finds nobody listening and runs the calls itself.
      const del = await callPlugin(env('DEL', ns, 'ctr-k', socket), stdin());
      assert.equal(del.code, 0, del.stdout);
      assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
      assert.notEqual((await ns.exec(['ip', 'link', 'show', 'eth0'], { allowFail: true })).code, 0, 'no eth0 left in the netns');
      const again = await callPlugin(env('ADD', ns, 'ctr-k2', socket), stdin());
      assert.equal(again.code, 0, again.stdout);
      assert.equal((again.out as unknown as AddResult).ips[0].address, '10.64.0.1/24');
      assert.equal((await callPlugin(env('DEL', ns, 'ctr-k2', socket), stdin())).code, 0);
      // A new daemon replaces the dead one's socket (its own uid, nobody listening) and serves.
      const d2 = await startCniDaemon(socket);
      try {
        const v = await callPlugin({ CNI_COMMAND: 'VERSION', ECDOCK_CNI_SOCKET: socket }, '{"cniVersion":"1.0.0"}');
        assert.equal(v.code, 0, v.stdout);
        assert.match(d2.log(), /VERSION - -: exit 0/);
      } finally {
        await d2.stop();
      }
    } finally {
      await d.stop();
    }
  });
});
