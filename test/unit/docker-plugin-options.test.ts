// What `docker network create -d ecdock` sends, turned into a vswitch plan or refused with a
// sentence naming the docker flag that fixes it (pure: no OVSDB, no dockerd).
import { strict as assert } from 'node:assert';
import { defaultVswitchName, networkPlan, type CreateNetworkRequest } from '../../src/docker-plugin/network-options';
import { isEcdockError } from '../../src/errors';

const ID = '6e7bb5442b5969c71203c4cd246c9d577713f8148bd297f2919ce3da8d988634';
const req = (o: Partial<CreateNetworkRequest> & { opts?: Record<string, string> } = {}): CreateNetworkRequest => ({
  NetworkID: ID,
  Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': o.opts ?? {} },
  IPv4Data: o.IPv4Data ?? [{ AddressSpace: 'LocalDefault', Pool: '10.89.0.0/24', Gateway: '10.89.0.254/24' }],
  ...(o.IPv6Data ? { IPv6Data: o.IPv6Data } : {}),
});

function refuses(r: CreateNetworkRequest, code: string, re: RegExp): void {
  assert.throws(
    () => networkPlan(r),
    (e: unknown) => isEcdockError(e) && e.code === code && re.test(e.message),
  );
}

describe('docker plugin: network options', () => {
  it('defaults: vswitch dk + 6 hex of the network id, kernel datapath, the gateway Docker sent', () => {
    assert.deepEqual(networkPlan(req()), { networkId: ID, vswitch: 'dk6e7bb5', subnet: '10.89.0.254/24', usermode: false });
    assert.equal(defaultVswitchName(ID), 'dk6e7bb5');
  });
  it('takes the four -o options (OVN with a shared vswitch name)', () => {
    const p = networkPlan(req({ opts: { 'ecdock.usermode': 'true', 'ecdock.vswitch': 'web0', 'ecdock.mtu': '1400' } }));
    assert.deepEqual(p, { networkId: ID, vswitch: 'web0', subnet: '10.89.0.254/24', usermode: true, mtu: 1400 });
    const o = networkPlan(req({ opts: { 'ecdock.vswitch': 'web0', 'ecdock.mtu': '1400', 'ecdock.ovn.northbound': 'tcp:10.0.0.1:6641,tcp:10.0.0.2:6641' } }));
    assert.deepEqual(o, { networkId: ID, vswitch: 'web0', subnet: '10.89.0.254/24', usermode: false, mtu: 1400, ovnNorthbound: 'tcp:10.0.0.1:6641,tcp:10.0.0.2:6641' });
    assert.equal(networkPlan(req({ opts: { 'ecdock.vswitch': 'web0', 'ecdock.ovn.northbound': 'unix:/run/ovn/ovnnb_db.sock' } })).ovnNorthbound, 'unix:/run/ovn/ovnnb_db.sock');
    assert.equal(networkPlan(req({ opts: { 'ecdock.usermode': 'false' } })).usermode, false);
  });
  it('a gateway without a prefix (older dockerd) is read with the pool\'s', () => {
    assert.equal(networkPlan(req({ IPv4Data: [{ Pool: '10.1.0.0/16', Gateway: '10.1.255.254' }] })).subnet, '10.1.255.254/16');
  });
  it('refuses what is no slot plan, naming the flag', () => {
    refuses(req({ opts: { 'ecdock.colour': 'x' } }), 'BAD_ARGUMENT', /unknown option -o ecdock\.colour/);
    refuses(req({ opts: { 'com.docker.network.bridge.name': 'x' } }), 'BAD_ARGUMENT', /unknown option/);
    refuses(req({ opts: { 'ecdock.usermode': 'maybe' } }), 'BAD_ARGUMENT', /give true or false/);
    refuses(req({ opts: { 'ecdock.mtu': '9x' } }), 'BAD_MTU', /68 to 65535/);
    refuses(req({ opts: { 'ecdock.vswitch': 'bad name' } }), 'BAD_NAME', /cannot name a vswitch/);
    refuses(req({ IPv4Data: [] }), 'BAD_SUBNET', /exactly one IPv4 subnet/);
    refuses(req({ IPv4Data: [{ Pool: '10.2.0.0/24' }] }), 'BAD_SUBNET', /give --gateway/);
    refuses(req({ IPv4Data: [{ Pool: '10.2.0.0/24', Gateway: '10.3.0.1/24' }] }), 'BAD_SUBNET', /not in subnet 10\.2\.0\.0\/24/);
    refuses(req({ IPv4Data: [{ Pool: '10.2.0.0/24', Gateway: '10.2.0.1/16' }] }), 'BAD_SUBNET', /different prefix lengths/);
    refuses(req({ IPv4Data: [{ Pool: '10.0.0.0/7', Gateway: '10.0.0.1/7' }] }), 'BAD_SUBNET', /does not fit a slot plan/);
    refuses(req({ IPv4Data: [{ Pool: '10.2.0.0/24', Gateway: '10.2.0.1/24', AuxAddresses: { a: '10.2.0.5' } }] }), 'BAD_SUBNET', /--aux-address/);
    refuses(req({ IPv6Data: [{ Pool: 'fd00::/64' }] }), 'BAD_SUBNET', /--ipv6/);
    refuses(req({ opts: { 'ecdock.ovn.northbound': 'tcp:10.0.0.1:6641' } }), 'BAD_ARGUMENT', /needs -o ecdock\.vswitch=NAME: the logical switch every host's network joins/);
    refuses(req({ opts: { 'ecdock.vswitch': 'web0', 'ecdock.ovn.northbound': '10.0.0.1' } }), 'BAD_ARGUMENT', /give the Northbound's OVSDB URL, e\.g\. tcp:10\.0\.0\.10:6641/);
    refuses(req({ opts: { 'ecdock.vswitch': 'web0', 'ecdock.ovn.northbound': 'tcp:a:1', 'ecdock.usermode': 'true' } }), 'BAD_ARGUMENT', /usermode does not apply to an OVN network/);
    refuses({ NetworkID: 'x' } as CreateNetworkRequest, 'BAD_ARGUMENT', /dockerd/);
  });
});
