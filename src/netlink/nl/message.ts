// Netlink message bytes: a builder that frames requests (and remembers where each attribute
// went, so that an extended ack's offset can be named), and a parser for the kernel's replies.
// Pure functions over Buffers; nothing here talks to a socket.

import { NetlinkError } from '../../errors';
import {
  NLA_F_NESTED,
  NLA_TYPE_MASK,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
} from './constants';

export const align4 = (n: number): number => (n + 3) & ~3;

/** Where the builder put an attribute, counted from the start of the message (nlmsghdr). */
export interface AttrMark {
  offset: number;
  /** Path of attribute names, e.g. `IFLA_LINKINFO/IFLA_INFO_DATA/VETH_INFO_PEER/IFLA_IFNAME`. */
  name: string;
}

/** One encoded request. The transport writes the sequence number when it sends it. */
export interface Request {
  type: number;
  flags: number;
  bytes: Buffer;
  marks: AttrMark[];
}

/** Builds one netlink message: header, fixed struct, then attributes (4-byte aligned). */
export class MessageBuilder {
  private buf: Buffer;
  private len: number;
  private readonly marks: AttrMark[] = [];
  private readonly path: string[] = [];

  constructor(
    private readonly type: number,
    private readonly flags: number,
    fixed: Buffer,
  ) {
    this.buf = Buffer.alloc(256);
    this.len = NLMSG_HDRLEN;
    this.raw(fixed);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  private raw(data: Buffer): void {
    const padded = align4(data.length);
    this.reserve(padded);
    data.copy(this.buf, this.len);
    this.buf.fill(0, this.len + data.length, this.len + padded);
    this.len += padded;
  }

  private mark(name: string): void {
    this.marks.push({ offset: this.len, name: [...this.path, name].join('/') });
  }

  attr(type: number, name: string, data: Buffer): this {
    this.mark(name);
    const hdr = Buffer.alloc(4);
    hdr.writeUInt16LE(4 + data.length, 0);
    hdr.writeUInt16LE(type, 2);
    this.raw(Buffer.concat([hdr, data]));
    return this;
  }

  u8(type: number, name: string, v: number): this {
    return this.attr(type, name, Buffer.from([v & 0xff]));
  }

  u32(type: number, name: string, v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0, 0);
    return this.attr(type, name, b);
  }

  s32(type: number, name: string, v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v, 0);
    return this.attr(type, name, b);
  }

  /** A NUL-terminated string. */
  str(type: number, name: string, s: string): this {
    return this.attr(type, name, Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]));
  }

  /** A nested attribute (NLA_F_NESTED); `fixed` is a struct that precedes the nested attributes. */
  nest(type: number, name: string, body: (b: this) => void, fixed?: Buffer): this {
    this.mark(name);
    this.reserve(4);
    const start = this.len;
    this.buf.writeUInt16LE(type | NLA_F_NESTED, start + 2);
    this.len += 4;
    if (fixed) this.raw(fixed);
    this.path.push(name);
    body(this);
    this.path.pop();
    this.buf.writeUInt16LE(this.len - start, start);
    return this;
  }

  finish(): Request {
    const bytes = Buffer.from(this.buf.subarray(0, this.len));
    bytes.writeUInt32LE(this.len, 0);
    bytes.writeUInt16LE(this.type, 4);
    bytes.writeUInt16LE(this.flags, 6);
    return { type: this.type, flags: this.flags, bytes, marks: this.marks };
  }
}

/** The attribute a kernel offset points into: the innermost mark at or before it. */
export function attributeAt(req: Request, offset: number): string | undefined {
  let best: AttrMark | undefined;
  for (const m of req.marks) if (m.offset <= offset && (!best || m.offset >= best.offset)) best = m;
  return best?.name;
}

// ---- parsing ------------------------------------------------------------------------------

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Bytes after the nlmsghdr. */
  payload: Buffer;
}

function protocolError(what: string): NetlinkError {
  return new NetlinkError('NETLINK_PROTOCOL', `malformed netlink reply: ${what}`, { detail: { op: 'parse' } });
}

/** Splits a byte stream of netlink messages; throws NETLINK_PROTOCOL on broken framing. */
export function splitMessages(buf: Buffer): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < NLMSG_HDRLEN) {
      // trailing alignment padding is allowed, nothing else
      if (buf.subarray(off).every((x) => x === 0)) break;
      throw protocolError(`${buf.length - off} stray bytes after the last message`);
    }
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || len > buf.length - off) throw protocolError(`message length ${len} at offset ${off} of ${buf.length}`);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

export interface Attr {
  type: number;
  nested: boolean;
  data: Buffer;
}

/** Parses a run of attributes; throws NETLINK_PROTOCOL if one overruns the buffer. */
export function parseAttrs(buf: Buffer): Attr[] {
  const out: Attr[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < 4 || off + len > buf.length) throw protocolError(`attribute length ${len} at offset ${off} of ${buf.length}`);
    out.push({ type: rawType & NLA_TYPE_MASK, nested: (rawType & NLA_F_NESTED) !== 0, data: buf.subarray(off + 4, off + len) });
    off += align4(len);
  }
  return out;
}

/** Attributes by type (the last one of a type wins). */
export function attrMap(buf: Buffer): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (const a of parseAttrs(buf)) m.set(a.type, a.data);
  return m;
}

export function attrU32(data: Buffer | undefined): number | undefined {
  return data && data.length >= 4 ? data.readUInt32LE(0) : undefined;
}

export function attrS32(data: Buffer | undefined): number | undefined {
  return data && data.length >= 4 ? data.readInt32LE(0) : undefined;
}

export function attrU8(data: Buffer | undefined): number | undefined {
  return data && data.length >= 1 ? data[0] : undefined;
}

export function attrStr(data: Buffer | undefined): string | undefined {
  if (!data) return undefined;
  const nul = data.indexOf(0);
  return data.subarray(0, nul < 0 ? data.length : nul).toString('utf8');
}

/** The kernel's answer to one request: 0 or a negative errno, with the extended ack if any. */
export interface Ack {
  /** 0 for success, else a negative errno as the kernel sends it. */
  error: number;
  /** NLMSGERR_ATTR_MSG: the kernel's human-readable reason. */
  message?: string;
  /** NLMSGERR_ATTR_OFFS: offset of the offending attribute within our request. */
  offset?: number;
}

/** Decodes NLMSG_ERROR (with or without NLM_F_CAPPED) and NLMSG_DONE payloads. */
export function parseAck(m: NlMessage): Ack {
  if (m.type !== NLMSG_ERROR && m.type !== NLMSG_DONE) throw protocolError(`message type ${m.type} is not an ack`);
  if (m.payload.length < 4) {
    if (m.type === NLMSG_DONE) return { error: 0 }; // very old kernels send an empty DONE
    throw protocolError('short NLMSG_ERROR');
  }
  const ack: Ack = { error: m.payload.readInt32LE(0) };
  if (!(m.flags & NLM_F_ACK_TLVS)) return ack;
  let tlvStart = 4;
  if (m.type === NLMSG_ERROR) {
    if (m.payload.length < 4 + NLMSG_HDRLEN) throw protocolError('NLMSG_ERROR without the original header');
    const origLen = m.payload.readUInt32LE(4);
    tlvStart = m.flags & NLM_F_CAPPED ? 4 + NLMSG_HDRLEN : 4 + align4(origLen);
  }
  if (tlvStart > m.payload.length) throw protocolError('NLMSG_ERROR shorter than the request it echoes');
  for (const a of parseAttrs(m.payload.subarray(tlvStart))) {
    if (a.type === NLMSGERR_ATTR_MSG) ack.message = attrStr(a.data);
    else if (a.type === NLMSGERR_ATTR_OFFS) ack.offset = attrU32(a.data);
  }
  return ack;
}
