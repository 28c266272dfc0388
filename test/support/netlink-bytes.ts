// Netlink messages built byte by byte, as the kernel would send them, for tests of the codec and
// fuzzers of the parsers: a header (struct nlmsghdr), attributes (struct nlattr) and NLMSG_ERROR
// with extended-ack attributes. Every length is padded to 4 bytes, as NLMSG_ALIGN and NLA_ALIGN do.
import * as C from '../../src/netlink/nl/constants';

const align4 = (n: number) => (n + 3) & ~3;

/** A message: a 16-byte header (length, type, flags, seq, pid 0), then the body. `length` may lie. */
export function nlmsg(type: number, flags: number, seq: number, body: Buffer, o: { length?: number } = {}): Buffer {
  const len = 16 + body.length;
  const b = Buffer.alloc(align4(len));
  b.writeUInt32LE(o.length ?? len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  body.copy(b, 16);
  return b;
}

/** An attribute: length (capped at 0xffff, the field's width), type, data, padding. */
export function nlattr(type: number, data: Buffer): Buffer {
  const b = Buffer.alloc(align4(4 + data.length));
  b.writeUInt16LE(Math.min(0xffff, 4 + data.length), 0);
  b.writeUInt16LE(type, 2);
  data.copy(b, 4);
  return b;
}

/**
 * NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK and NETLINK_EXT_ACK: the errno, the
 * request's header, the request's body only when `orig` is given (else NLM_F_CAPPED), and the
 * extended-ack text and offset as attributes.
 */
export function nlerror(seq: number, error: number, o: { text?: string; offs?: number; orig?: Buffer } = {}): Buffer {
  const e = Buffer.alloc(4);
  e.writeInt32LE(error, 0);
  const orig = Buffer.alloc(16);
  orig.writeUInt32LE(o.orig ? 16 + o.orig.length : 16, 0);
  const tlvs: Buffer[] = [];
  if (o.text !== undefined) tlvs.push(nlattr(C.NLMSGERR_ATTR_MSG, Buffer.from(o.text + '\0')));
  if (o.offs !== undefined) {
    const u = Buffer.alloc(4);
    u.writeUInt32LE(o.offs, 0);
    tlvs.push(nlattr(C.NLMSGERR_ATTR_OFFS, u));
  }
  const flags = (o.orig ? 0 : C.NLM_F_CAPPED) | (tlvs.length ? C.NLM_F_ACK_TLVS : 0);
  const payload = o.orig ? Buffer.concat([o.orig, Buffer.alloc(align4(o.orig.length) - o.orig.length)]) : Buffer.alloc(0); // the kernel pads the echoed request
  return nlmsg(C.NLMSG_ERROR, flags, seq, Buffer.concat([e, orig, payload, ...tlvs]));
}
