// ovs-vswitchd with userspace TSO on (other_config:userspace-tso-enable=true): it reads and writes
// its packet sockets and taps with a virtio-net header, so a slot's target keeps its offloads
// (TX checksum, TSO) and partial checksums and 64 KB segments are completed on the way out.
// Proven with traffic: TCP bulk with a byte count and UDP echo, IPv4 and IPv6, veth and internal.
import { strict as assert } from 'node:assert';
import { sh, type TestNetns } from '../support/env';
import { useSwitchFixture, type SwitchFixture } from '../support/switch';
import { carries } from '../support/traffic';


async function txChecksumming(ns: TestNetns, ifname: string): Promise<string> {
  const r = await sh('ip', ['netns', 'exec', ns.name, 'ethtool', '-k', ifname]);
  return /^tx-checksumming: (\w+)/m.exec(r.stdout)?.[1] ?? '?';
}

describe('traffic with ovs-vswitchd userspace TSO on (userspace datapath, real OVS)', function () {
  this.timeout(120_000);
  let f!: SwitchFixture;
  useSwitchFixture(async (x) => {
    f = x;
    await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, 'set', 'Open_vSwitch', '.', 'other_config:userspace-tso-enable=true']);
    // Taken up at once for new ports; a restart makes every port use it.
    await f.sb.stopVswitchd();
    await f.sb.startVswitchd();
  });

  it('veth <-> veth and internal <-> veth carry TCP and UDP over IPv4 and IPv6 with the targets\' offloads left on', async () => {
    const vs = await f.vswitch({ subnet: '10.39.0.254/24', ipv6Prefix: '2001:db8:39::/64' });
    const [a, b, c] = await Promise.all([f.netns('ecz-'), f.netns('ecz-'), f.netns('ecz-')]);
    await vs.attach({ slot: 1, target: { netns: a.path } });
    const s2 = await vs.attach({ slot: 2, target: { netns: b.path } });
    const s3 = await vs.attach({ slot: 3, target: { netns: c.path }, portType: 'internal' });
    assert.equal(await txChecksumming(a, 'eth0'), 'on', 'a veth target keeps TX checksum offload');
    await carries(a, b, s2.ipv4);
    await carries(a, b, s2.ipv6!, 1_000_000);
    await carries(c, b, s2.ipv4);
    await carries(b, c, s3.ipv4);
    await carries(b, c, s3.ipv6!, 1_000_000);
  });

  it('without it (the same OVS after the setting is removed and ovs-vswitchd restarted) new slots turn the offload off again', async () => {
    await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, 'remove', 'Open_vSwitch', '.', 'other_config', 'userspace-tso-enable']);
    await f.sb.stopVswitchd();
    await f.sb.startVswitchd();
    const vs = await f.vswitch({ subnet: '10.40.0.254/24' });
    const [a, b] = await Promise.all([f.netns('ecz-'), f.netns('ecz-')]);
    await vs.attach({ slot: 1, target: { netns: a.path } });
    const s2 = await vs.attach({ slot: 2, target: { netns: b.path } });
    assert.equal(await txChecksumming(a, 'eth0'), 'off');
    await carries(a, b, s2.ipv4);
  });
});
