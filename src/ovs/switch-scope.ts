// One vswitch's view of the shared OVSDB replica (SwitchDb): its bridge row, its slot ports, and
// taking ports off it. Every step of the local realisation (attach.ts, reconcile.ts, events.ts,
// bridge.ts) works through one SwitchScope, so lookups are written once and a bridge that vanished
// underneath is always the same typed error (NO_SUCH_VSWITCH).

import { nic2PortName } from '../addressing';
import { VSwitchError, isEcdockError } from '../errors';
import type { Netns } from '../netlink/netns';
import type { BridgeRow, PortRow } from '../ovsdb/schema/open-vswitch';
import type { SwitchSpec } from '../realisation';
import { openSwitchNetns } from './plumbing';
import { isOurs, portTypeOf, type SlotRows } from './slot-rows';
import { K, type SwitchDb } from './switch-db';

/** How long removing ports waits for ovs-vswitchd to let go of them (it may be down). */
const REMOVE_WAIT_MS = 5000;

export class SwitchScope {
  /** Slots this process is attaching right now. */
  readonly inflight = new Set<number>();

  constructor(
    readonly spec: SwitchSpec,
    readonly db: SwitchDb,
    readonly timeoutMs: number,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** The bridge, if it is still the one this vswitch was opened on; NO_SUCH_VSWITCH otherwise. */
  bridgeRow(): BridgeRow {
    const br = this.db.bridge(this.spec.name);
    if (!br || br.external_ids.get(K.group) !== String(this.spec.group)) {
      throw new VSwitchError('NO_SUCH_VSWITCH', `vswitch ${this.spec.name} no longer exists`, { detail: { name: this.spec.name } });
    }
    return br;
  }

  /** Opens the namespace where ovs-vswitchd runs; the caller closes it (or use withNetns). */
  openNetns(): Netns {
    return openSwitchNetns(this.spec.netns);
  }

  /** Runs fn with the switch's namespace open, and closes it whatever happens. */
  async withNetns<T>(fn: (ns: Netns) => Promise<T>): Promise<T> {
    const ns = this.openNetns();
    try {
      return await fn(ns);
    } finally {
      ns.close();
    }
  }

  /** Slot n's primary port, when it is ours and on this bridge. */
  slotPort(n: number): PortRow | undefined {
    const p = this.db.port(this.spec.plan.addressOf(n).portName);
    return p && isOurs(p, this.spec.name) && this.bridgeRow().ports.includes(p._uuid) ? p : undefined;
  }

  /** The rows describing slot n (primary and second NIC), from its primary port. */
  rowsOf(n: number, port: PortRow): SlotRows {
    const nic2 = this.db.port(nic2PortName(this.spec.name, n));
    const nic2Port = nic2 && isOurs(nic2, this.spec.name) ? nic2 : undefined;
    return { port, iface: this.db.ifaceOf(port), nic2Port, nic2Iface: nic2Port && this.db.ifaceOf(nic2Port) };
  }

  /** Every port of ours on this bridge. */
  ourPorts(): PortRow[] {
    return this.db.portsOf(this.bridgeRow()).filter((p) => isOurs(p, this.spec.name));
  }

  /** The ports of slot n on this bridge: the primary and the second NIC's, when present. */
  portsOfSlot(n: number): PortRow[] {
    const br = this.db.bridge(this.spec.name);
    if (!br) return [];
    const names = [this.spec.plan.addressOf(n).portName, nic2PortName(this.spec.name, n)];
    return names.map((name) => this.db.port(name)).filter((p): p is PortRow => !!p && isOurs(p, this.spec.name) && br.ports.includes(p._uuid));
  }

  portTypeOf(port: PortRow): ReturnType<typeof portTypeOf> {
    return portTypeOf(port, this.db.ifaceOf(port));
  }

  /** A port row by uuid, or NO_SUCH_SLOT when it vanished (deleted concurrently). */
  portByUuid(uuid: string, n: number): PortRow {
    const p = this.db.portByUuid(uuid);
    if (!p) throw new VSwitchError('NO_SUCH_SLOT', `slot ${n} of ${this.spec.name} was removed while it was being attached`, { detail: { slot: n } });
    return p;
  }

  /**
   * Takes ports off the bridge. With `wait`, returns once ovs-vswitchd has dropped them (an
   * internal port's device goes only then). Either way the removal is noted, so that re-adding one
   * of these names waits for it first (see SwitchDb.settled). ovs-vswitchd's userspace datapath
   * removes ports one by one (1000 take it ~14 s), so bulk detach does not wait.
   */
  async removePorts(ports: PortRow[], wait = false): Promise<void> {
    if (!ports.length) return;
    const br = this.db.bridge(this.spec.name);
    if (!br) return;
    const { nextCfg } = await this.db.submit([this.db.o.mutate('Bridge', [['_uuid', '==', br._uuid]], [['ports', 'delete', ports.map((p) => p._uuid)]])]);
    this.db.noteRemoved(
      ports.map((p) => p.name),
      nextCfg,
    );
    if (wait) {
      await this.db.applied(nextCfg, Math.min(this.timeoutMs, REMOVE_WAIT_MS)).catch((e) => {
        if (!isEcdockError(e, 'VSWITCHD_TIMEOUT')) throw e;
      });
    }
  }
}
