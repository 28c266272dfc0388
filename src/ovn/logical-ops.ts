// The Northbound rows of a cross-host vswitch, as pure functions: what the plan looks like in a
// Logical_Switch's external_ids, the transaction that creates the switch with its gateway (a
// logical router port owning the gateway address and MAC, so that every host answers for it), the
// transaction that claims a slot, and what a slot's facts mean for its state. No I/O here.

import { randomInt } from 'node:crypto';
import { AddressPlan, type SlotAddress } from '../addressing';
import type { Operation, TypedOps } from '../ovsdb/operations';
import { K, SCHEMA_VERSION } from '../ovs/switch-db';
import type { LogicalSwitchPortRow, LogicalSwitchRow, NbTables } from './nb-db';

/** Keys of ours on the OVN side, beyond the local ones. */
export const OK = {
  ...K,
  /** The chassis a slot is bound on. */
  host: 'ecdock:host',
} as const;

/** The logical router port holding the gateway, and the switch port that joins it. */
export const gatewayRouterPort = (vswitch: string): string => `${vswitch}-gw`;
export const gatewaySwitchPort = (vswitch: string): string => `${vswitch}-gw-ls`;

/** "MAC IPv4 [IPv6]": the slot's addresses, and its port security (nothing else may leave it). */
export function lspAddress(a: SlotAddress): string {
  return [a.mac, a.ipv4, ...(a.ipv6 !== undefined ? [a.ipv6] : [])].join(' ');
}

/** The plan, as stored in the Logical_Switch's external_ids. */
export function planIds(plan: AddressPlan, group: number, mtu?: number): Map<string, string> {
  return new Map<string, string>([
    [K.version, SCHEMA_VERSION],
    [K.subnet, plan.subnet],
    [K.gateway, plan.gateway],
    [K.group, String(group)],
    ...(plan.ipv6Prefix ? ([[K.ipv6Prefix, plan.ipv6Prefix]] as [string, string][]) : []),
    ...(mtu !== undefined ? ([[K.mtu, String(mtu)]] as [string, string][]) : []),
  ]);
}

/** Whether a logical switch carries an ecdock plan. */
export function isOurSwitch(ls: LogicalSwitchRow): boolean {
  return ls.external_ids.has(K.subnet) && ls.external_ids.has(K.gateway) && ls.external_ids.has(K.group);
}

/** The plan a logical switch of ours carries. */
export function planOf(ls: LogicalSwitchRow): { plan: AddressPlan; group: number; mtu?: number } {
  const ids = ls.external_ids;
  const prefix = ids.get(K.subnet)!.split('/')[1];
  const mtu = ids.get(K.mtu);
  return { plan: AddressPlan.parse(ls.name, `${ids.get(K.gateway)}/${prefix}`, ids.get(K.ipv6Prefix)), group: Number(ids.get(K.group)), ...(mtu ? { mtu: Number(mtu) } : {}) };
}

/** A link group for the switch's veths (1..2^31-1; the top bit marks links being deleted). */
export function newGroup(): number {
  return randomInt(1 << 16, 0x7fffffff);
}

/**
 * Creates the switch, its router and the router port holding the gateway address and MAC, in one
 * transaction. The first operation fails when a switch of that name appeared meanwhile.
 */
export function createSwitchOps(x: TypedOps<NbTables>, plan: AddressPlan, group: number, mtu: number | undefined, uuids: { ls: string; lr: string; lrp: string; lsp: string }): Operation[] {
  const vs = plan.vswitch;
  const mine = new Map([[K.vswitch, vs]]);
  return [
    x.wait({ table: 'Logical_Switch', where: [['name', '==', vs]], columns: ['name'], until: '==', rows: [], timeout: 0 }),
    x.insert(
      'Logical_Router_Port',
      {
        name: gatewayRouterPort(vs),
        mac: plan.gatewayMac,
        networks: [`${plan.gateway}/${plan.prefixLength}`, ...(plan.gateway6 !== undefined ? [`${plan.gateway6}/${plan.ipv6PrefixLength}`] : [])],
        external_ids: mine,
      },
      { uuid: uuids.lrp },
    ),
    x.insert('Logical_Router', { name: vs, ports: [uuids.lrp], external_ids: mine }, { uuid: uuids.lr }),
    x.insert(
      'Logical_Switch_Port',
      { name: gatewaySwitchPort(vs), type: 'router', addresses: ['router'], options: new Map([['router-port', gatewayRouterPort(vs)]]), external_ids: mine },
      { uuid: uuids.lsp },
    ),
    x.insert('Logical_Switch', { name: vs, ports: [uuids.lsp], external_ids: planIds(plan, group, mtu) }, { uuid: uuids.ls }),
  ];
}

/** What a slot records about itself, beyond its addresses. */
export interface SlotRecord {
  host: string;
  owner: string;
  ifname: string;
  mtu?: number;
  target: { kind: string; ref: string; name?: string; netnsId: string };
  extra: Record<string, string>;
}

export function slotIds(vswitch: string, n: number, r: SlotRecord): Map<string, string> {
  const t = r.target;
  return new Map<string, string>([
    ...Object.entries(r.extra),
    [K.vswitch, vswitch],
    [K.slot, String(n)],
    [OK.host, r.host],
    [K.owner, r.owner],
    [K.ifname, r.ifname],
    [K.portType, 'veth'],
    [K.target, t.kind === 'container' ? t.ref : t.netnsId],
    [K.targetKind, t.kind],
    [K.targetRef, t.ref],
    [K.netnsId, t.netnsId],
    ...(t.name ? ([[K.targetName, t.name]] as [string, string][]) : []),
    ...(r.mtu !== undefined ? ([[K.mtu, String(r.mtu)]] as [string, string][]) : []),
  ]);
}

/** Index of the claim's guard that fails when the slot's port exists. */
export const CLAIM_GUARD_SWITCH = 0;
export const CLAIM_GUARD_PORT = 1;

/**
 * The claim: the switch is the one we know, the port name is free (it is unique cluster-wide, so
 * of two hosts claiming one slot exactly one commits), then the port and its place on the switch.
 */
export function claimOps(x: TypedOps<NbTables>, ls: LogicalSwitchRow, a: SlotAddress, r: SlotRecord, uuid: string): Operation[] {
  const addr = lspAddress(a);
  return [
    x.wait({ table: 'Logical_Switch', where: [['_uuid', '==', ls._uuid]], columns: ['name'], until: '==', rows: [{ name: ls.name }], timeout: 0 }),
    x.wait({ table: 'Logical_Switch_Port', where: [['name', '==', a.portName]], columns: ['name'], until: '==', rows: [], timeout: 0 }),
    x.insert(
      'Logical_Switch_Port',
      {
        name: a.portName,
        addresses: [addr],
        port_security: [addr],
        options: new Map([['requested-chassis', r.host]]),
        external_ids: slotIds(ls.name, a.slot, r),
      },
      { uuid },
    ),
    x.mutate('Logical_Switch', [['_uuid', '==', ls._uuid]], [['ports', 'insert', [uuid]]]),
  ];
}

/** Takes slot ports off the switch (the ports go with their last reference). */
export function releaseOps(x: TypedOps<NbTables>, ls: LogicalSwitchRow, ports: LogicalSwitchPortRow[]): Operation[] {
  return ports.length ? [x.mutate('Logical_Switch', [['_uuid', '==', ls._uuid]], [['ports', 'delete', ports.map((p) => p._uuid)]])] : [];
}
