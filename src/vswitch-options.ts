// The options of VSwitch's verbs: what a caller may ask of a vswitch when creating or opening it,
// and of a slot when attaching it. Checked by src/vswitch.ts; re-exported from there.

import type { ContainerRuntime } from './runtime/container-runtime';
import type { PortType, SlotTarget } from './slot';
import type { RealisationChoice } from './switch-factory';

/** Options of {@link VSwitch.create}: the name and subnet, and how the bridge is made. */
export interface VSwitchCreateOptions {
  name: string;
  /** The gateway's address and the prefix length, e.g. `10.0.0.254/24`. */
  subnet: string;
  /** Userspace datapath (`datapath_type=netdev`) instead of the kernel's. Default false. */
  usermode?: boolean;
  /** Give slots IPv6 too: prefix + the slot's IPv4 address in the low 32 bits. */
  ipv6Prefix?: string;
  /** A host device to add to the bridge as its uplink (OpenFlow port 65261, as ecDock did). */
  uplink?: string;
  /** MTU of the bridge's interface and the default for slots. */
  mtu?: number;
  /** Network namespace (path) where this OVS's ovs-vswitchd runs. Default: the one the database records (Open_vSwitch external_ids:ecdock:netns, written by OvsSandbox), else the caller's. */
  netns?: string;
  /** How long to wait for ovs-vswitchd. Default 30 s. */
  timeoutMs?: number;
  runtime?: ContainerRuntime;
  /** Back the vswitch by an OVN logical switch instead of a local bridge. */
  ovn?: RealisationChoice['ovn'];
  /**
   * Create the vswitch even when its subnet overlaps an IPv4 address or route already in ovs-vswitchd's
   * namespace (otherwise SUBNET_IN_USE). Default false.
   */
  allowSubnetOverlap?: boolean;
}

/** Options of {@link VSwitch.open} and {@link VSwitch.list}. */
export interface VSwitchOpenOptions {
  /** Overrides the netns recorded at create. */
  netns?: string;
  timeoutMs?: number;
  runtime?: ContainerRuntime;
  ovn?: RealisationChoice['ovn'];
}

/** Options of `vs.attach`: the target, and how its slot's interface is made. */
export interface AttachOptions {
  /** Slot number; omitted: the lowest free one, claimed atomically. */
  slot?: number;
  target: SlotTarget;
  portType?: PortType;
  /** Interface name inside the target. Default eth0. */
  ifname?: string;
  /** MTU on both ends. Default: the vswitch's MTU, else the kernel's default. */
  mtu?: number;
  /** Access VLAN tag (0-4095) on the port. */
  vlan?: number;
  /** Extra external_ids on the Port and Interface (keys must not start with "ecdock:"). */
  externalIds?: Record<string, string>;
  /** A second NIC, eth1 (port <vswitch>-oNN, MAC 52:80 + the IPv4 bytes, no address), as ecDock's --dual-nic. */
  dualNic?: boolean;
  /** Return only when ovs-vswitchd has the port (ofport > 0). Default true. */
  wait?: boolean;
  timeoutMs?: number;
}

/** The part of the open options a realisation takes. */
export function openSpec(o: VSwitchOpenOptions): { netns?: string; timeoutMs?: number } {
  return { ...(o.netns !== undefined ? { netns: o.netns } : {}), ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) };
}
