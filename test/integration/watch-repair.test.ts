// The running follower (the library side of `ec watch`) repairs after an ovs-vswitchd restart by
// itself: on a private OVS, an internal-port slot whose device the restarted daemon made anew
// outside its namespace is plugged in again without any cleanup call, proven with TCP and UDP
// traffic, and the repair is reported as a 'repaired' event.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { ContainerFollower, type RepairEvent } from '../../src/follow';
import { DockerRuntime } from '../../src/runtime/docker';
import { EcProcess } from '../support/cli';
import { eventually, requireRoot } from '../support/env';
import { requireDocker } from '../support/docker';
import { startSwitchFixture, type SwitchFixture } from '../support/switch';
import { tcpBulk, udpEcho } from '../support/traffic';

const MB = 1_000_000;

/** p, or a failure saying what did not happen within ms (rather than the whole test's timeout). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

describe('ContainerFollower: repair after an ovs-vswitchd restart (real OVS, userspace datapath)', function () {
  this.timeout(180_000);
  let f: SwitchFixture;
  let follower: ContainerFollower | undefined;
  before(async function () {
    requireRoot(this);
    await requireDocker(this);
    f = await startSwitchFixture();
  });
  afterEach(async () => {
    await follower?.stop();
    follower = undefined;
  });
  after(async () => {
    await f?.cleanup.run();
  });

  for (const [how, net] of [
    ['stopped', 74],
    ['killed (SIGKILL)', 72],
  ] as const) {
    it(`ovs-vswitchd ${how} and restarted: plugs the internal slot into its namespace again by itself, reports it, and TCP and UDP flow`, async () => {
      const vs = await f.vswitch({ subnet: `10.${net}.0.254/24` });
      const [a, b] = await Promise.all([f.netns(), f.netns()]);
      await vs.attach({ slot: 1, target: { netns: a.path } });
      await vs.attach({ slot: 2, target: { netns: b.path }, portType: 'internal' });
      await eventually(() => a.ping(`10.${net}.0.2`), 10_000);

      follower = new ContainerFollower(f.ovs, { runtime: new DockerRuntime(), vswitch: vs.name });
      const errors: unknown[] = [];
      follower.on('error', (e) => errors.push(e));
      const repairs: RepairEvent[] = [];
      follower.on('repaired', (e) => repairs.push(e));
      await follower.start();
      await follower.idle();
      assert.equal(repairs.length, 0, 'nothing to repair before the restart');

      const repaired = once(follower, 'repaired') as Promise<[RepairEvent]>;
      if (how === 'stopped') await f.sb.stopVswitchd();
      else await f.sb.killVswitchd();
      await f.sb.startVswitchd();
      const [e] = await within(repaired, 60_000, "the follower's 'repaired' event after the restart");
      await follower.idle();
      assert.deepEqual(errors, []);
      assert.equal(e.vswitch, vs.name);
      assert.equal(e.source, 'vswitchd-restart');
      assert.deepEqual(e.removed, [], 'nothing removed');
      assert.ok(
        e.repaired.some((r) => r.what === 'replugged' && r.slot === 2),
        JSON.stringify(e),
      );

      // No cleanup call: the follower's repair alone made the internal slot work again.
      await eventually(async () => (await vs.slot(2))?.state === 'up' && (await vs.slot(1))?.state === 'up', 20_000);
      const eth0 = (await b.ipJson<{ address: string; addr_info: { local: string }[] }[]>(['addr', 'show', 'eth0']))[0]!;
      assert.equal(eth0.address, vs.addressOf(2).mac);
      assert.ok(eth0.addr_info.some((x) => x.local === `10.${net}.0.2`));
      await eventually(() => a.ping(`10.${net}.0.2`), 10_000);
      assert.equal(await tcpBulk(b, a, `10.${net}.0.2`, MB), MB, 'TCP internal <- veth after the repair');
      assert.equal(await tcpBulk(a, b, `10.${net}.0.1`, MB), MB, 'TCP veth <- internal after the repair');
      assert.equal(await udpEcho(b, a, `10.${net}.0.2`, 5), 5, 'UDP echo internal <-> veth after the repair');

      // The repair is done: nothing is left for a cleanup, and the follower reported it once.
      assert.deepEqual((await vs.cleanup()).repaired, []);
      assert.equal(repairs.filter((r) => r.repaired.some((x) => x.what === 'replugged')).length, 1, JSON.stringify(repairs));
    });
  }

  it('ec watch --json reports the repair as a JSON line, and the internal slot works again', async () => {
    const vs = await f.vswitch({ subnet: '10.73.0.254/24' });
    const [a, b] = await Promise.all([f.netns(), f.netns()]);
    await vs.attach({ slot: 1, target: { netns: a.path } });
    await vs.attach({ slot: 2, target: { netns: b.path }, portType: 'internal' });
    const watch = new EcProcess(['--json', 'watch'], { env: { ECDOCK_DB: f.sb.dbUrl, ECDOCK_NETNS: f.sb.netns!, ECDOCK_VSWITCH: vs.name } });
    try {
      await watch.waitFor('stderr', /watching/);
      await f.sb.stopVswitchd();
      await f.sb.startVswitchd();
      await watch.waitFor('stdout', /"event":"repaired"/, 60_000);
      const line = watch.stdout.split('\n').find((l) => l.includes('"event":"repaired"'))!;
      const e = JSON.parse(line) as RepairEvent & { event: string; time: string };
      assert.equal(e.vswitch, vs.name);
      assert.equal(e.source, 'vswitchd-restart');
      assert.ok(
        e.repaired.some((r) => r.what === 'replugged' && r.slot === 2),
        line,
      );
      await eventually(async () => (await vs.slot(2))?.state === 'up' && (await vs.slot(1))?.state === 'up', 20_000);
      await eventually(() => a.ping('10.73.0.2'), 10_000);
      assert.equal(await tcpBulk(b, a, '10.73.0.2', MB), MB, 'TCP internal <- veth after the repair');
      assert.equal(await udpEcho(b, a, '10.73.0.2', 5), 5, 'UDP echo internal <-> veth after the repair');
    } finally {
      assert.equal(await watch.stop(), 0, `ec watch ends cleanly on SIGINT: ${watch.stderr}`);
    }
  });
});
