// The local realisation of slots: a bridge of this host's Open vSwitch. The plan lives in the
// bridge's external_ids; each slot is a Port and Interface (claimed in one transaction, the port
// name being unique) plus a veth pair or an OVS internal port plumbed over rtnetlink. All state is
// in OVSDB; nothing is kept in files, so any process can open a vswitch another one created.
//
// This file is the dispatch: each verb of the SwitchRealisation interface goes to the file that
// owns that concept, all working through one SwitchScope (switch-scope.ts):
//   bridge.ts     create, open, list, destroy the bridge
//   attach.ts     claim and plumb a slot, detach it (with the crash ordering)
//   reconcile.ts  the facts of every slot; cleanup
//   repair.ts     what a restarted ovs-vswitchd forgot: gateway, static MACs, internal slots
//   events.ts     slot events from the OVSDB monitor
//   slot-rows.ts  pure: a slot's rows, ids, claim transaction, description, facts
// It imports nothing from the model (src/vswitch.ts) or the container runtime: whether a target
// is alive is the model's question.

import type { AddressPlan } from '../addressing';
import type { Netns } from '../netlink/netns';
import type { OvsdbClient } from '../ovsdb/client';
import type {
  CleanupReport,
  CleanupRequest,
  CreateSpec,
  OpenSpec,
  RealisationKind,
  RecordedOptions,
  SlotEvent,
  SlotReport,
  SlotRequest,
  SwitchRealisation,
  SwitchSpec,
} from '../realisation';
import { nic2PortName, slotFromPortName } from '../addressing';
import { attachSlot, releaseSlot } from './attach';
import { createBridge, destroyBridge, listBridges, openBridge } from './bridge';
import { slotEvents } from './events';
import { cleanup, slotReport, slotReports, sweepOrphans } from './reconcile';
import { recordedOptions } from './slot-rows';
import type { SwitchScope } from './switch-scope';

export class LocalSwitch implements SwitchRealisation {
  readonly spec: SwitchSpec;
  private readonly vs: SwitchScope;

  private constructor(vs: SwitchScope) {
    this.vs = vs;
    this.spec = vs.spec;
  }

  static async create(ovs: OvsdbClient, plan: AddressPlan, o: CreateSpec): Promise<LocalSwitch> {
    return new LocalSwitch(await createBridge(ovs, plan, o));
  }

  /** Opens an existing vswitch. NO_SUCH_VSWITCH if missing, NOT_OURS for a bridge ecdock did not create. */
  static async open(ovs: OvsdbClient, name: string, o: OpenSpec): Promise<LocalSwitch> {
    return new LocalSwitch(await openBridge(ovs, name, o));
  }

  /** Every vswitch ecdock manages on this OVS. */
  static async list(ovs: OvsdbClient, o: OpenSpec): Promise<LocalSwitch[]> {
    return (await listBridges(ovs, o)).map((vs) => new LocalSwitch(vs));
  }

  destroy(o: { force?: boolean } = {}): Promise<void> {
    return destroyBridge(this.vs, o);
  }

  assertExists(): void {
    this.vs.bridgeRow();
  }

  isOwnNamespace(ns: Netns): boolean {
    const sw = this.vs.openNetns();
    try {
      return ns.isSameAs(sw);
    } finally {
      sw.close();
    }
  }

  recordedOptions(n: number): RecordedOptions | undefined {
    const port = this.vs.slotPort(n);
    if (!port) return undefined;
    return recordedOptions({ port, iface: this.vs.db.ifaceOf(port) }, this.vs.db.port(nic2PortName(this.spec.name, n)) !== undefined);
  }

  /** Slot numbers held by ports on this bridge (any state), and those this process is claiming. */
  takenSlots(): number[] {
    const out: number[] = [...this.vs.inflight];
    for (const p of this.vs.db.portsOf(this.vs.bridgeRow())) {
      const n = slotFromPortName(this.spec.name, p.name);
      if (n !== undefined) out.push(n);
    }
    return out;
  }

  claim(n: number, r: SlotRequest): Promise<SlotReport> {
    return attachSlot(this.vs, n, r);
  }

  release(n: number, o: { target?: Netns } = {}): Promise<void> {
    return releaseSlot(this.vs, n, o);
  }

  reports(): Promise<SlotReport[]> {
    return slotReports(this.vs);
  }

  report(n: number): Promise<SlotReport | undefined> {
    return slotReport(this.vs, n);
  }

  cleanup(r: CleanupRequest): Promise<CleanupReport> {
    return cleanup(this.vs, r);
  }

  events(): AsyncIterableIterator<SlotEvent> {
    return slotEvents(this.vs);
  }

  toJSON(): Record<string, unknown> {
    const s = this.spec;
    return {
      name: s.name,
      subnet: s.plan.subnet,
      gateway: s.plan.gateway,
      ...(s.plan.ipv6Prefix ? { ipv6Prefix: s.plan.ipv6Prefix } : {}),
      usermode: s.usermode,
      ...(s.mtu !== undefined ? { mtu: s.mtu } : {}),
      ...(s.uplink ? { uplink: s.uplink } : {}),
      ...(s.netns ? { netns: s.netns } : {}),
    };
  }
}

/** The local realisation as the factory hands it out (src/switch-factory.ts). */
export const localSwitches: RealisationKind = {
  create: (ovs, plan, o) => LocalSwitch.create(ovs, plan, o),
  open: (ovs, name, o) => LocalSwitch.open(ovs, name, o),
  list: (ovs, o) => LocalSwitch.list(ovs, o),
  sweep: (ovs, o) => sweepOrphans(ovs, o.netns),
};
