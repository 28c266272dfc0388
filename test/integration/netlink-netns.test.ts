import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readlinkSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { isEcdockError } from '../../src/errors';
import { Netns, listLinks, nativeStats } from '../../src/netlink';
import { Cleanup, TestNetns, eventually, requireRoot, uniqueName } from '../support/env';

const fdCount = (): number => readdirSync('/proc/self/fd').length;
const code = (c: string) => (e: unknown) => {
  assert.ok(isEcdockError(e), `not an EcdockError: ${String(e)}`);
  assert.equal(e.code, c, e.message);
  return true;
};

/** A process sleeping inside namespace `ns` (its /proc/PID/ns/net is that namespace). */
async function sleeper(ns: TestNetns, cleanup: Cleanup): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns.name, 'sleep', '120'], { stdio: 'ignore' });
  cleanup.add(() => child.exitCode === null && child.kill('SIGKILL'));
  // wait until exec has switched (the pid's netns becomes ns)
  const want = statSync(ns.path).ino;
  await eventually(() => statSync(`/proc/${child.pid}/ns/net`).ino === want, 5000, 10);
  return child;
}

describe('netlink: Netns handles (root, real namespaces)', function () {
  const cleanup = new Cleanup();
  let a: TestNetns;

  before(async function () {
    requireRoot(this);
    a = await TestNetns.create('ect-nl-');
    cleanup.add(() => a.del());
  });
  after(() => cleanup.run());

  it('opens one namespace by name, path, pid and fd, all with the same identity', async () => {
    const child = await sleeper(a, cleanup);
    const byName = Netns.open({ name: a.name });
    const byPath = Netns.open({ path: a.path });
    const byPid = Netns.open({ pid: child.pid! });
    const byProcPath = Netns.open({ path: `/proc/${child.pid}/ns/net` });
    const raw = openSync(a.path, 'r');
    const byFd = Netns.open({ fd: raw });
    closeSync(raw); // the handle holds its own duplicate
    try {
      const st = statSync(a.path, { bigint: true });
      assert.equal(byName.ino, st.ino);
      assert.equal(byName.id, `${st.dev}:${st.ino}`);
      for (const ns of [byPath, byPid, byProcPath, byFd]) assert.ok(ns.isSameAs(byName), `${ns} vs ${byName}`);
      assert.ok(byName.isSameAs(byFd.id));
      assert.match(byPid.label, new RegExp(`process ${child.pid}`));
      // the duplicated fd still works after the caller closed its own
      const links = await listLinks({ netns: byFd });
      assert.deepEqual(links.map((l) => l.name), ['lo']);
    } finally {
      for (const ns of [byName, byPath, byPid, byProcPath, byFd]) ns.close();
      child.kill('SIGKILL');
    }
  });

  it("knows the caller's namespace and tells others apart from it", () => {
    const cur = Netns.current();
    try {
      const ino = BigInt(/net:\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))![1]);
      assert.equal(cur.ino, ino);
      assert.equal(cur.id, Netns.currentId());
      assert.ok(cur.isCurrent());
      const other = Netns.open({ name: a.name });
      assert.equal(other.isCurrent(), false);
      assert.equal(other.isSameAs(cur), false);
      other.close();
    } finally {
      cur.close();
    }
  });

  it('refuses files that are not network namespaces', () => {
    assert.throws(() => Netns.open({ path: '/etc/hostname' }), code('NOT_A_NETNS'));
    assert.throws(() => Netns.open({ path: '/proc/self/ns/mnt' }), code('NOT_A_NETNS'));
    assert.throws(() => Netns.open({ path: '/proc/self/ns/uts' }), code('NOT_A_NETNS'));
    const f = openSync('/etc/hostname', 'r');
    try {
      assert.throws(() => Netns.open({ fd: f }), code('NOT_A_NETNS'));
    } finally {
      closeSync(f);
    }
    assert.throws(() => Netns.open({ fd: f }), code('BAD_ARGUMENT')); // closed now
    assert.throws(() => Netns.open({ name: '../etc' }), code('BAD_ARGUMENT'));
    assert.throws(() => Netns.open({ pid: -3 }), code('BAD_ARGUMENT'));
    assert.deepEqual(Netns.probe({ path: '/etc/hostname' }), { alive: false, reason: 'NOT_A_NETNS' });
  });

  it('reports dead namespaces: deleted by name, exited process, stale mount point, reused identity', async () => {
    const b = await TestNetns.create('ect-nl-');
    cleanup.add(() => b.del());
    const held = Netns.open({ name: b.name });
    assert.deepEqual(Netns.probe({ name: b.name }), { alive: true, id: held.id });
    await b.del();
    assert.throws(() => Netns.open({ name: b.name }), code('NETNS_GONE'));
    assert.deepEqual(Netns.probe({ name: b.name }), { alive: false, reason: 'NETNS_GONE' });
    // an open handle keeps the namespace itself alive
    assert.deepEqual((await listLinks({ netns: held })).map((l) => l.name), ['lo']);
    held.close();
    await assert.rejects(listLinks({ netns: held }), code('BAD_ARGUMENT'));

    const child = await sleeper(a, cleanup);
    const pid = child.pid!;
    assert.equal(Netns.probe({ pid }).alive, true);
    assert.equal(Netns.probe({ pid }, '0:0').reason, 'REPLACED');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.throws(() => Netns.open({ pid }), code('NETNS_GONE'));
    assert.equal(Netns.probe({ pid }).reason, 'NETNS_GONE');

    const stale = uniqueName('ect-nl-stale-');
    writeFileSync(`/var/run/netns/${stale}`, '');
    cleanup.add(() => unlinkSync(`/var/run/netns/${stale}`));
    assert.throws(() => Netns.open({ name: stale }), (e: unknown) => code('NETNS_GONE')(e) && /gone/.test((e as Error).message));
  });

  it('close is idempotent and gives the descriptor back', () => {
    Netns.current().close(); // warm up the addon
    const before = fdCount();
    const handles = Array.from({ length: 20 }, () => Netns.open({ name: a.name }));
    assert.equal(fdCount(), before + 20);
    for (const h of handles) {
      h.close();
      h.close();
      assert.equal(h.closed, true);
    }
    assert.equal(fdCount(), before);
    assert.equal(nativeStats().socketsOpen, 0);
  });
});
