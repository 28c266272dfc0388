// veth pairs made in final form: the host end (name, MTU, MAC, group) in one namespace and the
// peer born directly inside the target namespace with its final name, MAC and MTU: one
// RTM_NEWLINK, no move, no rename. Many pairs go through one socket in few sendmsg calls.
//
// Quiet links: this kernel refuses IFLA_AF_SPEC in the RTM_NEWLINK that creates a link
// (EAFNOSUPPORT), so the IPv6 generation mode is set by RTM_SETLINK before either end comes up:
// the host end is created down and set "mode none + up" in one message (no carrier yet: the peer
// is down), then the peer gets "mode none" and only after that, in a later message, comes up.

import { EEXIST, ENODEV } from './nl/errno';
import { NetlinkError } from '../errors';
import { checkConfig, firstFailure, planSteps, stepError, undo, undoOf, type InterfaceConfig, type Plan, type Step } from './configure';
import { replyError, where } from './errors';
import { addAddrGenMode, decodeLink, deleteLinkRequest, ifinfomsg, lookupLink, setLinkRequest } from './link';
import { Netns } from './netns';
import {
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_GROUP,
  IFLA_IFALIAS,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_ECHO,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  RTM_NEWLINK,
  RTM_SETLINK,
  VETH_INFO_PEER,
} from './nl/constants';
import { MessageBuilder, type Request } from './nl/message';
import { Session, withSession, type Reply } from './transport';
import { checkIfname, checkMtu, checkU32, parseMac } from './validate';

/** How one end of a veth pair is made: its name, namespace, MAC, MTU, and whether it is brought up. */
export interface VethPeerOptions {
  /** The namespace the peer is created in (a container's). */
  netns: Netns;
  /** Its final name there, e.g. `eth0`. */
  name: string;
  mac?: string;
  mtu?: number;
  /** Configure the peer in the same round trip that sets its IPv6 mode: addresses, up, routes... */
  configure?: InterfaceConfig;
}

/** Options of {@link createVeth}: both ends, and the group and alias they carry. */
export interface CreateVethOptions {
  /** The host end's namespace (the vswitch's; default: the caller's). */
  netns?: Netns;
  name: string;
  mac?: string;
  mtu?: number;
  /** IFLA_GROUP tag, for deleteLinkGroup. */
  group?: number;
  /** Bring the host end up. Default true. */
  up?: boolean;
  /** IPv6 link-local generation on both ends. Default false: quiet links. */
  ipv6LinkLocal?: boolean;
  /** IFLA_IFALIAS of the host end (e.g. who made it), up to 255 bytes. */
  alias?: string;
  /** Allow the peer in the host end's own namespace. Default false: HOST_NETNS_REFUSED. */
  allowSameNetns?: boolean;
  peer: VethPeerOptions;
}

/** A veth pair that {@link createVeth} made: both ends' names and indexes. */
export interface VethCreated {
  /** Host end's ifindex (in its namespace). */
  index: number;
  /** Peer's ifindex (in the peer's namespace). */
  peerIndex: number;
}

/** One pair of {@link createVeths}: made, or the error that stopped it (the others are not affected). */
export type VethSettled = ({ ok: true } & VethCreated) | { ok: false; error: NetlinkError };

/** Options of {@link createVeths}: many pairs in one batch of rtnetlink messages. */
export interface CreateVethsOptions {
  /** Requests per sendmsg (default 64). */
  chunk?: number;
  timeoutMs?: number;
}

interface Item {
  o: CreateVethOptions;
  mac?: Buffer;
  mtu?: number;
  group?: number;
  up: boolean;
  quiet: boolean;
  alias?: string;
  peerMac?: Buffer;
  peerMtu?: number;
  plan?: Plan;
  hostKey: string;
  // progress
  index?: number;
  peerIndex?: number;
  error?: NetlinkError;
}

/** RTM_NEWLINK creating a veth pair; the peer goes into the namespace of `peerNsfd`. */
export function newVethRequest(o: {
  name: string;
  mac?: Buffer;
  mtu?: number;
  group?: number;
  up: boolean;
  peer: { name: string; mac?: Buffer; mtu?: number; nsfd: number };
  echo?: boolean;
}): Request {
  const flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL | (o.echo === false ? 0 : NLM_F_ECHO);
  const b = new MessageBuilder(RTM_NEWLINK, flags, ifinfomsg(o.up ? { flags: IFF_UP, change: IFF_UP } : {}));
  b.str(IFLA_IFNAME, 'IFLA_IFNAME', o.name);
  if (o.mtu !== undefined) b.u32(IFLA_MTU, 'IFLA_MTU', o.mtu);
  if (o.mac) b.attr(IFLA_ADDRESS, 'IFLA_ADDRESS', o.mac);
  if (o.group !== undefined) b.u32(IFLA_GROUP, 'IFLA_GROUP', o.group);
  b.nest(IFLA_LINKINFO, 'IFLA_LINKINFO', () => {
    b.str(IFLA_INFO_KIND, 'IFLA_INFO_KIND', 'veth');
    b.nest(IFLA_INFO_DATA, 'IFLA_INFO_DATA', () => {
      // The peer's own ifinfomsg must not carry IFF_UP: the kernel opens it before the pair is tied (ENOTCONN).
      b.nest(
        VETH_INFO_PEER,
        'VETH_INFO_PEER',
        () => {
          b.str(IFLA_IFNAME, 'IFLA_IFNAME', o.peer.name);
          if (o.peer.mac) b.attr(IFLA_ADDRESS, 'IFLA_ADDRESS', o.peer.mac);
          if (o.peer.mtu !== undefined) b.u32(IFLA_MTU, 'IFLA_MTU', o.peer.mtu);
          b.u32(IFLA_NET_NS_FD, 'IFLA_NET_NS_FD', o.peer.nsfd);
        },
        ifinfomsg(),
      );
    });
  });
  return b.finish();
}

/**
 * RTM_SETLINK on the host end after creation, in one message, by index or by name: IPv6 generation
 * mode none (quiet) and up, and the alias (the kernel ignores IFLA_IFALIAS in the creating request).
 */
function hostSetupRequest(ref: number | string, it: { up: boolean; quiet: boolean; alias?: string }): Request {
  const index = typeof ref === 'number' ? ref : 0;
  const up = it.up && it.quiet;
  const b = new MessageBuilder(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, ifinfomsg(up ? { index, flags: IFF_UP, change: IFF_UP } : { index }));
  if (typeof ref === 'string') b.str(IFLA_IFNAME, 'IFLA_IFNAME', ref);
  if (it.alias !== undefined) b.str(IFLA_IFALIAS, 'IFLA_IFALIAS', it.alias);
  if (it.quiet) addAddrGenMode(b, false);
  return b.finish();
}

function prepare(o: CreateVethOptions, callerId: () => string): Item {
  if (!o || typeof o !== 'object') throw new NetlinkError('BAD_ARGUMENT', 'createVeth needs options');
  checkIfname(o.name, 'host-end name');
  if (!o.peer || !(o.peer.netns instanceof Netns)) throw new NetlinkError('BAD_ARGUMENT', `veth ${o.name}: peer.netns must be a Netns (Netns.open(...))`);
  checkIfname(o.peer.name, 'peer name');
  const quiet = !o.ipv6LinkLocal;
  const item: Item = { o, up: o.up ?? true, quiet, hostKey: o.netns ? o.netns.id : 'caller' };
  if (o.alias !== undefined) {
    if (typeof o.alias !== 'string' || Buffer.byteLength(o.alias) > 255 || o.alias.includes('\0'))
      throw new NetlinkError('BAD_ARGUMENT', `alias of ${o.name} must be a string of at most 255 bytes without NUL`);
    item.alias = o.alias;
  }
  if (o.mac !== undefined) item.mac = parseMac(o.mac, `MAC of ${o.name}`);
  if (o.mtu !== undefined) item.mtu = checkMtu(o.mtu, `MTU of ${o.name}`);
  if (o.group !== undefined) item.group = checkU32(o.group, `group of ${o.name}`);
  if (o.peer.mac !== undefined) item.peerMac = parseMac(o.peer.mac, `MAC of peer ${o.peer.name}`);
  if (o.peer.mtu !== undefined) item.peerMtu = checkMtu(o.peer.mtu, `MTU of peer ${o.peer.name}`);
  if (o.peer.configure) item.plan = checkConfig({ ipv6LinkLocal: o.ipv6LinkLocal ?? false, ...o.peer.configure });
  const hostId = o.netns ? o.netns.id : callerId();
  if (!o.allowSameNetns && o.peer.netns.isSameAs(hostId))
    throw new NetlinkError('HOST_NETNS_REFUSED', `cannot create veth ${o.name}: its peer ${o.peer.name} would be in the host end's own namespace (${o.peer.netns.label})`, {
      detail: { ifname: o.peer.name, side: 'peer', netns: hostId },
    });
  return item;
}

/**
 * Creates many veth pairs with few round trips: one socket in each host-end namespace (all
 * RTM_NEWLINKs, chunked), then one batch per peer namespace. Every pair is settled on its own; a
 * pair that fails part way is deleted again before its error is reported.
 */
export async function createVeths(list: CreateVethOptions[], opts: CreateVethsOptions = {}): Promise<VethSettled[]> {
  let callerId: string | undefined;
  const caller = (): string => (callerId ??= Netns.currentId());
  const items: (Item | NetlinkError)[] = list.map((o) => {
    try {
      return prepare(o, caller);
    } catch (e) {
      if (e instanceof NetlinkError) return e;
      throw e;
    }
  });
  const live = items.filter((x): x is Item => !(x instanceof NetlinkError));
  const byHost = new Map<string, Item[]>();
  for (const it of live) byHost.set(it.hostKey, [...(byHost.get(it.hostKey) ?? []), it]);
  await Promise.all([...byHost.values()].map((group) => createInHost(group, opts)));
  return items.map((it) => (it instanceof NetlinkError ? { ok: false, error: it } : it.error ? { ok: false, error: it.error } : { ok: true, index: it.index!, peerIndex: it.peerIndex! }));
}

/** Creates one veth pair in final form (see createVeths); rejects with a NetlinkError. */
export async function createVeth(o: CreateVethOptions): Promise<VethCreated> {
  const [r] = await createVeths([o]);
  if (!r.ok) throw r.error;
  return { index: r.index, peerIndex: r.peerIndex };
}

async function createInHost(items: Item[], opts: CreateVethsOptions): Promise<void> {
  const hostNs = items[0].o.netns;
  const t = { chunk: opts.chunk, timeoutMs: opts.timeoutMs };
  // For a few peer namespaces, open their sockets (throwaway thread + setns) while the host side
  // works; for many, one at a time later (each open socket pins its namespace and holds an fd).
  const early = new Map<string, Session>();
  if (items.length <= EARLY_PEER_SOCKETS)
    for (const it of items) {
      const id = it.o.peer.netns.id;
      if (early.has(id) || !(it.quiet || it.plan)) continue;
      const s = new Session(it.o.peer.netns);
      early.set(id, s);
      s.connect(t).catch(() => undefined); // a failure shows again on first use
    }
  try {
    await createInHostWith(hostNs, items, t, early);
  } finally {
    for (const s of early.values()) s.close();
  }
}

const EARLY_PEER_SOCKETS = 8;

async function createInHostWith(hostNs: Netns | undefined, items: Item[], t: { chunk?: number; timeoutMs?: number }, early: Map<string, Session>): Promise<void> {
  await withSession(hostNs, async (host) => {
    // 1. Create every pair. Host ends come up now only if they need no quieting first.
    const requests = items.map((it) =>
      newVethRequest({
        name: it.o.name,
        mac: it.mac,
        mtu: it.mtu,
        group: it.group,
        up: it.up && !it.quiet,
        peer: { name: it.o.peer.name, mac: it.peerMac, mtu: it.peerMtu, nsfd: host.hold(it.o.peer.netns) },
      }),
    );
    // A single quiet pair: create and quiet it in one job (by name, so sent only if the create was
    // acked: one request per sendmsg, stop at the first failure).
    const needsSetup = (it: Item) => it.quiet || it.alias !== undefined;
    const single = items.length === 1 && needsSetup(items[0]);
    const sent = await host.transact(single ? [...requests, hostSetupRequest(items[0].o.name, items[0])] : requests, single ? { ...t, chunk: 1, stopOnError: true } : t);
    const created = sent.slice(0, items.length);
    const clashes: Item[] = [];
    created.forEach((r, i) => {
      const it = items[i];
      if (!r.answered || r.errno !== 0) {
        if (r.answered && r.errno === EEXIST) clashes.push(it);
        it.error = createError(it, r);
        return;
      }
      const echo = r.messages.find((m) => m.type === RTM_NEWLINK);
      if (echo) {
        const l = decodeLink(echo);
        it.index = l.index;
        if (l.peerIndex !== undefined) it.peerIndex = l.peerIndex;
      }
    });
    // Kernels before 6.2 do not echo RTM_NEWLINK: look the new host ends up by name.
    for (const it of items) if (!it.error && (it.index === undefined || it.peerIndex === undefined)) await learnIndexes(host, it);
    if (clashes.length) await explainClashes(host, clashes);

    // 2. Host ends: IPv6 mode none and up, in one message each (their peers are down: no carrier yet).
    if (single && !items[0].error && (!sent[1].answered || sent[1].errno !== 0))
      items[0].error = replyError(sent[1], { action: `set up veth ${items[0].o.name}`, ifname: items[0].o.name, side: 'host', netns: hostNs, role: 'host-end' });
    const quiet = single ? [] : items.filter((it) => !it.error && needsSetup(it));
    if (quiet.length) {
      const replies = await host.transact(
        quiet.map((it) => hostSetupRequest(it.index!, it)),
        t,
      );
      replies.forEach((r, i) => {
        if (!r.answered || r.errno !== 0)
          quiet[i].error = replyError(r, { action: `set up veth ${quiet[i].o.name}`, ifname: quiet[i].o.name, side: 'host', netns: hostNs, role: 'host-end' });
      });
    }

    // 3. Peers: one batch per peer namespace (on sockets opened while the host side worked).
    const byPeer = new Map<string, Item[]>();
    for (const it of items) if (!it.error && (it.quiet || it.plan)) byPeer.set(it.o.peer.netns.id, [...(byPeer.get(it.o.peer.netns.id) ?? []), it]);
    await Promise.all([...byPeer].map(([id, group]) => configurePeers(group, t, early.get(id))));

    // 4. Whatever failed after its pair existed: delete the pair (the host end takes the peer with it).
    const doomed = items.filter((it) => it.error && it.index !== undefined);
    if (doomed.length) {
      const replies = await host.transact(doomed.map((it) => deleteLinkRequest({ index: it.index })), t).catch((e: Error) => e);
      doomed.forEach((it, i) => {
        const r = replies instanceof Error ? undefined : replies[i];
        if (!r || !r.answered || (r.errno !== 0 && r.errno !== ENODEV))
          (it.error!.detail as Record<string, unknown>).rollback = [{ op: 'RTM_DELLINK', ifname: it.o.name, errno: r?.errno, error: replies instanceof Error ? replies.message : undefined }];
      });
    }
  });
}

async function configurePeers(items: Item[], t: { chunk?: number; timeoutMs?: number }, early?: Session): Promise<void> {
  const ns = items[0].o.peer.netns;
  const stepsOf = items.map((it) => {
    const name = it.o.peer.name;
    if (it.plan) return planSteps(it.peerIndex!, name, it.plan);
    return [{ req: setLinkRequest({ index: it.peerIndex!, ipv6LinkLocal: false }), action: `set the IPv6 address generation mode of ${name}` }] as Step[];
  });
  try {
    const run = async (s: Session) => {
      const replies = await s.transact(stepsOf.flat().map((x) => x.req), t);
      let at = 0;
      const undos: Request[] = [];
      items.forEach((it, i) => {
        const steps = stepsOf[i];
        const mine = replies.slice(at, at + steps.length);
        at += steps.length;
        const failed = firstFailure(steps, mine);
        if (failed < 0) return;
        it.error = stepError(steps[failed], mine[failed], { netns: ns, role: 'target', ifname: it.o.peer.name, side: 'peer' });
        undos.push(...undoOf(steps, mine));
      });
      // The pair is deleted anyway; undoing addresses and routes first is only tidiness for shared namespaces.
      if (undos.length) await undo(s, undos);
    };
    await (early ? run(early) : withSession(ns, run));
  } catch (e) {
    const err = e instanceof NetlinkError ? e : new NetlinkError('NETLINK_ERROR', String(e), { cause: e });
    for (const it of items) it.error ??= err;
  }
}

function createError(it: Item, r: Reply): NetlinkError {
  const hostNs = it.o.netns;
  const peerSide = (r.attribute ?? '').includes('VETH_INFO_PEER');
  return replyError(r, {
    action: `create veth ${it.o.name}`,
    ifname: peerSide ? it.o.peer.name : it.o.name,
    side: r.attribute ? (peerSide ? 'peer' : 'host') : undefined,
    netns: peerSide ? it.o.peer.netns : hostNs,
    role: peerSide ? 'target' : 'host-end',
  });
}

// EEXIST from a veth create does not say which end collided: ask the host-end namespace.
async function explainClashes(host: Session, items: Item[]): Promise<void> {
  for (const it of items) {
    const hostNs = it.o.netns;
    let side: 'host' | 'peer' = 'peer';
    try {
      if (await lookupLink(host, { name: it.o.name })) side = 'host';
    } catch {
      /* keep the guess */
    }
    const name = side === 'host' ? it.o.name : it.o.peer.name;
    const ns = side === 'host' ? where(hostNs, 'host-end') : where(it.o.peer.netns, 'target');
    const detail = { ...(it.error!.detail as Record<string, unknown>), ifname: name, side };
    it.error = new NetlinkError('LINK_EXISTS', `cannot create veth ${it.o.name}: an interface named ${name} already exists in ${ns}`, { detail });
  }
}

async function learnIndexes(host: Session, it: Item): Promise<void> {
  const l = await lookupLink(host, { name: it.o.name });
  if (!l || l.peerIndex === undefined) {
    it.error = new NetlinkError('NETLINK_PROTOCOL', `veth ${it.o.name} was created but cannot be found in ${where(it.o.netns, 'host-end')}`, {
      detail: { ifname: it.o.name, side: 'host' },
    });
    return;
  }
  it.index = l.index;
  it.peerIndex = l.peerIndex;
}
