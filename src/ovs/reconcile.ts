// What exists on a local bridge, and putting it right: the facts of every slot (joined from the
// replica and the links in the switch's namespace), and cleanup: removing the slots the model
// judged dead plus this realisation's own leftovers (claims whose owner died, veths no port uses),
// and repairing what a restarted ovs-vswitchd forgot (the gateway address, static MAC entries).

import { slotFromPortName } from '../addressing';
import { getLink, type LinkInfo } from '../netlink/link';
import { listAddresses } from '../netlink/addr';
import type { Netns } from '../netlink/netns';
import type { PortRow } from '../ovsdb/schema/open-vswitch';
import { ownerAlive } from '../owner';
import type { CleanupReport, CleanupRequest, SlotReport } from '../realisation';
import { teach } from './attach';
import { linkOwner, pinMacs, reapLinks, setGateway, switchLinks } from './plumbing';
import { describe, slotFacts, slotOfLinkName, slotOfPort } from './slot-rows';
import { K } from './switch-db';
import type { SwitchScope } from './switch-scope';

/** How long cleanup waits before it calls a veth with no owner and no port an orphan. */
const ORPHAN_GRACE_MS = 1000;

function reportOf(vs: SwitchScope, n: number, port: PortRow, links: Map<string, LinkInfo>): SlotReport {
  const rows = vs.rowsOf(n, port);
  return { info: describe(vs.spec.plan, n, rows), facts: slotFacts(rows, links.get(port.name)), id: port._uuid };
}

/** Every slot with its facts, joined from OVSDB and the kernel. */
export async function slotReports(vs: SwitchScope): Promise<SlotReport[]> {
  const ports = vs.ourPorts();
  const links = await vs.withNetns((sw) => switchLinks(sw, vs.spec.group));
  const out: SlotReport[] = [];
  for (const p of ports) {
    const n = slotFromPortName(vs.name, p.name);
    if (n === undefined || !vs.spec.plan.isValidSlot(n)) continue;
    out.push(reportOf(vs, n, p, links));
  }
  return out.sort((a, b) => a.info.index - b.info.index);
}

export async function slotReport(vs: SwitchScope, n: number): Promise<SlotReport | undefined> {
  const p = vs.slotPort(n);
  if (!p) return undefined;
  const link = await vs.withNetns((sw) => getLink({ netns: sw, name: p.name }));
  return reportOf(vs, n, p, new Map(link ? [[p.name, link]] : []));
}

/**
 * Removes what crashed or vanished work left behind, and only ecdock's own: the slots the model
 * judged dead (only if still the incarnation it judged), claims whose owner died, and veths of
 * this vswitch that no port uses.
 */
export async function cleanup(vs: SwitchScope, req: CleanupRequest): Promise<CleanupReport> {
  const report: CleanupReport = { ports: [], links: [], gateway: 'ok' };
  await vs.withNetns(async (sw) => {
    report.gateway = await repairGateway(vs, sw);
    const links = await switchLinks(sw, vs.spec.group);
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
      const again = new Map(portless(await switchLinks(sw, vs.spec.group)));
      unowned = unowned.filter((name) => {
        const link = again.get(name);
        return link !== undefined && linkOwner(link) === undefined;
      });
      doomed.push(...unowned);
    }
    report.links.push(...doomed.filter((name) => !report.ports.some((p) => p.portName === name)));
    await reapLinks(vs.spec.netns, vs.spec.group, doomed);
    await vs.removePorts(
      remove,
      remove.some((p) => vs.portTypeOf(p) === 'internal'),
    );
  });
  return report;
}

/** Puts the gateway address back on the bridge's device if it is missing (ovs-vswitchd recreates
 *  that device, without addresses, when it restarts). */
async function repairGateway(vs: SwitchScope, sw: Netns): Promise<CleanupReport['gateway']> {
  const { plan, mtu } = vs.spec;
  const dev = await getLink({ netns: sw, name: vs.name });
  if (!dev) return 'missing';
  const have = (await listAddresses({ netns: sw, index: dev.index })).map((x) => x.address);
  const want = [plan.gateway, ...(plan.gateway6 ? [plan.gateway6] : [])];
  if (want.every((w) => have.includes(w)) && dev.up) return 'ok';
  await setGateway(sw, plan, mtu);
  // A restarted ovs-vswitchd also forgot the static MAC entries.
  const ports = vs.ourPorts();
  await Promise.all([
    ...ports
      .map((p) => slotFromPortName(vs.name, p.name))
      .filter((n): n is number => n !== undefined && plan.isValidSlot(n))
      .map((n) => teach(vs, plan.addressOf(n))),
    pinMacs(
      vs.db.client.url,
      ports.flatMap((p) => {
        const mac = vs.db.ifaceOf(p)?.external_ids.get('attached-mac');
        return mac ? [{ bridge: vs.name, port: p.name, vlan: p.tag ?? 0, mac }] : [];
      }),
    ).catch(() => false), // best effort: a missing entry only costs floods
  ]);
  return 'repaired';
}
