// Links: list, look up, change, move into another namespace, delete (one, or a whole group).
// Encoders are exported for the unit tests; verbs open one socket per call in the namespace given.

import { EEXIST, ENODEV } from './nl/errno';
import { NetlinkError } from '../errors';
import { check, replyError, where } from './errors';
import { Netns } from './netns';
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
import { Session, withSession } from './transport';
import { checkIfindex, checkIfname, checkMtu, checkU32, formatMac, parseMac } from './validate';

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

// ---- verbs ----------------------------------------------------------------------------------

export interface LinkRef {
  /** Where the link is (default: the caller's namespace). */
  netns?: Netns;
  name?: string;
  index?: number;
}

function checkRef(o: LinkRef, verb: string): { index?: number; name?: string } {
  if (o.index !== undefined) return { index: checkIfindex(o.index) };
  if (o.name !== undefined) return { name: checkIfname(o.name) };
  throw new NetlinkError('BAD_ARGUMENT', `${verb} needs a link name or index`);
}

const label = (r: { index?: number; name?: string }): string => r.name ?? `#${r.index}`;

/** Looks a link up on an open session; undefined if there is none. */
export async function lookupLink(s: Session, ref: { index?: number; name?: string }): Promise<LinkInfo | undefined> {
  const [r] = await s.transact([getLinkRequest(ref)]);
  if (r.answered && r.errno === ENODEV) return undefined;
  check([r], () => ({ action: `look up link ${label(ref)}`, ifname: ref.name, netns: s.netns }));
  const m = r.messages.find((x) => x.type === RTM_NEWLINK);
  if (!m) throw new NetlinkError('NETLINK_PROTOCOL', `RTM_GETLINK ${label(ref)} was acked without a link`);
  return decodeLink(m);
}

/** One link by name or index, or undefined. */
export async function getLink(o: LinkRef): Promise<LinkInfo | undefined> {
  const ref = checkRef(o, 'getLink');
  return withSession(o.netns, (s) => lookupLink(s, ref));
}

/** Runs a dump, retrying (up to 5 times) when the kernel flags it as interrupted by a change. */
export async function dump<T>(s: Session, req: () => Request, decode: (m: NlMessage) => T | undefined, action: string): Promise<T[]> {
  for (let attempt = 0; ; attempt++) {
    const [r] = await s.transact([req()]);
    check([r], () => ({ action, netns: s.netns }));
    if (r.interrupted && attempt < 4) continue;
    const out: T[] = [];
    for (const m of r.messages) {
      const v = decode(m);
      if (v !== undefined) out.push(v);
    }
    return out;
  }
}

/** Every link in a namespace; `kind` (e.g. 'veth') and `name` filter. */
export async function listLinks(o: { netns?: Netns; kind?: string; name?: string } = {}): Promise<LinkInfo[]> {
  if (o.name !== undefined) {
    const l = await getLink({ netns: o.netns, name: o.name });
    return l && (o.kind === undefined || l.kind === o.kind) ? [l] : [];
  }
  return withSession(o.netns, (s) =>
    dump(
      s,
      () => dumpLinksRequest({ kind: o.kind }),
      (m) => {
        if (m.type !== RTM_NEWLINK) return undefined;
        const l = decodeLink(m);
        return o.kind === undefined || l.kind === o.kind ? l : undefined;
      },
      'list links',
    ),
  );
}

export interface SetLinkOptions extends LinkRef {
  up?: boolean;
  mtu?: number;
  mac?: string;
  /** false: no IPv6 link-local address generation (set before up when both are given). */
  ipv6LinkLocal?: boolean;
  group?: number;
}

/** Changes a link in place: up/down, MTU, MAC, group, IPv6 link-local generation. */
export async function setLink(o: SetLinkOptions): Promise<void> {
  const ref = checkRef(o, 'setLink');
  const mtu = o.mtu === undefined ? undefined : checkMtu(o.mtu);
  const mac = o.mac === undefined ? undefined : parseMac(o.mac);
  const group = o.group === undefined ? undefined : checkU32(o.group, 'group');
  const reqs: Request[] = [];
  // The generation mode must be in place before the link comes up, so it goes in a message of its own first.
  if (o.ipv6LinkLocal !== undefined) reqs.push(setLinkRequest({ ...ref, ipv6LinkLocal: o.ipv6LinkLocal }));
  if (mtu !== undefined || mac !== undefined || group !== undefined || o.up !== undefined) reqs.push(setLinkRequest({ ...ref, mtu, mac, group, up: o.up }));
  if (!reqs.length) return;
  await withSession(o.netns, async (s) => {
    const replies = await s.transact(reqs, { stopOnError: true, chunk: 1 });
    check(replies, () => ({ action: `change link ${label(ref)}`, ifname: ref.name, netns: o.netns }));
  });
}

/** Deletes a link (both ends, for a veth). Resolves false if there was no such link. */
export async function deleteLink(o: LinkRef): Promise<boolean> {
  const ref = checkRef(o, 'deleteLink');
  return withSession(o.netns, async (s) => {
    const [r] = await s.transact([deleteLinkRequest(ref)]);
    if (r.answered && r.errno === ENODEV) return false;
    check([r], () => ({ action: `delete link ${label(ref)}`, ifname: ref.name, netns: o.netns }));
    return true;
  });
}

/** Deletes every link of an IFLA_GROUP in one request (far faster than one by one). */
export async function deleteLinkGroup(o: { netns?: Netns; group: number }): Promise<void> {
  const group = checkU32(o.group, 'group');
  if (group === 0) throw new NetlinkError('BAD_ARGUMENT', 'group 0 is the default group of every link (lo, eth0...); refusing to delete it');
  await withSession(o.netns, async (s) => {
    const [r] = await s.transact([deleteGroupRequest(group)]);
    if (r.answered && r.errno === ENODEV) return;
    check([r], () => ({ action: `delete the links of group ${group}`, netns: o.netns }));
  });
}

/**
 * Deletes many links at once. One by one, each delete waits for synchronize_net (~17 ms); here
 * the links are retagged into `viaGroup` and the group is deleted in one request. Links that do
 * not exist are skipped. Resolves with the number of links deleted.
 */
export async function deleteLinks(o: { netns?: Netns; names: string[]; viaGroup: number }): Promise<number> {
  const names = o.names.map((n) => checkIfname(n));
  const group = checkU32(o.viaGroup, 'group');
  if (group === 0) throw new NetlinkError('BAD_ARGUMENT', 'group 0 is the default group of every link (lo, eth0...); use a scratch group');
  if (!names.length) return 0;
  return withSession(o.netns, async (s) => {
    const tagged = await s.transact(names.map((name) => setLinkRequest({ name, group })));
    let n = 0;
    tagged.forEach((r, i) => {
      if (r.answered && r.errno === ENODEV) return;
      check([r], () => ({ action: `mark link ${names[i]} for deletion`, ifname: names[i], netns: o.netns }));
      n++;
    });
    const [r] = await s.transact([deleteGroupRequest(group)]);
    if (!(r.answered && r.errno === ENODEV)) check([r], () => ({ action: `delete the links of group ${group}`, netns: o.netns }));
    return n;
  });
}

export interface MoveLinkOptions extends LinkRef {
  to: Netns;
  /** Its name in the target namespace (default: unchanged). */
  newName?: string;
  mac?: string;
  mtu?: number;
  /** Default false: no IPv6 link-local generation in the target (set there before anything brings it up). */
  ipv6LinkLocal?: boolean;
  /** Bring it up in the target. Default false. */
  up?: boolean;
  /** Allow moving within one namespace (a plain rename). Default false: refused. */
  allowSameNetns?: boolean;
}

/**
 * Moves an existing link (e.g. an OVS internal port) into another namespace, renamed on the way.
 *
 * The kernel moves first and renames after: a move onto a name taken in the target moves the link
 * under its old name and then fails the rename with EEXIST. So the target is checked first, and a
 * link left half-moved is moved back before the error is returned.
 */
export async function moveLink(o: MoveLinkOptions): Promise<{ index: number }> {
  const ref = checkRef(o, 'moveLink');
  if (!(o.to instanceof Netns)) throw new NetlinkError('BAD_ARGUMENT', 'moveLink needs the target namespace (to: Netns)');
  const newName = o.newName === undefined ? undefined : checkIfname(o.newName, 'new name');
  const mtu = o.mtu === undefined ? undefined : checkMtu(o.mtu);
  const mac = o.mac === undefined ? undefined : parseMac(o.mac);
  const sourceId = o.netns ? o.netns.id : Netns.currentId();
  if (!o.allowSameNetns && o.to.isSameAs(sourceId))
    throw new NetlinkError('HOST_NETNS_REFUSED', `cannot move link ${label(ref)}: the target is the namespace it is already in (${o.to.label})`, {
      detail: { ifname: ref.name, netns: o.to.id },
    });
  return withSession(o.netns, (src) =>
    withSession(o.to, async (dst) => {
      const link = await lookupLink(src, ref);
      if (!link)
        throw new NetlinkError('NO_SUCH_LINK', `cannot move link ${label(ref)}: there is no such interface in ${where(o.netns)}`, {
          detail: { errno: ENODEV, errnoName: 'ENODEV', op: 'RTM_GETLINK', ifname: ref.name, side: 'host', netns: o.netns?.id },
        });
      const name = newName ?? link.name;
      const action = `move link ${link.name} into ${o.to.label}${newName ? ` as ${newName}` : ''}`;
      const taken = (): NetlinkError =>
        new NetlinkError('LINK_EXISTS', `cannot ${action}: an interface named ${name} already exists in ${where(o.to, 'target')}`, {
          detail: { errno: EEXIST, errnoName: 'EEXIST', op: 'RTM_SETLINK', ifname: name, side: 'peer', netns: o.to.id },
        });
      if (await lookupLink(dst, { name })) throw taken();
      // With an index, IFLA_IFNAME means "new name".
      const [r] = await src.transact([setLinkRequest({ index: link.index, name: newName, nsfd: src.hold(o.to) })]);
      if (!r.answered || r.errno !== 0) {
        const err = r.answered && r.errno === EEXIST ? taken() : replyError(r, { action, ifname: link.name, side: 'host', netns: o.netns });
        const rollback = await moveBack(dst, link.name, o.netns);
        if (rollback) (err.detail as Record<string, unknown>).rollback = rollback;
        throw err;
      }
      const moved = await lookupLink(dst, { name });
      if (!moved) throw new NetlinkError('NETLINK_PROTOCOL', `link ${name} was moved into ${o.to.label} but is not there`);
      const reqs: Request[] = [];
      if (!o.ipv6LinkLocal) reqs.push(setLinkRequest({ index: moved.index, ipv6LinkLocal: false }));
      if (mtu !== undefined || mac !== undefined || o.up) reqs.push(setLinkRequest({ index: moved.index, mtu, mac, up: o.up ? true : undefined }));
      const replies = await dst.transact(reqs, { stopOnError: true, chunk: 1 });
      const failed = replies.find((x) => !x.answered || x.errno !== 0);
      if (failed) {
        const err = replyError(failed, { action: `configure link ${name} in ${o.to.label}`, ifname: name, side: 'peer', netns: o.to });
        const rollback = await moveBack(dst, name, o.netns, link.name);
        if (rollback) (err.detail as Record<string, unknown>).rollback = rollback;
        throw err;
      }
      return { index: moved.index };
    }),
  );
}

// Puts a link found in `dst` under `name` back into `home` (default: the caller's namespace) as `oldName`.
// Returns undefined when there was nothing to do or it worked, else what went wrong.
async function moveBack(dst: Session, name: string, home: Netns | undefined, oldName?: string): Promise<unknown[] | undefined> {
  try {
    const stray = await lookupLink(dst, { name });
    if (!stray) return undefined;
    const here = home ?? Netns.current();
    try {
      const [r] = await dst.transact([setLinkRequest({ index: stray.index, name: oldName && oldName !== name ? oldName : undefined, nsfd: dst.hold(here) })]);
      return r.answered && r.errno === 0 ? undefined : [{ op: 'RTM_SETLINK', ifname: name, errno: r.errno, extack: r.extack }];
    } finally {
      if (!home) here.close();
    }
  } catch (e) {
    return [{ ifname: name, error: (e as Error).message }];
  }
}
