// ContainerFollower (the library side of `ec watch`) on real Docker: what happened while nobody
// listened is repaired by the reconcile pass at start, and events after that are followed.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { requireRoot } from '../support/env';
import { BUSYBOX_IMAGE, ensureBusyboxImage, requireDocker } from '../support/docker';
import { CliFixture, ecOk, pingsFrom } from '../support/cli';
import { ContainerFollower, type FollowEvent } from '../../src/follow';
import type { SlotInfo } from '../../src/slot';

interface Started {
  slot: SlotInfo;
  container: { id: string; name: string; pid: number };
}

describe('ContainerFollower', function () {
  this.timeout(60_000);
  let f: CliFixture;
  let name: string;
  let env: Record<string, string>;
  let follower: ContainerFollower | undefined;

  before(async function () {
    requireRoot(this);
    await requireDocker(this);
    await ensureBusyboxImage();
    f = await CliFixture.start();
    name = f.vswitchName('fo');
    env = f.env(name);
    await ecOk(['create-vswitch', '--usermode'], { env });
  });
  afterEach(async () => {
    await follower?.stop();
    follower = undefined;
  });
  after(async () => {
    if (!f) return;
    await f.removeContainersOf(name);
    await f.stop();
  });

  it('at start, re-plugs a container restarted while nobody watched and frees the slot of one removed meanwhile', async () => {
    const a = await ecOk<Started>(['--json', '--slot=1', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    const b = await ecOk<Started>(['--json', '--slot=2', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    const c = await ecOk<Started>(['--json', '--slot=3', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    await f.docker.restart(a.container.id, { timeoutS: 0 });
    await f.docker.remove(c.container.id, { force: true });
    follower = new ContainerFollower(f.ovs, { runtime: f.docker, vswitch: name });
    const seen: [string, FollowEvent][] = [];
    for (const t of ['replugged', 'down', 'freed'] as const) follower.on(t, (e) => seen.push([t, e]));
    const errors: unknown[] = [];
    follower.on('error', (e) => errors.push(e));
    await follower.start();
    await follower.idle();
    assert.deepEqual(errors, []);
    assert.deepEqual(
      seen.map(([t, e]) => [t, e.slot, e.source]).sort(),
      [
        ['freed', 3, 'reconcile'],
        ['replugged', 1, 'reconcile'],
      ],
    );
    const pid = (await f.docker.inspect(a.container.id))!.pid;
    assert.ok(await pingsFrom(pid, '10.0.0.2'), 'the restarted container is plugged again');
    assert.ok(await pingsFrom(b.container.pid, '10.0.0.1'));
    assert.deepEqual(await f.portsOf(name), [`${name}-s01`, `${name}-s02`]);

    // A second pass finds nothing to do: the healthy slot 2 and the re-plugged slot 1 stay as they are.
    seen.length = 0;
    await follower.reconcile();
    assert.deepEqual(seen, []);
  });

  it('follows events: restart re-plugs (reattach), die reports down, destroy frees', async () => {
    const a = (await f.docker.list({ labels: { 'ecdock.vswitch': name, 'ecdock.slot': '1' } }))[0]!;
    follower = new ContainerFollower(f.ovs, { runtime: f.docker, vswitch: name });
    await follower.start();
    const replugged = once(follower, 'replugged') as Promise<[FollowEvent]>;
    const down = once(follower, 'down') as Promise<[FollowEvent]>;
    await f.docker.restart(a.id, { timeoutS: 0 });
    const [d] = await down;
    assert.deepEqual([d.slot, d.container, d.source], [1, a.id, 'event']);
    const [r] = await replugged;
    assert.deepEqual([r.slot, r.how, r.source], [1, 'reattach', 'event']);
    const freed = once(follower, 'freed') as Promise<[FollowEvent]>;
    await f.docker.remove(a.id, { force: true });
    const [fr] = await freed;
    assert.equal(fr.slot, 1);
    assert.deepEqual(await f.portsOf(name), [`${name}-s02`]);
  });
});
