// Routes: encoders for RTM_NEWROUTE / RTM_DELROUTE (main table) and the route dump.

import { NetlinkError } from '../errors';
import { dump } from './link';
import type { Netns } from './netns';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_PRIORITY,
  RTA_TABLE,
  RTM_DELROUTE,
  RTM_GETROUTE,
  RTM_NEWROUTE,
  RTN_UNICAST,
  RTPROT_BOOT,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
} from './nl/constants';
import { MessageBuilder, attrMap, attrU32, type NlMessage, type Request } from './nl/message';
import { withSession } from './transport';
import { formatIp, parseCidr, parseIp, type IpAddr } from './validate';

/** A route to add: destination (default route when omitted), gateway, device, metric. */
export interface RouteSpec {
  /** `10.1.0.0/16`, `2001:db8:1::/48`, a bare address (host route) or `default`. */
  dst: string;
  /** Next hop; without it the route is on-link through the interface. */
  gateway?: string;
}

/** A validated route, ready to encode. */
export interface Route {
  family: 4 | 6;
  dst?: IpAddr;
  dstLen: number;
  gateway?: IpAddr;
}

/** A route as rtnetlink reports it. */
export interface RouteInfo {
  family: 4 | 6;
  /** `default` or `addr/len`. */
  dst: string;
  gateway?: string;
  oif?: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  metric?: number;
}

export function checkRoute(r: RouteSpec): Route {
  if (!r || typeof r !== 'object') throw new NetlinkError('BAD_ADDRESS', 'a route must be { dst, gateway? }');
  const gateway = r.gateway === undefined ? undefined : parseIp(r.gateway, 'gateway');
  if (r.dst === 'default') {
    if (!gateway) throw new NetlinkError('BAD_ADDRESS', 'a default route needs a gateway');
    return { family: gateway.family, dstLen: 0, gateway };
  }
  const { addr, prefix } = parseCidr(r.dst, 'route destination');
  if (gateway && gateway.family !== addr.family) throw new NetlinkError('BAD_ADDRESS', `route ${r.dst}: gateway ${r.gateway} is of another address family`);
  return { family: addr.family, dst: addr, dstLen: prefix, gateway };
}

export function defaultRoute(gateway: string): Route {
  const gw = parseIp(gateway, 'default gateway');
  return { family: gw.family, dstLen: 0, gateway: gw };
}

export const formatRoute = (r: Route): string =>
  `${r.dstLen === 0 && !r.dst ? 'default' : `${formatIp(r.dst!.bytes)}/${r.dstLen}`}${r.gateway ? ` via ${formatIp(r.gateway.bytes)}` : ''}`;

function rtmsg(family: number, dstLen: number, scope: number, table = RT_TABLE_MAIN, protocol = RTPROT_BOOT, type = RTN_UNICAST): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(family, 0);
  b.writeUInt8(dstLen, 1);
  b.writeUInt8(table, 4);
  b.writeUInt8(protocol, 5);
  b.writeUInt8(scope, 6);
  b.writeUInt8(type, 7);
  return b;
}

/** RTM_NEWROUTE with NLM_F_CREATE|NLM_F_REPLACE: sets the route whatever was there before. */
export function replaceRouteRequest(oif: number, r: Route): Request {
  const fam = r.family === 4 ? AF_INET : AF_INET6;
  const b = new MessageBuilder(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, rtmsg(fam, r.dstLen, r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK));
  if (r.dst && r.dstLen > 0) b.attr(RTA_DST, 'RTA_DST', maskTo(r.dst.bytes, r.dstLen));
  if (r.gateway) b.attr(RTA_GATEWAY, 'RTA_GATEWAY', r.gateway.bytes);
  b.u32(RTA_OIF, 'RTA_OIF', oif);
  return b.finish();
}

export function delRouteRequest(oif: number, r: Route): Request {
  const fam = r.family === 4 ? AF_INET : AF_INET6;
  const b = new MessageBuilder(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, rtmsg(fam, r.dstLen, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, 0, 0));
  if (r.dst && r.dstLen > 0) b.attr(RTA_DST, 'RTA_DST', maskTo(r.dst.bytes, r.dstLen));
  if (r.gateway) b.attr(RTA_GATEWAY, 'RTA_GATEWAY', r.gateway.bytes);
  b.u32(RTA_OIF, 'RTA_OIF', oif);
  return b.finish();
}

/** The network part of an address (the kernel refuses host bits in a route's destination). */
export function maskTo(bytes: Buffer, len: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    out[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

export function dumpRoutesRequest(family = AF_UNSPEC): Request {
  return new MessageBuilder(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, rtmsg(family, 0, 0, 0, 0, 0)).finish();
}

export function decodeRoute(m: NlMessage): RouteInfo | undefined {
  if (m.type !== RTM_NEWROUTE || m.payload.length < 12) return undefined;
  const p = m.payload;
  const family = p[0] === AF_INET ? 4 : p[0] === AF_INET6 ? 6 : 0;
  if (!family) return undefined;
  const a = attrMap(p.subarray(12));
  const dst = a.get(RTA_DST);
  const gw = a.get(RTA_GATEWAY);
  const info: RouteInfo = {
    family,
    dst: dst ? `${formatIp(dst)}/${p[1]}` : p[1] === 0 ? 'default' : `?/${p[1]}`,
    table: attrU32(a.get(RTA_TABLE)) ?? p[4],
    protocol: p[5],
    scope: p[6],
    type: p[7],
  };
  if (gw) info.gateway = formatIp(gw);
  const oif = attrU32(a.get(RTA_OIF));
  if (oif !== undefined) info.oif = oif;
  const metric = attrU32(a.get(RTA_PRIORITY));
  if (metric !== undefined) info.metric = metric;
  return info;
}

/** Routes of the main table in a namespace (all tables with `table: 'all'`). */
export async function listRoutes(o: { netns?: Netns; family?: 4 | 6; table?: number | 'all' } = {}): Promise<RouteInfo[]> {
  const fam = o.family === 4 ? AF_INET : o.family === 6 ? AF_INET6 : AF_UNSPEC;
  const table = o.table ?? RT_TABLE_MAIN;
  return withSession(o.netns, (s) =>
    dump(
      s,
      () => dumpRoutesRequest(fam),
      (m) => {
        const r = decodeRoute(m);
        return r && (table === 'all' || r.table === table) ? r : undefined;
      },
      'list routes',
    ),
  );
}
