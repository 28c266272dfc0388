// Real TCP and UDP between slots on the userspace datapath, for every port type: veth, internal
// port, a dual-NIC slot's both NICs, and a slot reattached elsewhere. Ping alone proves little
// here: ICMP has no checksum offload, so it passed while every TCP segment and UDP datagram from
// a veth slot was dropped for a checksum nobody filled in.
import { strict as assert } from 'node:assert';
import { sh, type TestNetns } from '../support/env';
import { useSwitchFixture, type SwitchFixture } from '../support/switch';
import { carries, tcpBulk, udpEcho } from '../support/traffic';

const MB2 = 2_000_000;


/** `ethtool -k` of `ifname` in `ns`: feature name -> on. */
async function features(ns: TestNetns, ifname: string): Promise<Map<string, boolean>> {
  const r = await sh('ip', ['netns', 'exec', ns.name, 'ethtool', '-k', ifname]);
  const m = new Map<string, boolean>();
  for (const line of r.stdout.split('\n')) {
    const x = /^\s*([\w-]+): (on|off)/.exec(line);
    if (x) m.set(x[1], x[2] === 'on');
  }
  return m;
}

describe('traffic between slots (userspace datapath, real OVS, TCP + UDP)', function () {
  this.timeout(120_000);
  let f!: SwitchFixture;
  useSwitchFixture((x) => {
    f = x;
  });

  it('veth <-> veth: 2 MB over TCP and UDP echo, IPv4 and IPv6; the targets send with TX checksum offload off', async () => {
    const vs = await f.vswitch({ subnet: '10.31.0.254/24', ipv6Prefix: '2001:db8:31::/64' });
    const [a, b] = await Promise.all([f.netns('ect-'), f.netns('ect-')]);
    await vs.attach({ slot: 1, target: { netns: a.path } });
    const s2 = await vs.attach({ slot: 2, target: { netns: b.path } });
    assert.ok(s2.ipv6, 'the slot has an IPv6 address');
    await carries(a, b, s2.ipv4);
    await carries(a, b, s2.ipv6!);
    const eth0 = await features(a, 'eth0');
    assert.equal(eth0.get('tx-checksumming'), false, 'TX checksum offload is off in the target');
    assert.equal(eth0.get('tx-tcp-segmentation'), false, 'TSO went with it');
    assert.equal(eth0.get('tx-tcp6-segmentation'), false, 'TSO6 went with it');
  });

  it('internal port <-> veth: TCP and UDP both ways, IPv4 and IPv6', async () => {
    const vs = await f.vswitch({ subnet: '10.32.0.254/24', ipv6Prefix: '2001:db8:32::/64' });
    const [a, b] = await Promise.all([f.netns('ect-'), f.netns('ect-')]);
    const si = await vs.attach({ slot: 3, target: { netns: a.path }, portType: 'internal' });
    const sv = await vs.attach({ slot: 4, target: { netns: b.path } });
    await carries(a, b, sv.ipv4);
    await carries(b, a, si.ipv4);
    await carries(a, b, sv.ipv6!, 1_000_000);
    await carries(b, a, si.ipv6!, 1_000_000);
  });

  it('dual NIC: both NICs carry TCP and UDP (eth1 addressed by the test)', async () => {
    const vs = await f.vswitch({ subnet: '10.33.0.254/24' });
    const [a, b] = await Promise.all([f.netns('ect-'), f.netns('ect-')]);
    await vs.attach({ slot: 5, target: { netns: a.path }, dualNic: true });
    const s6 = await vs.attach({ slot: 6, target: { netns: b.path }, dualNic: true });
    await carries(a, b, s6.ipv4);
    // eth1 carries only a MAC; give both ends an address of their own to send over it.
    await a.exec(['ip', 'addr', 'add', '192.168.33.5/24', 'dev', 'eth1']);
    await b.exec(['ip', 'addr', 'add', '192.168.33.6/24', 'dev', 'eth1']);
    await carries(a, b, '192.168.33.6');
    assert.equal((await features(b, 'eth1')).get('tx-checksumming'), false);
  });

  it('a slot reattached into another namespace carries TCP and UDP there', async () => {
    const vs = await f.vswitch({ subnet: '10.34.0.254/24' });
    const [a, b, c] = await Promise.all([f.netns('ect-'), f.netns('ect-'), f.netns('ect-')]);
    await vs.attach({ slot: 7, target: { netns: a.path } });
    const s8 = await vs.attach({ slot: 8, target: { netns: b.path } });
    await vs.reattach(7, { target: { netns: c.path } });
    await carries(c, b, s8.ipv4);
  });

  it('slot -> gateway (the bridge device in the vswitch namespace): TCP and UDP', async () => {
    const vs = await f.vswitch({ subnet: '10.35.0.254/24' });
    const a = await f.netns('ect-');
    await vs.attach({ slot: 9, target: { netns: a.path } });
    const sbns = { path: f.sb.netns! };
    assert.equal(await tcpBulk(sbns, a.path, '10.35.0.254', MB2), MB2);
    assert.equal(await udpEcho(sbns, a.path, '10.35.0.254', 3), 3);
    assert.equal(await tcpBulk(a.path, sbns, '10.35.0.9', MB2), MB2, 'gateway -> slot');
  });
});
