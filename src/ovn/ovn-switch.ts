// The OVN realisation of slots: a vswitch is a Logical_Switch of the OVN Northbound, seen from one
// host (its Open vSwitch and chassis). The plan lives in the switch's external_ids; slot N is the
// Logical_Switch_Port <vswitch>-sNN, claimed cluster-wide by the one Northbound transaction that
// inserts it, and bound on the host where its target runs by a veth on that host's br-int.
//
// The attach and detach steps, with their crash ordering, are src/ovn/attach.ts; this file holds the
// vswitch's lifecycle (create, open, list, destroy) and hands each slot verb to the module that owns it.
// Nothing is kept in files; any process on any host can open the vswitch.

import { randomUUID } from 'node:crypto';
import type { AddressPlan } from '../addressing';
import { slotFromPortName } from '../addressing';
import { UsageError, VSwitchError } from '../errors';
import type { Netns } from '../netlink/netns';
import type { OvsdbClient } from '../ovsdb/client';
import { OvsdbTransactionError } from '../ovsdb/results';
import { deleteSwitchLinks, openSwitchNetns, reapLinks } from '../ovs/plumbing';
import { SwitchDb } from '../ovs/switch-db';
import {
  SlotBusy,
  type CleanupReport,
  type CleanupRequest,
  type CreateSpec,
  type OpenSpec,
  type RealisationKind,
  type RecordedOptions,
  type SlotEvent,
  type SlotReport,
  type SlotRequest,
  type SwitchRealisation,
  type SwitchSpec,
} from '../realisation';
import { attachSlot, releasePorts, unbind } from './attach';
import { integrationBridge, removeBridgePorts } from './binding';
import { encapMtu, readHostFacts, type OvnHostFacts } from './local-host';
import { OK, createSwitchOps, isOurSwitch, newGroup, planOf } from './logical-ops';
import { NbDb, wrapNb, type DbRef, type LogicalSwitchRow } from './nb-db';
import { SlotReader } from './slot-reader';
import { slotEvents } from './slot-events';

/** Where the OVN databases are. */
export interface OvnOptions {
  /** Northbound URL (comma-separated for a cluster), or a client the caller owns. */
  northbound: DbRef;
  /** Southbound; default: what this host's ovn-controller uses (external_ids:ovn-remote). */
  southbound?: DbRef;
}

export interface OvnSwitchOptions {
  /** Network namespace of this host's ovs-vswitchd (where br-int and the slots' host ends live). */
  netns?: string;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** The OVN realisation for the switch factory: vswitches of the Northbound `ovn` names, seen from this host. */
export function ovnSwitches(ovn: OvnOptions): RealisationKind {
  return {
    create: (local: OvsdbClient, plan: AddressPlan, o: CreateSpec) => {
      if (o.uplink !== undefined) throw new UsageError('BAD_ARGUMENT', "an OVN vswitch takes no uplink: the host's integration bridge and tunnels are OVN's");
      return OvnSwitch.create(local, plan, ovn, o);
    },
    open: (local: OvsdbClient, name: string, o: OpenSpec) => OvnSwitch.open(local, name, ovn, o),
    list: (local: OvsdbClient, o: OpenSpec) => OvnSwitch.list(local, ovn, o),
  };
}

export class OvnSwitch implements SwitchRealisation {
  readonly spec: SwitchSpec;
  readonly name: string;
  readonly plan: AddressPlan;
  readonly mtu: number;
  readonly netns?: string;
  readonly group: number;
  /** How the MTU was found: recorded in the plan, or the underlay's minus the encapsulation. */
  readonly mtuSource: string;
  readonly local: OvsdbClient;
  readonly facts: OvnHostFacts;
  // Read by the attach steps (src/ovn/attach.ts OvnScope); the class is internal to the realisation.
  readonly db: SwitchDb;
  readonly nb: NbDb;
  readonly sbRef: DbRef;
  readonly lsUuid: string;
  readonly reader: SlotReader;
  private readonly inflight = new Set<number>();

  private constructor(p: { local: OvsdbClient; db: SwitchDb; nb: NbDb; facts: OvnHostFacts; ls: LogicalSwitchRow; sbRef: DbRef; mtu: number; mtuSource: string; o: OvnSwitchOptions }) {
    const { plan, group } = planOf(p.ls);
    this.name = p.ls.name;
    this.plan = plan;
    this.group = group;
    this.local = p.local;
    this.db = p.db;
    this.nb = p.nb;
    this.facts = p.facts;
    this.sbRef = p.sbRef;
    this.lsUuid = p.ls._uuid;
    this.mtu = p.mtu;
    this.mtuSource = p.mtuSource;
    if (p.o.netns) this.netns = p.o.netns;
    const usermode = p.db.bridge(p.facts.bridge)?.datapath_type === 'netdev';
    this.spec = { name: this.name, plan, usermode, mtu: this.mtu, group, ...(this.netns ? { netns: this.netns } : {}) };
    this.reader = new SlotReader({ name: this.name, plan, group, netns: this.netns, chassis: p.facts.chassis, bridge: p.facts.bridge, db: p.db, nb: p.nb, sbRef: p.sbRef, inflight: this.inflight });
  }

  // ---- vswitches ---------------------------------------------------------------------------

  /** Everything about this host and the Northbound, read before anything is written. */
  private static async connect(local: OvsdbClient, ovn: OvnOptions, netns: string | undefined) {
    const nb = await NbDb.for(ovn.northbound);
    const facts = await readHostFacts(local);
    const db = await SwitchDb.for(local);
    integrationBridge(db, facts.bridge);
    openSwitchNetns(netns).close();
    return { nb, facts, db, sbRef: ovn.southbound ?? facts.southbound };
  }

  private static async make(local: OvsdbClient, c: Awaited<ReturnType<typeof OvnSwitch.connect>>, ls: LogicalSwitchRow, o: OvnSwitchOptions): Promise<OvnSwitch> {
    const recorded = planOf(ls).mtu;
    let mtu: number;
    let mtuSource: string;
    if (recorded !== undefined) {
      mtu = recorded;
      mtuSource = 'recorded in the plan';
    } else {
      const m = await encapMtu(c.facts, o.netns);
      mtu = m.mtu;
      mtuSource = m.underlay ? `${m.underlay} (MTU ${m.underlayMtu}, holds the encap IP ${c.facts.encapIp}) minus ${c.facts.encapType} overhead` : `an assumed ${m.underlayMtu}-byte underlay minus ${c.facts.encapType} overhead`;
    }
    return new OvnSwitch({ local, ...c, ls, mtu, mtuSource, o });
  }

  private static adopt(ls: LogicalSwitchRow): void {
    if (!isOurSwitch(ls)) throw new VSwitchError('NOT_OURS', `logical switch ${ls.name} exists in the OVN Northbound but was not created by ecdock; it is left alone`, { detail: { name: ls.name } });
  }

  /**
   * Creates the logical switch with its plan and gateway, or does nothing if it exists with the
   * same plan. A different plan is VSWITCH_PLAN_MISMATCH; a switch ecdock did not make, NOT_OURS.
   */
  static async create(local: OvsdbClient, plan: AddressPlan, ovn: OvnOptions, o: OvnSwitchOptions & { mtu?: number }): Promise<OvnSwitch> {
    const c = await OvnSwitch.connect(local, ovn, o.netns);
    const existing = c.nb.switchByName(plan.vswitch);
    const check = (ls: LogicalSwitchRow) => {
      OvnSwitch.adopt(ls);
      const have = planOf(ls);
      if (!have.plan.equals(plan) || (o.mtu !== undefined && have.mtu !== o.mtu)) {
        throw new VSwitchError(
          'VSWITCH_PLAN_MISMATCH',
          `vswitch ${plan.vswitch} already exists in the OVN Northbound with ${have.plan.cidr}${have.plan.ipv6Prefix ? ` and ${have.plan.ipv6Prefix}` : ''}${have.mtu ? ` (MTU ${have.mtu})` : ''}; delete it first or open it as it is`,
          { detail: { existing: have.plan.toJSON(), requested: plan.toJSON() } },
        );
      }
      return ls;
    };
    if (existing) return OvnSwitch.make(local, c, check(existing), o);
    const uuids = { ls: randomUUID(), lr: randomUUID(), lrp: randomUUID(), lsp: randomUUID() };
    try {
      await c.nb.transact(createSwitchOps(c.nb.o, plan, newGroup(), o.mtu, uuids));
    } catch (e) {
      if (e instanceof OvsdbTransactionError && e.opIndex === 0) {
        // Created by someone else just now: theirs decides.
        const ls = await c.nb.mon.waitFor(() => c.nb.switchByName(plan.vswitch), o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
        return OvnSwitch.make(local, c, check(ls), o);
      }
      if (e instanceof OvsdbTransactionError && e.tag === 'constraint violation') {
        throw new VSwitchError('VSWITCH_EXISTS', `a logical router port or switch port named ${plan.vswitch}-gw already exists in the OVN Northbound`, { cause: e });
      }
      throw wrapNb(e, `cannot create vswitch ${plan.vswitch}`);
    }
    const ls = await c.nb.mon.waitFor(() => c.nb.switchByUuid(uuids.ls), o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    return OvnSwitch.make(local, c, ls, o);
  }

  /** Opens a vswitch of the Northbound. NO_SUCH_VSWITCH if missing, NOT_OURS for a switch ecdock did not create. */
  static async open(local: OvsdbClient, name: string, ovn: OvnOptions, o: OvnSwitchOptions): Promise<OvnSwitch> {
    const c = await OvnSwitch.connect(local, ovn, o.netns);
    const ls = c.nb.switchByName(name);
    if (!ls) throw new VSwitchError('NO_SUCH_VSWITCH', `there is no vswitch named ${name} in the OVN Northbound; create it first (ec create-vswitch --ovn-nb, or VSwitch.create with ovn)`, { detail: { name } });
    OvnSwitch.adopt(ls);
    return OvnSwitch.make(local, c, ls, o);
  }

  /** Every vswitch ecdock made in the Northbound. */
  static async list(local: OvsdbClient, ovn: OvnOptions, o: OvnSwitchOptions): Promise<OvnSwitch[]> {
    const c = await OvnSwitch.connect(local, ovn, o.netns);
    const all = [...c.nb.mon.rows('Logical_Switch').values()].filter(isOurSwitch).sort((a, b) => a.name.localeCompare(b.name));
    return Promise.all(all.map((ls) => OvnSwitch.make(local, c, ls, o)));
  }

  lsRow(): LogicalSwitchRow {
    const ls = this.nb.switchByUuid(this.lsUuid);
    if (!ls) throw new VSwitchError('NO_SUCH_VSWITCH', `vswitch ${this.name} no longer exists in the OVN Northbound`, { detail: { name: this.name } });
    return ls;
  }

  assertExists(): void {
    this.lsRow();
  }

  /** Deletes the vswitch: this host's slot links and br-int ports, then the logical switch and router (their ports go with them). */
  async destroy(): Promise<void> {
    const ls = this.lsRow();
    const ns = openSwitchNetns(this.netns);
    try {
      await deleteSwitchLinks(ns, this.group);
    } finally {
      ns.close();
    }
    await removeBridgePorts(this.db, this.facts.bridge, this.reader.ourBridgePorts());
    const x = this.nb.o;
    await this.nb.transact([
      x.delete('Logical_Switch', [['_uuid', '==', ls._uuid]]),
      x.delete('Logical_Router', [
        ['name', '==', this.name],
        ['external_ids', 'includes', new Map([[OK.vswitch, this.name]])],
      ]),
    ]);
  }

  // ---- slots -------------------------------------------------------------------------------

  isOwnNamespace(ns: Netns): boolean {
    const sw = openSwitchNetns(this.netns);
    try {
      return ns.isSameAs(sw);
    } finally {
      sw.close();
    }
  }

  takenSlots(): number[] {
    const out = [...this.inflight];
    for (const p of this.nb.portsOf(this.lsRow())) {
      const n = slotFromPortName(this.name, p.name);
      if (n !== undefined) out.push(n);
    }
    return out;
  }

  recordedOptions(n: number): RecordedOptions | undefined {
    const p = this.reader.slotPort(n);
    if (!p) return undefined;
    const externalIds: Record<string, string> = {};
    for (const [k, v] of p.external_ids) if (!k.startsWith('ecdock:')) externalIds[k] = v;
    const mtu = p.external_ids.get(OK.mtu);
    return { portType: 'veth', ifname: p.external_ids.get(OK.ifname) ?? 'eth0', ...(mtu ? { mtu: Number(mtu) } : {}), externalIds, dualNic: false };
  }

  async claim(n: number, r: SlotRequest): Promise<SlotReport> {
    if (r.portType !== 'veth') throw new UsageError('BAD_ARGUMENT', `an OVN vswitch plugs slots with veths only (portType "${r.portType}" is not supported)`);
    if (r.dualNic) throw new UsageError('BAD_ARGUMENT', 'an OVN vswitch has no second NIC (dualNic) per slot');
    if (r.vlan !== undefined) throw new UsageError('BAD_VLAN', 'an OVN vswitch has no access VLANs: each vswitch is its own logical switch');
    if (this.inflight.has(n)) throw new SlotBusy('this process is attaching it right now');
    this.inflight.add(n);
    try {
      return await attachSlot(this, n, r);
    } finally {
      this.inflight.delete(n);
    }
  }

  /** Removes a slot bound on this host. NO_SUCH_SLOT if it is not attached; SLOT_ON_OTHER_HOST if another host holds it. */
  async release(n: number): Promise<void> {
    this.plan.checkSlot(n);
    const p = this.reader.slotPort(n);
    if (!p) throw new VSwitchError('NO_SUCH_SLOT', `slot ${n} of ${this.name} is not attached`, { detail: { slot: n } });
    const host = p.external_ids.get(OK.host);
    if (host !== this.facts.chassis) {
      throw new VSwitchError('SLOT_ON_OTHER_HOST', `slot ${n} of ${this.name} is bound on ${host ?? 'another host'}, not on ${this.facts.chassis}; detach it there (or run cleanup from any host once that host is gone)`, {
        detail: { slot: n, host, here: this.facts.chassis },
      });
    }
    await unbind(this, n);
  }

  reports(): Promise<SlotReport[]> {
    return this.reader.reports();
  }

  report(n: number): Promise<SlotReport | undefined> {
    return this.reader.slotReport(n);
  }

  async cleanup(r: CleanupRequest): Promise<CleanupReport> {
    const plan = await this.reader.cleanupPlan(r);
    await reapLinks(this.netns, this.group, plan.links);
    await removeBridgePorts(this.db, this.facts.bridge, plan.bridgePorts);
    await releasePorts(this, plan.logicalPorts);
    return plan.report;
  }

  events(): AsyncIterableIterator<SlotEvent> {
    return slotEvents(this.nb, this.name, (n, p) => ({ ...this.reader.describe(n, p), state: p.up ? 'up' : 'down' }));
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      subnet: this.plan.subnet,
      gateway: this.plan.gateway,
      ...(this.plan.ipv6Prefix ? { ipv6Prefix: this.plan.ipv6Prefix } : {}),
      usermode: this.spec.usermode,
      mtu: this.mtu,
      ...(this.netns ? { netns: this.netns } : {}),
      ovn: { northbound: this.nb.client.url, chassis: this.facts.chassis },
    };
  }
}

