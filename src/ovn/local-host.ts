// What this host is to OVN, read from its Open vSwitch: its chassis name (system-id), the
// Southbound it reports to, its tunnel endpoint and encapsulation, and its integration bridge;
// and from the kernel, the MTU the encapsulation leaves to slots.

import { VSwitchError } from '../errors';
import { listAddresses } from '../netlink/addr';
import { getLink } from '../netlink/link';
import type { OvsdbClient } from '../ovsdb/client';
import { openSwitchNetns } from '../ovs/plumbing';

export interface OvnHostFacts {
  /** Chassis name: Open_vSwitch external_ids:system-id. */
  chassis: string;
  /** external_ids:ovn-remote, the Southbound ovn-controller reports to. */
  southbound: string;
  encapType: string;
  encapIp?: string;
  /** The integration bridge (external_ids:ovn-bridge, default br-int). */
  bridge: string;
}

/** Bytes the encapsulation adds on an IPv4 underlay: outer IP 20 + UDP 8 + header 8 + inner Ethernet 14, and OVN's Geneve option 8. */
const OVERHEAD: Record<string, number> = { geneve: 58, vxlan: 50, stt: 58 };
const IPV6_EXTRA = 20;
/** When the underlay device cannot be found: a 1500-byte underlay. */
export const FALLBACK_UNDERLAY_MTU = 1500;

export async function readHostFacts(local: OvsdbClient): Promise<OvnHostFacts> {
  const [res] = (await local.transact('Open_vSwitch', [{ op: 'select', table: 'Open_vSwitch', where: [], columns: ['external_ids'] }])) as { rows?: { external_ids?: unknown }[] }[];
  const raw = res?.rows?.[0]?.external_ids;
  const ids = new Map<string, string>(Array.isArray(raw) && raw[0] === 'map' ? (raw[1] as [string, string][]) : []);
  const chassis = ids.get('system-id');
  const southbound = ids.get('ovn-remote');
  if (!chassis || !southbound) {
    throw new VSwitchError(
      'OVN_HOST_NOT_CONFIGURED',
      `the Open vSwitch at ${local.url} is not an OVN host: it has no ${!chassis ? 'external_ids:system-id' : 'external_ids:ovn-remote'}; ` +
        `set system-id, ovn-remote, ovn-encap-type and ovn-encap-ip (ovs-vsctl set open_vswitch . external_ids:...) and run ovn-controller`,
      { detail: { externalIds: Object.fromEntries(ids) } },
    );
  }
  const encapIp = ids.get('ovn-encap-ip')?.split(',')[0];
  return { chassis, southbound, encapType: (ids.get('ovn-encap-type') ?? 'geneve').split(',')[0], ...(encapIp ? { encapIp } : {}), bridge: ids.get('ovn-bridge') ?? 'br-int' };
}

/**
 * The largest inner packet the tunnel carries: the MTU of the device holding the encap address in
 * the namespace of ovs-vswitchd, minus the encapsulation's overhead. Bigger packets are dropped
 * silently (no ICMP "fragmentation needed" comes back), so slots default to this.
 */
export async function encapMtu(facts: OvnHostFacts, netnsPath: string | undefined): Promise<{ mtu: number; underlay?: string; underlayMtu: number }> {
  const overhead = (OVERHEAD[facts.encapType] ?? OVERHEAD.geneve) + (facts.encapIp?.includes(':') ? IPV6_EXTRA : 0);
  const ns = openSwitchNetns(netnsPath);
  try {
    if (facts.encapIp) {
      const addr = (await listAddresses({ netns: ns })).find((a) => a.address === facts.encapIp);
      const link = addr && (await getLink({ netns: ns, index: addr.index }));
      if (link) return { mtu: link.mtu - overhead, underlay: link.name, underlayMtu: link.mtu };
    }
  } finally {
    ns.close();
  }
  return { mtu: FALLBACK_UNDERLAY_MTU - overhead, underlayMtu: FALLBACK_UNDERLAY_MTU };
}
