// The seam between the slot model and how slots are realised on a switch.
//
// VSwitch (src/vswitch.ts) holds the model: the addressing plan, validation of requests, targets
// and the refusal of the wrong namespaces, the choice of a free slot, whether a slot's target is
// still there (liveness), what a slot's facts mean (src/slot-state.ts), and the Slot objects users
// hold. A realisation claims a slot and makes it real, takes it out, reports what exists with the
// FACTS it sees (never a verdict on the target: it knows no container runtime), cleans up after
// crashes, and reports events.
//
// Today's realisation is a bridge of the local Open vSwitch (src/ovs/: Port/Interface rows claimed
// in one transaction, veths or internal ports plumbed over rtnetlink). A second one (OVN: a
// Logical_Switch_Port per slot, bound by iface-id on the host's br-int) implements this same
// interface and is picked in src/switch-factory.ts (src/ovn/); the model tells the two apart only by
// the facts they report.
//
// Writing a realisation:
// - `spec` is fixed at open time; the model copies it to the VSwitch it hands out.
// - `claim` must be atomic per slot across processes (SlotBusy when someone else holds it) and
//   leave nothing behind when it fails.
// - `report`/`reports` return a SlotReport per slot: the SlotInfo without a verdict plus SlotFacts.
//   Fill in the facts you can see; leave the others undefined (the model then does not use them).
// - `cleanup` removes the slots the model judged dead (`remove`) plus the realisation's own
//   leftovers (claims whose owner died, links no slot uses), and repairs what it can.

import type { AddressPlan } from './addressing';
import type { Netns } from './netlink/netns';
import type { OvsdbClient } from './ovsdb/client';
import type { PortType, SlotInfo, SlotTargetInfo } from './slot';

// The slot data both sides speak (plain types, no behaviour): realisations import them from here.
export type { PortType, SlotInfo, SlotTargetInfo };

/** What a vswitch is: its name, plan and where it runs. One object, shared by model and realisation. */
export interface SwitchSpec {
  readonly name: string;
  readonly plan: AddressPlan;
  /** Userspace datapath (netdev) rather than the kernel's. */
  readonly usermode: boolean;
  readonly mtu?: number;
  readonly uplink?: string;
  /** Path of the namespace where the switch's datapath runs, or undefined for the caller's. */
  readonly netns?: string;
  /** Link group of the switch's slot links. */
  readonly group: number;
}

/** A validated attach request, its target resolved to an open namespace. */
export interface SlotRequest {
  target: { netns: Netns; info: SlotTargetInfo };
  portType: PortType;
  ifname: string;
  mtu: number | undefined;
  vlan: number | undefined;
  extra: Record<string, string>;
  dualNic: boolean;
  wait: boolean;
  timeoutMs: number;
}

/** The options a slot was attached with, as recorded by the realisation (for reattach). */
export interface RecordedOptions {
  portType: PortType;
  ifname: string;
  mtu?: number;
  vlan?: number;
  externalIds: Record<string, string>;
  dualNic: boolean;
}

/** A slot that cannot be had right now; with automatic selection, the next one is tried. */
export class SlotBusy extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

/**
 * What a realisation sees of one slot, without judging it. The model turns these (plus the
 * target's liveness, which only it can ask) into a SlotState: see slotState in src/slot-state.ts.
 */
export interface SlotFacts {
  portType: PortType;
  /** Claimed by an attach still in flight, or by one that crashed (SlotInfo.owner names it). */
  attaching: boolean;
  /** Whether the switch's datapath daemon (ovs-vswitchd) runs; undefined when it cannot be told. */
  switchDaemon?: 'running' | 'stopped';
  /** Why the switch could not add the port (OVS Interface.error), if it says. */
  portError?: string;
  /** The switch's port number: > 0 it has the port, -1 it failed, undefined not (yet) known. */
  ofport?: number;
  /** The port's link as the switch sees it (OVS Interface.link_state), if it says. */
  portLink?: 'up' | 'down';
  /** The slot's link on the switch's side (veth host end): present up/down, or absent. Undefined when the port type has none. */
  hostLink?: 'up' | 'down' | 'absent';
  /** An internal port's device is back in the switch's namespace instead of the target's (its daemon restarted and made it anew). */
  deviceInSwitch?: boolean;
  /**
   * The slot's interface inside the target: up (with carrier), down (no carrier, or admin down),
   * or absent. Filled in by the model, which alone can open a target (a container's namespace
   * needs the runtime); undefined when it did not look (veth slots: hostLink already says it).
   */
  targetLink?: 'up' | 'down' | 'absent';
  /** Whether the switch's controller installed the port's flows (OVN: ovn-installed); undefined where there is no such step. */
  installed?: boolean;
  /**
   * The slot is bound on another host: its target is not here to be asked about, so only these
   * say how it is. `chassisGone`: that host no longer exists in the cluster (undefined: not asked).
   */
  remote?: { host: string; up: boolean; chassisGone?: boolean };
}

/** A slot as a realisation reports it: everything but the verdict (`state`, `error`). */
export interface SlotReport {
  info: Omit<SlotInfo, 'state' | 'error'>;
  facts: SlotFacts;
  /** Identifies this incarnation of the slot, so that cleanup removes exactly what was judged. */
  id: string;
}

/** A change to a slot, as `vs.events()` yields it: attached, detached, up, down, or an error OVS reported on its port. */
export type SlotEvent =
  | { type: 'attached'; slot: number; info: SlotInfo }
  | { type: 'detached'; slot: number; portName: string }
  | { type: 'up' | 'down'; slot: number; portName: string }
  | { type: 'error'; slot: number; portName: string; error: string };

/** Options of `vs.cleanup()`. */
export interface CleanupOptions {
  /** Also free slots whose container exists but is stopped. Default false. */
  stoppedContainers?: boolean;
  /** Judge only the slots this accepts: the others are neither removed nor plugged back in. Default all. */
  only?: (slot: Pick<SlotInfo, 'index' | 'externalIds'>) => boolean;
}

/** Why cleanup removed a slot: its target is gone, its interface is gone, its claim's owner died, its container stopped (with `stoppedContainers`), OVS reports an error on its port, or (OVN) its chassis is gone. */
export type CleanupReason = 'target-gone' | 'link-gone' | 'stale-claim' | 'container-stopped' | 'port-error' | 'chassis-gone';

/** What the model asks a realisation's cleanup to do: remove the slots it judged dead, and plug
 *  slots whose target lives but lost its interface back in (the target opened by the model). */
export interface CleanupRequest {
  remove: { slot: number; id: string; reason: CleanupReason }[];
  replug?: { slot: number; id: string; target: Netns }[];
}

/** Something cleanup put right rather than removed. */
export interface Repair {
  /** gateway: the bridge's address; static-mac: MAC-table entries re-pinned; replugged: a slot's
   *  interface made again in its target (same MAC, addresses, routes); orphan-links: slot links
   *  of a bridge deleted behind ecdock's back. */
  what: 'gateway' | 'static-mac' | 'replugged' | 'orphan-links';
  slot?: number;
  portName?: string;
  detail?: string;
}

/** What `vs.cleanup()` removed and repaired. */
export interface CleanupReport {
  /** Ports removed: ghosts (target gone), stale claims (owner dead), failed ports. */
  ports: { slot: number; portName: string; reason: CleanupReason }[];
  /** veths removed that had no port (a crashed attach). */
  links: string[];
  /** The gateway address on the bridge: 'repaired' after ovs-vswitchd recreated the bridge's device
   *  (a restart does), 'missing' when the device is not there (ovs-vswitchd down). */
  gateway: 'ok' | 'repaired' | 'missing';
  /** What was repaired (the gateway too, when it was). */
  repaired: Repair[];
}

export interface SwitchRealisation {
  readonly spec: SwitchSpec;
  /** Throws NO_SUCH_VSWITCH when the switch is gone. */
  assertExists(): void;
  /** Slot numbers held now, in any state, including claims in flight in this process. */
  takenSlots(): number[];
  /** Whether `ns` is the switch's own namespace (slots must not be plugged there). */
  isOwnNamespace(ns: Netns): boolean;
  /** Claims slot n and makes it real for the request; SlotBusy when someone holds it. */
  claim(n: number, r: SlotRequest): Promise<SlotReport>;
  /** Takes slot n out; NO_SUCH_SLOT when it is not attached. With the target (opened by the model
   *  when it lives), the slot's interface is removed from it even if the switch side is dead. */
  release(n: number, o?: { target?: Netns }): Promise<void>;
  /** How slot n was attached, or undefined when it is not. */
  recordedOptions(n: number): RecordedOptions | undefined;
  /** Every slot, with its facts. */
  reports(): Promise<SlotReport[]>;
  report(n: number): Promise<SlotReport | undefined>;
  cleanup(r: CleanupRequest): Promise<CleanupReport>;
  events(): AsyncIterableIterator<SlotEvent>;
  /** FOREIGN_PORTS while the switch holds ports ecdock did not create, unless forced. */
  destroy(o?: { force?: boolean }): Promise<void>;
  toJSON(): Record<string, unknown>;
}

/** How a realisation is created, opened and listed: what src/switch-factory.ts hands the model. */
export interface RealisationKind {
  create(ovs: OvsdbClient, plan: AddressPlan, o: CreateSpec): Promise<SwitchRealisation>;
  open(ovs: OvsdbClient, name: string, o: OpenSpec): Promise<SwitchRealisation>;
  list(ovs: OvsdbClient, o: OpenSpec): Promise<SwitchRealisation[]>;
  /** Removes slot links whose switch no longer exists, in the given namespaces (undefined: the
   *  caller's); returns their names. */
  sweep?(ovs: OvsdbClient, o: { netns: (string | undefined)[] }): Promise<string[]>;
}

/** What create needs beyond the plan. */
export interface CreateSpec {
  usermode: boolean;
  uplink?: string;
  mtu?: number;
  netns?: string;
  timeoutMs?: number;
}

/** How to open an existing switch: where its datapath runs (overriding what it recorded). */
export interface OpenSpec {
  netns?: string;
  timeoutMs?: number;
}
