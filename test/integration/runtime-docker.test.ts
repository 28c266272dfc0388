// DockerRuntime against the real dockerd: lifecycle, labels, events, attach through a real pty, and
// bad inputs that must leave nothing behind. Every container is created under a fresh name and
// force-removed by id afterwards, pass or fail.
import { underPty as ptyOf } from '../support/pty';
import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DockerRuntime } from '../../src/runtime/docker';
import type { ContainerEvent } from '../../src/runtime';
import { ensureBusyboxImage as ensureImage } from '../../src/runtime/busybox-image';
import { isEcdockError, type ErrorCode } from '../../src/errors';
import { BUSYBOX_IMAGE, ensureBusyboxImage, requireDocker, TestContainers } from '../support/docker';
import { requireRoot, uniqueName } from '../support/env';

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.ok(isEcdockError(e, code), `expected ${code}, got ${(e as { code?: string }).code}: ${(e as Error).message}`);
    return e as Error;
  }
  assert.fail(`expected a ${code} rejection`);
}

/** Ids of all containers, running or not: to show that a failed call created nothing. */
async function allIds(rt: DockerRuntime): Promise<string[]> {
  return (await rt.list({ all: true })).map((c) => c.id).sort();
}

function netIfaces(pid: number): string[] {
  return readFileSync(`/proc/${pid}/net/dev`, 'utf8')
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter(Boolean);
}

describe('DockerRuntime (real dockerd)', function () {
  this.timeout(30_000);
  const rt = new DockerRuntime();
  let tc: TestContainers;
  const runId = uniqueName('r');

  before(async function () {
    await requireDocker(this);
    await ensureBusyboxImage(BUSYBOX_IMAGE, rt);
  });
  beforeEach(() => {
    tc = new TestContainers(rt, 'ect-rt-');
  });
  afterEach(async () => {
    await tc.cleanup();
  });

  it('ping answers', async () => {
    await rt.ping();
  });

  it('runs a container with network none, labels, a pid and a netns of its own', async function () {
    requireRoot(this);
    const labels = { 'ecdock.test': runId, 'ecdock.slot': '7' };
    const c = await tc.run({ labels, hostname: 'slot7' });
    assert.equal(c.running, true);
    assert.equal(c.state, 'running');
    assert.ok(c.pid > 0, `pid ${c.pid}`);
    assert.equal(c.image, BUSYBOX_IMAGE);
    assert.equal(c.tty, true);
    assert.deepEqual({ ...c.labels, ...labels }, c.labels);
    assert.match(c.id, /^[0-9a-f]{64}$/);
    assert.ok(c.startedAt);
    assert.equal(c.exitCode, undefined);
    assert.notEqual(readlinkSync(`/proc/${c.pid}/ns/net`), readlinkSync('/proc/self/ns/net'));
    assert.deepEqual(netIfaces(c.pid), ['lo'], 'network mode none: only lo');

    const byName = await rt.inspect(c.name);
    const byId = await rt.inspect(c.id);
    const byShortId = await rt.inspect(c.id.slice(0, 12));
    assert.deepEqual(byName, c);
    assert.deepEqual(byId, c);
    assert.deepEqual(byShortId, c);
    assert.deepEqual(await rt.inspect(`/${c.name}`), c, "Docker's own '/name' form");
    const r = await rt.resolve(c.name);
    assert.equal(r.pid, c.pid);
  });

  it('inspect of a missing container is undefined; resolve says NO_SUCH_CONTAINER', async () => {
    const name = tc.name();
    assert.equal(await rt.inspect(name), undefined);
    await rejectsWith(rt.resolve(name), 'NO_SUCH_CONTAINER');
  });

  it('a created but not started container has pid 0 and does not resolve', async () => {
    const c = await rt.create({ name: tc.name(), image: BUSYBOX_IMAGE, args: ['sh'] });
    tc.track(c);
    assert.equal(c.running, false);
    assert.equal(c.pid, 0);
    assert.equal(c.state, 'created');
    assert.equal(c.exitCode, undefined);
    await rejectsWith(rt.resolve(c.id), 'CONTAINER_NOT_RUNNING');
    const started = await rt.start(c.id);
    assert.ok(started.pid > 0);
    const again = await rt.start(c.id); // already running: fine
    assert.equal(again.pid, started.pid);
  });

  it('lists by label, server-side; stopped ones only with all: true', async () => {
    const mine = { 'ecdock.test': runId, 'ecdock.list': 'yes' };
    const a = await tc.run({ labels: mine });
    const b = await tc.run({ labels: mine });
    await tc.run({ labels: { 'ecdock.test': runId, 'ecdock.list': 'no' } });
    const running = await rt.list({ labels: mine });
    assert.deepEqual(running.map((c) => c.id).sort(), [a.id, b.id].sort());
    assert.ok(running.every((c) => c.pid > 0 && c.running));

    await rt.stop(b.id, { timeoutS: 0 });
    assert.deepEqual((await rt.list({ labels: mine })).map((c) => c.id), [a.id]);
    const all = await rt.list({ labels: mine, all: true });
    assert.deepEqual(all.map((c) => c.id).sort(), [a.id, b.id].sort());
    const stopped = all.find((c) => c.id === b.id)!;
    assert.equal(stopped.running, false);
    assert.equal(stopped.pid, 0);
    assert.equal(stopped.state, 'exited');
    assert.equal(typeof stopped.exitCode, 'number');
  });

  it('stop is idempotent, restart gives a new pid, kill of a stopped one is CONTAINER_NOT_RUNNING', async () => {
    // A shell that leaves on SIGTERM, so stop does not wait for the grace period.
    const c = await tc.run({ args: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done'] });
    const t0 = Date.now();
    await rt.stop(c.id, { timeoutS: 5 });
    assert.ok(Date.now() - t0 < 4000, 'stopped by SIGTERM, not by the grace period');
    const stopped = (await rt.inspect(c.id))!;
    assert.equal(stopped.running, false);
    assert.equal(stopped.exitCode, 0);
    await rt.stop(c.id); // already stopped: fine
    await rejectsWith(rt.kill(c.id), 'CONTAINER_NOT_RUNNING');

    const r1 = await rt.start(c.id);
    const r2 = await rt.restart(c.id, { timeoutS: 1 });
    assert.ok(r2.running && r2.pid > 0);
    assert.notEqual(r2.pid, r1.pid);
    await rt.kill(c.id, 'SIGKILL');
    const killed = await rt.inspect(c.id);
    assert.equal(killed!.running, false);
  });

  it('remove is true once, then false; force removes a running one', async () => {
    const c = await tc.run();
    await assert.rejects(rt.remove(c.id), (e: unknown) => isEcdockError(e, 'DOCKER_ERROR'), 'running, no force');
    assert.equal(await rt.remove(c.id, { force: true }), true);
    assert.equal(await rt.remove(c.id, { force: true }), false);
    assert.equal(await rt.remove(c.name), false);
    assert.equal(await rt.inspect(c.id), undefined);
  });

  it('events: create, start, die, destroy for a labelled container, nothing for others', async () => {
    const label = { 'ecdock.test': runId, 'ecdock.events': uniqueName('e') };
    const events = rt.events({ labels: label });
    const seen: ContainerEvent[] = [];
    const emitted: ContainerEvent[] = [];
    events.on('event', (ev) => emitted.push(ev));
    try {
      await events.ready();
      const other = await tc.run({ labels: { 'ecdock.test': runId } });
      const c = await tc.run({ labels: label });
      await rt.stop(c.id, { timeoutS: 0 });
      await rt.remove(c.id);
      await rt.remove(other.id, { force: true });
      const timer = setTimeout(() => events.close(), 10_000);
      for await (const ev of events) {
        seen.push(ev);
        if (ev.action === 'destroy') break; // break closes the stream
      }
      clearTimeout(timer);
      assert.equal(events.isClosed, true);
      const actions = seen.map((e) => e.action);
      for (const a of ['create', 'start', 'die', 'destroy'] as const) assert.ok(actions.includes(a), `saw ${actions.join(',')}`);
      assert.ok(actions.indexOf('create') < actions.indexOf('start') && actions.indexOf('start') < actions.indexOf('die'));
      assert.ok(seen.every((e) => e.id === c.id && e.name === c.name && e.labels['ecdock.events'] === label['ecdock.events']));
      assert.ok(seen.every((e) => e.time instanceof Date && Math.abs(e.time.getTime() - Date.now()) < 60_000));
      assert.equal(seen.find((e) => e.action === 'die')!.exitCode, 137);
      assert.deepEqual(emitted.map((e) => e.action), actions, "'event' listeners see the same events");
    } finally {
      events.close();
    }
  });

  describe('attach through a pseudo-terminal', () => {
    const child = join(__dirname, '..', 'support', 'attach-child.js');
    let procs: ChildProcessWithoutNullStreams[] = [];
    afterEach(() => {
      for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
      procs = [];
    });

    /** The attach child under a pty of 30x100 (support/pty.ts). */
    function underPty(ref: string) {
      const pty = ptyOf([process.execPath, child, ref]);
      procs.push(pty.proc);
      return pty;
    }

    it('types a command, follows the window size, detaches with ctrl-p ctrl-q and restores the terminal', async () => {
      const c = await tc.run();
      const pty = underPty(c.id);
      const a = 1000 + Math.floor(Math.random() * 9000);
      // Only the shell's arithmetic can print the sum: the echoed input shows just the expression.
      pty.type(`echo mark-$((${a}+1))\r`);
      await pty.waitFor(new RegExp(`mark-${a + 1}`));
      pty.type('stty size\r');
      await pty.waitFor(/30 100/);
      pty.type('\x10\x11');
      const m = await pty.waitFor(/ATTACH-RESULT (\{.*\})/);
      const result = JSON.parse(m[1]!);
      assert.deepEqual(result, { detached: true, isTTY: true, rawBefore: false, rawAfter: false });
      assert.equal(await pty.exited, 0);
      const after = await rt.inspect(c.id);
      assert.equal(after!.running, true, 'still running after detach');
      assert.equal(after!.pid, c.pid);
    });

    it('ends with the exit code when the container exits', async () => {
      const c = await tc.run();
      const pty = underPty(c.name);
      pty.type('echo ready-$((2*21))\r');
      await pty.waitFor(/ready-42/);
      pty.type('exit 3\r');
      const m = await pty.waitFor(/ATTACH-RESULT (\{.*\})/);
      assert.deepEqual(JSON.parse(m[1]!), { detached: false, exitCode: 3, isTTY: true, rawBefore: false, rawAfter: false });
      assert.equal((await rt.inspect(c.id))!.running, false);
    });

    it('refuses a stopped container with CONTAINER_NOT_RUNNING', async () => {
      const c = await tc.run();
      await rt.stop(c.id, { timeoutS: 0 });
      const pty = underPty(c.id);
      const m = await pty.waitFor(/ATTACH-ERROR (\{.*\})/);
      assert.equal(JSON.parse(m[1]!).code, 'CONTAINER_NOT_RUNNING');
    });
  });

  it('imports a rootfs as an image (no registry), and reports a broken tar', async () => {
    const tag = `ecdock-import-test:${uniqueName('t')}`;
    const images = (rt as unknown as { docker: import('dockerode') }).docker;
    try {
      assert.equal(await ensureImage(rt, tag), tag);
      assert.equal(await ensureImage(rt, tag), tag, 'idempotent');
      const c = await tc.run({ image: tag, args: ['sh', '-c', 'sleep 60'] });
      assert.equal(c.image, tag);
      assert.ok(c.pid > 0);
      await rejectsWith(rt.importImage(Readable.from([Buffer.from('not a tar at all')]), { tag: `${tag}-broken` }), 'DOCKER_ERROR');
      assert.equal(await rt.imageExists(`${tag}-broken`), false);
    } finally {
      await tc.cleanup();
      await images.getImage(tag).remove({ force: true }).catch(() => undefined);
    }
  });

  describe('bad inputs create nothing', () => {
    it('unknown image: NO_SUCH_IMAGE, and says no pull happens', async () => {
      const before = await allIds(rt);
      const name = tc.name();
      const e = await rejectsWith(rt.run({ name, image: 'ecdock-no-such-image:never' }), 'NO_SUCH_IMAGE');
      assert.match(e.message, /does not pull/);
      assert.equal(await rt.imageExists('ecdock-no-such-image:never'), false);
      assert.equal(await rt.imageExists(BUSYBOX_IMAGE), true);
      assert.equal(await rt.inspect(name), undefined);
      assert.deepEqual(await allIds(rt), before);
    });

    it('duplicate name: NAME_TAKEN, the first container untouched', async () => {
      const c = await tc.run();
      const before = await allIds(rt);
      await rejectsWith(rt.run({ name: c.name, image: BUSYBOX_IMAGE }), 'NAME_TAKEN');
      assert.deepEqual(await allIds(rt), before);
      const still = await rt.inspect(c.name);
      assert.equal(still!.id, c.id);
      assert.equal(still!.running, true);
    });

    it('unknown container: NO_SUCH_CONTAINER from start, stop, kill, restart, attach', async () => {
      const before = await allIds(rt);
      const name = tc.name();
      await rejectsWith(rt.start(name), 'NO_SUCH_CONTAINER');
      await rejectsWith(rt.stop(name), 'NO_SUCH_CONTAINER');
      await rejectsWith(rt.kill(name), 'NO_SUCH_CONTAINER');
      await rejectsWith(rt.restart(name), 'NO_SUCH_CONTAINER');
      await rejectsWith(rt.attach(name, { stdin: process.stdin, stdout: process.stdout }), 'NO_SUCH_CONTAINER');
      assert.deepEqual(await allIds(rt), before);
    });

    it('a start that fails removes what run created', async () => {
      const before = await allIds(rt);
      const name = tc.name();
      await rejectsWith(rt.run({ name, image: BUSYBOX_IMAGE, args: ['/no/such/program'] }), 'DOCKER_ERROR');
      assert.equal(await rt.inspect(name), undefined);
      assert.deepEqual(await allIds(rt), before);
    });

    it('malformed names are refused before dockerd is asked', async () => {
      await rejectsWith(rt.run({ name: 'bad name', image: BUSYBOX_IMAGE }), 'BAD_NAME');
      await rejectsWith(rt.inspect('a/b'), 'BAD_NAME');
      await rejectsWith(rt.run({ name: tc.name(), image: '' }), 'BAD_NAME');
    });

    it('unreachable socket: DOCKER_UNREACHABLE with a hint, nothing created', async () => {
      const before = await allIds(rt);
      const bad = new DockerRuntime({ socketPath: '/nonexistent/docker.sock', timeoutMs: 2000 });
      const e = await rejectsWith(bad.ping(), 'DOCKER_UNREACHABLE');
      assert.match(e.message, /dockerd/);
      assert.match(e.message, /\/nonexistent\/docker\.sock/);
      await rejectsWith(bad.run({ name: tc.name(), image: BUSYBOX_IMAGE }), 'DOCKER_UNREACHABLE');
      await rejectsWith(bad.inspect('x1'), 'DOCKER_UNREACHABLE');
      assert.deepEqual(await allIds(rt), before);
    });
  });
});
