// ecdock-docker-plugin with the real dockerd: `docker network create -d <driver>` makes a vswitch,
// `docker run --network` puts containers in slots (lowest free, or --ip's), traffic flows between
// them (HTTP, TCP bulk, UDP), connect/disconnect/stop/restart/rm move slots as Docker says, the
// plugin can be restarted under running containers, and `docker network rm` removes only what the
// plugin made. Each suite runs its own plugin (unique driver name) on an isolated OVS sandbox.
import { strict as assert } from 'node:assert';
import { randomInt } from 'node:crypto';
import { requireRoot, sh } from '../support/env';
import { ensureBusyboxImage, requireDocker } from '../support/docker';
import { PluginFixture } from '../support/docker-plugin';
import { httpGet, pidNetns, tcpBulk, udpEcho } from '../support/traffic';
import { VSwitch } from '../../src/vswitch';
import { DOCKER_KEYS } from '../../src/docker-plugin/keys';
import * as path from 'node:path';

const EC = path.join(__dirname, '..', '..', 'src', 'cli', 'main.js');

/** A /24 Docker is unlikely to hold already (its IPAM refuses overlapping pools). */
function subnet(): { net: string; at: (n: number) => string } {
  const b = randomInt(100, 250);
  const c = randomInt(0, 255);
  return { net: `10.${b}.${c}.0/24`, at: (n) => `10.${b}.${c}.${n}` };
}

describe('ecdock-docker-plugin with dockerd', function () {
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

  describe('one network, containers in slots', () => {
    const s = subnet();
    let net: string;
    let vs: VSwitch;
    before(async () => {
      const r = await f.createNetwork(['--subnet', s.net, '--gateway', s.at(254), '-o', 'ecdock.usermode=true']);
      assert.equal(r.code, 0, r.stderr + f.plugin!.log);
      net = r.name;
      const id = r.stdout.trim();
      const all = await f.vswitches();
      const mine = all.find((v) => v.name === `dk${id.slice(0, 6)}`);
      assert.ok(mine, `vswitch dk${id.slice(0, 6)} in ${all.map((v) => v.name).join(',')}`);
      vs = mine;
      assert.equal(vs.plan.cidr, `${s.at(254)}/24`);
      assert.equal(vs.usermode, true);
    });

    it('docker run --network: lowest free slots, slot MACs, the vswitch gateway; HTTP, TCP and UDP between two containers', async () => {
      const web = await f.run(['--network', net], ['sh', '-c', 'mkdir -p /www && echo hello-from-ecdock > /www/index.html && httpd -f -p 80 -h /www']);
      assert.equal(web.code, 0, web.stderr + f.plugin!.log);
      const cli = await f.run(['--network', net]);
      assert.equal(cli.code, 0, cli.stderr);
      const a = await f.inspectNet(web.name, net);
      const b = await f.inspectNet(cli.name, net);
      assert.deepEqual([a.IPAddress, a.MacAddress, a.Gateway], [s.at(1), vs.addressOf(1).mac, s.at(254)]);
      assert.deepEqual([b.IPAddress, b.MacAddress], [s.at(2), vs.addressOf(2).mac]);
      // Inside: eth0 with the slot's MAC and address, default route via the vswitch's gateway, no second NIC.
      const addr = (await sh('docker', ['exec', cli.name, 'ip', '-o', 'addr'])).stdout;
      assert.match(addr, new RegExp(`eth0\\s+inet ${s.at(2).replace(/\./g, '\\.')}/24`));
      assert.doesNotMatch(addr, /eth1/);
      assert.match((await sh('docker', ['exec', cli.name, 'ip', 'link', 'show', 'eth0'])).stdout, new RegExp(vs.addressOf(2).mac));
      assert.match((await sh('docker', ['exec', cli.name, 'ip', 'route'])).stdout, new RegExp(`default via ${s.at(254).replace(/\./g, '\\.')} dev eth0`));
      // The slots record Docker's ids.
      const slots = await vs.slots();
      assert.deepEqual(slots.map((x) => [x.index, x.state]), [[1, 'up'], [2, 'up']]);
      assert.equal(slots[0].info.externalIds[DOCKER_KEYS.endpoint], a.EndpointID);
      assert.equal(slots[1].info.externalIds[DOCKER_KEYS.endpoint], b.EndpointID);
      const list = await sh(process.execPath, [EC, '--db', f.sb.dbUrl, '--netns', f.sb.netns!, '--vswitch', vs.name, 'list']);
      assert.match(list.stdout, new RegExp(`docker endpoint ${a.EndpointID.slice(0, 12)} \\(network ${slots[0].info.externalIds[DOCKER_KEYS.network].slice(0, 12)}\\)\\s+up`));

      const [pa, pb] = [await f.pidOf(web.name), await f.pidOf(cli.name)];
      assert.match(await httpGet(pidNetns(pb), s.at(1)), /hello-from-ecdock/);
      assert.equal(await tcpBulk(pidNetns(pa), pidNetns(pb), s.at(1), 2_000_000, { port: 5301, timeoutS: 20 }), 2_000_000);
      assert.equal(await udpEcho(pidNetns(pb), pidNetns(pa), s.at(2), 5, { port: 5302, timeoutS: 20 }), 5);
    });

    it('--ip picks the slot; a slot held outside Docker is refused with a sentence; the gateway is refused', async () => {
      const seven = await f.run(['--network', net, '--ip', s.at(7)]);
      assert.equal(seven.code, 0, seven.stderr);
      assert.equal((await f.inspectNet(seven.name, net)).MacAddress, vs.addressOf(7).mac);
      assert.equal((await vs.slot(7))?.state, 'up');
      // slot 9 taken by `ec plug`-style use of the same vswitch
      const ns = await sh('ip', ['netns', 'add', `ecdkt-${seven.name}`]).then(() => `/var/run/netns/ecdkt-${seven.name}`);
      try {
        await vs.attach({ slot: 9, target: { netns: ns } });
        const taken = await f.run(['--network', net, '--ip', s.at(9)]);
        assert.notEqual(taken.code, 0);
        assert.match(taken.stderr, /SLOT_TAKEN: slot 9 .* is taken .*give --ip a free slot/);
        assert.equal((await vs.slot(9))?.target?.ref, ns, 'the outside slot is untouched');
      } finally {
        await vs.detach(9).catch(() => undefined);
        await sh('ip', ['netns', 'del', `ecdkt-${seven.name}`], { allowFail: true });
      }
      const gw = await f.run(['--network', net, '--ip', s.at(254)]);
      assert.notEqual(gw.code, 0);
      assert.match(gw.stderr, /in use|gateway/i);
      assert.deepEqual((await vs.slots()).map((x) => x.index), [1, 2, 7], 'failed runs leave no slot');
      await f.docker(['rm', '-f', seven.name]);
      assert.equal(await vs.slot(7), undefined);
    });

    it('docker stop frees the slot, docker start/restart gets it back, docker rm frees it', async () => {
      const c = await f.run(['--network', net, '--ip', s.at(20)]);
      assert.equal(c.code, 0, c.stderr);
      assert.equal((await vs.slot(20))?.state, 'up');
      assert.equal((await f.docker(['restart', '-t', '0', c.name])).code, 0);
      const after = await vs.slot(20);
      assert.equal(after?.state, 'up');
      assert.equal(after?.info.externalIds[DOCKER_KEYS.endpoint], (await f.inspectNet(c.name, net)).EndpointID);
      assert.equal((await sh('docker', ['exec', c.name, 'ping', '-c', '1', '-W', '3', s.at(254)], { allowFail: true })).code, 0, 'the restarted container reaches the gateway');
      assert.equal((await f.docker(['stop', '-t', '0', c.name])).code, 0);
      assert.equal(await vs.slot(20), undefined);
      assert.equal((await f.docker(['start', c.name])).code, 0);
      assert.equal((await vs.slot(20))?.state, 'up');
      assert.equal((await f.docker(['rm', '-f', c.name])).code, 0);
      assert.equal(await vs.slot(20), undefined);
    });

    it('docker network connect adds a second NIC with the other network\'s slot; disconnect frees it', async () => {
      const s2 = subnet();
      const other = await f.createNetwork(['--subnet', s2.net, '--gateway', s2.at(254), '-o', 'ecdock.usermode=true', '-o', `ecdock.vswitch=ecdk2${f.name.slice(-3)}`]);
      assert.equal(other.code, 0, other.stderr);
      const vs2 = await VSwitch.open(await f.client(), `ecdk2${f.name.slice(-3)}`);
      const c = await f.run(['--network', net, '--ip', s.at(30)]);
      assert.equal(c.code, 0, c.stderr);
      assert.equal((await f.docker(['network', 'connect', other.name, c.name])).code, 0);
      const link = (await sh('docker', ['exec', c.name, 'ip', 'link', 'show', 'eth1'])).stdout;
      assert.match(link, new RegExp(vs2.addressOf(1).mac));
      assert.equal((await vs2.slot(1))?.state, 'up');
      assert.equal((await sh('docker', ['exec', c.name, 'ping', '-c', '1', '-W', '3', s2.at(254)], { allowFail: true })).code, 0);
      assert.equal((await f.docker(['network', 'disconnect', other.name, c.name])).code, 0);
      assert.equal(await vs2.slot(1), undefined);
      assert.equal((await vs.slot(30))?.state, 'up', 'the first network is untouched');
      await f.docker(['rm', '-f', c.name]);
      assert.equal((await f.docker(['network', 'rm', other.name])).code, 0);
      assert.ok(!(await f.vswitches()).some((v) => v.name === vs2.name), 'network rm destroyed the vswitch the plugin created');
    });

    it('a plugin restart under running containers loses nothing: traffic flows, stop frees the slot, no duplicate', async () => {
      const a = await f.run(['--network', net, '--ip', s.at(40)]);
      const b = await f.run(['--network', net, '--ip', s.at(41)]);
      assert.equal(a.code + b.code, 0, a.stderr + b.stderr);
      assert.equal(await f.plugin!.stop('SIGTERM'), 0, 'SIGTERM stops it cleanly');
      await f.startPlugin();
      const [pa, pb] = [await f.pidOf(a.name), await f.pidOf(b.name)];
      assert.equal(await udpEcho(pidNetns(pa), pidNetns(pb), s.at(40), 3, { port: 5303, timeoutS: 20 }), 3);
      assert.deepEqual((await vs.slots()).filter((x) => x.index >= 40).map((x) => [x.index, x.state]), [[40, 'up'], [41, 'up']]);
      assert.equal((await f.docker(['stop', '-t', '0', a.name])).code, 0);
      assert.equal(await vs.slot(40), undefined, 'the new plugin process found the slot by its endpoint id');
      const c = await f.run(['--network', net, '--ip', s.at(42)]);
      assert.equal(c.code, 0, c.stderr);
      assert.deepEqual((await vs.slots()).filter((x) => x.index >= 40).map((x) => x.index), [41, 42]);
      await f.docker(['rm', '-f', a.name, b.name, c.name]);
    });
  });

  it('network rm of an adopted vswitch keeps it: ecdock.vswitch names one made with the library, same plan', async () => {
    const s = subnet();
    const name = `ecdka${f.name.slice(-3)}`;
    const vs = await VSwitch.create(await f.client(), { name, subnet: `${s.at(254)}/24`, usermode: true, netns: f.sb.netns! });
    try {
      const mismatch = await f.createNetwork(['--subnet', s.net, '--gateway', s.at(1), '-o', 'ecdock.usermode=true', '-o', `ecdock.vswitch=${name}`]);
      assert.notEqual(mismatch.code, 0);
      assert.match(mismatch.stderr, /VSWITCH_PLAN_MISMATCH/);
      const r = await f.createNetwork(['--subnet', s.net, '--gateway', s.at(254), '-o', 'ecdock.usermode=true', '-o', `ecdock.vswitch=${name}`]);
      assert.equal(r.code, 0, r.stderr);
      const c = await f.run(['--network', r.name]);
      assert.equal(c.code, 0, c.stderr);
      assert.equal((await vs.slot(1))?.state, 'up');
      await f.docker(['rm', '-f', c.name]);
      assert.equal((await f.docker(['network', 'rm', r.name])).code, 0);
      assert.ok((await f.vswitches()).some((v) => v.name === name), 'the adopted vswitch stays');
    } finally {
      await vs.destroy().catch(() => undefined);
    }
  });
});
