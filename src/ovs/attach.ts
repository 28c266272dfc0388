// Attaching and detaching a slot on a local bridge, step by step.
//
// Ordering is chosen so that a crash at any point leaves only what `cleanup` (or the next attach
// of that slot) repairs:
// - veth slots: the veth is made first (its host-end name is a reservation nobody else can take,
//   and it carries its owner), then one transaction claims the slot and inserts its Port. A crash
//   in between leaves a veth without a port whose owner is dead: cleanup deletes it.
// - internal slots: ovs-vswitchd makes the device, so the claim comes first, marked "attaching"
//   with its owner, and is cleared when the device is in the target. A crash in between leaves a
//   claim whose owner is dead: cleanup removes it.
// - detach deletes the link first and the port second, so a crash leaves a ghost port (no link)
//   that cleanup removes.
// Each step that can crash is named by a crashPoint, which the crash-safety tests kill at.

import { randomUUID } from 'node:crypto';
import type { SlotAddress } from '../addressing';
import { crashPoint } from '../crash-points';
import { VSwitchError, isEcdockError } from '../errors';
import { deleteLink, getLink } from '../netlink/link';
import type { Netns } from '../netlink/netns';
import type { Operation } from '../ovsdb/operations';
import { OvsdbTransactionError } from '../ovsdb/results';
import type { InterfaceRow, PortRow } from '../ovsdb/schema/open-vswitch';
import { ownerAlive, selfOwner } from '../owner';
import { SlotBusy, type SlotReport, type SlotRequest } from '../realisation';
import { wrapOvsdb } from './bridge';
import { doomedGroup, linkOwner, pinMacs, plugInternal, plugVeth, reapLinks, teachGateway, type Nic } from './plumbing';
import { rollback } from './rollback';
import { claimOps, describe, isOurs, nicsOf, slotFacts, type Claim } from './slot-rows';
import { K } from './switch-db';
import type { SwitchScope } from './switch-scope';

/** A claim lost with the connection, and known not to have committed, is sent again this often. */
const CLAIM_RETRIES = 2;
/** How often a veth attach deletes a dead owner's leftover link of its name and tries again. */
const ORPHAN_RECLAIMS = 2;
/** How often an internal attach retries a slot whose name another attach held for a moment. */
const INTERNAL_RETRIES = 2;

/** Claims slot n and makes it real. SlotBusy when another attach (here or elsewhere) holds it. */
export async function attachSlot(vs: SwitchScope, n: number, r: SlotRequest): Promise<SlotReport> {
  if (vs.inflight.has(n)) throw new SlotBusy('this process is attaching it right now');
  vs.inflight.add(n);
  try {
    return await vs.withNetns((sw) => (r.portType === 'veth' ? attachVeth(vs, n, r, sw) : attachInternal(vs, n, r, sw)));
  } finally {
    vs.inflight.delete(n);
  }
}

/** The slot's report right after attach, from the replica: the port's uuid is ours, so a vanished row is NO_SUCH_SLOT. */
function reportAfterAttach(vs: SwitchScope, n: number, portUuid: string): SlotReport {
  const port = vs.portByUuid(portUuid, n);
  const rows = vs.rowsOf(n, port);
  return { info: describe(vs.spec.plan, n, rows), facts: slotFacts(rows, { link: 'just-made' }), id: port._uuid };
}

/**
 * Commits a claim. A failed guard means the slot is taken (SlotBusy); a lost connection is
 * ambiguous, so we look for our own port (client-chosen uuid) once the replica is back, and send
 * the claim again (at most CLAIM_RETRIES times) only when it is known not to have committed.
 */
async function commitClaim(vs: SwitchScope, n: number, claim: { ops: Operation[]; guards: number }, portUuid: string, timeoutMs: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const { nextCfg } = await vs.db.submit(claim.ops);
      return nextCfg;
    } catch (e) {
      if (e instanceof OvsdbTransactionError) {
        if (e.opIndex === 0) throw new VSwitchError('NO_SUCH_VSWITCH', `vswitch ${vs.name} was deleted while slot ${n} was being attached`, { cause: e });
        if (e.opIndex > 0 && e.opIndex < claim.guards) throw new SlotBusy('another port holds its name');
        if (e.tag === 'constraint violation') throw new SlotBusy(`OVS refused the port: ${e.details ?? e.tag}`);
        throw wrapOvsdb(e, `cannot claim slot ${n} of ${vs.name}`);
      }
      if (!isEcdockError(e) || (e.code !== 'OVSDB_CONNECTION_LOST' && e.code !== 'OVSDB_TIMEOUT')) throw e;
      // Did it commit before the connection dropped? Our port's uuid answers that.
      const seen = await vs.db.mon
        .waitFor(() => (vs.db.client.connected && vs.db.mon.established ? (vs.db.portByUuid(portUuid) ? 'yes' : 'no') : undefined), timeoutMs)
        .catch(() => undefined);
      if (seen === 'yes') return Number(vs.db.root().next_cfg);
      // It did not commit, and the claim is guarded and uses its own uuids: sending it again is safe.
      if (seen !== 'no' || attempt >= CLAIM_RETRIES) throw e;
    }
  }
}

/** Waits until ovs-vswitchd applied the claim and reports the port; Interface.error → PORT_FAILED. */
async function waitPort(vs: SwitchScope, n: number, ifaceUuid: string, nextCfg: number, timeoutMs: number): Promise<InterfaceRow> {
  await vs.db.applied(nextCfg, timeoutMs);
  const iface = vs.db.ifaceByUuid(ifaceUuid);
  if (!iface) throw new VSwitchError('NO_SUCH_SLOT', `slot ${n}'s port vanished before ovs-vswitchd added it`);
  if (iface.ofport === undefined || iface.ofport <= 0) {
    throw new VSwitchError('PORT_FAILED', `ovs-vswitchd could not add ${iface.name} to ${vs.name}: ${iface.error ?? 'it reported no OpenFlow port'}`, {
      detail: { ofport: iface.ofport, error: iface.error },
    });
  }
  return iface;
}

/** Best effort: the slot's MACs become static MAC-table entries (see pinMacs); a failure only costs floods. */
async function pin(vs: SwitchScope, nics: Nic[], vlan: number | undefined): Promise<void> {
  await pinMacs(
    vs.db.client.url,
    nics.map((nic) => ({ bridge: vs.name, port: nic.portName, vlan: vlan ?? 0, mac: nic.mac })),
  ).catch(() => false);
}

/** Best effort: the gateway learns the slot's MAC without ARP (see teachGateway); a failure only costs broadcasts. */
export function teach(vs: SwitchScope, a: SlotAddress): Promise<void> {
  return teachGateway(vs.spec.netns, vs.spec.plan, a).catch(() => undefined);
}

function primaryAddress(nics: Nic[], n: number): SlotAddress {
  const a = nics[0]?.addr;
  if (!a) throw new VSwitchError('INTERNAL', `slot ${n} has no primary NIC`);
  return a;
}

/**
 * Leaves out the OpenFlow port request of a NIC whose number a port ecdock did not create holds
 * (by request or by OVS's own choice): asking for it would make OVS renumber that port, and its
 * flows would break. The slot then gets a number OVS picks (SlotInfo.ofport says which, and
 * SlotInfo.warning why).
 */
function sparingForeignPorts(vs: SwitchScope, nics: Nic[]): Nic[] {
  const held = new Set<number>();
  for (const p of vs.db.portsOf(vs.bridgeRow())) {
    if (isOurs(p, vs.name)) continue;
    for (const u of p.interfaces) {
      const i = vs.db.ifaceByUuid(u);
      if (i?.ofport !== undefined && i.ofport > 0) held.add(Number(i.ofport));
      if (i?.ofport_request !== undefined) held.add(Number(i.ofport_request));
    }
  }
  return nics.map((nic) => (nic.ofportRequest !== undefined && held.has(nic.ofportRequest) ? { ...nic, ofportRequest: undefined } : nic));
}

/** One attempt's outcome: the slot, or "a dead owner's link was in the way and is gone now". */
const TRY_AGAIN = Symbol('try again');

async function attachVeth(vs: SwitchScope, n: number, r: SlotRequest, sw: Netns): Promise<SlotReport> {
  for (let attempt = 0; ; attempt++) {
    const out = await attachVethOnce(vs, n, r, sw, attempt < ORPHAN_RECLAIMS);
    if (out !== TRY_AGAIN) return out;
  }
}

async function attachVethOnce(vs: SwitchScope, n: number, r: SlotRequest, sw: Netns, mayReclaim: boolean): Promise<SlotReport | typeof TRY_AGAIN> {
  const nics = nicsOf(vs.spec.plan, n, r);
  // A port already holding one of our names is in use if its link lives, and a ghost if its link
  // died with its namespace: the ghost goes first, and ovs-vswitchd must have dropped it (and
  // any port of that name we removed lately) before a new device of that name appears: it keys
  // ports by name and would otherwise keep the old device handle.
  const ghosts: PortRow[] = [];
  for (const nic of nics) {
    const existing = vs.db.port(nic.portName);
    if (!existing) continue;
    const ifc = vs.db.ifaceOf(existing);
    const ghostable = isOurs(existing, vs.name) && !existing.external_ids.has(K.state) && ifc?.type === '' && vs.db.bridgeOfPort(existing._uuid)?.name === vs.name;
    if (!ghostable) throw new SlotBusy(`port ${nic.portName} exists${isOurs(existing, vs.name) ? '' : ' and is not an ecdock slot port'}`);
    if (await getLink({ netns: sw, name: nic.portName })) throw new SlotBusy(`slot ${n} is attached (port ${nic.portName} and its link exist)`);
    ghosts.push(existing);
  }
  await vs.removePorts(ghosts, true);
  await vs.db.settled(
    nics.map((x) => x.portName),
    r.timeoutMs,
  );
  const owner = selfOwner();
  const made: string[] = [];
  const unmake = () => reapLinks(vs.spec.netns, vs.spec.group, made);
  try {
    const settled = await Promise.allSettled(
      nics.map((nic) => plugVeth({ switchNetns: sw, target: r.target.netns, nic, mtu: r.mtu, group: vs.spec.group, owner, usermode: vs.spec.usermode, vswitchdTso: vs.db.userspaceTso() }).then(() => made.push(nic.portName))),
    );
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (e) {
    await rollback(e, 'delete the veths made', unmake);
    // EEXIST does not say which end clashed; the netlink layer asks, but a clashing host end
    // can vanish before it looks (another attach rolling back), so check the target too.
    const peerClash = isEcdockError(e, 'LINK_EXISTS') && (e.detail as { side?: string } | undefined)?.side === 'peer' && !!(await getLink({ netns: r.target.netns, name: r.ifname }).catch(() => undefined));
    if (isEcdockError(e, 'LINK_EXISTS') && !peerClash) {
      const clashed = (e.detail as { ifname?: string } | undefined)?.ifname;
      const name = nics.find((x) => x.portName === clashed)?.portName ?? primaryAddress(nics, n).portName;
      if (mayReclaim && (await reclaimOrphan(vs, sw, name))) return TRY_AGAIN;
      throw new SlotBusy(`link ${name} exists (another attach is in flight)`);
    }
    throw e;
  }
  crashPoint('attach:veth-created');
  const uuids = nics.map(() => ({ port: randomUUID(), iface: randomUUID() }));
  const claim: Claim = { n, nics: sparingForeignPorts(vs, nics), request: r, uuids };
  let nextCfg: number;
  const taught = teach(vs, primaryAddress(nics, n));
  try {
    nextCfg = await commitClaim(vs, n, claimOps(vs.db.o, vs.bridgeRow(), claim), uuids[0]!.port, r.timeoutMs);
  } catch (e) {
    await rollback(e, 'delete the veths made', unmake);
    throw e;
  }
  crashPoint('attach:port-committed');
  await taught;
  if (r.wait) {
    try {
      for (const u of uuids) await waitPort(vs, n, u.iface, nextCfg, r.timeoutMs);
    } catch (e) {
      await rollback(e, `detach slot ${n}`, () => detachSlot(vs, n));
      throw e;
    }
    crashPoint('attach:vswitchd-applied');
    await pin(vs, nics, r.vlan);
  }
  return reportAfterAttach(vs, n, uuids[0]!.port);
}

/**
 * A link of this slot's name that no port uses: deletes it and says so when it is a leftover (a
 * veth of ours whose owner died before its port was committed, or one of a bridge of this name
 * deleted behind ecdock's back), so that the attach can try again.
 */
async function reclaimOrphan(vs: SwitchScope, sw: Netns, name: string): Promise<boolean> {
  if (vs.db.port(name)) return false;
  const link = await getLink({ netns: sw, name });
  if (!link) return true; // vanished meanwhile: just retry
  if (link.group !== vs.spec.group && link.group !== doomedGroup(vs.spec.group)) {
    // Another group: an earlier bridge of this name that is gone, or a live vswitch's (never touched).
    if (link.group === 0 || linkOwner(link) === undefined) return false;
    const live = await vs.db.liveGroups();
    if (live.has(link.group) || [...live].some((g) => doomedGroup(g) === link.group)) return false;
    await reapLinks(vs.spec.netns, link.group, [name]);
    return true;
  }
  // No owner yet: its creator has not finished setting it up (or died right then: cleanup decides).
  const owner = linkOwner(link);
  if (owner === undefined || ownerAlive(owner)) return false;
  await reapLinks(vs.spec.netns, vs.spec.group, [name]);
  return true;
}

async function attachInternal(vs: SwitchScope, n: number, r: SlotRequest, sw: Netns): Promise<SlotReport> {
  for (let attempt = 0; ; attempt++) {
    const out = await attachInternalOnce(vs, n, r, sw, attempt < INTERNAL_RETRIES);
    if (out !== TRY_AGAIN) return out;
  }
}

async function attachInternalOnce(vs: SwitchScope, n: number, r: SlotRequest, sw: Netns, mayRetry: boolean): Promise<SlotReport | typeof TRY_AGAIN> {
  const nics = nicsOf(vs.spec.plan, n, r);
  for (const nic of nics) if (vs.db.port(nic.portName)) throw new SlotBusy(`port ${nic.portName} exists`);
  await vs.db.settled(
    nics.map((x) => x.portName),
    r.timeoutMs,
  );
  const uuids = nics.map(() => ({ port: randomUUID(), iface: randomUUID() }));
  const claim: Claim = { n, nics: sparingForeignPorts(vs, nics), request: r, uuids, owner: selfOwner() };
  const nextCfg = await commitClaim(vs, n, claimOps(vs.db.o, vs.bridgeRow(), claim), uuids[0]!.port, r.timeoutMs);
  crashPoint('attach:internal-claimed');
  try {
    for (const u of uuids) await waitPort(vs, n, u.iface, nextCfg, r.timeoutMs);
    crashPoint('attach:internal-applied');
    await pin(vs, nics, r.vlan);
    for (const nic of nics) await plugInternal({ switchNetns: sw, target: r.target.netns, nic, mtu: r.mtu, usermode: vs.spec.usermode, vswitchdTso: vs.db.userspaceTso(), moved: () => crashPoint('attach:internal-moved') });
    await teach(vs, primaryAddress(nics, n));
    crashPoint('attach:internal-configured');
    const { results } = await vs.db.submit(
      uuids.map((u) => vs.db.o.mutate('Port', [['_uuid', '==', u.port]], [['external_ids', 'delete', [K.state, K.owner]]])),
    );
    if (results.some((x) => (x as { count?: number }).count !== 1)) throw new VSwitchError('NO_SUCH_SLOT', `slot ${n} was removed while it was being attached`);
    // The replica has the update before the reply on this connection; wait anyway, cheaply, so
    // the returned slot can never read as still attaching.
    await vs.db.mon.waitFor(() => (uuids.every((u) => !vs.db.portByUuid(u.port)?.external_ids.has(K.state)) ? true : undefined), r.timeoutMs);
  } catch (e) {
    await rollback(e, `detach slot ${n}`, () => detachSlot(vs, n));
    // Another client's veth attach of this slot made its link first, and ovs-vswitchd could not
    // create our device under that name: the slot is taken (auto selection tries the next one).
    if (isEcdockError(e, 'PORT_FAILED')) {
      const clash = (await Promise.all(nics.map((nic) => getLink({ netns: sw, name: nic.portName }).catch(() => undefined)))).find((l) => l?.kind === 'veth');
      if (clash) throw new SlotBusy(`a veth named ${clash.name} exists (another attach of this slot)`);
      // The name was taken only for a moment (that attach lost the claim to us and rolled back;
      // under contention another may grab it again): try the same slot again, a bounded number of times.
      if (mayRetry) return TRY_AGAIN;
    }
    throw e;
  }
  return reportAfterAttach(vs, n, uuids[0]!.port);
}

/**
 * Removes a slot. NO_SUCH_SLOT if it is not attached. With its target open, the slot's interfaces
 * are removed from it too when they outlive the port (an internal port's device that a stopped or
 * restarted ovs-vswitchd no longer holds stays in the target otherwise).
 */
export async function releaseSlot(vs: SwitchScope, n: number, o: { target?: Netns } = {}): Promise<void> {
  vs.spec.plan.checkSlot(n);
  const port = vs.slotPort(n);
  if (!port) throw new VSwitchError('NO_SUCH_SLOT', `slot ${n} of ${vs.name} is not attached`, { detail: { slot: n } });
  await detachSlot(vs, n);
  if (o.target) await unplugFromTarget(vs, n, port, o.target);
}

/** Links first (veth), then the ports: a crash in between leaves a ghost port for cleanup. */
export async function detachSlot(vs: SwitchScope, n: number): Promise<void> {
  const ports = vs.portsOfSlot(n);
  const veths = ports.filter((p) => vs.portTypeOf(p) === 'veth').map((p) => p.name);
  if (veths.length) {
    await reapLinks(vs.spec.netns, vs.spec.group, veths);
    crashPoint('detach:link-deleted');
  }
  await vs.removePorts(
    ports,
    ports.some((p) => vs.portTypeOf(p) === 'internal'),
  );
  crashPoint('detach:port-removed');
}

/** Removes slot n's interfaces from its target if they are still there and carry the slot's MACs. */
export async function unplugFromTarget(vs: SwitchScope, n: number, port: PortRow, target: Netns): Promise<void> {
  const nics = nicsOf(vs.spec.plan, n, { ifname: port.external_ids.get(K.ifname) ?? 'eth0', dualNic: true });
  for (const nic of nics) {
    const link = await getLink({ netns: target, name: nic.ifname }).catch(() => undefined);
    if (!link || link.mac?.toLowerCase() !== nic.mac) continue;
    try {
      await deleteLink({ netns: target, name: nic.ifname });
    } catch (e) {
      if (!isEcdockError(e, 'NO_SUCH_LINK')) throw e;
    }
  }
}
