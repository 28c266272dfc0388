// The seam between the slot model and how slots are realised on a switch.
//
// VSwitch (src/vswitch.ts) holds the model: the addressing plan, validation of requests, targets
// and the refusal of the wrong namespaces, the choice of a free slot, and the Slot objects users
// hold. A realisation claims a slot and makes it real, takes it out, says what exists and in
// what state, cleans up after crashes, and reports events. Today's realisation is a bridge of the
// local Open vSwitch (src/ovs/local-switch.ts: Port/Interface rows claimed in one transaction,
// veths or internal ports plumbed over rtnetlink). A slot spanning hosts through OVN (a
// Logical_Switch_Port per slot, bound by iface-id on the host's br-int) would be a second one,
// behind this same interface, without touching the first.

import type { AddressPlan } from './addressing';
import type { Netns } from './netlink/netns';
import type { PortType, SlotInfo, SlotTargetInfo } from './slot';

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

export type SlotEvent =
  | { type: 'attached'; slot: number; info: SlotInfo }
  | { type: 'detached'; slot: number; portName: string }
  | { type: 'up' | 'down'; slot: number; portName: string }
  | { type: 'error'; slot: number; portName: string; error: string };

export interface CleanupOptions {
  /** Also free slots whose container exists but is stopped. Default false. */
  stoppedContainers?: boolean;
}

export interface CleanupReport {
  /** Ports removed: ghosts (target gone), stale claims (owner dead), failed ports. */
  ports: { slot: number; portName: string; reason: 'target-gone' | 'link-gone' | 'stale-claim' | 'container-stopped' | 'port-error' | 'chassis-gone' }[];
  /** veths removed that had no port (a crashed attach). */
  links: string[];
  /** The gateway address on the bridge: 'repaired' after ovs-vswitchd recreated the bridge's device
   *  (a restart does), 'missing' when the device is not there (ovs-vswitchd down). */
  gateway: 'ok' | 'repaired' | 'missing';
}

export interface SwitchRealisation {
  readonly name: string;
  readonly plan: AddressPlan;
  readonly usermode: boolean;
  readonly mtu?: number;
  readonly uplink?: string;
  /** Path of the namespace where the switch's datapath runs, or undefined for the caller's. */
  readonly netns?: string;
  /** Link group of the switch's slot links. */
  readonly group: number;
  /** Throws NO_SUCH_VSWITCH when the switch is gone. */
  assertExists(): void;
  /** Slot numbers held now, in any state, including claims in flight in this process. */
  takenSlots(): number[];
  /** Whether `ns` is the switch's own namespace (slots must not be plugged there). */
  isOwnNamespace(ns: Netns): boolean;
  /** Claims slot n and makes it real for the request; SlotBusy when someone holds it. */
  claim(n: number, r: SlotRequest): Promise<SlotInfo>;
  /** Takes slot n out; NO_SUCH_SLOT when it is not attached. */
  release(n: number): Promise<void>;
  /** How slot n was attached, or undefined when it is not. */
  recordedOptions(n: number): RecordedOptions | undefined;
  slots(): Promise<SlotInfo[]>;
  slot(n: number): Promise<SlotInfo | undefined>;
  cleanup(o: CleanupOptions): Promise<CleanupReport>;
  events(): AsyncIterableIterator<SlotEvent>;
  destroy(): Promise<void>;
  toJSON(): Record<string, unknown>;
}
