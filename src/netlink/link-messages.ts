// Link messages: the ifinfomsg requests (get, dump, set, delete, delete by group) and the decoder
// of RTM_NEWLINK into LinkInfo. Pure bytes, no socket: unit-tested without root, and shared by
// the link verbs, veth creation and in-namespace configuration.

import { NetlinkError } from '../errors';
import {
  AF_INET6,
  AF_UNSPEC,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_AF_SPEC,
  IFLA_GROUP,
  IFLA_IFALIAS,
  IFLA_IFNAME,
  IFLA_INET6_ADDR_GEN_MODE,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINK,
  IFLA_LINKINFO,
  IFLA_LINK_NETNSID,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  IFLA_OPERSTATE,
  IFLA_EXT_MASK,
  IN6_ADDR_GEN_MODE_EUI64,
  IN6_ADDR_GEN_MODE_NONE,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  OPERSTATES,
  RTEXT_FILTER_SKIP_STATS,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
  RTM_SETLINK,
} from './nl/constants';
import { MessageBuilder, attrMap, attrS32, attrStr, attrU32, attrU8, parseAttrs, type NlMessage, type Request } from './nl/message';
import { formatMac } from './validate';

/** A network interface as rtnetlink reports it: index, name, kind, MAC, MTU, state, master, group, alias. */
export interface LinkInfo {
  index: number;
  name: string;
  mac?: string;
  mtu: number;
  /** IFF_UP: administratively up. */
  up: boolean;
  /** RFC 2863 state: up, down, lowerlayerdown, unknown... */
  operState: string;
  /** IFLA_INFO_KIND: veth, tun, openvswitch, dummy... (none for physical devices and lo). */
  kind?: string;
  /** For a veth: the peer's ifindex (in the peer's namespace, see linkNetnsId). */
  peerIndex?: number;
  /** The nsid, in this namespace, of the namespace the peer lives in (absent: same namespace). */
  linkNetnsId?: number;
  group: number;
  master?: number;
  /** IPv6 address generation mode: 'eui64' (link-local on), 'none' (quiet), 'stable-privacy', 'random'. */
  ipv6AddrGenMode?: string;
  /** IFLA_IFALIAS, when set. */
  alias?: string;
}

const GEN_MODES = ['eui64', 'none', 'stable-privacy', 'random'];

/** struct ifinfomsg (16 bytes). */
export function ifinfomsg(o: { family?: number; index?: number; flags?: number; change?: number } = {}): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(o.family ?? AF_UNSPEC, 0);
  b.writeInt32LE(o.index ?? 0, 4);
  b.writeUInt32LE(o.flags ?? 0, 8);
  b.writeUInt32LE(o.change ?? 0, 12);
  return b;
}

/** Nested IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE } }. */
export function addAddrGenMode(b: MessageBuilder, linkLocal: boolean): void {
  b.nest(IFLA_AF_SPEC, 'IFLA_AF_SPEC', () =>
    b.nest(AF_INET6, 'AF_INET6', () => b.u8(IFLA_INET6_ADDR_GEN_MODE, 'IFLA_INET6_ADDR_GEN_MODE', linkLocal ? IN6_ADDR_GEN_MODE_EUI64 : IN6_ADDR_GEN_MODE_NONE)),
  );
}

export interface LinkChange {
  index?: number;
  /** With index: a new name (rename). Without: the link to change. */
  name?: string;
  up?: boolean;
  mtu?: number;
  mac?: Buffer;
  group?: number;
  ipv6LinkLocal?: boolean;
  /** Move into the namespace of this fd. */
  nsfd?: number;
}

/** RTM_SETLINK for one link, identified by index (then `name` renames) or by name. */
export function setLinkRequest(c: LinkChange): Request {
  const up = c.up === undefined ? {} : { flags: c.up ? IFF_UP : 0, change: IFF_UP };
  const b = new MessageBuilder(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, ifinfomsg({ index: c.index ?? 0, ...up }));
  if (c.name !== undefined) b.str(IFLA_IFNAME, 'IFLA_IFNAME', c.name);
  if (c.nsfd !== undefined) b.u32(IFLA_NET_NS_FD, 'IFLA_NET_NS_FD', c.nsfd);
  if (c.mtu !== undefined) b.u32(IFLA_MTU, 'IFLA_MTU', c.mtu);
  if (c.mac !== undefined) b.attr(IFLA_ADDRESS, 'IFLA_ADDRESS', c.mac);
  if (c.group !== undefined) b.u32(IFLA_GROUP, 'IFLA_GROUP', c.group);
  if (c.ipv6LinkLocal !== undefined) addAddrGenMode(b, c.ipv6LinkLocal);
  return b.finish();
}

export function getLinkRequest(o: { index?: number; name?: string }): Request {
  const b = new MessageBuilder(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, ifinfomsg({ index: o.index ?? 0 }));
  if (o.index === undefined && o.name !== undefined) b.str(IFLA_IFNAME, 'IFLA_IFNAME', o.name);
  b.u32(IFLA_EXT_MASK, 'IFLA_EXT_MASK', RTEXT_FILTER_SKIP_STATS);
  return b.finish();
}

/** A link dump; `kind` and `master` are filtered by the kernel (strict checking). */
export function dumpLinksRequest(o: { kind?: string; master?: number } = {}): Request {
  const b = new MessageBuilder(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, ifinfomsg());
  b.u32(IFLA_EXT_MASK, 'IFLA_EXT_MASK', RTEXT_FILTER_SKIP_STATS);
  if (o.master !== undefined) b.u32(IFLA_MASTER, 'IFLA_MASTER', o.master);
  if (o.kind !== undefined) b.nest(IFLA_LINKINFO, 'IFLA_LINKINFO', () => b.str(IFLA_INFO_KIND, 'IFLA_INFO_KIND', o.kind!));
  return b.finish();
}

export function deleteLinkRequest(o: { index?: number; name?: string }): Request {
  const b = new MessageBuilder(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, ifinfomsg({ index: o.index ?? 0 }));
  if (o.index === undefined && o.name !== undefined) b.str(IFLA_IFNAME, 'IFLA_IFNAME', o.name);
  return b.finish();
}

export function deleteGroupRequest(group: number): Request {
  return new MessageBuilder(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, ifinfomsg()).u32(IFLA_GROUP, 'IFLA_GROUP', group).finish();
}

/** Decodes an RTM_NEWLINK message. */
export function decodeLink(m: NlMessage): LinkInfo {
  if (m.type !== RTM_NEWLINK || m.payload.length < 16) throw new NetlinkError('NETLINK_PROTOCOL', `expected RTM_NEWLINK, got type ${m.type} (${m.payload.length} bytes)`);
  const p = m.payload;
  const flags = p.readUInt32LE(8);
  const a = attrMap(p.subarray(16));
  const info: LinkInfo = {
    index: p.readInt32LE(4),
    name: attrStr(a.get(IFLA_IFNAME)) ?? '',
    mtu: attrU32(a.get(IFLA_MTU)) ?? 0,
    up: (flags & IFF_UP) !== 0,
    operState: OPERSTATES[attrU8(a.get(IFLA_OPERSTATE)) ?? 0] ?? 'unknown',
    group: attrU32(a.get(IFLA_GROUP)) ?? 0,
  };
  const mac = a.get(IFLA_ADDRESS);
  if (mac && mac.length === 6) info.mac = formatMac(mac);
  const alias = attrStr(a.get(IFLA_IFALIAS));
  if (alias) info.alias = alias;
  const linkinfo = a.get(IFLA_LINKINFO);
  if (linkinfo) {
    const li = attrMap(linkinfo);
    const kind = attrStr(li.get(IFLA_INFO_KIND));
    if (kind) info.kind = kind;
    void li.get(IFLA_INFO_DATA);
  }
  const link = attrU32(a.get(IFLA_LINK));
  if (link !== undefined && info.kind === 'veth') info.peerIndex = link;
  const nsid = attrS32(a.get(IFLA_LINK_NETNSID));
  if (nsid !== undefined && nsid >= 0) info.linkNetnsId = nsid;
  const master = attrU32(a.get(IFLA_MASTER));
  if (master) info.master = master;
  const afspec = a.get(IFLA_AF_SPEC);
  if (afspec) {
    const inet6 = parseAttrs(afspec).find((x) => x.type === AF_INET6);
    const mode = inet6 ? attrU8(attrMap(inet6.data).get(IFLA_INET6_ADDR_GEN_MODE)) : undefined;
    if (mode !== undefined) info.ipv6AddrGenMode = GEN_MODES[mode] ?? String(mode);
  }
  return info;
}
