// Attaching and detaching a slot of an OVN vswitch on this host, step by step.
//
// Ordering, so that a crash at any point leaves only what `cleanup` repairs:
// - attach: claim (the logical port, with its owner and host) → veth → br-int port → installed.
//   A crash after the claim leaves a logical port without a br-int port whose owner is dead (a
//   stale claim, cleanup removes it with its veth); every later step is undone the same way.
// - detach: veth → logical port → br-int port; a crash leaves a slot whose link is gone, or a br-int
//   port without its logical port.
// Each step that can crash is named by a crashPoint, which the crash-safety tests kill at.

import { randomUUID } from 'node:crypto';
import type { AddressPlan } from '../addressing';
import { crashPoint } from '../crash-points';
import { VSwitchError, isEcdockError } from '../errors';
import { OvsdbTransactionError } from '../ovsdb/results';
import { selfOwner } from '../owner';
import { openSwitchNetns, plugVeth, reapLinks } from '../ovs/plumbing';
import type { SwitchDb } from '../ovs/switch-db';
import { SlotBusy, type SlotReport, type SlotRequest, type SwitchSpec } from '../realisation';
import { addBridgePort, ovnTimeoutError, removeBridgePorts, waitInstalled } from './binding';
import type { OvnHostFacts } from './local-host';
import { CLAIM_GUARD_PORT, CLAIM_GUARD_SWITCH, OK, claimOps, releaseOps } from './logical-ops';
import { wrapNb, type DbRef, type LogicalSwitchPortRow, type LogicalSwitchRow, type NbDb } from './nb-db';
import type { SlotReader } from './slot-reader';

/** A claim lost with the connection, and known not to have committed, is sent again this often. */
const CLAIM_RETRIES = 3;

/** What the steps need of an OVN vswitch seen from this host (src/ovn/ovn-switch.ts OvnSwitch). */
export interface OvnScope {
  readonly name: string;
  readonly plan: AddressPlan;
  readonly spec: SwitchSpec;
  readonly mtu: number;
  readonly netns?: string;
  readonly group: number;
  readonly facts: OvnHostFacts;
  readonly db: SwitchDb;
  readonly nb: NbDb;
  readonly sbRef: DbRef;
  readonly lsUuid: string;
  readonly reader: SlotReader;
  /** The vswitch's logical switch; NO_SUCH_VSWITCH once it is gone. */
  lsRow(): LogicalSwitchRow;
}

/** Claims slot n cluster-wide and binds it on this host. SlotBusy when the logical port exists. */
export async function attachSlot(vs: OvnScope, n: number, r: SlotRequest): Promise<SlotReport> {
  const ls = vs.lsRow();
  const a = vs.plan.addressOf(n);
  const held = vs.nb.port(a.portName);
  if (held) throw new SlotBusy(`logical port ${a.portName} exists (on ${held.external_ids.get(OK.host) ?? 'an unknown host'}; cleanup frees slots whose target or host is gone)`);
  const owner = selfOwner();
  const uuid = randomUUID();
  const mtu = r.mtu ?? vs.mtu;
  const t = r.target.info;
  const record = { host: vs.facts.chassis, owner, ifname: r.ifname, mtu, target: { kind: t.kind, ref: t.ref, ...(t.name ? { name: t.name } : {}), netnsId: t.netnsId }, extra: r.extra };
  await commitClaim(vs, n, claimOps(vs.nb.o, ls, a, record, uuid), uuid, r.timeoutMs);
  crashPoint('ovn:claimed');
  const sw = openSwitchNetns(vs.netns);
  let vethMade = false;
  try {
    try {
      await plugVeth({ switchNetns: sw, target: r.target.netns, nic: { portName: a.portName, ifname: r.ifname, mac: a.mac, addr: a }, mtu, group: vs.group, owner, usermode: vs.spec.usermode, vswitchdTso: vs.db.userspaceTso() });
    } catch (e) {
      // A host end of that name left by a crashed attach of this slot: ours to reclaim once.
      if (!isEcdockError(e, 'LINK_EXISTS') || (e.detail as { side?: string } | undefined)?.side === 'peer' || !(await vs.reader.reclaimOrphanLink(a.portName))) throw e;
      await plugVeth({ switchNetns: sw, target: r.target.netns, nic: { portName: a.portName, ifname: r.ifname, mac: a.mac, addr: a }, mtu, group: vs.group, owner, usermode: vs.spec.usermode, vswitchdTso: vs.db.userspaceTso() });
    }
    vethMade = true;
    crashPoint('ovn:veth-created');
    const ifaceUuid = await addBridgePort(vs.db, { bridge: vs.facts.bridge, name: a.portName, mac: a.mac, vswitch: vs.name, slot: n, extra: r.extra }, r.timeoutMs).catch((e) => {
      if (e instanceof OvsdbTransactionError && e.opIndex === 0) throw new VSwitchError('SLOT_TAKEN', `port ${a.portName} already exists on ${vs.facts.bridge} of this host`, { cause: e });
      throw e;
    });
    crashPoint('ovn:port-bound');
    if (r.wait) {
      await waitInstalled(vs.db, ifaceUuid, r.timeoutMs, () => ovnTimeoutError(vs.sbRef, vs.facts.chassis, a.portName, r.timeoutMs));
      crashPoint('ovn:installed');
    }
  } catch (e) {
    const rollback = await unbind(vs, n, vethMade).then(
      () => undefined,
      (re: unknown) => String(re),
    );
    if (rollback && e instanceof Error) (e as Error & { rollback?: string }).rollback = rollback;
    throw e;
  } finally {
    sw.close();
  }
  const p = vs.nb.portByUuid(uuid);
  if (!p) throw new VSwitchError('NO_SUCH_SLOT', `slot ${n} was removed while it was being attached`);
  // Without wait, ovn-controller may not have installed it yet: an attach in flight, ours.
  const ofport = vs.db.iface(p.name)?.ofport;
  const facts = r.wait ? { installed: true, hostLink: 'up' as const, ...(ofport !== undefined ? { ofport: Number(ofport) } : {}) } : { installed: false };
  return { info: vs.reader.describe(n, p, !r.wait), facts: { portType: 'veth', attaching: !r.wait, ...facts }, id: p._uuid };
}

/**
 * Commits a claim. A failed guard means the slot is taken (SlotBusy); a connection lost (say, to
 * a raft leader that died) is ambiguous: our port's client-chosen uuid says whether it committed,
 * and the guarded claim is sent again if it did not.
 */
async function commitClaim(vs: OvnScope, n: number, ops: ReturnType<typeof claimOps>, uuid: string, timeoutMs: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await vs.nb.submit(ops);
      await vs.nb.mon.waitFor(() => vs.nb.portByUuid(uuid), timeoutMs);
      return;
    } catch (e) {
      if (e instanceof OvsdbTransactionError) {
        if (e.opIndex === CLAIM_GUARD_SWITCH) throw new VSwitchError('NO_SUCH_VSWITCH', `vswitch ${vs.name} was deleted while slot ${n} was being attached`, { cause: e });
        if (e.opIndex === CLAIM_GUARD_PORT) throw new SlotBusy('another claim (from this or another host) holds it');
        if (e.tag === 'constraint violation') throw new SlotBusy(`the Northbound refused the port: ${e.details ?? e.tag}`);
        throw wrapNb(e, `cannot claim slot ${n} of ${vs.name}`);
      }
      if (attempt < CLAIM_RETRIES && isEcdockError(e) && (e.code === 'OVSDB_CONNECTION_LOST' || e.code === 'OVSDB_TIMEOUT')) {
        const seen = (await vs.nb.reconnected(timeoutMs)) ? (vs.nb.portByUuid(uuid) ? 'yes' : 'no') : undefined;
        if (seen === 'yes') return;
        if (seen === 'no') continue;
      }
      throw e;
    }
  }
}

/**
 * Undoes a slot on this host: veth, logical port, then br-int port. A crash after the veth
 * leaves a slot whose link is gone, after the logical port a br-int port without one: cleanup
 * removes either, whoever attached it and whether or not that process still lives.
 */
export async function unbind(vs: OvnScope, n: number, hadVeth = true): Promise<void> {
  const name = vs.plan.addressOf(n).portName;
  if (hadVeth) {
    await reapLinks(vs.netns, vs.group, [name]);
    crashPoint('detach:link-deleted');
  }
  const lsp = vs.reader.slotPort(n);
  if (lsp) await releasePorts(vs, [lsp]);
  crashPoint('ovn:released');
  const bp = vs.reader.bridgePort(name);
  if (bp) await removeBridgePorts(vs.db, vs.facts.bridge, [bp]);
}

/** Releases logical ports of this vswitch (nothing when it is gone). */
export async function releasePorts(vs: OvnScope, ports: LogicalSwitchPortRow[]): Promise<void> {
  const ls = vs.nb.switchByUuid(vs.lsUuid);
  if (!ls || !ports.length) return;
  await vs.nb.submit(releaseOps(vs.nb.o, ls, ports));
}
