// A vswitch is a switch plus its addressing plan; a slot is one numbered place on it with a fixed
// MAC and IP, plugged into a network namespace or a container. This file is the slot model: it
// validates requests, resolves targets and refuses the wrong namespaces, picks free slots, and
// hands out Slot objects. How a slot is made real (today: a bridge of the local Open vSwitch, see
// src/ovs/local-switch.ts) sits behind the SwitchRealisation interface of src/realisation.ts.

import { AddressPlan, checkVswitchName, type SlotAddress } from './addressing';
import { UsageError, VSwitchError } from './errors';
import { checkIfname } from './netlink/validate';
import type { OvsdbClient } from './ovsdb/client';
import { LocalSwitch } from './ovs/local-switch';
import { OvnSwitch, type OvnOptions } from './ovn/ovn-switch';
import { SlotBusy, type CleanupOptions, type CleanupReport, type SlotEvent, type SlotRequest, type SwitchRealisation } from './realisation';
import type { ContainerRuntime } from './runtime/container-runtime';
import { Slot, type PortType, type SlotTarget } from './slot';
import { checkTarget, dockerRuntime, resolveTarget, type ResolvedTarget } from './targets';

export type { CleanupOptions, CleanupReport, SlotEvent } from './realisation';

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
  /** Network namespace (path) where this OVS's ovs-vswitchd runs. Default: the caller's. */
  netns?: string;
  /** How long to wait for ovs-vswitchd. Default 30 s. */
  timeoutMs?: number;
  runtime?: ContainerRuntime;
  /** Back the vswitch by an OVN logical switch of the same name, so that its slots span hosts. */
  ovn?: OvnOptions;
}

export interface VSwitchOpenOptions {
  /** Overrides the netns recorded at create. */
  netns?: string;
  timeoutMs?: number;
  runtime?: ContainerRuntime;
  /** The vswitch is an OVN logical switch (see VSwitchCreateOptions.ovn). */
  ovn?: OvnOptions;
}

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

const DEFAULT_TIMEOUT_MS = 30_000;
/** How many busy slots automatic selection steps over before it gives up. */
const AUTO_SLOT_ATTEMPTS = 256;

function checkMtu(mtu: unknown): number | undefined {
  if (mtu === undefined) return undefined;
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new UsageError('BAD_MTU', `MTU ${String(mtu)} is out of range: use an integer from 68 to 65535`, { detail: { mtu } });
  }
  return mtu;
}

function checkVlan(vlan: unknown): number | undefined {
  if (vlan === undefined) return undefined;
  if (typeof vlan !== 'number' || !Number.isInteger(vlan) || vlan < 0 || vlan > 4095) {
    throw new UsageError('BAD_VLAN', `VLAN ${String(vlan)} is out of range: use an integer from 0 to 4095`, { detail: { vlan } });
  }
  return vlan;
}

function checkExternalIds(ids: unknown): Record<string, string> {
  if (ids === undefined) return {};
  if (typeof ids !== 'object' || ids === null || Array.isArray(ids)) throw new UsageError('BAD_ARGUMENT', 'externalIds must be an object of string values');
  for (const [k, v] of Object.entries(ids)) {
    if (k.startsWith('ecdock:')) throw new UsageError('BAD_ARGUMENT', `externalIds key "${k}": keys starting with "ecdock:" are ecdock's own`);
    if (typeof v !== 'string') throw new UsageError('BAD_ARGUMENT', `externalIds["${k}"] must be a string`);
    if (k.includes('\0') || v.includes('\0')) throw new UsageError('BAD_ARGUMENT', `externalIds ${JSON.stringify(k)}: OVSDB strings cannot hold a NUL byte`);
  }
  return ids as Record<string, string>;
}

function checkPortType(t: unknown): PortType {
  if (t === undefined) return 'veth';
  if (t !== 'veth' && t !== 'internal') throw new UsageError('BAD_ARGUMENT', `portType must be "veth" or "internal", got ${JSON.stringify(t)}`);
  return t;
}

export class VSwitch {
  readonly ovs: OvsdbClient;
  readonly name: string;
  readonly plan: AddressPlan;
  readonly usermode: boolean;
  readonly mtu?: number;
  readonly uplink?: string;
  /** Path of the namespace where ovs-vswitchd runs, or undefined for the caller's. */
  readonly netns?: string;
  /** Link group of this vswitch's slot links. */
  readonly group: number;
  private readonly sw: SwitchRealisation;
  private readonly timeoutMs: number;
  private readonly runtimeOpt?: ContainerRuntime;

  private constructor(ovs: OvsdbClient, sw: SwitchRealisation, o: { timeoutMs?: number; runtime?: ContainerRuntime }) {
    this.ovs = ovs;
    this.sw = sw;
    this.name = sw.name;
    this.plan = sw.plan;
    this.usermode = sw.usermode;
    if (sw.mtu !== undefined) this.mtu = sw.mtu;
    if (sw.uplink !== undefined) this.uplink = sw.uplink;
    if (sw.netns !== undefined) this.netns = sw.netns;
    this.group = sw.group;
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (o.runtime) this.runtimeOpt = o.runtime;
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
    const mtu = checkMtu(o.mtu);
    if (o.uplink !== undefined) checkIfname(o.uplink, 'uplink device');
    const runtime = (): ContainerRuntime => o.runtime ?? dockerRuntime();
    if (o.ovn) {
      if (o.uplink !== undefined) throw new UsageError('BAD_ARGUMENT', 'an OVN vswitch takes no uplink: the host\'s integration bridge and tunnels are OVN\'s');
      const sw = await OvnSwitch.create(ovs, plan, o.ovn, { ...(mtu !== undefined ? { mtu } : {}), ...(o.netns !== undefined ? { netns: o.netns } : {}), ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}), runtime });
      return new VSwitch(ovs, sw, o);
    }
    const sw = await LocalSwitch.create(ovs, plan, {
      usermode: !!o.usermode,
      ...(o.uplink !== undefined ? { uplink: o.uplink } : {}),
      ...(mtu !== undefined ? { mtu } : {}),
      ...(o.netns !== undefined ? { netns: o.netns } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      runtime,
    });
    return new VSwitch(ovs, sw, o);
  }

  /** Opens an existing vswitch. NO_SUCH_VSWITCH if missing, NOT_OURS for a bridge ecdock did not create. */
  static async open(ovs: OvsdbClient, name: string, o: VSwitchOpenOptions = {}): Promise<VSwitch> {
    checkVswitchName(name);
    const runtime = (): ContainerRuntime => o.runtime ?? dockerRuntime();
    if (o.ovn) return new VSwitch(ovs, await OvnSwitch.open(ovs, name, o.ovn, { ...(o.netns !== undefined ? { netns: o.netns } : {}), ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}), runtime }), o);
    return new VSwitch(ovs, await LocalSwitch.open(ovs, name, { ...o, runtime }), o);
  }

  /** Every vswitch ecdock manages on this OVS. */
  static async list(ovs: OvsdbClient, o: VSwitchOpenOptions = {}): Promise<VSwitch[]> {
    const runtime = (): ContainerRuntime => o.runtime ?? dockerRuntime();
    if (o.ovn) {
      const all = await OvnSwitch.list(ovs, o.ovn, { ...(o.netns !== undefined ? { netns: o.netns } : {}), ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}), runtime });
      return all.map((sw) => new VSwitch(ovs, sw, o));
    }
    return (await LocalSwitch.list(ovs, { ...o, runtime })).map((sw) => new VSwitch(ovs, sw, o));
  }

  /** Deletes the vswitch and every slot on it. */
  destroy(): Promise<void> {
    return this.sw.destroy();
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

  async attach(o: AttachOptions): Promise<Slot> {
    if (!o || typeof o !== 'object') throw new UsageError('BAD_ARGUMENT', 'attach needs { target }');
    checkTarget(o.target);
    const portType = checkPortType(o.portType);
    const ifname = o.ifname === undefined ? 'eth0' : checkIfname(o.ifname, 'interface name');
    const mtu = checkMtu(o.mtu) ?? this.mtu;
    const vlan = checkVlan(o.vlan);
    const extra = checkExternalIds(o.externalIds);
    const dualNic = !!o.dualNic;
    if (dualNic && ifname === 'eth1') throw new UsageError('BAD_IFNAME', 'with dualNic the second NIC is eth1: give the first NIC another name than eth1');
    if (o.slot !== undefined) this.plan.checkSlot(o.slot);
    this.sw.assertExists();

    const target = await this.openTarget(o.target, 'a slot');
    try {
      const req: SlotRequest = { target, portType, ifname, mtu, vlan, extra, dualNic, wait: o.wait ?? true, timeoutMs: o.timeoutMs ?? this.timeoutMs };
      if (o.slot !== undefined) {
        try {
          return new Slot(this, await this.sw.claim(o.slot, req));
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
          return new Slot(this, await this.sw.claim(n, req));
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
    await this.sw.release(n);
    return this.attach({
      slot: n,
      target: o.target,
      ...rec,
      ...(o.wait !== undefined ? { wait: o.wait } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    });
  }

  /** Removes a slot. NO_SUCH_SLOT if it is not attached. */
  detach(n: number): Promise<void> {
    this.plan.checkSlot(n);
    return this.sw.release(n);
  }

  /** Every slot with its state, joined from OVSDB, the kernel and the targets. */
  async slots(): Promise<Slot[]> {
    return (await this.sw.slots()).map((info) => new Slot(this, info));
  }

  async slot(n: number): Promise<Slot | undefined> {
    this.plan.checkSlot(n);
    const info = await this.sw.slot(n);
    return info && new Slot(this, info);
  }

  /**
   * Removes what crashed or vanished work left behind, and only ecdock's own: slots whose target
   * is gone, claims whose owner died, links no slot uses; and puts back what a restarted
   * ovs-vswitchd forgot (the gateway address, static MAC entries).
   */
  cleanup(o: CleanupOptions = {}): Promise<CleanupReport> {
    return this.sw.cleanup(o);
  }

  /**
   * Slot events as they happen (attached, detached, link up/down, port error). End the loop
   * (break/return) to stop listening.
   */
  watch(): AsyncIterableIterator<SlotEvent> {
    return this.sw.events();
  }

  toJSON(): Record<string, unknown> {
    return this.sw.toJSON();
  }
}
