// ecdock-docker-plugin's refusals, as dockerd shows them: {"Err": sentence} for a subnet that is
// no slot plan, an unknown or bad -o option, an OVN option without its shared name, an overlapping subnet,
// OVSDB unreachable; and a plugin killed in the middle of plugging a container leaves nothing
// once it is started again.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { requireRoot } from '../support/env';
import { ensureBusyboxImage, requireDocker } from '../support/docker';
import { PLUGIN_CRASH_MAIN, PluginFixture, startPlugin } from '../support/docker-plugin';
import { uniqueName } from '../support/env';
import { VSwitch } from '../../src/vswitch';
import { listLinks } from '../../src/netlink/link';
import { Netns } from '../../src/netlink/netns';

function subnet(): { net: string; at: (n: number) => string } {
  const b = randomInt(100, 250);
  const c = randomInt(0, 255);
  return { net: `10.${b}.${c}.0/24`, at: (n) => `10.${b}.${c}.${n}` };
}

describe('ecdock-docker-plugin: bad input and faults', function () {
  this.timeout(120_000);
  let f: PluginFixture;

  before(async function () {
    requireRoot(this);
    await requireDocker(this);
    await ensureBusyboxImage();
    f = await PluginFixture.start();
  });
  after(async () => {
    await f?.cleanup();
  });

  /** Every vswitch in the sandbox: a refused create must leave this unchanged. */
  const names = async (): Promise<string[]> => (await f.vswitches()).map((v) => v.name).sort();

  const refusals: [string, (s: ReturnType<typeof subnet>) => string[], RegExp][] = [
    ['a prefix no slot plan has (/7)', () => ['--subnet', '14.0.0.0/7', '--gateway', '14.0.0.1'], /BAD_SUBNET: --subnet 14\.0\.0\.0\/7 --gateway 14\.0\.0\.1 does not fit a slot plan: .*use \/8 to \/30/],
    ['an unknown -o option', (s) => ['--subnet', s.net, '--gateway', s.at(254), '-o', 'ecdock.colour=blue'], /unknown option -o ecdock\.colour: the ecdock driver takes .*ecdock\.usermode/],
    ['a bad -o ecdock.mtu', (s) => ['--subnet', s.net, '--gateway', s.at(254), '-o', 'ecdock.mtu=12'], /BAD_MTU: -o ecdock\.mtu=12: give an integer from 68 to 65535/],
    ['a bad -o ecdock.usermode', (s) => ['--subnet', s.net, '--gateway', s.at(254), '-o', 'ecdock.usermode=maybe'], /ecdock\.usermode=maybe: give true or false/],
    ['a vswitch name too long for a port name', (s) => ['--subnet', s.net, '--gateway', s.at(254), '-o', 'ecdock.vswitch=averyverylongname'], /BAD_NAME/],
    ['-o ecdock.ovn.northbound without the shared -o ecdock.vswitch', (s) => ['--subnet', s.net, '--gateway', s.at(254), '-o', 'ecdock.ovn.northbound=tcp:127.0.0.1:6641'], /needs -o ecdock\.vswitch=NAME: the logical switch every host's network joins/],
    ['-o ecdock.ovn.northbound that is no OVSDB URL', (s) => ['--subnet', s.net, '--gateway', s.at(254), '-o', 'ecdock.ovn.northbound=localhost', '-o', 'ecdock.vswitch=x1'], /give the Northbound's OVSDB URL, e\.g\. tcp:10\.0\.0\.10:6641/],
    ['IPv6', (s) => ['--subnet', s.net, '--gateway', s.at(254), '--ipv6', '--subnet', 'fd00:ec:1::/64'], /IPv4 slots only: create the network without --ipv6/],
  ];
  for (const [what, args, re] of refusals) {
    it(`refuses ${what}, and creates nothing`, async () => {
      const before = await names();
      const r = await f.createNetwork(args(subnet()));
      assert.notEqual(r.code, 0, `docker accepted it: ${r.stdout}`);
      assert.match(r.stderr, re);
      assert.deepEqual(await names(), before);
    });
  }

  it('refuses a subnet overlapping another vswitch in the same OVS (SUBNET_IN_USE), and Docker its own overlapping pools', async () => {
    const s = subnet();
    const vs = await VSwitch.create(await f.client(), { name: uniqueName('ecdo'), subnet: `${s.at(254)}/24`, usermode: true, netns: f.sb.netns! });
    try {
      const before = await names();
      const r = await f.createNetwork(['--subnet', s.net.replace(/\.0\/24$/, '.128/25'), '--gateway', s.at(253), '-o', 'ecdock.usermode=true']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /SUBNET_IN_USE/);
      assert.deepEqual(await names(), before);
    } finally {
      await vs.destroy();
    }
    const first = await f.createNetwork(['--subnet', s.net, '--gateway', s.at(254), '-o', 'ecdock.usermode=true']);
    assert.equal(first.code, 0, first.stderr);
    const second = await f.createNetwork(['--subnet', s.net, '--gateway', s.at(254), '-o', 'ecdock.usermode=true']);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, /overlap/i);
    assert.equal((await f.docker(['network', 'rm', first.name])).code, 0);
  });

  it('OVSDB unreachable: the plugin still starts, and Docker gets a sentence naming the fix', async () => {
    const name = uniqueName('ecdku');
    const p = await startPlugin(['--name', name], { ECDOCK_DB: `unix:/run/${name}-nothing.sock` });
    const net = uniqueName('ecdkn');
    try {
      const r = await f.docker(['network', 'create', '-d', name, '--subnet', subnet().net, net]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /OVSDB_UNREACHABLE: ecdock cannot reach OVSDB at unix:\/run\/ecdku\w+-nothing\.sock: start ovsdb-server .* or point ECDOCK_DB at it/);
      assert.match(p.log, /startup cleanup skipped/);
    } finally {
      await f.docker(['network', 'rm', net]);
      assert.equal(await p.stop('SIGTERM'), 0);
      assert.ok(!existsSync(`/run/docker/plugins/${name}.sock`), 'SIGTERM removed the socket');
    }
  });

  it('a plugin killed while plugging a container leaves nothing once started again; the slot is free for the next one', async () => {
    const s = subnet();
    const net = await f.createNetwork(['--subnet', s.net, '--gateway', s.at(254), '-o', 'ecdock.usermode=true', '-o', `ecdock.vswitch=ecdkk${f.name.slice(-3)}`]);
    assert.equal(net.code, 0, net.stderr);
    const vs = await VSwitch.open(await f.client(), `ecdkk${f.name.slice(-3)}`);
    await f.plugin!.stop('SIGTERM');
    const crashing = await f.startPlugin({ main: PLUGIN_CRASH_MAIN, env: { ECDOCK_TEST_CRASH_AT: 'attach:port-committed' } });
    const c = await f.run(['--network', net.name]);
    assert.notEqual(c.code, 0, 'the run fails: the plugin died under it');
    assert.equal(await crashing.exited, -1, 'killed at the crash point');
    assert.equal((await vs.slots()).length, 1, 'the crash left a claimed slot');
    await f.docker(['rm', '-f', c.name]);

    const restarted = await f.startPlugin();
    assert.match(restarted.log, /cleaned up/);
    assert.deepEqual(await vs.slots(), [], 'no slot left');
    const sw = Netns.open({ path: f.sb.netns! });
    try {
      assert.deepEqual((await listLinks({ netns: sw })).filter((l) => l.name.startsWith(vs.name + '-')).map((l) => l.name), [], 'no host-side veth left');
    } finally {
      sw.close();
    }
    const staging = Netns.open({ path: f.staging });
    try {
      assert.deepEqual((await listLinks({ netns: staging })).filter((l) => l.name !== 'lo').map((l) => l.name), [], 'nothing left in the staging namespace');
    } finally {
      staging.close();
    }
    const again = await f.run(['--network', net.name]);
    assert.equal(again.code, 0, again.stderr + restarted.log);
    const slots = await vs.slots();
    assert.equal(slots.length, 1);
    assert.equal(slots[0].state, 'up');
    await f.docker(['rm', '-f', again.name]);
  });
});
