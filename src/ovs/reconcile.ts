// What exists on a local bridge, and putting it right: the facts of every slot (joined from the
// replica, the links in the switch's namespace and whether ovs-vswitchd runs), and cleanup:
// removing the slots the model judged dead plus this realisation's own leftovers (claims whose
// owner died, veths no port uses, links a killed detach left half-deleted, links of a bridge that
// was deleted behind ecdock's back), then repairing what a restarted ovs-vswitchd forgot (repair.ts).

import { slotFromPortName } from '../addressing';
import { getLink, listLinks, type LinkInfo } from '../netlink/link';
import type { Netns } from '../netlink/netns';
import type { OvsdbClient } from '../ovsdb/client';
import type { PortRow } from '../ovsdb/schema/open-vswitch';
import { ownerAlive } from '../owner';
import type { CleanupReport, CleanupRequest, SlotReport } from '../realisation';
import { doomedGroup, linkOwner, openSwitchNetns, reapLinks } from './plumbing';
import { repairGateway, replugInternal, repinMacs } from './repair';
import { describe, slotFacts, slotOfLinkName, slotOfPort } from './slot-rows';
import { K, SwitchDb } from './switch-db';
import type { SwitchScope } from './switch-scope';
import { vswitchdState, type DaemonState } from './unixctl';

/** How long cleanup waits before it calls a veth with no owner and no port an orphan. */
const ORPHAN_GRACE_MS = 1000;

function reportOf(vs: SwitchScope, n: number, port: PortRow, links: Map<string, LinkInfo>, daemon: DaemonState): SlotReport {
  const rows = vs.rowsOf(n, port);
  const device = links.get(port.name);
  // Only a link of this vswitch's group is its veth (one in the doomed group is being deleted).
  const link = device?.group === vs.spec.group ? device : undefined;
  return { info: describe(vs.spec.plan, n, rows), facts: slotFacts(rows, { link, deviceInSwitch: device !== undefined, daemon }), id: port._uuid };
}

/** Every link in the switch's namespace, by name. */
async function linksByName(sw: Netns): Promise<Map<string, LinkInfo>> {
  return new Map((await listLinks({ netns: sw })).map((l) => [l.name, l]));
}

/** Every slot with its facts, joined from OVSDB, the kernel and ovs-vswitchd's control socket. */
export async function slotReports(vs: SwitchScope): Promise<SlotReport[]> {
  const ports = vs.ourPorts();
  const [links, daemon] = await Promise.all([vs.withNetns(linksByName), vswitchdState(vs.db.client.url)]);
  const out: SlotReport[] = [];
  for (const p of ports) {
    const n = slotFromPortName(vs.name, p.name);
    if (n === undefined || !vs.spec.plan.isValidSlot(n)) continue;
    out.push(reportOf(vs, n, p, links, daemon));
  }
  return out.sort((a, b) => a.info.index - b.info.index);
}

export async function slotReport(vs: SwitchScope, n: number): Promise<SlotReport | undefined> {
  const p = vs.slotPort(n);
  if (!p) return undefined;
  const [link, daemon] = await Promise.all([vs.withNetns((sw) => getLink({ netns: sw, name: p.name })), vswitchdState(vs.db.client.url)]);
  return reportOf(vs, n, p, new Map(link ? [[p.name, link]] : []), daemon);
}

/**
 * Slot links whose bridge is gone: marked by ecdock (owner alias), in a group no ecdock bridge has
 * (nor its doomed twin), and, when `vswitch` is given, named as that vswitch's slot links. The
 * groups are read after the links were listed (see SwitchDb.liveGroups).
 */
async function orphansOfVanishedBridges(db: SwitchDb, links: Iterable<LinkInfo>, vswitch?: string): Promise<LinkInfo[]> {
  const candidates = [...links].filter(
    (l) => l.group !== 0 && (l.kind === undefined || l.kind === 'veth') && linkOwner(l) !== undefined && (vswitch === undefined || slotOfLinkName(vswitch, l.name) !== undefined),
  );
  if (!candidates.length) return [];
  const live = await db.liveGroups();
  const known = new Set([...live, ...[...live].map(doomedGroup)]);
  return candidates.filter((l) => !known.has(l.group));
}

/**
 * Removes slot links of bridges that are gone, in the given namespaces (undefined: the caller's).
 * Used by `ec cleanup --all`, which also finds those of a vswitch that was never created again.
 */
export async function sweepOrphans(ovs: OvsdbClient, namespaces: (string | undefined)[]): Promise<string[]> {
  const db = await SwitchDb.for(ovs);
  const out: string[] = [];
  for (const path of new Set(namespaces)) {
    const ns = openSwitchNetns(path);
    try {
      const orphans = await orphansOfVanishedBridges(db, (await linksByName(ns)).values());
      // Each orphan is deleted through the doomed twin of its own (dead) group: no live vswitch's group is touched.
      for (const l of orphans) await reapLinks(path, l.group, [l.name]);
      out.push(...orphans.map((l) => l.name));
    } finally {
      ns.close();
    }
  }
  return out;
}

/**
 * Removes what crashed or vanished work left behind, and only ecdock's own: the slots the model
 * judged dead (only if still the incarnation it judged), claims whose owner died, veths of this
 * vswitch that no port uses, links a killed detach left in the doomed group, and slot links of an
 * earlier bridge of this name deleted behind ecdock's back. Then repairs: the gateway, internal
 * slots the model asked to re-plug, and missing static MAC entries.
 */
export async function cleanup(vs: SwitchScope, req: CleanupRequest): Promise<CleanupReport> {
  const report: CleanupReport = { ports: [], links: [], gateway: 'ok', repaired: [] };
  await vs.withNetns(async (sw) => {
    report.gateway = await repairGateway(vs, sw);
    if (report.gateway === 'repaired') report.repaired.push({ what: 'gateway', detail: `${vs.spec.plan.gateway} put back on ${vs.name}` });
    const all = await linksByName(sw);
    const group = vs.spec.group;
    const links = new Map([...all].filter(([, l]) => l.group === group));
    const doomed: string[] = [];
    const remove: PortRow[] = [];
    // A slot's ports (primary and second NIC) go together.
    const bySlot = new Map<number, PortRow[]>();
    for (const p of vs.ourPorts()) {
      const n = slotOfPort(p);
      if (!vs.spec.plan.isValidSlot(n) || vs.inflight.has(n)) continue;
      bySlot.set(n, [...(bySlot.get(n) ?? []), p]);
    }
    const drop = (ports: PortRow[], reason: CleanupReport['ports'][number]['reason']) => {
      for (const p of ports) {
        remove.push(p);
        if (links.has(p.name)) doomed.push(p.name);
        report.ports.push({ slot: slotOfPort(p), portName: p.name, reason });
      }
    };
    const judged = new Map(req.remove.map((x) => [x.slot, x]));
    for (const [n, ports] of bySlot) {
      const p = ports.find((x) => x.name === vs.spec.plan.addressOf(n).portName);
      if (!p) {
        drop(ports, 'link-gone'); // a second NIC whose slot is gone
        continue;
      }
      if (p.external_ids.get(K.state) === 'attaching') {
        if (!ownerAlive(p.external_ids.get(K.owner))) drop(ports, 'stale-claim');
        continue;
      }
      const verdict = judged.get(n);
      if (verdict && verdict.id === p._uuid) drop(ports, verdict.reason);
    }
    // veths of ours without a port: a crashed attach, once its owner is dead. A veth with no
    // owner yet is being set up right now by its creator, or its creator died in between: look
    // again after a moment.
    const portless = (ls: Map<string, LinkInfo>) => {
      const portNames = new Set(vs.ourPorts().map((p) => p.name));
      return [...ls].filter(([name, link]) => {
        const n = slotOfLinkName(vs.name, name);
        return !portNames.has(name) && !(n !== undefined && vs.inflight.has(n)) && (link.kind === undefined || link.kind === 'veth');
      });
    };
    let unowned: string[] = [];
    for (const [name, link] of portless(links)) {
      const owner = linkOwner(link);
      if (owner === undefined) unowned.push(name);
      else if (!ownerAlive(owner)) doomed.push(name);
    }
    if (unowned.length) {
      await new Promise((r) => setTimeout(r, ORPHAN_GRACE_MS));
      const again = new Map(portless(new Map([...(await linksByName(sw))].filter(([, l]) => l.group === group))));
      unowned = unowned.filter((name) => {
        const link = again.get(name);
        return link !== undefined && linkOwner(link) === undefined;
      });
      doomed.push(...unowned);
    }
    // A detach retags its links into the doomed group, then deletes the group: one killed in
    // between leaves them there, with no port (cleanup removed it as a ghost) and no owner to finish.
    const halfDeleted = [...all.values()].filter((l) => l.group === doomedGroup(group)).map((l) => l.name);
    doomed.push(...halfDeleted);
    // An earlier bridge of this name, deleted behind ecdock's back, left its slot links (another group).
    const orphans = await orphansOfVanishedBridges(vs.db, all.values(), vs.name);
    report.links.push(...[...doomed, ...orphans.map((l) => l.name)].filter((name) => !report.ports.some((p) => p.portName === name)));
    await reapLinks(vs.spec.netns, group, doomed);
    for (const l of orphans) await reapLinks(vs.spec.netns, l.group, [l.name]);
    if (orphans.length) report.repaired.push({ what: 'orphan-links', detail: `removed ${orphans.map((l) => l.name).join(', ')}, left by a bridge ${vs.name} deleted behind ecdock's back` });
    await vs.removePorts(
      remove,
      remove.some((p) => vs.portTypeOf(p) === 'internal'),
    );
    for (const r of req.replug ?? []) {
      const p = vs.slotPort(r.slot);
      if (!p || p._uuid !== r.id || vs.inflight.has(r.slot)) continue;
      const done = await replugInternal(vs, sw, r.slot, p, r.target);
      if (done) report.repaired.push(done);
    }
  });
  const pinned = await repinMacs(vs);
  if (pinned) report.repaired.push({ what: 'static-mac', detail: `${pinned} MAC-table entr${pinned === 1 ? 'y' : 'ies'} pinned again` });
  return report;
}
