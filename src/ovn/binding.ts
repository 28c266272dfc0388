// Binding a logical port on this host: a port on the integration bridge whose Interface carries
// external_ids:iface-id = the logical port's name. ovn-controller sees it, claims the port for
// this chassis, installs its flows, and marks the Interface ovn-installed=true: from then on the
// slot carries traffic. The bridge belongs to ovn-controller; ecdock only adds and removes its own
// ports on it (marked with ecdock:vswitch).

import { randomUUID } from 'node:crypto';
import { VSwitchError } from '../errors';
import { OvsdbError } from '../errors';
import type { InterfaceRow, PortRow } from '../ovsdb/schema/open-vswitch';
import { K, type SwitchDb } from '../ovs/switch-db';
import { portBinding, type DbRef } from './nb-db';

export interface BridgePortRequest {
  bridge: string;
  /** Port, Interface and host-end veth name (the logical port's name too). */
  name: string;
  mac: string;
  vswitch: string;
  slot: number;
  extra: Record<string, string>;
}

/** The integration bridge; OVN_HOST_NOT_CONFIGURED when ovn-controller has not made it. */
export function integrationBridge(db: SwitchDb, name: string) {
  const br = db.bridge(name);
  if (!br) {
    throw new VSwitchError('OVN_HOST_NOT_CONFIGURED', `this host's Open vSwitch has no integration bridge ${name}; is ovn-controller running here?`, { detail: { bridge: name } });
  }
  return br;
}

/** A port of ours on the integration bridge. */
export function isOurBridgePort(p: PortRow, vswitch: string): boolean {
  return p.external_ids.get(K.vswitch) === vswitch && p.external_ids.has(K.slot);
}

/**
 * Adds the slot's port to the integration bridge (guarded: no port of that name). Resolves with
 * the Interface's uuid; a port of that name already there is a SLOT_TAKEN-worthy conflict.
 */
export async function addBridgePort(db: SwitchDb, r: BridgePortRequest, timeoutMs: number): Promise<string> {
  const br = integrationBridge(db, r.bridge);
  await db.settled([r.name], timeoutMs);
  const x = db.o;
  const ifUuid = randomUUID();
  const portUuid = randomUUID();
  const ours: [string, string][] = [
    [K.vswitch, r.vswitch],
    [K.slot, String(r.slot)],
  ];
  await db.submit([
    x.wait({ table: 'Port', where: [['name', '==', r.name]], columns: ['name'], until: '==', rows: [], timeout: 0 }),
    x.insert(
      'Interface',
      { name: r.name, external_ids: new Map([...Object.entries(r.extra), ...ours, ['iface-id', r.name], ['attached-mac', r.mac], ['iface-status', 'active']]) },
      { uuid: ifUuid },
    ),
    x.insert('Port', { name: r.name, interfaces: [ifUuid], external_ids: new Map([...Object.entries(r.extra), ...ours]) }, { uuid: portUuid }),
    x.mutate('Bridge', [['_uuid', '==', br._uuid]], [['ports', 'insert', [portUuid]]]),
  ]);
  return ifUuid;
}

/** Takes ports of ours off the integration bridge; the names may come back once ovs-vswitchd has applied that. */
export async function removeBridgePorts(db: SwitchDb, bridge: string, ports: PortRow[]): Promise<void> {
  const br = db.bridge(bridge);
  if (!br || !ports.length) return;
  const { nextCfg } = await db.submit([db.o.mutate('Bridge', [['_uuid', '==', br._uuid]], [['ports', 'delete', ports.map((p) => p._uuid)]])]);
  db.noteRemoved(
    ports.map((p) => p.name),
    nextCfg,
  );
}

export function isInstalled(iface: InterfaceRow | undefined): boolean {
  return !!iface && iface.external_ids.get('ovn-installed') === 'true' && iface.ofport !== undefined && iface.ofport > 0;
}

/**
 * Waits until ovn-controller has installed the port's flows (Interface ovn-installed=true).
 * Rejects with PORT_FAILED when ovs-vswitchd refused the device, with `onTimeout()` otherwise.
 */
export async function waitInstalled(db: SwitchDb, ifaceUuid: string, timeoutMs: number, onTimeout: () => Promise<Error>): Promise<InterfaceRow> {
  try {
    return await db.mon.waitFor(() => {
      const iface = db.ifaceByUuid(ifaceUuid);
      if (!iface) throw new VSwitchError('NO_SUCH_SLOT', 'the slot\'s port vanished from the integration bridge while it was being attached');
      if (iface.error || iface.ofport === -1) {
        throw new VSwitchError('PORT_FAILED', `ovs-vswitchd could not add ${iface.name}: ${iface.error ?? 'no OpenFlow port'}`, { detail: { error: iface.error } });
      }
      return isInstalled(iface) ? iface : undefined;
    }, timeoutMs);
  } catch (e) {
    if (e instanceof OvsdbError && e.code === 'OVSDB_TIMEOUT') throw await onTimeout();
    throw e;
  }
}

/** An OVN_TIMEOUT that names the part of OVN that did not do its share in time (asks the Southbound). */
export async function ovnTimeoutError(sbRef: DbRef, me: string, lsp: string, timeoutMs: number): Promise<Error> {
  const pb = await portBinding(sbRef, lsp).catch(() => undefined);
  const [stage, why] = !pb
    ? ['unknown', `and the Southbound could not be asked`]
    : !pb.exists
      ? ['northd', `ovn-northd has not put it into the Southbound: is ovn-northd running and connected?`]
      : pb.chassis !== me
        ? ['controller', `ovn-controller of chassis ${me} has not claimed it${pb.chassis ? ` (bound on ${pb.chassis})` : ''}: is ovn-controller running on this host?`]
        : ['install', `ovn-controller of chassis ${me} claimed it but has not installed its flows`];
  return new VSwitchError('OVN_TIMEOUT', `logical port ${lsp} was not ready within ${timeoutMs} ms: ${why}`, { detail: { stage, logicalPort: lsp, chassis: me, binding: pb } });
}
