import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { isEcdockError } from '../../src/errors';
import { checkIfname, checkMtu, checkOptionalMtu, formatIp, formatMac, ipv4Broadcast, parseCidr, parseIp, parseMac } from '../../src/netlink/validate';
import { checkAddress } from '../../src/netlink/addr';
import { checkRoute, maskTo } from '../../src/netlink/route';

const throwsCode = (fn: () => unknown, code: string, msg?: RegExp) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(isEcdockError(e), `not an EcdockError: ${String(e)}`);
    assert.equal(e.code, code);
    if (msg) assert.match(e.message, msg);
    return true;
  });

describe('netlink input validation (no root)', () => {
  it('accepts 15-byte names and refuses 16 bytes, naming the length', () => {
    assert.equal(checkIfname('a'.repeat(15)), 'a'.repeat(15));
    throwsCode(() => checkIfname('a'.repeat(16)), 'BAD_IFNAME', /16 bytes long; Linux allows at most 15/);
    // bytes, not characters
    throwsCode(() => checkIfname('é'.repeat(8)), 'BAD_IFNAME', /16 bytes/);
  });

  it('refuses the characters and names dev_valid_name refuses', () => {
    for (const bad of ['a/b', 'a:b', 'a b', 'a\tb', 'a\nb', '.', '..', '', 'x\0y']) throwsCode(() => checkIfname(bad), 'BAD_IFNAME');
    throwsCode(() => checkIfname(7 as unknown as string), 'BAD_IFNAME');
    assert.equal(checkIfname('ovs0-s01'), 'ovs0-s01');
    assert.equal(checkIfname('eth0.100'), 'eth0.100');
  });

  it('parses unicast MACs and refuses multicast, zero and malformed ones', () => {
    assert.equal(formatMac(parseMac('52:00:0A:00:00:01')), '52:00:0a:00:00:01');
    assert.equal(formatMac(parseMac('52-00-0a-00-00-02')), '52:00:0a:00:00:02');
    throwsCode(() => parseMac('01:00:5e:00:00:01'), 'BAD_MAC', /multicast/);
    throwsCode(() => parseMac('00:00:00:00:00:00'), 'BAD_MAC', /zeros/);
    for (const bad of ['52:00:0a:00:00', '52:00:0a:00:00:01:02', 'zz:00:0a:00:00:01', '5200.0a00.0001', ''])
      throwsCode(() => parseMac(bad), 'BAD_MAC');
  });

  it('checks MTU range 68..65535', () => {
    assert.equal(checkMtu(68), 68);
    assert.equal(checkMtu(65535), 65535);
    for (const bad of [67, 65536, 1500.5, -1, NaN, '1500', null]) throwsCode(() => checkMtu(bad), 'BAD_MTU');
  });

  it('leaves a missing MTU to the default and checks a given one', () => {
    assert.equal(checkOptionalMtu(undefined), undefined);
    assert.equal(checkOptionalMtu(9000), 9000);
    for (const bad of [67, null, '']) throwsCode(() => checkOptionalMtu(bad), 'BAD_MTU');
  });

  it('parses and formats IPv4 and IPv6 addresses', () => {
    assert.deepEqual([...parseIp('10.0.0.1').bytes], [10, 0, 0, 1]);
    assert.equal(parseIp('10.0.0.1').family, 4);
    assert.equal(formatIp(parseIp('2001:db8::a00:1').bytes), '2001:db8::a00:1');
    assert.equal(formatIp(parseIp('::').bytes), '::');
    assert.equal(formatIp(parseIp('::1').bytes), '::1');
    assert.equal(formatIp(parseIp('fe80::').bytes), 'fe80::');
    assert.equal(formatIp(parseIp('2001:0db8:0000:0000:0001:0000:0000:0001').bytes), '2001:db8::1:0:0:1');
    assert.equal(formatIp(parseIp('::ffff:10.0.0.1').bytes), '::ffff:a00:1');
    assert.equal(formatIp(parseIp('1:0:1:0:1:0:1:0').bytes), '1:0:1:0:1:0:1:0');
    for (const bad of ['10.0.0.256', '10.0.0', '2001:db8::g', 'fe80::1%eth0', '', 'localhost']) throwsCode(() => parseIp(bad), 'BAD_ADDRESS');
  });

  it('IPv6 formatting round-trips for any 16 bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 8 }), (arr, at, zeros) => {
        const b = Buffer.from(arr);
        b.fill(0, at * 2, Math.min(16, (at + zeros) * 2)); // make zero runs likely
        const text = formatIp(b);
        assert.deepEqual(parseIp(text).bytes, b, text);
      }),
      { numRuns: 500 },
    );
  });

  it('computes the IPv4 broadcast like `ip addr add ... brd +`', () => {
    assert.equal(formatIp(ipv4Broadcast(parseIp('10.88.0.5').bytes, 20)!), '10.88.15.255');
    assert.equal(formatIp(ipv4Broadcast(parseIp('10.0.0.1').bytes, 24)!), '10.0.0.255');
    assert.equal(formatIp(ipv4Broadcast(parseIp('10.0.0.1').bytes, 0)!), '255.255.255.255');
    assert.equal(ipv4Broadcast(parseIp('10.0.0.1').bytes, 31), undefined);
    assert.equal(ipv4Broadcast(parseIp('10.0.0.1').bytes, 32), undefined);
    assert.equal(checkAddress({ address: '10.0.0.1', prefixLength: 24, broadcast: false }).broadcast, undefined);
    assert.equal(formatIp(checkAddress({ address: '10.0.0.1', prefixLength: 24, broadcast: '10.0.0.127' }).broadcast!), '10.0.0.127');
    assert.equal(checkAddress({ address: '2001:db8::1', prefixLength: 64 }).broadcast, undefined);
    throwsCode(() => checkAddress({ address: '10.0.0.1', prefixLength: 33 }), 'BAD_ADDRESS');
    throwsCode(() => checkAddress({ address: '2001:db8::1', prefixLength: 129 }), 'BAD_ADDRESS');
  });

  it('parses routes and masks host bits off destinations', () => {
    const r = checkRoute({ dst: '10.1.2.3/16', gateway: '10.0.0.1' });
    assert.equal(r.dstLen, 16);
    assert.deepEqual([...maskTo(r.dst!.bytes, 16)], [10, 1, 0, 0]);
    assert.deepEqual([...maskTo(parseIp('2001:db8:ffff::1').bytes, 36)].slice(0, 6), [0x20, 0x01, 0x0d, 0xb8, 0xf0, 0]);
    assert.equal(checkRoute({ dst: '10.9.9.9' }).dstLen, 32);
    assert.equal(checkRoute({ dst: 'default', gateway: '2001:db8::1' }).family, 6);
    throwsCode(() => checkRoute({ dst: 'default' }), 'BAD_ADDRESS', /needs a gateway/);
    throwsCode(() => checkRoute({ dst: '10.0.0.0/8', gateway: '2001:db8::1' }), 'BAD_ADDRESS', /another address family/);
    throwsCode(() => parseCidr('10.0.0.0/x'), 'BAD_ADDRESS');
  });
});
