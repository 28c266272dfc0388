import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { NetlinkError, isEcdockError } from '../../src/errors';
import { decodeAddr, newAddrRequest, checkAddress } from '../../src/netlink/addr';
import { replyError } from '../../src/netlink/errors';
import { decodeLink, deleteGroupRequest, dumpLinksRequest, ifinfomsg, setLinkRequest } from '../../src/netlink/link';
import * as C from '../../src/netlink/nl/constants';
import { MessageBuilder, attributeAt, parseAck, parseAttrs, splitMessages, type Request } from '../../src/netlink/nl/message';
import { replaceRouteRequest, checkRoute, decodeRoute } from '../../src/netlink/route';
import { collect, frame, type Reply } from '../../src/netlink/transport';
import { newVethRequest } from '../../src/netlink/veth';
import { parseMac } from '../../src/netlink/validate';
import { nlerror, nlmsg } from '../support/netlink-bytes';

describe('netlink message codec (no root)', () => {
  it('encodes RTM_SETLINK up by index to the exact bytes ip(8) sends', () => {
    const r = setLinkRequest({ index: 2, up: true });
    assert.equal(
      r.bytes.toString('hex'),
      // len=32 type=19 flags=REQUEST|ACK seq=0 pid=0 | family=0 pad type=0 index=2 flags=IFF_UP change=IFF_UP
      '20000000' + '1300' + '0500' + '00000000' + '00000000' + '00' + '00' + '0000' + '02000000' + '01000000' + '01000000',
    );
  });

  it('encodes a group delete and a kind-filtered link dump', () => {
    assert.equal(deleteGroupRequest(7).bytes.toString('hex'), '28000000' + '1100' + '0500' + '0000000000000000' + '00000000000000000000000000000000' + '08001b0007000000');
    const d = dumpLinksRequest({ kind: 'veth' });
    assert.equal(d.flags, C.NLM_F_REQUEST | C.NLM_F_DUMP);
    const attrs = parseAttrs(d.bytes.subarray(32));
    assert.deepEqual(attrs.map((a) => a.type), [C.IFLA_EXT_MASK, C.IFLA_LINKINFO]);
    assert.ok(attrs[1].nested);
    assert.equal(parseAttrs(attrs[1].data)[0].data.toString(), 'veth\0');
  });

  it('encodes a veth pair in final form, peer header without IFF_UP, and names every attribute offset', () => {
    const r = newVethRequest({ name: 'ovs0-s01', mac: parseMac('52:00:0a:00:00:fe'), mtu: 1400, group: 9, up: false, peer: { name: 'eth0', mac: parseMac('52:00:0a:00:00:01'), mtu: 1400, nsfd: 42 } });
    assert.equal(r.bytes.readUInt32LE(0), r.bytes.length);
    assert.equal(r.flags, C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | C.NLM_F_EXCL | C.NLM_F_ECHO);
    const top = parseAttrs(r.bytes.subarray(32));
    assert.deepEqual(top.map((a) => a.type), [C.IFLA_IFNAME, C.IFLA_MTU, C.IFLA_ADDRESS, C.IFLA_GROUP, C.IFLA_LINKINFO]);
    const li = parseAttrs(top[4].data);
    assert.equal(li[0].data.toString(), 'veth\0');
    const peer = parseAttrs(li[1].data)[0];
    assert.equal(peer.type, C.VETH_INFO_PEER);
    assert.ok(peer.nested);
    const peerHdr = peer.data.subarray(0, 16);
    assert.equal(peerHdr.readUInt32LE(8), 0, 'no IFF_UP in the peer header (ENOTCONN)');
    const peerAttrs = parseAttrs(peer.data.subarray(16));
    assert.deepEqual(peerAttrs.map((a) => a.type), [C.IFLA_IFNAME, C.IFLA_ADDRESS, C.IFLA_MTU, C.IFLA_NET_NS_FD]);
    assert.equal(peerAttrs[3].data.readUInt32LE(0), 42);
    // the offset of the peer's IFLA_IFNAME, as the kernel would report it in NLMSGERR_ATTR_OFFS
    const off = r.bytes.indexOf(Buffer.from('eth0\0')) - 4;
    assert.equal(attributeAt(r, off), 'IFLA_LINKINFO/IFLA_INFO_DATA/VETH_INFO_PEER/IFLA_IFNAME');
    assert.equal(attributeAt(r, 32), 'IFLA_IFNAME');
    assert.equal(attributeAt(r, r.bytes.indexOf(Buffer.from([0x52, 0, 0x0a, 0, 0, 0xfe])) - 4), 'IFLA_ADDRESS');
  });

  it('encodes addresses (v4 with broadcast, v6 with NODAD) and replace routes', () => {
    const v4 = newAddrRequest(3, checkAddress({ address: '10.0.0.1', prefixLength: 24 }));
    assert.equal(v4.flags, C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | C.NLM_F_EXCL);
    assert.equal(v4.bytes.subarray(16, 24).toString('hex'), '02180000' + '03000000');
    const a4 = parseAttrs(v4.bytes.subarray(24));
    assert.deepEqual(a4.map((a) => a.type), [C.IFA_LOCAL, C.IFA_ADDRESS, C.IFA_BROADCAST]);
    assert.deepEqual([...a4[2].data], [10, 0, 0, 255]);
    const v6 = newAddrRequest(3, checkAddress({ address: '2001:db8::1', prefixLength: 64 }));
    assert.equal(v6.bytes[18], C.IFA_F_NODAD);
    const a6 = parseAttrs(v6.bytes.subarray(24));
    assert.equal(a6.at(-1)!.type, C.IFA_FLAGS);
    const rt = replaceRouteRequest(3, checkRoute({ dst: 'default', gateway: '10.0.0.254' }));
    assert.equal(rt.flags, C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | C.NLM_F_REPLACE);
    assert.equal(rt.bytes.subarray(16, 28).toString('hex'), '02000000' + 'fe030001' + '00000000');
  });

  it('decodes NLMSG_ERROR: ack, capped error with extended ack, uncapped error with the request echoed', () => {
    const [ok] = splitMessages(nlerror(5, 0));
    assert.deepEqual(parseAck(ok), { error: 0 });
    const [capped] = splitMessages(nlerror(6, -34, { text: 'Attribute failed policy validation', offs: 60 }));
    assert.deepEqual(parseAck(capped), { error: -34, message: 'Attribute failed policy validation', offset: 60 });
    const [full] = splitMessages(nlerror(7, -22, { orig: Buffer.alloc(21, 0xaa), text: 'bad' }));
    assert.deepEqual(parseAck(full), { error: -22, message: 'bad' });
    const done = Buffer.alloc(4);
    assert.deepEqual(parseAck(splitMessages(nlmsg(C.NLMSG_DONE, C.NLM_F_MULTI, 8, done))[0]), { error: 0 });
  });

  it('groups a reply stream by request: dumps, echoes, interrupted dumps, unanswered requests', () => {
    const reqs: Request[] = [setLinkRequest({ index: 1, up: true }), dumpLinksRequest(), setLinkRequest({ index: 9, up: true })];
    const { bytes, seqs } = frame(reqs);
    assert.equal(bytes.readUInt32LE(8 + 32), seqs[1]);
    const link = new MessageBuilder(C.RTM_NEWLINK, 0, ifinfomsg({ index: 4, flags: C.IFF_UP })).str(C.IFLA_IFNAME, 'IFLA_IFNAME', 'eth0').finish().bytes;
    const stream = Buffer.concat([
      nlerror(seqs[0], 0),
      nlmsg(C.RTM_NEWLINK, C.NLM_F_MULTI | C.NLM_F_DUMP_INTR, seqs[1], link.subarray(16)),
      nlmsg(C.NLMSG_DONE, C.NLM_F_MULTI, seqs[1], Buffer.alloc(4)),
      nlmsg(C.NLMSG_DONE, C.NLM_F_MULTI, 999, Buffer.alloc(4)), // someone else's: ignored
    ]);
    const out = collect(reqs, seqs, stream);
    assert.deepEqual(out.map((r) => [r.answered, r.errno]), [[true, 0], [true, 0], [false, 0]]);
    assert.equal(out[1].messages.length, 1);
    assert.equal(out[1].interrupted, true);
    assert.equal(decodeLink(out[1].messages[0]).name, 'eth0');
  });

  it('never throws anything but NETLINK_PROTOCOL on garbage (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (arr) => {
        const b = Buffer.from(arr);
        try {
          for (const m of splitMessages(b)) {
            if (m.type === C.NLMSG_ERROR || m.type === C.NLMSG_DONE) parseAck(m);
            else if (m.type === C.RTM_NEWLINK) decodeLink(m);
            else {
              decodeAddr(m);
              decodeRoute(m);
            }
          }
        } catch (e) {
          assert.ok(isEcdockError(e, 'NETLINK_PROTOCOL'), `unexpected ${String(e)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('detects truncated framing at every cut point', () => {
    const whole = Buffer.concat([nlerror(1, 0), nlerror(2, -17, { text: 'x' })]);
    for (let cut = 1; cut < whole.length; cut++) {
      const part = whole.subarray(0, cut);
      try {
        splitMessages(part);
        assert.ok(cut === nlerror(1, 0).length, `cut ${cut} accepted`);
      } catch (e) {
        assert.ok(isEcdockError(e, 'NETLINK_PROTOCOL'));
      }
    }
  });

  it('decodes links and addresses as the kernel sends them', () => {
    const b = new MessageBuilder(C.RTM_NEWLINK, 0, ifinfomsg({ index: 7, flags: C.IFF_UP | C.IFF_LOWER_UP }));
    b.str(C.IFLA_IFNAME, 'IFLA_IFNAME', 'ovs0-s01').u32(C.IFLA_MTU, 'IFLA_MTU', 1400).attr(C.IFLA_ADDRESS, 'IFLA_ADDRESS', parseMac('52:00:0a:00:00:01'));
    b.u8(C.IFLA_OPERSTATE, 'IFLA_OPERSTATE', 6).u32(C.IFLA_GROUP, 'IFLA_GROUP', 77).u32(C.IFLA_LINK, 'IFLA_LINK', 2).s32(C.IFLA_LINK_NETNSID, 'IFLA_LINK_NETNSID', 0);
    b.nest(C.IFLA_LINKINFO, 'IFLA_LINKINFO', () => b.str(C.IFLA_INFO_KIND, 'IFLA_INFO_KIND', 'veth'));
    b.nest(C.IFLA_AF_SPEC, 'IFLA_AF_SPEC', () => b.nest(C.AF_INET6, 'AF_INET6', () => b.u8(C.IFLA_INET6_ADDR_GEN_MODE, 'x', 1)));
    const [m] = splitMessages(b.finish().bytes);
    assert.deepEqual(decodeLink(m), {
      index: 7,
      name: 'ovs0-s01',
      mtu: 1400,
      up: true,
      operState: 'up',
      group: 77,
      mac: '52:00:0a:00:00:01',
      kind: 'veth',
      peerIndex: 2,
      linkNetnsId: 0,
      ipv6AddrGenMode: 'none',
    });
    const a = newAddrRequest(7, checkAddress({ address: '10.0.0.1', prefixLength: 24 })).bytes;
    a.writeUInt16LE(C.RTM_NEWADDR, 4);
    assert.deepEqual(decodeAddr(splitMessages(a)[0]), { index: 7, family: 4, address: '10.0.0.1', prefixLength: 24, scope: 0, flags: 0, broadcast: '10.0.0.255' });
  });
});

describe('netlink error mapping (no root)', () => {
  const reply = (req: Request, errno: number, extra: Partial<Reply> = {}): Reply => ({ request: req, seq: 1, answered: true, errno, messages: [], interrupted: false, ...extra });
  const veth = newVethRequest({ name: 'ovs0-s01', up: true, peer: { name: 'eth0', nsfd: 3 } });

  it('maps EEXIST, ENODEV, ERANGE and EINVAL to stable codes naming the interface', () => {
    const exists = replyError(reply(veth, 17), { action: 'create veth ovs0-s01', ifname: 'ovs0-s01', side: 'host' });
    assert.ok(exists instanceof NetlinkError);
    assert.equal(exists.code, 'LINK_EXISTS');
    assert.match(exists.message, /cannot create veth ovs0-s01/);
    assert.deepEqual(exists.detail, { errno: 17, errnoName: 'EEXIST', op: 'RTM_NEWLINK', ifname: 'ovs0-s01', side: 'host' });
    assert.equal(replyError(reply(setLinkRequest({ index: 5, up: true }), 19), { action: 'x' }).code, 'NO_SUCH_LINK');
    const range = replyError(reply(veth, 34, { extack: 'Attribute failed policy validation', attribute: 'IFLA_LINKINFO/IFLA_INFO_DATA/VETH_INFO_PEER/IFLA_IFNAME' }), {
      action: 'create veth ovs0-s01',
      ifname: 'eth0',
      side: 'peer',
    });
    assert.equal(range.code, 'BAD_IFNAME');
    assert.match(range.message, /Attribute failed policy validation/);
    assert.equal((range.detail as { attribute: string }).attribute, 'IFLA_LINKINFO/IFLA_INFO_DATA/VETH_INFO_PEER/IFLA_IFNAME');
    assert.equal(replyError(reply(veth, 22, { attribute: 'IFLA_MTU' }), { action: 'x' }).code, 'BAD_MTU');
    assert.equal(replyError(reply(veth, 22, { attribute: 'IFLA_ADDRESS' }), { action: 'x' }).code, 'BAD_MAC');
    assert.equal(replyError(reply(veth, 22), { action: 'x' }).code, 'NETLINK_ERROR');
    assert.equal(replyError(reply(veth, 99), { action: 'x' }).code, 'BAD_MAC');
    assert.equal(replyError(reply(veth, 1), { action: 'x' }).code, 'PERMISSION_DENIED');
    const addr = newAddrRequest(3, checkAddress({ address: '10.0.0.1', prefixLength: 24 }));
    assert.equal(replyError(reply(addr, 17), { action: 'x' }).code, 'NETLINK_ERROR');
    assert.equal(replyError(reply(addr, 99), { action: 'x' }).code, 'BAD_ADDRESS');
    const unanswered = replyError({ ...reply(veth, 0), answered: false }, { action: 'create veth x' });
    assert.equal(unanswered.code, 'NETLINK_PROTOCOL');
  });
});
