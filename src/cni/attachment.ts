// A CNI attachment is (network name, container id, interface name). It is recorded in the
// external_ids of the slot's Port (and Interface), next to ecdock's own keys, so DEL, CHECK and
// GC find it in OVSDB with one select: there are no state files. On an OVN vswitch the slot is a
// Logical_Switch_Port of the Northbound, which holds the same keys plus the chassis the slot is
// bound on: attachments are looked up there (a claim whose br-int port was never made, or is
// gone, is still found), and only this host's (a runtime knows its own containers only).

import type { OvsdbClient } from '../ovsdb/client';
import type { CniEnv } from './env';
import type { NetConf } from './config';

export const CNI_KEYS = {
  network: 'cni:network',
  containerId: 'cni:container-id',
  ifname: 'cni:ifname',
  podName: 'cni:pod-name',
  podNamespace: 'cni:pod-namespace',
} as const;

/** What ADD records with the slot. */
export function attachmentIds(env: CniEnv, conf: NetConf): Record<string, string> {
  return {
    [CNI_KEYS.network]: conf.name,
    [CNI_KEYS.containerId]: env.containerId,
    [CNI_KEYS.ifname]: env.ifname,
    ...(env.args.podName ? { [CNI_KEYS.podName]: env.args.podName } : {}),
    ...(env.args.podNamespace ? { [CNI_KEYS.podNamespace]: env.args.podNamespace } : {}),
  };
}

export interface FoundAttachment {
  slot: number;
  portName: string;
  ids: Map<string, string>;
}

function decodeMap(wire: unknown): Map<string, string> {
  const pairs = Array.isArray(wire) && wire[0] === 'map' && Array.isArray(wire[1]) ? (wire[1] as [string, string][]) : [];
  return new Map(pairs);
}

type WireRow = { name: string; external_ids: unknown };

function rowsOf(res: unknown): WireRow[] {
  return ((res as { rows?: Record<string, unknown>[] } | undefined)?.rows ?? []) as WireRow[];
}

/** This host's slot ports of an OVN vswitch (Logical_Switch_Ports bound on this chassis) whose external_ids include `pairs`. */
async function ovnSlotPorts(ovs: OvsdbClient, northbound: string, pairs: [string, string][]): Promise<WireRow[]> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { readHostFacts } = require('../ovn/local-host') as typeof import('../ovn/local-host');
  const { connectDb, NB } = require('../ovn/nb-db') as typeof import('../ovn/nb-db');
  const { OK } = require('../ovn/logical-ops') as typeof import('../ovn/logical-ops');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const [{ chassis }, nb] = await Promise.all([readHostFacts(ovs), connectDb(northbound)]);
  const [res] = await nb.transact(NB, [
    { op: 'select', table: 'Logical_Switch_Port', where: [['external_ids', 'includes', ['map', [...pairs, [OK.host, chassis]]]]], columns: ['name', 'external_ids'] },
  ]);
  return rowsOf(res);
}

/**
 * Slot ports of the configured vswitch whose external_ids include all of `match`, read with one
 * select (no monitor): the local OVS's Port table, or for an OVN vswitch this host's logical ports.
 */
export async function findAttachments(ovs: OvsdbClient, conf: Pick<NetConf, 'vswitch' | 'ovn'>, match: Record<string, string>): Promise<FoundAttachment[]> {
  const pairs = Object.entries({ 'ecdock:vswitch': conf.vswitch, ...match });
  const rows = conf.ovn
    ? await ovnSlotPorts(ovs, conf.ovn.northbound, pairs)
    : rowsOf((await ovs.transact('Open_vSwitch', [{ op: 'select', table: 'Port', where: [['external_ids', 'includes', ['map', pairs]]], columns: ['name', 'external_ids'] }]))[0]);
  const out: FoundAttachment[] = [];
  for (const r of rows) {
    const ids = decodeMap(r.external_ids);
    const slot = Number(ids.get('ecdock:slot'));
    // The second NIC of a dual-NIC slot carries the same ids; the slot is found by its primary.
    if (!Number.isInteger(slot) || ids.get('ecdock:nic') === '2') continue;
    out.push({ slot, portName: r.name, ids });
  }
  return out.sort((a, b) => a.slot - b.slot);
}

/** The attachment of this call (network, container id, interface name). */
export function findOwn(ovs: OvsdbClient, env: CniEnv, conf: NetConf): Promise<FoundAttachment[]> {
  return findAttachments(ovs, conf, {
    [CNI_KEYS.network]: conf.name,
    [CNI_KEYS.containerId]: env.containerId,
    [CNI_KEYS.ifname]: env.ifname,
  });
}
