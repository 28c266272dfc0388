// Input checks done before anything is sent: the kernel's answers to bad names, MACs, MTUs and
// addresses are terse or silent (EINVAL without a message), so we say what is wrong ourselves.

import { isIPv4, isIPv6 } from 'node:net';
import { NetlinkError } from '../errors';
import { IFNAMSIZ } from './nl/constants';

export const MIN_MTU = 68; // ETH_MIN_MTU: veth refuses less
export const MAX_MTU = 65535; // ETH_MAX_MTU

/** Throws BAD_IFNAME unless the kernel's dev_valid_name() would accept `name`. */
export function checkIfname(name: unknown, what = 'interface name'): string {
  if (typeof name !== 'string' || name.length === 0) throw new NetlinkError('BAD_IFNAME', `${what} must be a non-empty string`, { detail: { ifname: name } });
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > IFNAMSIZ - 1)
    throw new NetlinkError('BAD_IFNAME', `${what} ${JSON.stringify(name)} is ${bytes} bytes long; Linux allows at most ${IFNAMSIZ - 1}`, {
      detail: { ifname: name },
    });
  if (name === '.' || name === '..') throw new NetlinkError('BAD_IFNAME', `${what} may not be "." or ".."`, { detail: { ifname: name } });
  const bad = /[/:\s\0]/.exec(name);
  if (bad)
    throw new NetlinkError('BAD_IFNAME', `${what} ${JSON.stringify(name)} contains ${JSON.stringify(bad[0])}; Linux refuses "/", ":", NUL and whitespace`, {
      detail: { ifname: name },
    });
  return name;
}

/** Parses a unicast MAC (`52:00:0a:00:00:01`, `-` also accepted) into 6 bytes; BAD_MAC otherwise. */
export function parseMac(mac: unknown, what = 'MAC address'): Buffer {
  const m = typeof mac === 'string' ? /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(mac) : null;
  if (!m) throw new NetlinkError('BAD_MAC', `${what} ${JSON.stringify(mac)} is not of the form aa:bb:cc:dd:ee:ff`, { detail: { mac } });
  const b = Buffer.from(m.slice(1).map((h) => parseInt(h, 16)));
  if (b[0] & 1) throw new NetlinkError('BAD_MAC', `${what} ${m[0]} is a multicast address; an interface needs a unicast one`, { detail: { mac } });
  if (b.every((x) => x === 0)) throw new NetlinkError('BAD_MAC', `${what} ${m[0]} is all zeros`, { detail: { mac } });
  return b;
}

export function formatMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The one MTU check (links, vswitches, slots): an integer from 68 to 65535, else BAD_MTU. */
export function checkMtu(mtu: unknown, what = 'MTU'): number {
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU)
    throw new NetlinkError('BAD_MTU', `${what} ${String(mtu)} is out of range; it must be an integer from ${MIN_MTU} to ${MAX_MTU}`, { detail: { mtu } });
  return mtu;
}

/** checkMtu for an MTU that may be left out: undefined stays undefined (the default applies). */
export function checkOptionalMtu(mtu: unknown, what = 'MTU'): number | undefined {
  return mtu === undefined ? undefined : checkMtu(mtu, what);
}

export function checkU32(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw new NetlinkError('BAD_ARGUMENT', `${what} ${String(v)} must be an integer from 0 to 4294967295`, { detail: { value: v } });
  return v;
}

export function checkIfindex(v: unknown, what = 'interface index'): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0x7fffffff)
    throw new NetlinkError('BAD_ARGUMENT', `${what} ${String(v)} must be a positive integer`, { detail: { index: v } });
  return v;
}

// ---- IP addresses ---------------------------------------------------------------------------

export interface IpAddr {
  family: 4 | 6;
  bytes: Buffer;
}

/** Parses an IPv4 or IPv6 address (no zone, no prefix) into network-order bytes; BAD_ADDRESS otherwise. */
export function parseIp(s: unknown, what = 'address'): IpAddr {
  if (typeof s === 'string' && isIPv4(s)) return { family: 4, bytes: Buffer.from(s.split('.').map(Number)) };
  if (typeof s === 'string' && isIPv6(s) && !s.includes('%')) {
    let head = s;
    let v4: number[] = [];
    const lastColon = s.lastIndexOf(':');
    if (s.slice(lastColon + 1).includes('.')) {
      v4 = s.slice(lastColon + 1).split('.').map(Number);
      head = s.slice(0, lastColon + 1) + '0:0'; // placeholder groups, overwritten below
    }
    const [l, r] = head.includes('::') ? head.split('::') : [head, undefined];
    const left = l ? l.split(':') : [];
    const right = r ? r.split(':') : [];
    const groups = r === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
    const bytes = Buffer.alloc(16);
    groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
    if (v4.length) Buffer.from(v4).copy(bytes, 12);
    return { family: 6, bytes };
  }
  throw new NetlinkError('BAD_ADDRESS', `${what} ${JSON.stringify(s)} is not an IPv4 or IPv6 address`, { detail: { address: s } });
}

/** Formats network-order bytes: dotted quad, or RFC 5952 IPv6 (longest zero run compressed). */
export function formatIp(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length !== 16) return b.toString('hex');
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

export function checkPrefix(family: 4 | 6, prefix: unknown, what = 'prefix length'): number {
  const max = family === 4 ? 32 : 128;
  if (typeof prefix !== 'number' || !Number.isInteger(prefix) || prefix < 0 || prefix > max)
    throw new NetlinkError('BAD_ADDRESS', `${what} ${String(prefix)} must be an integer from 0 to ${max} for IPv${family}`, { detail: { prefixLength: prefix } });
  return prefix;
}

/** The IPv4 directed broadcast `addr | ~mask`; undefined for /31 and /32, which have none. */
export function ipv4Broadcast(addr: Buffer, prefix: number): Buffer | undefined {
  if (prefix >= 31) return undefined;
  const a = addr.readUInt32BE(0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const out = Buffer.alloc(4);
  out.writeUInt32BE((a | ~mask) >>> 0, 0);
  return out;
}

/** Parses `10.1.0.0/16`, `2001:db8::/64`, or a bare address (host route). */
export function parseCidr(s: unknown, what = 'destination'): { addr: IpAddr; prefix: number } {
  if (typeof s !== 'string') throw new NetlinkError('BAD_ADDRESS', `${what} ${JSON.stringify(s)} is not an address or CIDR`, { detail: { dst: s } });
  const slash = s.indexOf('/');
  const addr = parseIp(slash < 0 ? s : s.slice(0, slash), what);
  const max = addr.family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) throw new NetlinkError('BAD_ADDRESS', `${what} ${s} has a bad prefix length`, { detail: { dst: s } });
  return { addr, prefix: checkPrefix(addr.family, Number(prefixText), `${what} ${s} prefix length`) };
}
