// Configuring an interface inside a namespace in one batch: IPv6 link-local generation mode,
// MTU/MAC, addresses, link up, loopback up, routes. Order matters to the kernel: the generation
// mode before the link comes up; addresses before up (IPv6 without DAD); routes after up.

import { EEXIST, EINVAL, ENODEV, EOPNOTSUPP } from './nl/errno';
import { NetlinkError, type ErrorCode } from '../errors';
import { checkAddress, delAddrRequest, formatAddress, newAddrRequest, type Address, type AddressSpec } from './addr';
import { replyError, type Side } from './errors';
import { txChecksumRequest } from './ethtool';
import { lookupLink, setLinkRequest } from './link';
import { checkNeighbor, delNeighRequest, formatNeighbor, newNeighRequest, type Neighbor, type NeighborSpec } from './neigh';
import type { Netns } from './netns';
import { LOOPBACK_IFINDEX } from './nl/constants';
import type { Request } from './nl/message';
import { checkRoute, defaultRoute, delRouteRequest, formatRoute, replaceRouteRequest, type Route, type RouteSpec } from './route';
import { withSession, type Reply, type Session } from './transport';
import { checkIfindex, checkIfname, checkMtu, parseMac } from './validate';

/** How an interface is set up in its namespace: rename, MAC, MTU, addresses, routes, up. */
export interface InterfaceConfig {
  addresses?: AddressSpec[];
  /** Bring the interface up. Default true. */
  up?: boolean;
  /** Bring `lo` of the namespace up too. Default false. */
  loopbackUp?: boolean;
  mtu?: number;
  mac?: string;
  /** IPv6 link-local address generation. Default false: the link stays quiet (no fe80::, no MLD/RS/DAD). */
  ipv6LinkLocal?: boolean;
  /** Default-route gateways, IPv4 and/or IPv6; each replaces the default route of its family. */
  defaultRoutes?: string[];
  /** Permanent neighbour entries (ARP/NDP) on this interface, created or replaced. */
  neighbors?: NeighborSpec[];
  routes?: RouteSpec[];
  /**
   * TX checksum offload (and with it TSO) on or off; default: left as it is. Off makes the kernel
   * fill in L4 checksums itself, for datapaths that forward packets without completing them.
   */
  txChecksum?: boolean;
}

/** Options of {@link configureInterface}: which interface, where, and its {@link InterfaceConfig}. */
export interface ConfigureOptions extends InterfaceConfig {
  netns: Netns;
  ifindex?: number;
  ifname?: string;
}

/** Validated configuration. */
export interface Plan {
  addresses: Address[];
  up: boolean;
  loopbackUp: boolean;
  mtu?: number;
  mac?: Buffer;
  ipv6LinkLocal: boolean;
  routes: Route[];
  neighbors: Neighbor[];
  txChecksum?: boolean;
}

export function checkConfig(c: InterfaceConfig): Plan {
  const plan: Plan = {
    addresses: (c.addresses ?? []).map(checkAddress),
    up: c.up ?? true,
    loopbackUp: c.loopbackUp ?? false,
    ipv6LinkLocal: c.ipv6LinkLocal ?? false,
    routes: [...(c.defaultRoutes ?? []).map(defaultRoute), ...(c.routes ?? []).map(checkRoute)],
    neighbors: (c.neighbors ?? []).map(checkNeighbor),
  };
  if (c.mtu !== undefined) plan.mtu = checkMtu(c.mtu);
  if (c.mac !== undefined) plan.mac = parseMac(c.mac);
  if (c.txChecksum !== undefined) {
    if (typeof c.txChecksum !== 'boolean') throw new NetlinkError('BAD_ARGUMENT', `txChecksum must be true or false, not ${String(c.txChecksum)}`, { detail: { value: c.txChecksum } });
    plan.txChecksum = c.txChecksum;
  }
  return plan;
}

/** One request of a batch: what it does (for messages), how to undo it, which refusals are fine. */
export interface Step {
  req: Request;
  action: string;
  undo?: Request;
  /** errnos that mean "already so" (EEXIST for an address): success, but nothing to undo. */
  tolerate?: number[];
  codes?: Partial<Record<number, ErrorCode>>;
}

/** The batch that configures link `index` (named `name` in messages). */
export function planSteps(index: number, name: string, p: Plan): Step[] {
  const steps: Step[] = [];
  if (p.loopbackUp) steps.push({ req: setLinkRequest({ index: LOOPBACK_IFINDEX, up: true }), action: 'bring up lo' });
  // Before up: no packet leaves with a checksum left for a device that will never fill it in.
  // EOPNOTSUPP: the device cannot offload checksums at all, which is what "off" asks for.
  if (p.txChecksum !== undefined)
    steps.push({ req: txChecksumRequest(index, p.txChecksum), action: `turn ${p.txChecksum ? 'on' : 'off'} TX checksum offload of ${name}`, tolerate: p.txChecksum ? [] : [EOPNOTSUPP] });
  steps.push({ req: setLinkRequest({ index, ipv6LinkLocal: p.ipv6LinkLocal }), action: `set the IPv6 address generation mode of ${name}` });
  if (p.mtu !== undefined || p.mac !== undefined)
    steps.push({ req: setLinkRequest({ index, mtu: p.mtu, mac: p.mac }), action: `set ${[p.mtu !== undefined ? `MTU ${p.mtu}` : '', p.mac ? 'MAC' : ''].filter(Boolean).join(' and ')} of ${name}` });
  for (const a of p.addresses)
    steps.push({ req: newAddrRequest(index, a), undo: delAddrRequest(index, a), tolerate: [EEXIST], action: `add address ${formatAddress(a)} to ${name}`, codes: { [EINVAL]: 'BAD_ADDRESS' } });
  if (p.up) steps.push({ req: setLinkRequest({ index, up: true }), action: `bring up ${name}` });
  for (const r of p.routes) steps.push({ req: replaceRouteRequest(index, r), undo: delRouteRequest(index, r), action: `set route ${formatRoute(r)} on ${name}`, codes: { [EINVAL]: 'BAD_ADDRESS' } });
  for (const n of p.neighbors) steps.push({ req: newNeighRequest(index, n), undo: delNeighRequest(index, n), action: `add neighbour ${formatNeighbor(n)} on ${name}`, codes: { [EINVAL]: 'BAD_ADDRESS' } });
  return steps;
}

export interface StepContext {
  netns: Netns;
  role?: string;
  ifname: string;
  side?: Side;
}

/** Index of the first step whose reply is a failure (not tolerated), or -1. */
export function firstFailure(steps: Step[], replies: Reply[]): number {
  return replies.findIndex((r, i) => !r.answered || (r.errno !== 0 && !steps[i].tolerate?.includes(r.errno)));
}

/** The undo requests of the steps that succeeded, newest first. */
export function undoOf(steps: Step[], replies: Reply[]): Request[] {
  return steps
    .map((st, i) => (st.undo && replies[i].answered && replies[i].errno === 0 ? st.undo : undefined))
    .filter((x): x is Request => !!x)
    .reverse();
}

/** Sends undo requests; returns what failed (for `detail.rollback`), never throws. */
export async function undo(s: Session, reqs: Request[]): Promise<unknown[]> {
  if (!reqs.length) return [];
  try {
    const done = await s.transact(reqs);
    return done.filter((u) => !u.answered || u.errno !== 0).map((u) => ({ op: u.request.type, errno: u.errno, extack: u.extack }));
  } catch (e) {
    return [{ error: (e as Error).message }];
  }
}

/**
 * Sends the steps as one batch. If one fails, undoes the steps that succeeded (newest first) and
 * throws the first failure's error; `detail.rollback` lists undo failures, if any.
 */
export async function runSteps(s: Session, steps: Step[], ctx: StepContext): Promise<void> {
  if (!steps.length) return;
  const replies = await s.transact(steps.map((x) => x.req));
  const failed = firstFailure(steps, replies);
  if (failed < 0) return;
  const err = stepError(steps[failed], replies[failed], ctx);
  const bad = await undo(s, undoOf(steps, replies));
  if (bad.length) (err.detail as Record<string, unknown>).rollback = bad;
  throw err;
}

export function stepError(step: Step, reply: Reply, ctx: StepContext): NetlinkError {
  return replyError(reply, { action: step.action, ifname: ctx.ifname, side: ctx.side, netns: ctx.netns, role: ctx.role, codes: step.codes });
}

/** Configures one interface inside a namespace, in one batch (plus a lookup if only a name is given). */
export async function configureInterface(o: ConfigureOptions): Promise<void> {
  if (!o || !o.netns) throw new NetlinkError('BAD_ARGUMENT', 'configureInterface needs the namespace it acts in (netns)');
  const plan = checkConfig(o);
  const byIndex = o.ifindex !== undefined ? checkIfindex(o.ifindex) : undefined;
  const byName = o.ifname !== undefined ? checkIfname(o.ifname) : undefined;
  if (byIndex === undefined && byName === undefined) throw new NetlinkError('BAD_ARGUMENT', 'configureInterface needs ifindex or ifname');
  await withSession(o.netns, async (s) => {
    let index = byIndex;
    if (index === undefined) {
      const link = await lookupLink(s, { name: byName });
      if (!link)
        throw new NetlinkError('NO_SUCH_LINK', `cannot configure ${byName}: there is no such interface in namespace ${o.netns.label}`, {
          detail: { errno: ENODEV, errnoName: 'ENODEV', op: 'RTM_GETLINK', ifname: byName, netns: o.netns.id },
        });
      index = link.index;
    }
    const name = byName ?? `#${index}`;
    await runSteps(s, planSteps(index, name, plan), { netns: o.netns, ifname: name });
  });
}
