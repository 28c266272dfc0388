// Neighbour (ARP / NDP) entries. ecdock's addressing is deterministic (slot N's MAC follows from
// its IPv4 address), so a slot and its gateway can know each other without asking: permanent
// entries on both sides keep their traffic free of ARP and ND broadcasts, which a userspace
// datapath would otherwise flood to every port of a big vswitch.

import { ENODEV } from './nl/errno';
import { AF_INET, AF_INET6, NDA_DST, NDA_LLADDR, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, NUD_PERMANENT, RTM_DELNEIGH, RTM_NEWNEIGH } from './nl/constants';
import { NetlinkError } from '../errors';
import { check, where } from './errors';
import { lookupLink } from './link';
import type { Netns } from './netns';
import { MessageBuilder, type Request } from './nl/message';
import { withSession } from './transport';
import { checkIfname, formatIp, parseIp, parseMac, type IpAddr } from './validate';

/** A static neighbour (ARP/NDP) entry: IP address and MAC on an interface. */
export interface NeighborSpec {
  /** IPv4 or IPv6 address of the neighbour. */
  address: string;
  mac: string;
}

/** A validated neighbour entry, ready to encode. */
export interface Neighbor {
  addr: IpAddr;
  mac: Buffer;
}

export function checkNeighbor(n: NeighborSpec): Neighbor {
  return { addr: parseIp(n.address, 'neighbour address'), mac: parseMac(n.mac, `MAC of neighbour ${n.address}`) };
}

export const formatNeighbor = (n: Neighbor): string => `${formatIp(n.addr.bytes)} lladdr ${[...n.mac].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;

/** struct ndmsg (12 bytes). */
function ndmsg(family: number, index: number, state: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(family, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt16LE(state, 8);
  return b;
}

/** RTM_NEWNEIGH: a permanent entry, created or replaced. */
export function newNeighRequest(index: number, n: Neighbor): Request {
  const b = new MessageBuilder(RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, ndmsg(n.addr.family === 4 ? AF_INET : AF_INET6, index, NUD_PERMANENT));
  b.attr(NDA_DST, 'NDA_DST', n.addr.bytes);
  b.attr(NDA_LLADDR, 'NDA_LLADDR', n.mac);
  return b.finish();
}

export function delNeighRequest(index: number, n: Neighbor): Request {
  const b = new MessageBuilder(RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK, ndmsg(n.addr.family === 4 ? AF_INET : AF_INET6, index, 0));
  b.attr(NDA_DST, 'NDA_DST', n.addr.bytes);
  return b.finish();
}

/** Adds (or replaces) permanent neighbour entries on one interface, in one batch. */
export async function setNeighbors(o: { netns?: Netns; ifname?: string; ifindex?: number; neighbors: NeighborSpec[] }): Promise<void> {
  const list = o.neighbors.map(checkNeighbor);
  if (!list.length) return;
  await withSession(o.netns, async (s) => {
    let index = o.ifindex;
    if (index === undefined) {
      const name = checkIfname(o.ifname, 'interface name');
      const link = await lookupLink(s, { name });
      if (!link)
        throw new NetlinkError('NO_SUCH_LINK', `cannot add neighbour entries on ${name}: there is no such interface in ${where(o.netns)}`, {
          detail: { errno: ENODEV, errnoName: 'ENODEV', op: 'RTM_GETLINK', ifname: name },
        });
      index = link.index;
    }
    const replies = await s.transact(list.map((n) => newNeighRequest(index!, n)));
    check(replies, (_r, i) => ({ action: `add neighbour ${formatNeighbor(list[i])}`, ifname: o.ifname, netns: o.netns }));
  });
}
