// The ADD result for a slot, in the shape of the config's cniVersion (pure). 1.0.0 and 1.1.0
// share a shape; 0.3.x and 0.4.0 add "version" to each IP and keep an empty dns.

import type { SlotInfo } from '../slot';

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

export interface CniResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: { address: string; gateway?: string; interface?: number; version?: '4' | '6' }[];
  routes: { dst: string; gw?: string }[];
  dns: Record<string, unknown>;
}

/** The result for a slot plugged into `netns` as `ifname`. The host end (with its MAC, when known) is listed for veth slots. */
export function slotResult(cniVersion: string, slot: SlotInfo, netns: string, hostMac?: string): CniResult {
  const interfaces: CniInterface[] = [];
  if (slot.portType === 'veth') interfaces.push({ name: slot.portName, ...(hostMac ? { mac: hostMac } : {}) });
  interfaces.push({ name: slot.ifname, mac: slot.mac, sandbox: netns });
  const container = interfaces.length - 1;
  const ips: CniResult['ips'] = [{ address: `${slot.ipv4}/${slot.prefixLength}`, gateway: slot.gateway, interface: container }];
  const routes: CniResult['routes'] = [{ dst: '0.0.0.0/0', gw: slot.gateway }];
  if (slot.ipv6 !== undefined && slot.ipv6PrefixLength !== undefined) {
    ips.push({ address: `${slot.ipv6}/${slot.ipv6PrefixLength}`, ...(slot.gateway6 ? { gateway: slot.gateway6 } : {}), interface: container });
    if (slot.gateway6) routes.push({ dst: '::/0', gw: slot.gateway6 });
  }
  return convertResult({ cniVersion: '1.0.0', interfaces, ips, routes, dns: {} }, cniVersion);
}

/** Rewrites a 1.0.0-shaped result for another supported version. */
export function convertResult(r: CniResult, cniVersion: string): CniResult {
  if (cniVersion.startsWith('1.')) return { ...r, cniVersion };
  return {
    ...r,
    cniVersion,
    ips: r.ips.map((ip) => ({ version: ip.address.includes(':') ? '6' : '4', ...ip })),
  };
}

/** The IPv4 addresses (without prefix) a prevResult names, for CHECK. */
export function prevResultAddresses(prev: Record<string, unknown> | undefined): string[] {
  const ips = prev?.ips;
  if (!Array.isArray(ips)) return [];
  return ips
    .map((x) => (x as { address?: unknown }).address)
    .filter((a): a is string => typeof a === 'string')
    .map((a) => a.split('/')[0])
    .filter((a) => a !== '');
}
