// IP addresses on links: encoders for RTM_NEWADDR / RTM_DELADDR and the address dump.

import { NetlinkError } from '../errors';
import { dump } from './link';
import type { Netns } from './netns';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_FLAGS,
  IFA_F_NODAD,
  IFA_LOCAL,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  RTM_DELADDR,
  RTM_GETADDR,
  RTM_NEWADDR,
} from './nl/constants';
import { MessageBuilder, attrMap, attrU32, type NlMessage, type Request } from './nl/message';
import { withSession } from './transport';
import { checkIfindex, checkPrefix, formatIp, ipv4Broadcast, parseIp, type IpAddr } from './validate';

/** An address on an interface, as rtnetlink reports it. */
export interface AddrInfo {
  index: number;
  family: 4 | 6;
  address: string;
  prefixLength: number;
  broadcast?: string;
  scope: number;
  /** IFA_F_* flags (IFA_FLAGS when present, else the 8-bit header flags). */
  flags: number;
}

/** An address to put on an interface (CIDR form). */
export interface AddressSpec {
  address: string;
  prefixLength: number;
  /** IPv4: the broadcast address; default computed (addr | ~mask), false for none. */
  broadcast?: string | false;
}

/** A validated address, ready to encode. */
export interface Address {
  addr: IpAddr;
  prefix: number;
  broadcast?: Buffer;
}

export function checkAddress(a: AddressSpec): Address {
  if (!a || typeof a !== 'object') throw new NetlinkError('BAD_ADDRESS', 'an address must be { address, prefixLength }');
  const addr = parseIp(a.address);
  const prefix = checkPrefix(addr.family, a.prefixLength, `prefix length of ${a.address}`);
  const out: Address = { addr, prefix };
  if (addr.family === 4 && a.broadcast !== false) {
    const brd = a.broadcast === undefined ? ipv4Broadcast(addr.bytes, prefix) : parseIp(a.broadcast, 'broadcast address').bytes;
    if (brd && brd.length !== 4) throw new NetlinkError('BAD_ADDRESS', `broadcast ${String(a.broadcast)} is not an IPv4 address`);
    if (brd) out.broadcast = brd;
  }
  return out;
}

export const formatAddress = (a: Address): string => `${formatIp(a.addr.bytes)}/${a.prefix}`;

function ifaddrmsg(family: number, prefix: number, index: number, flags = 0, scope = 0): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefix, 1);
  b.writeUInt8(flags & 0xff, 2);
  b.writeUInt8(scope, 3);
  b.writeUInt32LE(index, 4);
  return b;
}

/** RTM_NEWADDR, create-exclusive (EEXIST means it is already there). IPv6 skips DAD. */
export function newAddrRequest(index: number, a: Address): Request {
  const fam = a.addr.family === 4 ? AF_INET : AF_INET6;
  const flags = a.addr.family === 6 ? IFA_F_NODAD : 0;
  const b = new MessageBuilder(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifaddrmsg(fam, a.prefix, index, flags));
  b.attr(IFA_LOCAL, 'IFA_LOCAL', a.addr.bytes);
  b.attr(IFA_ADDRESS, 'IFA_ADDRESS', a.addr.bytes);
  if (a.broadcast) b.attr(IFA_BROADCAST, 'IFA_BROADCAST', a.broadcast);
  if (flags) b.u32(IFA_FLAGS, 'IFA_FLAGS', flags);
  return b.finish();
}

export function delAddrRequest(index: number, a: Address): Request {
  const fam = a.addr.family === 4 ? AF_INET : AF_INET6;
  const b = new MessageBuilder(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, ifaddrmsg(fam, a.prefix, index));
  b.attr(IFA_LOCAL, 'IFA_LOCAL', a.addr.bytes);
  b.attr(IFA_ADDRESS, 'IFA_ADDRESS', a.addr.bytes);
  return b.finish();
}

/** Address dump; with strict checking the kernel filters by ifindex itself. */
export function dumpAddrsRequest(index = 0, family = AF_UNSPEC): Request {
  return new MessageBuilder(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, ifaddrmsg(family, 0, index)).finish();
}

export function decodeAddr(m: NlMessage): AddrInfo | undefined {
  if (m.type !== RTM_NEWADDR || m.payload.length < 8) return undefined;
  const p = m.payload;
  const family = p[0] === AF_INET ? 4 : p[0] === AF_INET6 ? 6 : 0;
  if (!family) return undefined;
  const a = attrMap(p.subarray(8));
  const addr = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
  if (!addr) return undefined;
  const info: AddrInfo = {
    index: p.readUInt32LE(4),
    family,
    address: formatIp(addr),
    prefixLength: p[1],
    scope: p[3],
    flags: attrU32(a.get(IFA_FLAGS)) ?? p[2],
  };
  const brd = a.get(IFA_BROADCAST);
  if (brd) info.broadcast = formatIp(brd);
  return info;
}

/** Every IPv4 and IPv6 address in a namespace, or of one link (`index`). */
export async function listAddresses(o: { netns?: Netns; index?: number } = {}): Promise<AddrInfo[]> {
  const index = o.index === undefined ? 0 : checkIfindex(o.index);
  return withSession(o.netns, (s) =>
    dump(
      s,
      () => dumpAddrsRequest(index),
      (m) => {
        const a = decodeAddr(m);
        return a && (!index || a.index === index) ? a : undefined;
      },
      'list addresses',
    ),
  );
}
