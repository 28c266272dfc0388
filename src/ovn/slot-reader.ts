// Reading an OVN vswitch's slots: the Northbound says which slots exist and on which host; this
// host's Open vSwitch and kernel say how its own slots are (br-int port, ovn-installed, veth,
// target); the Southbound says which hosts still exist. Also decides what cleanup removes. The
// meaning of the facts is slotState's (logical-ops.ts); this file only gathers them.

import type { AddressPlan } from '../addressing';
import { slotFromPortName } from '../addressing';
import type { LinkInfo } from '../netlink/link';
import { getLink } from '../netlink/link';
import { ownerAlive } from '../owner';
import { doomedGroup, openSwitchNetns, reapLinks, switchLinks } from '../ovs/plumbing';
import { idsToObject, type SwitchDb } from '../ovs/switch-db';
import type { PortRow } from '../ovsdb/schema/open-vswitch';
import type { CleanupOptions, CleanupReport } from '../realisation';
import type { ContainerRuntime } from '../runtime/container-runtime';
import type { SlotInfo, SlotState, SlotTargetInfo } from '../slot';
import { targetLiveness } from '../targets';
import { isInstalled, isOurBridgePort } from './binding';
import { OK, slotState, type SlotFacts } from './logical-ops';
import { chassisMonitor, type DbRef, type LogicalSwitchPortRow, type NbDb } from './nb-db';

/** How long cleanup waits before it calls a veth with no owner and no port an orphan. */
const ORPHAN_GRACE_MS = 1000;

export interface SlotReaderSpec {
  name: string;
  plan: AddressPlan;
  group: number;
  netns: string | undefined;
  chassis: string;
  bridge: string;
  db: SwitchDb;
  nb: NbDb;
  sbRef: DbRef;
  runtime: () => ContainerRuntime;
  /** Slots this process is attaching right now (cleanup leaves them alone). */
  inflight: ReadonlySet<number>;
}

export interface CleanupPlan {
  report: CleanupReport;
  links: string[];
  bridgePorts: PortRow[];
  logicalPorts: LogicalSwitchPortRow[];
}

function linkOwner(link: LinkInfo): string | undefined {
  return link.alias?.startsWith('ecdock ') ? link.alias.slice(7) : undefined;
}

export class SlotReader {
  constructor(private readonly s: SlotReaderSpec) {}

  /** Our logical slot ports on the switch. */
  ports(): LogicalSwitchPortRow[] {
    const ls = this.s.nb.mon.findBy('Logical_Switch', 'name', this.s.name);
    if (!ls) return [];
    return this.s.nb.portsOf(ls).filter((p) => p.external_ids.get(OK.vswitch) === this.s.name && slotFromPortName(this.s.name, p.name) !== undefined);
  }

  slotPort(n: number): LogicalSwitchPortRow | undefined {
    const p = this.s.nb.port(this.s.plan.addressOf(n).portName);
    return p && p.external_ids.get(OK.vswitch) === this.s.name && this.ports().includes(p) ? p : undefined;
  }

  bridgePort(name: string): PortRow | undefined {
    const p = this.s.db.port(name);
    return p && isOurBridgePort(p, this.s.name) ? p : undefined;
  }

  ourBridgePorts(): PortRow[] {
    const br = this.s.db.bridge(this.s.bridge);
    return br ? this.s.db.portsOf(br).filter((p) => isOurBridgePort(p, this.s.name)) : [];
  }

  private targetOf(p: LogicalSwitchPortRow): SlotTargetInfo | undefined {
    const ids = p.external_ids;
    const kind = ids.get(OK.targetKind) as SlotTargetInfo['kind'] | undefined;
    const ref = ids.get(OK.targetRef);
    if (!kind || !ref) return undefined;
    const name = ids.get(OK.targetName);
    return { kind, ref, ...(name ? { name } : {}), netnsId: ids.get(OK.netnsId) ?? '' };
  }

  describe(n: number, p: LogicalSwitchPortRow, state: SlotState): SlotInfo {
    const a = this.s.plan.addressOf(n);
    const ids = p.external_ids;
    const host = ids.get(OK.host);
    const local = host === this.s.chassis;
    const iface = local ? this.s.db.iface(p.name) : undefined;
    const mtu = ids.get(OK.mtu);
    const target = this.targetOf(p);
    const owner = ids.get(OK.owner);
    return {
      ...a,
      vswitch: this.s.name,
      index: n,
      portType: 'veth',
      ifname: ids.get(OK.ifname) ?? 'eth0',
      ...(mtu ? { mtu: Number(mtu) } : {}),
      ...(iface?.ofport !== undefined && iface.ofport > 0 ? { ofport: Number(iface.ofport) } : {}),
      state,
      ...(target ? { target } : {}),
      ...(state === 'attaching' && owner ? { owner } : {}),
      externalIds: idsToObject(ids),
      ...(host ? { host } : {}),
    };
  }

  /** Chassis names the Southbound knows, or undefined when it cannot be asked. */
  private async chassisNames(): Promise<Set<string> | undefined> {
    try {
      const mon = await chassisMonitor(this.s.sbRef);
      return new Set([...mon.rows('Chassis').values()].map((c) => c.name));
    } catch {
      return undefined;
    }
  }

  private async facts(p: LogicalSwitchPortRow, links: Map<string, LinkInfo> | undefined, chassis: Set<string> | undefined): Promise<SlotFacts & { liveness?: string }> {
    const host = p.external_ids.get(OK.host);
    if (host !== this.s.chassis) return { local: false, up: p.up === true, ...(chassis && host ? { chassisExists: chassis.has(host) } : {}) };
    const target = this.targetOf(p);
    const liveness = target ? await targetLiveness(target, this.s.runtime) : 'gone';
    const link = links?.get(p.name);
    const bp = this.bridgePort(p.name);
    return {
      local: true,
      up: p.up === true,
      targetGone: liveness === 'gone',
      liveness,
      link: !link ? 'missing' : link.operState === 'up' || link.operState === 'unknown' ? 'up' : 'down',
      portOnBridge: !!bp,
      installed: isInstalled(this.s.db.iface(p.name)),
      ownerAlive: ownerAlive(p.external_ids.get(OK.owner)),
    };
  }

  private async localLinks(): Promise<Map<string, LinkInfo>> {
    const sw = openSwitchNetns(this.s.netns);
    try {
      return await switchLinks(sw, this.s.group);
    } finally {
      sw.close();
    }
  }

  /** Every slot on every host, with its state. */
  async slots(): Promise<SlotInfo[]> {
    const ports = this.ports();
    const [links, chassis] = await Promise.all([this.localLinks(), ports.some((p) => p.external_ids.get(OK.host) !== this.s.chassis) ? this.chassisNames() : undefined]);
    const out = await Promise.all(
      ports.map(async (p) => {
        const n = slotFromPortName(this.s.name, p.name)!;
        if (!this.s.plan.isValidSlot(n)) return undefined;
        return this.describe(n, p, slotState(await this.facts(p, links, chassis)));
      }),
    );
    return out.filter((x): x is SlotInfo => x !== undefined).sort((a, b) => a.index - b.index);
  }

  async slot(n: number): Promise<SlotInfo | undefined> {
    this.s.plan.checkSlot(n);
    const p = this.slotPort(n);
    if (!p) return undefined;
    const local = p.external_ids.get(OK.host) === this.s.chassis;
    const links = local ? await this.localLinks() : undefined;
    const chassis = local ? undefined : await this.chassisNames();
    return this.describe(n, p, slotState(await this.facts(p, links, chassis)));
  }

  /**
   * What cleanup removes, and only ecdock's own:
   * - on this host: slots whose target or veth is gone, claims whose attaching process died before
   *   binding, br-int ports of ours with no logical port, veths of ours with neither (owner dead);
   * - from any host: slots bound on a chassis the Southbound no longer has.
   */
  async cleanupPlan(o: CleanupOptions): Promise<CleanupPlan> {
    const report: CleanupReport = { ports: [], links: [], gateway: 'ok' };
    const plan: CleanupPlan = { report, links: [], bridgePorts: [], logicalPorts: [] };
    const links = await this.localLinks();
    const ports = this.ports();
    const chassis = ports.some((p) => p.external_ids.get(OK.host) !== this.s.chassis) ? await this.chassisNames() : undefined;
    const drop = (p: LogicalSwitchPortRow, n: number, reason: CleanupReport['ports'][number]['reason']) => {
      plan.logicalPorts.push(p);
      report.ports.push({ slot: n, portName: p.name, reason });
      if (p.external_ids.get(OK.host) !== this.s.chassis) return;
      const bp = this.bridgePort(p.name);
      if (bp) plan.bridgePorts.push(bp);
      if (links.has(p.name)) plan.links.push(p.name);
    };
    for (const p of ports) {
      const n = slotFromPortName(this.s.name, p.name)!;
      if (this.s.inflight.has(n)) continue;
      const f = await this.facts(p, links, chassis);
      if (!f.local) {
        if (f.chassisExists === false) drop(p, n, 'chassis-gone');
        continue;
      }
      if (!f.portOnBridge) {
        if (!f.ownerAlive) drop(p, n, 'stale-claim');
        continue;
      }
      if (f.targetGone) drop(p, n, 'target-gone');
      else if (f.link === 'missing' && this.targetOf(p)?.kind !== 'container') drop(p, n, 'link-gone');
      else if (f.liveness === 'stopped' && o.stoppedContainers) drop(p, n, 'container-stopped');
    }
    // br-int ports of ours whose logical port is gone (a detach or rollback cut short).
    const names = new Set(ports.map((p) => p.name));
    for (const bp of this.ourBridgePorts()) {
      const n = Number(bp.external_ids.get(OK.slot));
      if (names.has(bp.name) || this.s.inflight.has(n) || plan.bridgePorts.includes(bp)) continue;
      plan.bridgePorts.push(bp);
      if (links.has(bp.name)) plan.links.push(bp.name);
      report.ports.push({ slot: n, portName: bp.name, reason: 'stale-claim' });
    }
    // veths of ours with no logical port and no br-int port: a crashed attach, once its owner is dead.
    const portless = (ls: Map<string, LinkInfo>) =>
      [...ls].filter(([name]) => {
        const n = slotFromPortName(this.s.name, name);
        return !names.has(name) && !this.bridgePort(name) && !(n !== undefined && this.s.inflight.has(n));
      });
    let unowned: string[] = [];
    for (const [name, link] of portless(links)) {
      const owner = linkOwner(link);
      if (owner === undefined) unowned.push(name);
      else if (!ownerAlive(owner)) report.links.push(name);
    }
    if (unowned.length) {
      await new Promise((r) => setTimeout(r, ORPHAN_GRACE_MS));
      const again = new Map(portless(await this.localLinks()));
      unowned = unowned.filter((name) => again.has(name) && linkOwner(again.get(name)!) === undefined);
      report.links.push(...unowned);
    }
    plan.links.push(...report.links);
    return plan;
  }

  /** A host-end veth of ours with no port whose owner is dead: delete it (true), else leave it (false). */
  async reclaimOrphanLink(name: string): Promise<boolean> {
    if (this.bridgePort(name)) return false;
    const sw = openSwitchNetns(this.s.netns);
    let link: LinkInfo | undefined;
    try {
      link = await getLink({ netns: sw, name });
    } finally {
      sw.close();
    }
    if (!link) return true;
    if (link.group !== this.s.group && link.group !== doomedGroup(this.s.group)) return false;
    const owner = linkOwner(link);
    if (owner === undefined || ownerAlive(owner)) return false;
    await reapLinks(this.s.netns, this.s.group, [name]);
    return true;
  }
}
