// ec in daily use, each case with its exit code: a lone vswitch stands in for ovs0 (several are
// named), hints with the real command, slot ranges as usable, validation before any progress line,
// create-vswitch refusing a subnet the namespace already uses (--force overrides), cleanup --dry-run,
// one `slot` field in --json, attach refusing a non-terminal stdin, and ovs-docker's keys on
// container slots.
import { strict as assert } from 'node:assert';
import { CliFixture, ec, ecOk } from '../support/cli';
import { BUSYBOX_IMAGE, ensureBusyboxImage, requireDocker } from '../support/docker';
import { TestNetns, eventually, requireRoot, sh, uniqueName } from '../support/env';

describe('ec in daily use (exit codes)', function () {
  this.timeout(90_000);
  let f: CliFixture;
  const namespaces: TestNetns[] = [];
  let made: string[] = [];

  before(async function () {
    requireRoot(this);
    f = await CliFixture.start();
  });
  afterEach(async () => {
    for (const name of made) {
      await f.removeContainersOf(name).catch(() => undefined);
      await ec(['delete-vswitch', '--force'], { env: f.env(name) });
    }
    made = [];
  });
  after(async () => {
    for (const ns of namespaces) await ns.del();
    await f?.stop();
  });

  /** The sandbox's env without ECDOCK_VSWITCH: commands fall back to ovs0 or the lone vswitch. */
  const unnamed = () => ({ ...f.env(), ECDOCK_VSWITCH: undefined });

  async function create(subnet: string, extra: string[] = []): Promise<string> {
    const name = f.vswitchName('ecd');
    await ecOk(['create-vswitch', '--usermode', subnet, ...extra], { env: f.env(name) });
    made.push(name);
    return name;
  }

  async function netns(): Promise<TestNetns> {
    const ns = await TestNetns.create('ecdu-');
    namespaces.push(ns);
    return ns;
  }

  describe('which vswitch, when none is named', () => {
    it('none on this OVS: exit 4, says to create one', async () => {
      const r = await ec(['list'], { env: unnamed() });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /there is no vswitch on this OVS yet; create one: ec create-vswitch --usermode/);
    });

    it('one: ec list uses it (exit 0); two: exit 4 naming both', async () => {
      const a = await create('10.121.0.254/24');
      const ns = await netns();
      await ecOk(['plug', '--slot=3', '--netns', ns.path], { env: unnamed() });
      const slots = await ecOk<{ vswitch: string; slot: number }[]>(['list', '--json'], { env: unnamed() });
      assert.deepEqual(slots.map((s) => [s.vswitch, s.slot]), [[a, 3]]);
      const b = await create('10.122.0.254/24');
      const r = await ec(['list'], { env: unnamed() });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, new RegExp(`there is no vswitch named ovs0, and this OVS has 2: (${a}, ${b}|${b}, ${a}); pick one with --vswitch NAME`));
      assert.equal(r.stdout, '');
    });
  });

  describe('--json', () => {
    it('a slot has one number (slot, no index) and no mac2 without a second NIC', async () => {
      const name = await create('10.123.0.254/24');
      const ns = await netns();
      const plugged = await ecOk<Record<string, unknown>>(['--json', 'plug', '--slot=5', '--netns', ns.path], { env: f.env(name) });
      const [listed] = await ecOk<Record<string, unknown>[]>(['list', '--json'], { env: f.env(name) });
      for (const s of [plugged, listed!]) {
        assert.equal(s.slot, 5);
        assert.ok(!('index' in s), 'no index beside slot');
        assert.ok(!('mac2' in s), 'no mac2 without a second NIC');
        assert.equal(s.mac, '52:00:0a:7b:00:05');
      }
    });
  });

  describe('hints, ranges and validation', () => {
    it('a missing slot names the command that was run (exit 2)', async () => {
      const name = await create('10.124.0.254/24');
      for (const cmd of ['attach', 'stop', 'unplug']) {
        const r = await ec([cmd], { env: f.env(name) });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, new RegExp(`which slot\\? give it as an argument \\(ec ${cmd} 1\\) or with --slot=N`));
      }
    });

    it('a /24 with its gateway on .254 has slots 1..253; slot 254 is refused as the gateway (exit 2)', async () => {
      const name = f.vswitchName('ecd');
      const out = await ecOk(['create-vswitch', '--usermode', '10.125.0.254/24'], { env: f.env(name) });
      made.push(name);
      assert.match(out, /slots 1\.\.253 \(slot 1: 10\.125\.0\.1 52:00:0a:7d:00:01\)/);
      const ns = await netns();
      const r = await ec(['plug', '--slot=254', '--netns', ns.path], { env: f.env(name) });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /slot 254 would be 10\.125\.0\.254, the gateway's address; vswitch \S+ has slots 1\.\.253 \(code SLOT_OUT_OF_RANGE\)/);
    });

    it('a bad subnet is refused before any progress line (exit 2), and nothing is made', async () => {
      const before = await f.snapshot();
      const r = await ec(['create-vswitch', '--usermode', '10.0.0.0/33'], { env: f.env(uniqueName('ecd')) });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^ec: .*\(code BAD_SUBNET\)\n$/);
      assert.doesNotMatch(r.stderr, /creating vswitch/);
      assert.equal(await f.snapshot(), before);
    });
  });

  describe('create-vswitch and what the namespace already uses', () => {
    it('refuses a subnet overlapping an address (exit 3, SUBNET_IN_USE, nothing made); --force overrides', async () => {
      const dev = uniqueName('ecdd');
      await sh('ip', ['-n', f.sbns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`]);
      f.cleanup.add(() => sh('ip', ['-n', f.sbns, 'link', 'del', dev], { allowFail: true }));
      await sh('ip', ['-n', f.sbns, 'addr', 'add', '10.126.0.1/24', 'dev', dev]);
      const name = f.vswitchName('ecd');
      const before = await f.snapshot();
      const r = await ec(['create-vswitch', '--usermode', '10.126.0.254/24'], { env: f.env(name) });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /10\.126\.0\.0\/24 overlaps 10\.126\.0\.1\/24, an address already in \S+; pick another subnet, or override with --force \(library: allowSubnetOverlap\) \(code SUBNET_IN_USE\)/);
      assert.doesNotMatch(r.stderr, /creating vswitch/);
      assert.equal(await f.snapshot(), before, 'a refused create changes nothing');
      await ecOk(['create-vswitch', '--usermode', '--force', '10.126.0.254/24'], { env: f.env(name) });
      made.push(name);
      // Again with the same plan, the host address gone: its own bridge's address is no overlap.
      await sh('ip', ['-n', f.sbns, 'link', 'del', dev]);
      await ecOk(['create-vswitch', '--usermode', '10.126.0.254/24'], { env: f.env(name) });
    });

    it('refuses a subnet inside a route of the namespace (exit 3)', async () => {
      const dev = uniqueName('ecdr');
      await sh('ip', ['-n', f.sbns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`]);
      f.cleanup.add(() => sh('ip', ['-n', f.sbns, 'link', 'del', dev], { allowFail: true }));
      await sh('ip', ['-n', f.sbns, 'link', 'set', dev, 'up']);
      await sh('ip', ['-n', f.sbns, 'link', 'set', `${dev}p`, 'up']);
      await sh('ip', ['-n', f.sbns, 'route', 'add', '10.127.0.0/16', 'dev', dev]);
      const r = await ec(['create-vswitch', '--usermode', '10.127.5.254/24'], { env: f.env(uniqueName('ecd')) });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /overlaps the route to 10\.127\.0\.0\/16 .*\(code SUBNET_IN_USE\)/);
    });
  });

  describe('cleanup --dry-run', () => {
    it('lists the ghost it would remove (exit 0) and changes nothing; cleanup then removes it', async () => {
      const name = await create('10.128.0.254/24');
      const ns = await netns();
      await ecOk(['plug', '--slot=2', '--netns', ns.path], { env: f.env(name) });
      await ns.del();
      await eventually(async () => (await ecOk<{ slot: number; state: string }[]>(['list', '--json'], { env: f.env(name) })).find((s) => s.slot === 2)?.state === 'ghost');
      const before = await f.snapshot();
      const dry = await ecOk(['cleanup', '--dry-run'], { env: f.env(name) });
      assert.match(dry, new RegExp(`port\\s+${name}\\s+${name}-s02\\s+target-gone`));
      assert.match(dry, /dry run: would remove 1 port\(s\) and 0 container\(s\); nothing was changed/);
      const json = await ecOk<{ dryRun: boolean; wouldRemove: { name: string }[] }>(['cleanup', '--dry-run', '--json'], { env: f.env(name) });
      assert.deepEqual(json.wouldRemove.map((w) => w.name), [`${name}-s02`]);
      assert.equal(await f.snapshot(), before, 'a dry run changes nothing');
      await ecOk(['cleanup'], { env: f.env(name) });
      assert.deepEqual(await ecOk<unknown[]>(['list', '--json'], { env: f.env(name) }), []);
    });
  });

  describe('with Docker', () => {
    before(async function () {
      await requireDocker(this);
      await ensureBusyboxImage();
    });

    it("container slots carry ovs-docker's container_id and container_iface; attach refuses a non-terminal stdin (exit 2)", async () => {
      const name = await create('10.129.0.254/24');
      await ecOk(['--slot=1', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env: f.env(name) });
      const container = `${name}-s01`;
      // ovs-docker's own lookup: the port of CONTAINER's INTERFACE.
      const found = await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, '--data=bare', '--no-heading', '--columns=name', 'find', 'interface', `external_ids:container_id=${container}`, 'external_ids:container_iface=eth0']);
      assert.equal(found.stdout.trim(), `${name}-s01`);
      const r = await ec(['attach', '1'], { env: f.env(name) });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /ec attach needs a terminal, and stdin is not one .*\(code BAD_ARGUMENT\)/);
      const still = await sh('docker', ['inspect', '-f', '{{.State.Running}}', container]);
      assert.equal(still.stdout.trim(), 'true');
    });
  });
});
