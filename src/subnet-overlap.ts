// A new vswitch's subnet must not overlap an IPv4 address or route already in the namespace where
// its gateway will live: slot N's address could be a host's own (a host veth 10.126.0.1/24 and a
// vswitch on 10.126.0.254/24 would give slot 1 the host's address), and the kernel would route the
// subnet two ways. The vswitch's own bridge device is left out, so that creating it again with the
// same plan stays a no-op.

import type { AddressPlan } from './addressing';
import { VSwitchError } from './errors';
import { listAddresses } from './netlink/addr';
import { getLink } from './netlink/link';
import { Netns } from './netlink/netns';
import { listRoutes } from './netlink/route';

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, b) => acc * 256 + Number(b), 0);
}

/** [first, last] address of a prefix, as integers. */
function range(address: string, prefixLength: number): [number, number] {
  const size = 2 ** (32 - prefixLength);
  const first = v4ToInt(address) - (v4ToInt(address) % size);
  return [first, first + size - 1];
}

/** Do two IPv4 prefixes share an address? (One then contains the other.) */
export function prefixesOverlap(a: string, aLen: number, b: string, bLen: number): boolean {
  const [a0, a1] = range(a, aLen);
  const [b0, b1] = range(b, bLen);
  return a0 <= b1 && b0 <= a1;
}

/**
 * Throws SUBNET_IN_USE when `plan`'s subnet overlaps an IPv4 address (any device) or a route of the
 * main table (default routes aside) in `netnsPath` (default: this process's namespace), except
 * those of the device named `bridge`.
 */
export async function checkSubnetUnused(plan: AddressPlan, bridge: string, netnsPath: string | undefined): Promise<void> {
  const netns = netnsPath ? Netns.open({ path: netnsPath }) : Netns.current();
  try {
    // Addresses and routes first, the bridge's own device after: a concurrent create of this very
    // vswitch (another process) may make the device and its gateway address in between, and then
    // the device is found and its entries are excluded.
    const addresses = await listAddresses({ netns });
    const routes = await listRoutes({ netns, family: 4 });
    const own = (await getLink({ netns, name: bridge }))?.index;
    const where = netnsPath ?? "this process's network namespace";
    for (const a of addresses) {
      if (a.family !== 4 || a.index === own) continue;
      if (prefixesOverlap(plan.network, plan.prefixLength, a.address, a.prefixLength)) {
        throw new VSwitchError(
          'SUBNET_IN_USE',
          `${plan.subnet} overlaps ${a.address}/${a.prefixLength}, an address already in ${where}; pick another subnet, or override with --force (library: allowSubnetOverlap)`,
          { detail: { subnet: plan.subnet, address: `${a.address}/${a.prefixLength}`, ifindex: a.index, netns: netnsPath ?? null } },
        );
      }
    }
    for (const r of routes) {
      if (r.dst === 'default' || (r.oif !== undefined && r.oif === own)) continue;
      const [dst, len] = r.dst.split('/');
      if (!dst || Number(len) === 0) continue;
      if (prefixesOverlap(plan.network, plan.prefixLength, dst, Number(len))) {
        throw new VSwitchError(
          'SUBNET_IN_USE',
          `${plan.subnet} overlaps the route to ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} in ${where}; pick another subnet, or override with --force (library: allowSubnetOverlap)`,
          { detail: { subnet: plan.subnet, route: r.dst, netns: netnsPath ?? null } },
        );
      }
    }
  } finally {
    netns.close();
  }
}
