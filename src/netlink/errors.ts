// Turns a kernel refusal into a NetlinkError with a stable code and a sentence that names the
// interface and namespace at fault. The kernel's own words (extended ack) stay in `detail`.

import { EACCES, EADDRNOTAVAIL, EAFNOSUPPORT, EBUSY, EEXIST, EHOSTUNREACH, EINVAL, ENETUNREACH, ENODEV, ENOTCONN, EOPNOTSUPP, EPERM, ERANGE } from './nl/errno';
import { NetlinkError, type ErrorCode } from '../errors';
import type { Netns } from './netns';
import { MESSAGE_NAMES, RTM_GETROUTE, RTM_NEWADDR } from './nl/constants';
import { errnoName, type Reply } from './transport';

/** Which end of a veth pair an error is about. */
export type Side = 'host' | 'peer';

/** The `detail` of a {@link NetlinkError}: the errno, its name, and the rtnetlink message that failed. */
export interface NetlinkErrorDetail {
  errno: number;
  errnoName: string;
  /** The rtnetlink message that failed, e.g. RTM_NEWLINK. */
  op: string;
  extack?: string;
  attribute?: string;
  ifname?: string;
  side?: Side;
  netns?: string;
  [more: string]: unknown;
}

const REASONS: Record<number, string> = {
  [EPERM]: 'operation not permitted',
  [EACCES]: 'permission denied',
  [EBUSY]: 'device or resource busy',
  [EEXIST]: 'already exists',
  [ENODEV]: 'no such device',
  [EINVAL]: 'invalid argument',
  [ERANGE]: 'value out of range',
  [EOPNOTSUPP]: 'operation not supported',
  [EAFNOSUPPORT]: 'address family not supported',
  [EADDRNOTAVAIL]: 'address not available',
  [ENETUNREACH]: 'network is unreachable',
  [ENOTCONN]: 'the other end of the veth is not set up',
  [EHOSTUNREACH]: 'no route to host',
};

/** "the vswitch namespace (/var/run/netns/x)" or "the caller's namespace". */
export function where(netns: Netns | undefined, role?: string): string {
  if (!netns) return role ? `the ${role} namespace (the caller's)` : "the caller's namespace";
  return role ? `the ${role} namespace (${netns.label})` : `namespace ${netns.label}`;
}

export interface FailureContext {
  /** What we were doing, as in "cannot <action>": `create veth ovs0-s01`, `add address 10.0.0.1/24 to eth0`. */
  action: string;
  ifname?: string;
  side?: Side;
  netns?: Netns;
  /** The namespace's role in the sentence: "host-end", "target", "vswitch". */
  role?: string;
  /** Per-errno code overrides, e.g. EEXIST on an address is not LINK_EXISTS. */
  codes?: Partial<Record<number, ErrorCode>>;
  /** Per-errno sentence overrides. */
  reasons?: Partial<Record<number, string>>;
  extra?: Record<string, unknown>;
}

function codeFor(errno: number, attribute: string | undefined, op: number, extack = ''): ErrorCode {
  const attr = attribute?.split('/').pop() ?? '';
  const isAddrOrRoute = op >= RTM_NEWADDR && op <= RTM_GETROUTE;
  switch (errno) {
    case EEXIST:
      return isAddrOrRoute ? 'NETLINK_ERROR' : 'LINK_EXISTS';
    case ENODEV:
      return 'NO_SUCH_LINK';
    case ERANGE:
      return attr.endsWith('IFNAME') ? 'BAD_IFNAME' : attr === 'IFLA_MTU' ? 'BAD_MTU' : 'NETLINK_ERROR';
    case EINVAL:
      if (attr.endsWith('IFNAME')) return 'BAD_IFNAME';
      if (attr === 'IFLA_MTU') return 'BAD_MTU';
      if (attr === 'IFLA_ADDRESS') return 'BAD_MAC';
      if (attr.startsWith('IFA_') || attr.startsWith('RTA_')) return 'BAD_ADDRESS';
      // Some refusals carry a message but no offset ("mtu greater than device maximum").
      if (/\bmtu\b/i.test(extack)) return 'BAD_MTU';
      return 'NETLINK_ERROR';
    case EADDRNOTAVAIL:
      return isAddrOrRoute ? 'BAD_ADDRESS' : 'BAD_MAC';
    case ENETUNREACH:
    case EHOSTUNREACH:
      return 'BAD_ADDRESS';
    case EPERM:
    case EACCES:
      return 'PERMISSION_DENIED';
    default:
      return 'NETLINK_ERROR';
  }
}

/** The NetlinkError for a failed reply. */
export function replyError(reply: Reply, ctx: FailureContext): NetlinkError {
  const errno = reply.answered ? reply.errno : 0;
  const op = MESSAGE_NAMES[reply.request.type] ?? `type ${reply.request.type}`;
  if (!reply.answered)
    return new NetlinkError('NETLINK_PROTOCOL', `cannot ${ctx.action}: the kernel did not answer ${op}`, {
      detail: { errno: 0, errnoName: '', op, ifname: ctx.ifname, side: ctx.side, netns: ctx.netns?.id, ...ctx.extra } satisfies NetlinkErrorDetail,
    });
  const code = ctx.codes?.[errno] ?? codeFor(errno, reply.attribute, reply.request.type, reply.extack);
  let reason = ctx.reasons?.[errno];
  if (!reason) {
    const base = REASONS[errno] ?? errnoName(errno);
    reason = `${base} (${errnoName(errno)}${reply.extack ? `: "${reply.extack}"` : ''}${reply.attribute ? `, at ${reply.attribute}` : ''})`;
    if (ctx.netns !== undefined || ctx.role) reason += ` in ${where(ctx.netns, ctx.role)}`;
  }
  const detail: NetlinkErrorDetail = { errno, errnoName: errnoName(errno), op };
  if (reply.extack) detail.extack = reply.extack;
  if (reply.attribute) detail.attribute = reply.attribute;
  if (ctx.ifname) detail.ifname = ctx.ifname;
  if (ctx.side) detail.side = ctx.side;
  if (ctx.netns) detail.netns = ctx.netns.id;
  Object.assign(detail, ctx.extra);
  return new NetlinkError(code, `cannot ${ctx.action}: ${reason}`, { detail });
}

/** Throws the first failed reply's error. */
export function check(replies: Reply[], ctx: (r: Reply, i: number) => FailureContext): void {
  replies.forEach((r, i) => {
    if (!r.answered || r.errno !== 0) throw replyError(r, ctx(r, i));
  });
}
