// A vswitch is a switch plus its addressing plan; a slot is one numbered place on it with a fixed
// MAC and IP, plugged into a network namespace or a container. This file is the slot model: it
// validates requests, resolves targets and refuses the wrong namespaces, picks free slots, and
// hands out Slot objects. It also owns what a slot's state means: a realisation reports facts
// (src/realisation.ts SlotFacts), the model asks whether the target is still there (src/targets.ts)
// and decides (src/slot-state.ts), both through src/slot-judge.ts. How a slot is made real (a
// bridge of the local Open vSwitch, src/ovs/, or an OVN logical switch, src/ovn/) sits behind the
// SwitchRealisation interface, picked in src/switch-factory.ts. The verbs' options are
// src/vswitch-options.ts.

import { AddressPlan, NIC2, checkVswitchName, type SlotAddress } from './addressing';
import { UsageError, VSwitchError } from './errors';
import { checkIfname, checkOptionalMtu } from './netlink/validate';
import type { OvsdbClient } from './ovsdb/client';
import {
  SlotBusy,
  type CleanupOptions,
  type CleanupReport,
  type CleanupRequest,
  type SlotEvent,
  type SlotRequest,
  type SwitchRealisation,
  type SwitchSpec,
} from './realisation';
import type { ContainerRuntime } from './runtime/container-runtime';
import { Slot, type SlotTarget } from './slot';
import { judgeAttached, look } from './slot-judge';
import { checkExternalIds, checkPortType, checkVlan } from './request-checks';
import { realisationFor } from './switch-factory';
import { checkTarget, dockerRuntime, openRecordedTarget, resolveTarget, type ResolvedTarget } from './targets';
import type { Netns } from './netlink/netns';
import { checkSubnetUnused } from './subnet-overlap';
import { explainMissingBridge, recordedVswitchdNetns } from './vswitchd-netns';
import { openSpec, type AttachOptions, type VSwitchCreateOptions, type VSwitchOpenOptions } from './vswitch-options';

export type { CleanupOptions, CleanupReport, SlotEvent } from './realisation';
export type { AttachOptions, VSwitchCreateOptions, VSwitchOpenOptions } from './vswitch-options';

/**
 * ovs-docker's keys on a container's slot (`external_ids:container_id` and `container_iface`), so
 * that its lookups and scripts written for it find the port. With a second NIC both ports would
 * carry the same container_iface, so it is left out there. Keys the caller gave win.
 */
function withContainerIds(extra: Record<string, string>, target: ResolvedTarget, ifname: string, dualNic: boolean): Record<string, string> {
  if (target.info.kind !== 'container') return extra;
  return { container_id: target.info.name || target.info.ref, ...(dualNic ? {} : { container_iface: ifname }), ...extra };
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** How many busy slots automatic selection steps over before it gives up. */
const AUTO_SLOT_ATTEMPTS = 256;


/**
 * A vswitch: an Open vSwitch bridge (or, with `ovn`, an OVN logical switch) whose internal port
 * carries the gateway address, and the address plan of its numbered slots (slot N: network + N,
 * MAC 52:00 + the IPv4 bytes). Everything is recorded in OVSDB, so any process can open a vswitch
 * another created. Make one with {@link VSwitch.create}, find one with {@link VSwitch.open}.
 *
 * @example
 * ```ts
 * const vs = await VSwitch.create(ovs, { name: 'ovs0', subnet: '10.0.0.254/24', usermode: true });
 * const slot = await vs.attach({ target: { container: 'web' } });   // or { netns: path } or { pid }
 * console.log(slot.ipv4);   // 10.0.0.1
 * await vs.detach(slot.index);
 * ```
 */
export class VSwitch {
  readonly ovs: OvsdbClient;
  /** The switch's name, plan and where it runs, as its realisation recorded them. */
  readonly spec: SwitchSpec;
  /** The addressing plan (the spec's; a field, not a getter, so that its assertion methods narrow). */
  readonly plan: AddressPlan;
  private readonly sw: SwitchRealisation;
  private readonly timeoutMs: number;
  private readonly runtimeOpt?: ContainerRuntime;

  private constructor(ovs: OvsdbClient, sw: SwitchRealisation, o: { timeoutMs?: number; runtime?: ContainerRuntime }) {
    this.ovs = ovs;
    this.sw = sw;
    this.spec = sw.spec;
    this.plan = sw.spec.plan;
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (o.runtime) this.runtimeOpt = o.runtime;
  }

  get name(): string {
    return this.spec.name;
  }
  get usermode(): boolean {
    return this.spec.usermode;
  }
  get mtu(): number | undefined {
    return this.spec.mtu;
  }
  get uplink(): string | undefined {
    return this.spec.uplink;
  }
  /** Path of the namespace where ovs-vswitchd runs, or undefined for the caller's. */
  get netns(): string | undefined {
    return this.spec.netns;
  }
  /** Link group of this vswitch's slot links. */
  get group(): number {
    return this.spec.group;
  }

  private readonly runtime = (): ContainerRuntime => this.runtimeOpt ?? dockerRuntime();

  // ---- vswitches ---------------------------------------------------------------------------

  /**
   * Creates the vswitch with its plan, or does nothing if it exists with the same plan (repairing
   * the gateway address if a crash left it out). A different plan is VSWITCH_PLAN_MISMATCH; a
   * bridge ecdock did not make is NOT_OURS; a subnet overlapping another vswitch's in the same
   * namespace is SUBNET_IN_USE; no kernel datapath is KERNEL_DATAPATH_UNAVAILABLE.
   */
  static async create(ovs: OvsdbClient, o: VSwitchCreateOptions): Promise<VSwitch> {
    if (!o || typeof o !== 'object') throw new UsageError('BAD_ARGUMENT', 'VSwitch.create needs { name, subnet }');
    checkVswitchName(o.name);
    const plan = AddressPlan.parse(o.name, o.subnet, o.ipv6Prefix);
    const mtu = checkOptionalMtu(o.mtu);
    if (o.uplink !== undefined) checkIfname(o.uplink, 'uplink device');
    const netns = o.netns ?? (await recordedVswitchdNetns(ovs));
    // A local bridge puts its gateway in that namespace (an OVN switch answers from a logical router).
    if (!o.allowSubnetOverlap && !o.ovn) await checkSubnetUnused(plan, o.name, netns);
    let sw: Awaited<ReturnType<ReturnType<typeof realisationFor>['create']>>;
    try {
      sw = await realisationFor(o).create(ovs, plan, {
        usermode: !!o.usermode,
        ...(o.uplink !== undefined ? { uplink: o.uplink } : {}),
        ...(mtu !== undefined ? { mtu } : {}),
        ...(netns !== undefined ? { netns } : {}),
        ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      });
    } catch (e) {
      throw explainMissingBridge(e, o.name, netns);
    }
    return new VSwitch(ovs, sw, o);
  }

  /** Opens an existing vswitch. NO_SUCH_VSWITCH if missing, NOT_OURS for a bridge ecdock did not create. */
  static async open(ovs: OvsdbClient, name: string, o: VSwitchOpenOptions = {}): Promise<VSwitch> {
    checkVswitchName(name);
    return new VSwitch(ovs, await realisationFor(o).open(ovs, name, openSpec(o)), o);
  }

  /** Every vswitch ecdock manages on this OVS. */
  static async list(ovs: OvsdbClient, o: VSwitchOpenOptions = {}): Promise<VSwitch[]> {
    return (await realisationFor(o).list(ovs, openSpec(o))).map((sw) => new VSwitch(ovs, sw, o));
  }

  /**
   * Deletes the vswitch and every slot on it. FOREIGN_PORTS, changing nothing, while its bridge
   * holds ports ecdock did not create (they would go with it), unless `{ force: true }`.
   */
  destroy(o: { force?: boolean } = {}): Promise<void> {
    return this.sw.destroy({ force: !!o?.force });
  }

  /**
   * Removes slot links left by vswitches that are gone (their bridge deleted behind ecdock's back,
   * e.g. `ovs-vsctl del-br`), in the given namespaces (default: the caller's and those of every
   * vswitch on this OVS). Returns the names of the links removed.
   */
  static async cleanupOrphans(ovs: OvsdbClient, o: VSwitchOpenOptions & { namespaces?: (string | undefined)[] } = {}): Promise<string[]> {
    const kind = realisationFor(o);
    if (!kind.sweep) return [];
    const namespaces = o.namespaces ?? [undefined, ...(await kind.list(ovs, openSpec(o))).map((sw) => sw.spec.netns)];
    return kind.sweep(ovs, { netns: namespaces });
  }

  // ---- addressing --------------------------------------------------------------------------

  /** Slot N's addresses and port name (pure). */
  addressOf(n: number): SlotAddress {
    return this.plan.addressOf(n);
  }

  // ---- slots -------------------------------------------------------------------------------

  /** Resolves a target and refuses this process's own namespace and the vswitch's. The caller closes it. */
  private async openTarget(t: SlotTarget, what: string): Promise<ResolvedTarget> {
    const target = await resolveTarget(t, this.runtime);
    const own = target.netns.isCurrent();
    if (own || this.sw.isOwnNamespace(target.netns)) {
      target.netns.close();
      throw new VSwitchError(
        'HOST_NETNS_REFUSED',
        `refusing to plug ${what} into ${own ? "this process's own" : "the vswitch's own"} network namespace (${target.netns.label}); give a container's or another namespace`,
        { detail: { target: t } },
      );
    }
    return target;
  }

  /**
   * Plugs a target (network namespace path, pid, or container) into a slot: the given one, or the
   * lowest free one, claimed atomically. Its interface gets the slot's MAC and addresses and a
   * default route via the gateway. SLOT_TAKEN, NO_FREE_SLOT, HOST_NETNS_REFUSED, ... on failure,
   * with nothing left behind.
   */
  async attach(o: AttachOptions): Promise<Slot> {
    if (!o || typeof o !== 'object') throw new UsageError('BAD_ARGUMENT', 'attach needs { target }');
    checkTarget(o.target);
    const portType = checkPortType(o.portType);
    const ifname = o.ifname === undefined ? 'eth0' : checkIfname(o.ifname, 'interface name');
    const mtu = checkOptionalMtu(o.mtu) ?? this.mtu;
    const vlan = checkVlan(o.vlan);
    const extra = checkExternalIds(o.externalIds);
    const dualNic = !!o.dualNic;
    if (dualNic && ifname === NIC2.ifname) throw new UsageError('BAD_IFNAME', 'with dualNic the second NIC is eth1: give the first NIC another name than eth1');
    if (o.slot !== undefined) this.plan.checkSlot(o.slot);
    this.sw.assertExists();

    const target = await this.openTarget(o.target, 'a slot');
    try {
      const req: SlotRequest = { target, portType, ifname, mtu, vlan, extra: withContainerIds(extra, target, ifname, dualNic), dualNic, wait: o.wait ?? true, timeoutMs: o.timeoutMs ?? this.timeoutMs };
      if (o.slot !== undefined) {
        try {
          return new Slot(this, judgeAttached(await this.sw.claim(o.slot, req)));
        } catch (e) {
          if (e instanceof SlotBusy) throw new VSwitchError('SLOT_TAKEN', `slot ${o.slot} of ${this.name} is taken: ${e.why}`, { detail: { slot: o.slot } });
          throw e;
        }
      }
      const tried = new Set<number>();
      for (let attempt = 0; attempt < AUTO_SLOT_ATTEMPTS; attempt++) {
        const n = this.plan.lowestFree(new Set([...this.sw.takenSlots(), ...tried]));
        if (n === undefined) break;
        try {
          return new Slot(this, judgeAttached(await this.sw.claim(n, req)));
        } catch (e) {
          if (!(e instanceof SlotBusy)) throw e;
          tried.add(n);
        }
      }
      throw new VSwitchError('NO_FREE_SLOT', `vswitch ${this.name} has no free slot (${this.plan.capacity} slots in ${this.plan.subnet})`);
    } finally {
      target.netns.close();
    }
  }

  /**
   * Plugs an attached slot into a new target (a restarted container's new namespace), keeping
   * the options it was attached with: port type, interface name, VLAN, MTU, second NIC, extra ids.
   */
  async reattach(n: number, o: { target: SlotTarget; wait?: boolean; timeoutMs?: number }): Promise<Slot> {
    this.plan.checkSlot(n);
    checkTarget(o.target);
    const rec = this.sw.recordedOptions(n);
    if (!rec) throw new VSwitchError('NO_SUCH_SLOT', `slot ${n} of ${this.name} is not attached`, { detail: { slot: n } });
    // A target that cannot be plugged into must leave the slot as it was: check it before detaching.
    (await this.openTarget(o.target, `slot ${n}`)).netns.close();
    await this.release(n);
    return this.attach({
      slot: n,
      target: o.target,
      ...rec,
      ...(o.wait !== undefined ? { wait: o.wait } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    });
  }

  /** Removes a slot, and its interface from its target, whatever state the switch is in. NO_SUCH_SLOT if it is not attached. */
  detach(n: number): Promise<void> {
    this.plan.checkSlot(n);
    return this.release(n);
  }

  /**
   * An internal port's device can outlive its port in the target (ovs-vswitchd stopped, or
   * restarted and holding a new device), so its target is opened, when it lives, and handed to the
   * realisation to remove it there. A veth's peer dies with its host end: nothing to open.
   */
  private async release(n: number): Promise<void> {
    const rec = this.sw.recordedOptions(n);
    let target: Netns | undefined;
    if (rec?.portType === 'internal') {
      const t = (await this.sw.report(n))?.info.target;
      if (t) target = await openRecordedTarget(t, this.runtime);
    }
    try {
      await this.sw.release(n, target ? { target } : {});
    } finally {
      target?.close();
    }
  }

  /** Every slot with its state, joined from OVSDB, the kernel and the targets. */
  async slots(): Promise<Slot[]> {
    const reports = await this.sw.reports();
    return (await Promise.all(reports.map((r) => look(r, this.runtime)))).map((x) => new Slot(this, x.info));
  }

  /** Slot `n` with its state, or undefined when nothing is attached there. */
  async slot(n: number): Promise<Slot | undefined> {
    this.plan.checkSlot(n);
    const r = await this.sw.report(n);
    return r && new Slot(this, (await look(r, this.runtime)).info);
  }

  /**
   * Removes what crashed or vanished work left behind, and only ecdock's own: slots whose target
   * is gone, claims whose owner died, links no slot uses (also those of a bridge deleted behind
   * ecdock's back); and puts back what a restarted ovs-vswitchd forgot or remade: the gateway
   * address, static MAC entries, internal-port slots (plugged into their target again). The report
   * says what was removed and what was repaired.
   */
  async cleanup(o: CleanupOptions = {}): Promise<CleanupReport> {
    const reports = await this.sw.reports();
    const remove: CleanupRequest['remove'] = [];
    const replug: NonNullable<CleanupRequest['replug']> = [];
    try {
      await Promise.all(
        reports.map(async (r) => {
          if (r.facts.attaching) return; // the realisation knows whether the claim's owner died
          if (o.only && !o.only(r.info)) return;
          const { info, liveness, facts } = await look(r, this.runtime);
          const slot = r.info.index;
          if (info.state === 'ghost') remove.push({ slot, id: r.id, reason: r.facts.remote ? 'chassis-gone' : liveness === 'gone' ? 'target-gone' : 'link-gone' });
          else if (liveness === 'stopped' && o.stoppedContainers) remove.push({ slot, id: r.id, reason: 'container-stopped' });
          else if (liveness === 'alive' && facts.portType === 'internal' && facts.deviceInSwitch && facts.switchDaemon !== 'stopped' && r.info.target) {
            const target = await openRecordedTarget(r.info.target, this.runtime);
            if (target) replug.push({ slot, id: r.id, target });
          }
        }),
      );
      return await this.sw.cleanup({ remove, replug });
    } finally {
      for (const r of replug) r.target.close();
    }
  }

  /**
   * Slot events as they happen (attached, detached, link up/down, port error). End the loop
   * (break/return) to stop listening.
   */
  watch(): AsyncIterableIterator<SlotEvent> {
    return this.sw.events();
  }

  /** The vswitch as `ec list-vswitches --json` prints it: name, subnet, gateway, datapath, MTU, uplink, netns. */
  toJSON(): Record<string, unknown> {
    return this.sw.toJSON();
  }
}
