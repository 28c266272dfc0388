// Links: list, look up, change, move into another namespace, delete (one, or a whole group).
// The verbs open one socket per call in the namespace given; the messages they send are built in
// link-messages.ts and re-exported here, so importers of this module keep working.

import { EEXIST, ENODEV } from './nl/errno';
import { NetlinkError } from '../errors';
import { check, replyError, where } from './errors';
import { decodeLink, deleteGroupRequest, deleteLinkRequest, dumpLinksRequest, getLinkRequest, setLinkRequest, type LinkInfo } from './link-messages';
import { Netns } from './netns';
import { RTM_NEWLINK } from './nl/constants';
import type { NlMessage, Request } from './nl/message';
import { Session, withSession } from './transport';
import { checkIfindex, checkIfname, checkMtu, checkU32, parseMac } from './validate';

export {
  addAddrGenMode,
  decodeLink,
  deleteGroupRequest,
  deleteLinkRequest,
  dumpLinksRequest,
  getLinkRequest,
  ifinfomsg,
  setLinkRequest,
} from './link-messages';
export type { LinkChange, LinkInfo } from './link-messages';

/** An interface by name or index, in a namespace (default: the caller's). */
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

/** Options of {@link setLink}: what to change on the interface. */
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

/** Options of {@link moveLink}: where the interface goes and its name there. */
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
