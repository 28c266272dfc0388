// ecdock-docker-plugin on OVN: one Docker network spanning two simulated hosts of an OVN sandbox.
// Host A runs the real dockerd with the plugin (`docker network create -d … -o
// ecdock.ovn.northbound=URL`, `docker run`). Host B runs a second plugin instance driven over its
// socket with the calls dockerd makes (CreateNetwork, CreateEndpoint, Join, Leave, DeleteEndpoint,
// DeleteNetwork), and the test does dockerd's part of Join (moves the named link into a namespace,
// names it eth0, puts the address and the default route on it): a second dockerd on this machine
// would share the first one's /run/docker/plugins and netns directory, so it is not run.
import { strict as assert } from 'node:assert';
import { randomBytes, randomInt } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VSwitch } from '../../src/vswitch';
import { ensureBusyboxImage, requireDocker } from '../support/docker';
import { PluginFixture, pluginCall, startPlugin, type PluginProcess } from '../support/docker-plugin';
import { Cleanup, TestNetns, eventually, requireRoot, sh, uniqueName } from '../support/env';
import { ovnLeftovers, startOvnWorld, stopOvnWorld, type OvnWorld } from '../support/ovn';
import { pidNetns, tcpBulk, udpEcho } from '../support/traffic';

const hex = (): string => randomBytes(32).toString('hex');
const EC = path.join(__dirname, '..', '..', 'src', 'cli', 'main.js');

describe('ecdock-docker-plugin on OVN: one network across two hosts (dockerd on A, the plugin API driven directly on B)', function () {
  this.timeout(180_000);
  let w: OvnWorld | undefined;
  let a: PluginFixture | undefined;
  let b: PluginProcess | undefined;
  let bDir = '';
  let bSocket = '';
  const cleanup = new Cleanup();
  const vsName = uniqueName('dovn');
  const x = randomInt(100, 250);
  const y = randomInt(0, 255);
  const at = (n: number): string => `10.${x}.${y}.${n}`;
  const subnet = `10.${x}.${y}.0/24`;
  let nidA = '';
  const nidB = hex();

  const nbSwitch = async (): Promise<Map<string, string> | undefined> => {
    const r = await sh('ovn-nbctl', [`--db=${w!.ovn.northbound}`, '--format=json', '--columns=external_ids', 'find', 'Logical_Switch', `name=${vsName}`]);
    const rows = (JSON.parse(r.stdout) as { data: [['map', [string, string][]]][] }).data;
    assert.ok(rows.length <= 1, 'one logical switch of that name');
    return rows[0] && new Map(rows[0][0][1]);
  };
  const hostRecords = async (i: number): Promise<string[]> => {
    const r = await sh('ovs-vsctl', [`--db=${w!.ovn.hosts[i].dbUrl}`, 'get', 'Open_vSwitch', '.', 'external_ids']);
    return [...r.stdout.matchAll(/"docker:ovn-network:([0-9a-f]+)"/g)].map((m) => m[1]);
  };
  const vsFrom = (i: number): Promise<VSwitch> => VSwitch.open(w!.clients[i], vsName, { ovn: { northbound: w!.ovn.northbound }, netns: w!.ovn.hosts[i].netns });
  const onB = (method: string, body: object) => pluginCall(bSocket, `NetworkDriver.${method}`, body);
  const createOnB = () =>
    onB('CreateNetwork', {
      NetworkID: nidB,
      Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': { 'ecdock.ovn.northbound': w!.ovn.northbound, 'ecdock.vswitch': vsName } },
      IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: subnet, Gateway: `${at(254)}/24` }],
      IPv6Data: [],
    });
  const endpoint = (nid: string, eid: string, n: number) => ({ NetworkID: nid, EndpointID: eid, Interface: { Address: `${at(n)}/24`, AddressIPv6: '', MacAddress: '' }, Options: {} });

  before(async function () {
    requireRoot(this);
    await requireDocker(this);
    await ensureBusyboxImage();
    w = await startOvnWorld(2);
    a = await PluginFixture.start('dockerovn', { dbUrl: w.ovn.hosts[0].dbUrl, netns: w.ovn.hosts[0].netns });
    bDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dockerovn-'));
    bSocket = path.join(bDir, `${uniqueName('dockerovnb')}.sock`);
    b = await startPlugin(['--socket', bSocket], { ECDOCK_DB: w.ovn.hosts[1].dbUrl, ECDOCK_NETNS: w.ovn.hosts[1].netns });
  });
  after(async () => {
    await cleanup.run();
    if (b) await onB('DeleteNetwork', { NetworkID: nidB }).catch(() => undefined);
    await a?.cleanup();
    await b?.stop('SIGKILL');
    if (bSocket) await sh('ip', ['netns', 'del', `ecdock-docker-${path.basename(bSocket, '.sock')}`], { allowFail: true });
    if (bDir) await fs.rm(bDir, { recursive: true, force: true });
    await stopOvnWorld(w);
  });

  let containerA = '';
  let nsB: TestNetns;
  const eidB = hex();

  it('the network created on both hosts joins one logical switch; a container on A and an endpoint on B get distinct slots and pass TCP and UDP', async () => {
    // Docker's IPAM on each host is its own: --ip-range gives each host a half of the subnet.
    const net = await a!.createNetwork(['--subnet', subnet, '--gateway', at(254), '--ip-range', `10.${x}.${y}.0/25`, '-o', `ecdock.ovn.northbound=${w!.ovn.northbound}`, '-o', `ecdock.vswitch=${vsName}`]);
    assert.equal(net.code, 0, net.stderr + a!.plugin!.log);
    nidA = net.stdout.trim();
    assert.equal((await pluginCall(bSocket, 'Plugin.Activate', {})).status, 200);
    const created = await createOnB();
    assert.equal(created.status, 200, JSON.stringify(created.body) + b!.log);
    assert.equal((await createOnB()).status, 200, 'a repeated CreateNetwork is a no-op');
    const [chA, chB] = w!.ovn.hosts.map((h) => h.name);
    const ids = await nbSwitch();
    assert.ok(ids, `logical switch ${vsName} exists`);
    assert.deepEqual([ids.get(`docker:network-id:${chA}`), ids.get(`docker:network-id:${chB}`), ids.get('docker:created-by-plugin')], [nidA, nidB, 'true']);
    assert.deepEqual([await hostRecords(0), await hostRecords(1)], [[nidA], [nidB]]);

    const c = await a!.run(['--network', net.name]);
    assert.equal(c.code, 0, c.stderr + a!.plugin!.log);
    containerA = c.name;
    const vs = await vsFrom(0);
    const inspect = await a!.inspectNet(c.name, net.name);
    assert.deepEqual([inspect.IPAddress, inspect.MacAddress, inspect.Gateway], [at(1), vs.addressOf(1).mac, at(254)]);

    // Host B, as dockerd would: CreateEndpoint (its IPAM's address), Join, then move the link in.
    const ce = await onB('CreateEndpoint', endpoint(nidB, eidB, 129));
    assert.equal(ce.status, 200, JSON.stringify(ce.body));
    assert.deepEqual(ce.body, { Interface: { MacAddress: vs.addressOf(129).mac } });
    const taken = await onB('CreateEndpoint', endpoint(nidB, hex(), 1));
    assert.equal(taken.status, 500);
    assert.match(String(taken.body.Err), new RegExp(`SLOT_TAKEN: slot 1 \\(${at(1).replace(/\./g, '\\.')}\\) of vswitch ${vsName} is taken by docker endpoint [0-9a-f]{12} on host ${chA}: give --ip a free slot`));
    const join = await onB('Join', { ...endpoint(nidB, eidB, 129), SandboxKey: '/var/run/docker/netns/dockerovn0', Options: {} });
    assert.equal(join.status, 200, JSON.stringify(join.body) + b!.log);
    const { SrcName } = join.body.InterfaceName as { SrcName: string };
    assert.equal(join.body.Gateway, at(254));
    nsB = await TestNetns.create('dockerovn-');
    cleanup.add(() => nsB.del());
    await sh('ip', ['link', 'set', SrcName, 'netns', nsB.name]);
    await sh('ip', ['-n', nsB.name, 'link', 'set', SrcName, 'name', 'eth0']);
    await sh('ip', ['-n', nsB.name, 'addr', 'add', `${at(129)}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', nsB.name, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', nsB.name, 'route', 'add', 'default', 'via', at(254)]);

    const slots = await eventually(async () => {
      const all = await vs.slots();
      return all.length === 2 && all.every((s) => s.state === 'up') ? all : undefined;
    }, 20_000);
    assert.deepEqual(slots!.map((s) => [s.index, s.host, s.info.externalIds['docker:network-id']]), [
      [1, chA, nidA],
      [129, chB, nidB],
    ]);
    // ec on host B sees both Docker endpoints, each on its host.
    const h = w!.ovn.hosts[1];
    const list = (await sh(process.execPath, [EC, '--db', h.dbUrl, '--netns', h.netns, '--ovn-nb', w!.ovn.northbound, '--vswitch', vsName, 'list'])).stdout;
    assert.match(list, new RegExp(`docker endpoint ${inspect.EndpointID.slice(0, 12)} \\(network ${nidA.slice(0, 12)}\\)`), list);
    assert.match(list, new RegExp(`docker endpoint ${eidB.slice(0, 12)} \\(network ${nidB.slice(0, 12)}\\)`), list);
    const pa = pidNetns(await a!.pidOf(c.name));
    assert.equal(await tcpBulk(pa, nsB.path, at(1), 2_000_000, { port: 5311, timeoutS: 30 }), 2_000_000, 'TCP B -> A');
    assert.equal(await tcpBulk(nsB.path, pa, at(129), 2_000_000, { port: 5312, timeoutS: 30 }), 2_000_000, 'TCP A -> B');
    assert.equal(await udpEcho(nsB.path, pa, at(129), 5, { port: 5313, timeoutS: 20 }), 5, 'UDP A -> B');
    assert.equal((await sh('docker', ['exec', c.name, 'ping', '-c', '1', '-W', '3', at(254)], { allowFail: true })).code, 0, 'the gateway answers on A');
  });

  it('claims are atomic across hosts: one slot asked for on both hosts at once goes to exactly one, the other is refused and leaves nothing', async () => {
    const vs = await vsFrom(0);
    const [eA, eB] = [hex(), hex()];
    assert.equal((await pluginCall(a!.socket, 'NetworkDriver.CreateEndpoint', endpoint(nidA, eA, 50))).status, 200);
    assert.equal((await onB('CreateEndpoint', endpoint(nidB, eB, 50))).status, 200, 'both pass the check: neither holds slot 50 yet');
    const [ja, jb] = await Promise.all([
      pluginCall(a!.socket, 'NetworkDriver.Join', { ...endpoint(nidA, eA, 50), SandboxKey: '', Options: {} }),
      onB('Join', { ...endpoint(nidB, eB, 50), SandboxKey: '', Options: {} }),
    ]);
    assert.deepEqual([ja.status, jb.status].sort(), [200, 500], `A: ${JSON.stringify(ja.body)} B: ${JSON.stringify(jb.body)}`);
    const [winner, loser] = ja.status === 200 ? [eA, eB] : [eB, eA];
    assert.match(String((ja.status === 500 ? ja : jb).body.Err), /SLOT_TAKEN/);
    const slot = await vs.slot(50);
    assert.equal(slot?.info.externalIds['docker:endpoint-id'], winner);
    const links = (await sh('ip', ['-br', 'link'])).stdout;
    assert.doesNotMatch(links, new RegExp(`^ed${loser.slice(0, 11)}`, 'm'), "the loser's link is gone");
    assert.match(links, new RegExp(`^ed${winner.slice(0, 11)}`, 'm'), "the winner's link waits for dockerd");
    const [wSock, wNid] = winner === eA ? [a!.socket, nidA] : [bSocket, nidB];
    assert.equal((await pluginCall(wSock, 'NetworkDriver.DeleteEndpoint', { NetworkID: wNid, EndpointID: winner })).status, 200);
    assert.equal((await pluginCall(bSocket === wSock ? a!.socket : bSocket, 'NetworkDriver.DeleteEndpoint', { NetworkID: winner === eA ? nidB : nidA, EndpointID: loser })).status, 200);
    assert.equal(await vs.slot(50), undefined);
    assert.doesNotMatch((await sh('ip', ['-br', 'link'])).stdout, new RegExp(`^ed(${winner.slice(0, 11)}|${loser.slice(0, 11)})`, 'm'));
  });

  it('a plugin restart on A loses nothing; docker rm and Leave free the slots; B leaving keeps the switch for A, A leaving destroys it', async () => {
    const vs = await vsFrom(1);
    assert.equal(await a!.plugin!.stop('SIGTERM'), 0);
    await a!.startPlugin();
    const pa = pidNetns(await a!.pidOf(containerA));
    assert.equal(await udpEcho(pa, nsB.path, at(1), 5, { port: 5314, timeoutS: 20 }), 5, 'UDP B -> A after the restart');
    assert.deepEqual((await vs.slots()).map((s) => [s.index, s.state]), [[1, 'up'], [129, 'up']], 'no slot lost, none duplicated');
    assert.equal((await a!.docker(['rm', '-f', containerA])).code, 0);
    assert.deepEqual((await vs.slots()).map((s) => s.index), [129], 'the restarted plugin freed the slot docker rm left');

    assert.equal((await onB('Leave', { NetworkID: nidB, EndpointID: eidB })).status, 200);
    assert.equal((await onB('DeleteEndpoint', { NetworkID: nidB, EndpointID: eidB })).status, 200);
    assert.deepEqual(await vs.slots(), []);
    assert.deepEqual((await nsB.ipJson<{ ifname: string }[]>(['link'])).map((l) => l.ifname), ['lo'], "the slot's veth is gone from B's namespace");

    assert.equal((await onB('DeleteNetwork', { NetworkID: nidB })).status, 200, b!.log);
    const ids = await nbSwitch();
    assert.ok(ids, 'A still uses the switch: it stays');
    assert.equal(ids.get(`docker:network-id:${w!.ovn.hosts[1].name}`), undefined);
    assert.deepEqual(await hostRecords(1), []);

    const net = a!.networks[a!.networks.length - 1];
    assert.equal((await a!.docker(['network', 'rm', net])).code, 0);
    assert.equal(await nbSwitch(), undefined, 'the last host out destroyed the switch a plugin created');
    assert.deepEqual(await hostRecords(0), []);
    assert.deepEqual(await ovnLeftovers(w!, vsName), []);
  });

  it('an unreachable Northbound or a host that is no OVN chassis: a sentence naming the fix, nothing recorded', async () => {
    const ask = (socket: string, nb: string) =>
      pluginCall(socket, 'NetworkDriver.CreateNetwork', {
        NetworkID: hex(),
        Options: { 'com.docker.network.generic': { 'ecdock.ovn.northbound': nb, 'ecdock.vswitch': uniqueName('dovu') } },
        IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: subnet, Gateway: `${at(254)}/24` }],
      });
    const before = await hostRecords(0);
    const down = await ask(a!.socket, `unix:${bDir}/no-northbound.sock`);
    assert.equal(down.status, 500);
    assert.match(String(down.body.Err), /^ecdock OVSDB_UNREACHABLE: ecdock cannot reach the OVN Northbound at unix:\S+no-northbound\.sock: check -o ecdock\.ovn\.northbound and that its ovsdb-server listens there/);
    assert.deepEqual(await hostRecords(0), before);
    // A plugin whose OVS is no OVN chassis (its own plain sandbox).
    const plain = await PluginFixture.start('dockerovn');
    try {
      const r = await ask(plain.socket, w!.ovn.northbound);
      assert.equal(r.status, 500);
      assert.match(String(r.body.Err), /OVN_HOST_NOT_CONFIGURED: .* is not an OVN host: it has no external_ids:system-id/);
    } finally {
      await plain.cleanup();
    }
  });

  it('an OVN switch made outside Docker is joined and kept on network rm; a second network on it on the same host is refused', async () => {
    const name = uniqueName('dovk');
    const vs = await VSwitch.create(w!.clients[0], { name, subnet: `10.${x}.${(y + 1) % 256}.254/24`, ovn: { northbound: w!.ovn.northbound }, netns: w!.ovn.hosts[0].netns });
    cleanup.add(() => vs.destroy());
    const opts = ['--subnet', `10.${x}.${(y + 1) % 256}.0/24`, '--gateway', `10.${x}.${(y + 1) % 256}.254`, '-o', `ecdock.ovn.northbound=${w!.ovn.northbound}`, '-o', `ecdock.vswitch=${name}`];
    const net = await a!.createNetwork(opts);
    assert.equal(net.code, 0, net.stderr);
    const c = await a!.run(['--network', net.name]);
    assert.equal(c.code, 0, c.stderr + a!.plugin!.log);
    assert.equal((await vs.slot(1))?.state, 'up');
    await a!.docker(['rm', '-f', c.name]);
    // (Docker refuses an overlapping pool itself; the plugin is asked directly, as a dockerd whose networks differ would.)
    const second = await pluginCall(a!.socket, 'NetworkDriver.CreateNetwork', {
      NetworkID: hex(),
      Options: { 'com.docker.network.generic': { 'ecdock.ovn.northbound': w!.ovn.northbound, 'ecdock.vswitch': name } },
      IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: `10.${x}.${(y + 1) % 256}.0/24`, Gateway: `10.${x}.${(y + 1) % 256}.254/24` }],
    });
    assert.equal(second.status, 500);
    assert.match(String(second.body.Err), new RegExp(`NAME_TAKEN: vswitch ${name} already serves docker network ${net.stdout.trim().slice(0, 12)} on this host: give another -o ecdock.vswitch=NAME`));
    assert.equal((await a!.docker(['network', 'rm', net.name])).code, 0);
    assert.ok(await VSwitch.open(w!.clients[1], name, { ovn: { northbound: w!.ovn.northbound }, netns: w!.ovn.hosts[1].netns }), 'the switch stays');
  });
});
