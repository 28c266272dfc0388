// A slot as OVSDB rows, and nothing else: which Port and Interface rows are ecdock's, the
// external_ids a slot's rows carry, the claim transaction, the SlotInfo a slot's rows describe,
// and the facts they state. Pure (no socket, no netlink, no clock), so it is unit-tested without
// root in test/unit/ovs-slot-rows.test.ts.

import { NIC2, nic2OfportRequest, nic2PortName, slotFromNic2PortName, slotFromPortName, type AddressPlan } from '../addressing';
import { VSwitchError } from '../errors';
import type { LinkInfo } from '../netlink/link';
import type { Operation, TypedOps } from '../ovsdb/operations';
import type { BridgeRow, InterfaceRow, OpenVswitchTables, PortRow } from '../ovsdb/schema/open-vswitch';
import type { PortType, RecordedOptions, SlotFacts, SlotReport, SlotRequest, SlotTargetInfo } from '../realisation';
import type { Nic } from './plumbing';
import { K, idsToObject } from './switch-db';

/** A Port row ecdock made for a slot of `vswitch`. Ports without these marks are never touched. */
export function isOurs(port: PortRow, vswitch: string): boolean {
  return port.external_ids.get(K.vswitch) === vswitch && port.external_ids.has(K.slot);
}

/** The port type recorded at attach; older rows are told by their Interface type. */
export function portTypeOf(port: PortRow, iface: InterfaceRow | undefined): PortType {
  const t = port.external_ids.get(K.portType);
  if (t === 'internal' || t === 'veth') return t;
  return iface?.type === 'internal' ? 'internal' : 'veth';
}

/** What the slot was plugged into, as recorded at attach. */
export function targetOf(port: PortRow): SlotTargetInfo | undefined {
  const ids = port.external_ids;
  const kind = ids.get(K.targetKind) as SlotTargetInfo['kind'] | undefined;
  const ref = ids.get(K.targetRef);
  const target = ids.get(K.target);
  if (!kind || !ref || !target) return undefined;
  const name = ids.get(K.targetName);
  return { kind, ref, ...(name ? { name } : {}), netnsId: ids.get(K.netnsId) ?? (kind === 'container' ? '' : target) };
}

/** Slot number of a slot link or port name (<vs>-sNN, or the second NIC's <vs>-oNN). */
export function slotOfLinkName(vswitch: string, name: string): number | undefined {
  return slotFromPortName(vswitch, name) ?? slotFromNic2PortName(vswitch, name);
}

/** The slot number a Port of ours records. */
export function slotOfPort(port: PortRow): number {
  return Number(port.external_ids.get(K.slot));
}

/** The NICs of slot n: the primary (addresses, routes) and, with dualNic, the second (NIC2). */
export function nicsOf(plan: AddressPlan, n: number, r: Pick<SlotRequest, 'ifname' | 'dualNic'>): Nic[] {
  const a = plan.addressOf(n);
  const nics: Nic[] = [{ portName: a.portName, ifname: r.ifname, mac: a.mac, ofportRequest: a.ofportRequest, addr: a }];
  if (r.dualNic) nics.push({ portName: nic2PortName(plan.vswitch, n), ifname: NIC2.ifname, mac: a.mac2, ofportRequest: nic2OfportRequest(n) });
  return nics;
}

type ClaimRequest = Pick<SlotRequest, 'target' | 'portType' | 'mtu' | 'vlan' | 'extra'>;

/** The external_ids of one NIC's Port and Interface. With an owner, the Port is marked "attaching". */
export function slotIds(vswitch: string, n: number, nic: Nic, r: ClaimRequest, owner?: string): { port: Map<string, string>; iface: Map<string, string> } {
  const t = r.target.info;
  const common: [string, string][] = [
    [K.vswitch, vswitch],
    [K.slot, String(n)],
    [K.target, t.kind === 'container' ? t.ref : t.netnsId],
    [K.targetKind, t.kind],
    [K.targetRef, t.ref],
    [K.netnsId, t.netnsId],
    ...(t.name ? ([[K.targetName, t.name]] as [string, string][]) : []),
    ...(nic.addr ? [] : ([[K.nic, '2']] as [string, string][])),
  ];
  const port = new Map<string, string>([
    ...Object.entries(r.extra),
    ...common,
    [K.portType, r.portType],
    [K.ifname, nic.ifname],
    ...(r.mtu !== undefined ? ([[K.mtu, String(r.mtu)]] as [string, string][]) : []),
    ...(owner ? ([[K.state, 'attaching'], [K.owner, owner]] as [string, string][]) : []),
  ]);
  const iface = new Map<string, string>([
    ...Object.entries(r.extra),
    ...common,
    ['attached-mac', nic.mac],
    ['iface-id', nic.portName],
    ['iface-status', 'active'],
  ]);
  return { port, iface };
}

/** One slot claim: its NICs with the row uuids chosen for them, and the owner of an in-flight claim. */
export interface Claim {
  n: number;
  nics: Nic[];
  request: ClaimRequest;
  uuids: { port: string; iface: string }[];
  /** Marks the claim "attaching" with this owner (internal ports: the device comes later). */
  owner?: string;
  /** Leave ofport_request out (a port ecdock did not create holds that number). */
  noOfportRequest?: boolean;
}

/**
 * The claim transaction: guards (the bridge is the one we know; each port name is free), then
 * each NIC's Interface and Port, then one mutate adding them all to the bridge. Returns the ops
 * and how many leading ops are guards (a failed guard at index 0 means the bridge went, at
 * 1..guards-1 that a port name is taken).
 */
export function claimOps(x: TypedOps<OpenVswitchTables>, bridge: Pick<BridgeRow, '_uuid' | 'name'>, c: Claim): { ops: Operation[]; guards: number } {
  const ops: Operation[] = [
    x.wait({ table: 'Bridge', where: [['_uuid', '==', bridge._uuid]], columns: ['name'], until: '==', rows: [{ name: bridge.name }], timeout: 0 }),
  ];
  for (const nic of c.nics) ops.push(x.wait({ table: 'Port', where: [['name', '==', nic.portName]], columns: ['name'], until: '==', rows: [], timeout: 0 }));
  const guards = ops.length;
  c.nics.forEach((nic, i) => {
    const ids = slotIds(bridge.name, c.n, nic, c.request, c.owner);
    const u = c.uuids[i];
    if (!u) throw new VSwitchError('INTERNAL', `claim of slot ${c.n} has ${c.nics.length} NICs but ${c.uuids.length} row uuids`);
    ops.push(
      x.insert(
        'Interface',
        {
          name: nic.portName,
          type: c.request.portType === 'internal' ? 'internal' : '',
          ...(nic.ofportRequest !== undefined && !c.noOfportRequest ? { ofport_request: nic.ofportRequest } : {}),
          external_ids: ids.iface,
        },
        { uuid: u.iface },
      ),
      x.insert('Port', { name: nic.portName, interfaces: [u.iface], ...(c.request.vlan !== undefined ? { tag: c.request.vlan } : {}), external_ids: ids.port }, { uuid: u.port }),
    );
  });
  ops.push(x.mutate('Bridge', [['_uuid', '==', bridge._uuid]], [['ports', 'insert', c.uuids.map((u) => u.port)]]));
  return { ops, guards };
}

/** The rows of one slot: its primary Port and Interface, and the second NIC's when it has one. */
export interface SlotRows {
  port: PortRow;
  iface: InterfaceRow | undefined;
  nic2Port?: PortRow | undefined;
  nic2Iface?: InterfaceRow | undefined;
}

/** Everything about a slot its rows say, without a verdict (see SlotReport). */
export function describe(plan: AddressPlan, n: number, rows: SlotRows): SlotReport['info'] {
  const { port, iface, nic2Port, nic2Iface } = rows;
  const a = plan.addressOf(n);
  const target = targetOf(port);
  const owner = port.external_ids.get(K.owner);
  return {
    ...a,
    vswitch: plan.vswitch,
    index: n,
    portType: portTypeOf(port, iface),
    ifname: port.external_ids.get(K.ifname) ?? 'eth0',
    ...(port.tag !== undefined ? { vlan: port.tag } : {}),
    ...(iface?.mtu !== undefined ? { mtu: Number(iface.mtu) } : {}),
    ...(iface?.ofport !== undefined && iface.ofport > 0 ? { ofport: Number(iface.ofport) } : {}),
    ...(target ? { target } : {}),
    ...(nic2Port && nic2Iface
      ? { nic2: { portName: nic2Iface.name, ifname: nic2Port.external_ids.get(K.ifname) ?? NIC2.ifname, mac: a.mac2, ...(nic2Iface.ofport !== undefined && nic2Iface.ofport > 0 ? { ofport: Number(nic2Iface.ofport) } : {}) } }
      : {}),
    ...(owner ? { owner } : {}),
    ...(a.ofportRequest !== undefined && iface && iface.ofport_request === undefined
      ? { warning: `attached without asking for OpenFlow port ${a.ofportRequest}: a port ecdock did not create held that number` }
      : {}),
    externalIds: idsToObject(port.external_ids),
  };
}

/** What the realisation saw beside the rows: the switch-side links and whether ovs-vswitchd runs. */
export interface SeenBeside {
  /** The veth host end in the switch's namespace (undefined: none), or 'just-made' right after attach. */
  link: LinkInfo | undefined | 'just-made';
  /** A device named like the port is in the switch's namespace (for internal ports: not in the target). */
  deviceInSwitch?: boolean;
  daemon?: 'running' | 'stopped' | 'unknown';
}

/** What a slot's rows and the switch side state, without a verdict (see SlotFacts). */
export function slotFacts(rows: Pick<SlotRows, 'port' | 'iface'>, seen: SeenBeside): SlotFacts {
  const { port, iface } = rows;
  const { link } = seen;
  const portType = portTypeOf(port, iface);
  const facts: SlotFacts = { portType, attaching: port.external_ids.get(K.state) === 'attaching' };
  if (seen.daemon === 'running' || seen.daemon === 'stopped') facts.switchDaemon = seen.daemon;
  if (iface?.error) facts.portError = iface.error;
  if (iface?.ofport !== undefined) facts.ofport = Number(iface.ofport);
  if (iface?.link_state) facts.portLink = iface.link_state;
  if (portType === 'veth') {
    if (link === 'just-made') facts.hostLink = 'up';
    else if (!link) facts.hostLink = 'absent';
    else facts.hostLink = link.operState === 'up' || link.operState === 'unknown' ? 'up' : 'down';
  } else if (seen.deviceInSwitch !== undefined) facts.deviceInSwitch = seen.deviceInSwitch;
  return facts;
}

/** How slot n was attached, from its primary Port (for reattach). */
export function recordedOptions(rows: Pick<SlotRows, 'port' | 'iface'>, dualNic: boolean): RecordedOptions {
  const { port, iface } = rows;
  const ids = port.external_ids;
  const externalIds: Record<string, string> = {};
  for (const [k, v] of ids) if (!k.startsWith('ecdock:')) externalIds[k] = v;
  const mtu = ids.get(K.mtu);
  return {
    portType: portTypeOf(port, iface),
    ifname: ids.get(K.ifname) ?? 'eth0',
    ...(mtu ? { mtu: Number(mtu) } : {}),
    ...(port.tag !== undefined ? { vlan: port.tag } : {}),
    externalIds,
    dualNic,
  };
}
