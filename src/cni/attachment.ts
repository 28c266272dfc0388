// A CNI attachment is (network name, container id, interface name). It is recorded in the
// external_ids of the slot's Port (and Interface), next to ecdock's own keys, so DEL, CHECK and
// GC find it in OVSDB with one select: there are no state files.

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

/** Slot ports of `vswitch` whose external_ids include all of `match`, read with one select (no monitor). */
export async function findAttachments(ovs: OvsdbClient, vswitch: string, match: Record<string, string>): Promise<FoundAttachment[]> {
  const pairs = Object.entries({ 'ecdock:vswitch': vswitch, ...match });
  const [res] = await ovs.transact('Open_vSwitch', [
    { op: 'select', table: 'Port', where: [['external_ids', 'includes', ['map', pairs]]], columns: ['name', 'external_ids'] },
  ]);
  const rows = ((res as { rows?: Record<string, unknown>[] }).rows ?? []) as { name: string; external_ids: unknown }[];
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
  return findAttachments(ovs, conf.vswitch, {
    [CNI_KEYS.network]: conf.name,
    [CNI_KEYS.containerId]: env.containerId,
    [CNI_KEYS.ifname]: env.ifname,
  });
}
