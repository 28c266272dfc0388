// Reading an OVN vswitch's slots: the Northbound says which slots exist and on which host; this
// host's Open vSwitch and kernel say how its own slots are (br-int port, ovn-installed, veth);
// the Southbound says which hosts still exist. Turns them into slot reports (facts, never a
// verdict: the model decides states) and plans cleanup: the slots the model judged dead plus this
// realisation's own leftovers.

import type { AddressPlan } from '../addressing';
import { slotFromPortName } from '../addressing';
import type { LinkInfo } from '../netlink/link';
import { getLink } from '../netlink/link';
import { ownerAlive } from '../owner';
import { doomedGroup, openSwitchNetns, reapLinks, switchLinks } from '../ovs/plumbing';
import { idsToObject, type SwitchDb } from '../ovs/switch-db';
import type { PortRow } from '../ovsdb/schema/open-vswitch';
import type { CleanupReport, CleanupRequest, SlotFacts, SlotReport } from '../realisation';
import type { SlotInfo, SlotTargetInfo } from '../slot';
import { isInstalled, isOurBridgePort } from './binding';
import { OK } from './logical-ops';
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

  /** A slot's info without a verdict; `withOwner` names the attaching process (for a claim in flight). */
  describe(n: number, p: LogicalSwitchPortRow, withOwner = false): Omit<SlotInfo, 'state' | 'error'> {
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
      ...(target ? { target } : {}),
      ...(withOwner && owner ? { owner } : {}),
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

  /**
   * What is seen of one slot. Another host's: only what the cluster says. This host's: a claim
   * without its br-int port, or not yet installed while its attaching process lives, is `attaching`
   * (the owner decides, in cleanup, whether it is stale); else the br-int port, its ofport and
   * error, ovn-installed and the veth.
   */
  private facts(p: LogicalSwitchPortRow, links: Map<string, LinkInfo> | undefined, chassis: Set<string> | undefined): SlotFacts {
    const host = p.external_ids.get(OK.host);
    if (host !== this.s.chassis) {
      return { portType: 'veth', attaching: false, remote: { host: host ?? '', up: p.up === true, ...(chassis ? { chassisGone: !host || !chassis.has(host) } : {}) } };
    }
    const link = links?.get(p.name);
    const bp = this.bridgePort(p.name);
    const iface = bp ? this.s.db.iface(p.name) : undefined;
    const installed = isInstalled(iface);
    const attaching = !bp || (!installed && ownerAlive(p.external_ids.get(OK.owner)));
    const ofport = iface?.ofport;
    const error = iface?.error;
    return {
      portType: 'veth',
      attaching,
      installed,
      hostLink: !link ? 'absent' : link.operState === 'up' || link.operState === 'unknown' ? 'up' : 'down',
      ...(ofport !== undefined ? { ofport: Number(ofport) } : {}),
      ...(typeof error === 'string' && error ? { portError: error } : {}),
    };
  }

  report(n: number, p: LogicalSwitchPortRow, links: Map<string, LinkInfo> | undefined, chassis: Set<string> | undefined): SlotReport {
    const facts = this.facts(p, links, chassis);
    return { info: this.describe(n, p, facts.attaching), facts, id: p._uuid };
  }

  private async localLinks(): Promise<Map<string, LinkInfo>> {
    const sw = openSwitchNetns(this.s.netns);
    try {
      return await switchLinks(sw, this.s.group);
    } finally {
      sw.close();
    }
  }

  private needsChassis(ports: LogicalSwitchPortRow[]): boolean {
    return ports.some((p) => p.external_ids.get(OK.host) !== this.s.chassis);
  }

  /** Every slot on every host, with its facts. */
  async reports(): Promise<SlotReport[]> {
    const ports = this.ports();
    const [links, chassis] = await Promise.all([this.localLinks(), this.needsChassis(ports) ? this.chassisNames() : undefined]);
    const out: SlotReport[] = [];
    for (const p of ports) {
      const n = slotFromPortName(this.s.name, p.name)!;
      if (this.s.plan.isValidSlot(n)) out.push(this.report(n, p, links, chassis));
    }
    return out.sort((a, b) => a.info.index - b.info.index);
  }

  async slotReport(n: number): Promise<SlotReport | undefined> {
    this.s.plan.checkSlot(n);
    const p = this.slotPort(n);
    if (!p) return undefined;
    const local = p.external_ids.get(OK.host) === this.s.chassis;
    const links = local ? await this.localLinks() : undefined;
    const chassis = local ? undefined : await this.chassisNames();
    return this.report(n, p, links, chassis);
  }

  /**
   * What cleanup removes, and only ecdock's own:
   * - the slots the model judged dead (by report id: a slot re-made since is left alone);
   * - on this host: claims whose attaching process died before binding, br-int ports of ours with
   *   no logical port, veths of ours with neither (owner dead).
   */
  async cleanupPlan(r: CleanupRequest): Promise<CleanupPlan> {
    const report: CleanupReport = { ports: [], links: [], gateway: 'ok', repaired: [] };
    const plan: CleanupPlan = { report, links: [], bridgePorts: [], logicalPorts: [] };
    const links = await this.localLinks();
    const ports = this.ports();
    const drop = (p: LogicalSwitchPortRow, n: number, reason: CleanupReport['ports'][number]['reason']) => {
      plan.logicalPorts.push(p);
      report.ports.push({ slot: n, portName: p.name, reason });
      if (p.external_ids.get(OK.host) !== this.s.chassis) return;
      const bp = this.bridgePort(p.name);
      if (bp) plan.bridgePorts.push(bp);
      if (links.has(p.name)) plan.links.push(p.name);
    };
    const judged = new Map(r.remove.map((x) => [x.id, x]));
    for (const p of ports) {
      const n = slotFromPortName(this.s.name, p.name)!;
      if (this.s.inflight.has(n)) continue;
      const verdict = judged.get(p._uuid);
      if (verdict) {
        drop(p, n, verdict.reason);
        continue;
      }
      // A claim on this host whose attach died before binding it (reported as attaching, so the model left it to us).
      if (p.external_ids.get(OK.host) === this.s.chassis && !this.bridgePort(p.name) && !ownerAlive(p.external_ids.get(OK.owner))) drop(p, n, 'stale-claim');
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
