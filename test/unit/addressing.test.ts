import { strict as assert } from 'node:assert';
import { AddressPlan, NIC2, macFromIpv4, nic2OfportRequest, nic2PortName, slotFromNic2PortName, slotFromPortName, slotPortName } from '../../src/addressing';
import { EcdockError } from '../../src/errors';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof EcdockError, `expected an EcdockError, got ${String(e)}`);
    assert.ok(e.message.length > 20, 'message should be a sentence');
    return e.code;
  }
  assert.fail('expected an error');
}

describe('addressing (pure)', () => {
  it('matches the original ecDock README: slot 1 of 10.0.0.254/24', () => {
    const plan = AddressPlan.parse('ovs0', '10.0.0.254/24');
    assert.deepEqual(plan.addressOf(1), {
      slot: 1,
      ipv4: '10.0.0.1',
      prefixLength: 24,
      mac: '52:00:0a:00:00:01',
      mac2: '52:80:0a:00:00:01',
      gateway: '10.0.0.254',
      broadcast: '10.0.0.255',
      portName: 'ovs0-s01',
      ofportRequest: 1,
    });
    assert.equal(plan.gatewayMac, '52:00:0a:00:00:fe');
    assert.equal(plan.subnet, '10.0.0.0/24');
    assert.equal(plan.maxSlot, 254);
    assert.equal(plan.gatewaySlot, 254);
  });

  it('works for every prefix length from /8 to /30', () => {
    for (let p = 8; p <= 30; p++) {
      const size = 2 ** (32 - p);
      const gwOffset = size - 2; // last host address
      const base = 10 * 2 ** 24; // 10.0.0.0
      const gwInt = base + gwOffset;
      const gw = [gwInt >>> 24, (gwInt >>> 16) & 255, (gwInt >>> 8) & 255, gwInt & 255].join('.');
      const plan = AddressPlan.parse('v', `${gw}/${p}`);
      assert.equal(plan.maxSlot, size - 2, `/${p}`);
      assert.equal(plan.gatewaySlot, size - 2);
      // first slot
      const a1 = plan.addressOf(1);
      assert.equal(a1.ipv4, '10.0.0.1');
      assert.equal(a1.prefixLength, p);
      // last slot that is not the gateway
      if (size - 3 >= 1) {
        const last = plan.addressOf(size - 3);
        const li = base + size - 3;
        assert.equal(last.ipv4, [li >>> 24, (li >>> 16) & 255, (li >>> 8) & 255, li & 255].join('.'));
        assert.equal(plan.slotOf(last.ipv4), size - 3);
      }
      assert.equal(code(() => plan.addressOf(0)), 'SLOT_OUT_OF_RANGE');
      assert.equal(code(() => plan.addressOf(size - 2)), 'SLOT_OUT_OF_RANGE'); // the gateway
      assert.equal(code(() => plan.addressOf(size - 1)), 'SLOT_OUT_OF_RANGE'); // broadcast
    }
  });

  it('a /16 has slot 300 with IP network + 300 and a MAC from its bytes', () => {
    const plan = AddressPlan.parse('ovs0', '172.16.255.254/16');
    const a = plan.addressOf(300);
    assert.equal(a.ipv4, '172.16.1.44');
    assert.equal(a.mac, '52:00:ac:10:01:2c');
    assert.equal(a.portName, 'ovs0-s300');
    assert.equal(a.ofportRequest, 300);
    assert.equal(plan.maxSlot, 65534);
    assert.equal(plan.capacity, 65533);
    const high = plan.addressOf(65279 + 1);
    assert.equal(high.ofportRequest, undefined, 'beyond OVS ofport_request range');
  });

  it('excludes a gateway placed low in the subnet', () => {
    const plan = AddressPlan.parse('ovs0', '192.168.7.1/24');
    assert.equal(plan.gatewaySlot, 1);
    assert.equal(code(() => plan.addressOf(1)), 'SLOT_OUT_OF_RANGE');
    assert.equal(plan.addressOf(2).ipv4, '192.168.7.2');
    assert.equal(plan.lowestFree(new Set()), 2);
    assert.equal(plan.lowestFree(new Set([2, 3, 5])), 4);
  });

  it('adds IPv6 = prefix + IPv4 in the low 32 bits', () => {
    const plan = AddressPlan.parse('ovs0', '10.0.0.254/24', '2001:db8::/64');
    const a = plan.addressOf(1);
    assert.equal(a.ipv6, '2001:db8::a00:1');
    assert.equal(a.ipv6PrefixLength, 64);
    assert.equal(a.gateway6, '2001:db8::a00:fe');
    assert.equal(plan.gateway6, '2001:db8::a00:fe');
  });

  it('rejects bad subnets with BAD_SUBNET and a sentence', () => {
    for (const bad of ['10.0.0.254', '10.0.0.0/24', '10.0.0.255/24', '10.0.0.1/31', '10.0.0.1/32', '10.0.0.1/7', '10.0.0.1/0', '300.0.0.1/24', '010.0.0.1/24', 'abc', '', '10.0.0.1/24/3', ' /24', '10.0.0.1/-1']) {
      assert.equal(code(() => AddressPlan.parse('ovs0', bad)), 'BAD_SUBNET', bad);
    }
    for (const bad6 of ['2001:db8::', '2001:db8::/97', '2001:zz::/64', '2001:db8::1/64', 'x']) {
      assert.equal(code(() => AddressPlan.parse('ovs0', '10.0.0.254/24', bad6)), 'BAD_SUBNET', bad6);
    }
  });

  it('rejects vswitch names that cannot name devices or whose ports would be too long', () => {
    for (const bad of ['', 'a/b', 'a b', 'a:b', '-x', 'abcdefghijkl', 'é']) {
      assert.equal(code(() => AddressPlan.parse(bad, '10.0.0.254/24')), 'BAD_NAME', bad);
    }
    // /8 has 8-digit slot numbers: ovs0-s16777214 fits, a 9-character name does not
    assert.doesNotThrow(() => AddressPlan.parse('ovs0', '10.255.255.254/8'));
    assert.equal(code(() => AddressPlan.parse('abcdefghi', '10.255.255.254/8')), 'BAD_NAME');
  });

  it('round-trips through JSON (the bridge external_ids)', () => {
    const plan = AddressPlan.parse('ovs0', '10.1.2.3/20', 'fd00:1::/64');
    const again = AddressPlan.fromJSON('ovs0', JSON.parse(JSON.stringify(plan.toJSON())));
    assert.ok(plan.equals(again));
    assert.equal(again.cidr, '10.1.2.3/20');
    assert.equal(again.subnet, '10.1.0.0/20');
  });

  it('names ports and parses them back', () => {
    assert.equal(slotPortName('ovs0', 1), 'ovs0-s01');
    assert.equal(slotPortName('ovs0', 12), 'ovs0-s12');
    assert.equal(slotPortName('ovs0', 300), 'ovs0-s300');
    assert.equal(slotFromPortName('ovs0', 'ovs0-s01'), 1);
    assert.equal(slotFromPortName('ovs0', 'ovs0-s300'), 300);
    assert.equal(slotFromPortName('ovs0', 'ovs0-s1'), undefined);
    assert.equal(slotFromPortName('ovs0', 'ovs0-s001'), undefined);
    assert.equal(slotFromPortName('ovs0', 'ovs1-s01'), undefined);
    assert.equal(slotFromPortName('ovs0', 'ovs0'), undefined);
    assert.equal(macFromIpv4('255.1.16.0'), '52:00:ff:01:10:00');
  });

  it('names the second NIC in one place: eth1, <vs>-oNN, 52:80 + the IPv4 bytes, OpenFlow port 30000 + N', () => {
    assert.equal(NIC2.ifname, 'eth1');
    assert.equal(nic2PortName('ovs0', 1), 'ovs0-o01');
    assert.equal(nic2PortName('ovs0', 300), 'ovs0-o300');
    assert.equal(slotFromNic2PortName('ovs0', 'ovs0-o07'), 7);
    assert.equal(slotFromNic2PortName('ovs0', 'ovs0-s07'), undefined);
    assert.equal(slotFromNic2PortName('ovs0', 'ovs0-o7'), undefined);
    assert.equal(slotFromNic2PortName('ovs0', 'ovs1-o07'), undefined);
    assert.equal(AddressPlan.parse('ovs0', '10.0.0.254/24').addressOf(1).mac2, '52:80:0a:00:00:01');
    assert.equal(nic2OfportRequest(9), 30009);
    assert.equal(nic2OfportRequest(35279), 65279);
    assert.equal(nic2OfportRequest(35280), undefined);
  });
});
