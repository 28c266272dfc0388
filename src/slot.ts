// A slot as users see it: its fixed addresses, what it is plugged into, and its state. The data is
// the slot model; how the slot is realised on a switch (an OVS port with a veth, an OVS internal
// port, later an OVN logical port) stays behind the VSwitch.

import type { SlotAddress } from './addressing';

/** Where a slot's container side goes. */
export type SlotTarget = { pid: number } | { netns: string } | { container: string };

/** How a slot's interface is made: `veth` (a veth pair, one end on the bridge) or `internal` (an OVS internal port moved into the target). */
export type PortType = 'veth' | 'internal';

/**
 * - `up`: ovs-vswitchd runs and has the port (ofport > 0, link up), and the slot's interface is
 *   in the target with carrier (veth: the host end is up, which needs its peer up)
 * - `down`: something between the switch and the target is not working; `reason` says what
 *   (ovs-vswitchd not running, container stopped or restarted, link down, no carrier after an
 *   ovs-vswitchd restart: `cleanup` re-plugs it)
 * - `ghost`: the target (namespace or container) is gone; `cleanup` removes it
 * - `attaching`: claimed by an attach still in flight (or by one that crashed: see `owner`)
 * - `error`: ovs-vswitchd could not add the port (see `error`)
 * src/slot-state.ts derives the state from the facts, in that order.
 */
export type SlotState = 'up' | 'down' | 'ghost' | 'attaching' | 'error';

/** What a slot is plugged into, as recorded when it was attached. */
export interface SlotTargetInfo {
  kind: 'pid' | 'netns' | 'container';
  /** pid, netns path, or container id. */
  ref: string;
  /** Container name, when the target is a container. */
  name?: string;
  /** Identity of the network namespace (`<dev>:<ino>`) at attach time. */
  netnsId: string;
}

/**
 * Everything known about a slot: its addresses (from the plan), the port and interface in OVS, the
 * target it is plugged into, and its state with the reason when it is not up.
 */
export interface SlotInfo extends SlotAddress {
  vswitch: string;
  index: number;
  portType: PortType;
  /** Interface name inside the target (eth0). */
  ifname: string;
  vlan?: number;
  mtu?: number;
  ofport?: number;
  state: SlotState;
  /** Why the port failed (Interface.error), when state is `error`. */
  error?: string;
  /** Why the slot is not up, in words, when state is `down`, `ghost` or `error`. */
  reason?: string;
  /** Something that works but not as planned, e.g. the slot did not get OpenFlow port N because
   *  a port ecdock did not create holds it. */
  warning?: string;
  target?: SlotTargetInfo;
  /** The second NIC (eth1), when the slot was attached with dualNic. */
  nic2?: { portName: string; ifname: string; mac: string; ofport?: number };
  /** Owner of an in-flight claim (`attaching`): boot/pid/starttime. */
  owner?: string;
  externalIds: Record<string, string>;
  /** OVN vswitches: the chassis (host) the slot is bound on. */
  host?: string;
}

/** What a {@link Slot} needs from the vswitch it came from (its `detach`). */
export interface SlotHandle {
  /** Detaches slot `index` from the vswitch. */
  detach(index: number): Promise<void>;
}

/**
 * One numbered slot of a vswitch as it was when read: its addresses, port, target and state (a
 * snapshot: read it again with `vs.slot(n)` to see changes). Returned by `vs.attach`, `vs.slot` and `vs.slots`.
 *
 * @example
 * ```ts
 * for (const s of await vs.slots()) console.log(s.index, s.ipv4, s.mac, s.state);
 * ```
 */
export class Slot {
  readonly vswitch: string;
  readonly index: number;
  readonly mac: string;
  readonly ipv4: string;
  readonly prefixLength: number;
  readonly ipv6?: string;
  readonly gateway: string;
  readonly portName: string;
  readonly portType: PortType;
  readonly ifname: string;
  readonly ofport?: number;
  readonly vlan?: number;
  readonly state: SlotState;
  readonly target?: SlotTargetInfo;
  /** OVN vswitches: the chassis (host) the slot is bound on. */
  readonly host?: string;
  readonly info: SlotInfo;
  readonly #owner: SlotHandle;

  constructor(owner: SlotHandle, info: SlotInfo) {
    this.#owner = owner;
    this.info = info;
    this.vswitch = info.vswitch;
    this.index = info.index;
    this.mac = info.mac;
    this.ipv4 = info.ipv4;
    this.prefixLength = info.prefixLength;
    if (info.ipv6 !== undefined) this.ipv6 = info.ipv6;
    this.gateway = info.gateway;
    this.portName = info.portName;
    this.portType = info.portType;
    this.ifname = info.ifname;
    if (info.ofport !== undefined) this.ofport = info.ofport;
    if (info.vlan !== undefined) this.vlan = info.vlan;
    this.state = info.state;
    if (info.target) this.target = info.target;
    if (info.host !== undefined) this.host = info.host;
  }

  /** Removes this slot from its vswitch (same as `vs.detach(slot.index)`). */
  detach(): Promise<void> {
    return this.#owner.detach(this.index);
  }

  /** The slot as its {@link SlotInfo}, the shape `ec list --json` prints. */
  toJSON(): SlotInfo {
    return this.info;
  }
}
