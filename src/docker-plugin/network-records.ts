// Which vswitch serves a Docker network, as this host's OVSDB records it (the plugin keeps no
// files). A local vswitch is found by its bridge's external_ids (docker:network-id). An OVN
// vswitch has no bridge of its own on this host (br-int is OVN's), so the Open_vSwitch row's
// external_ids hold one key per such network: docker:ovn-network:<network id> = {"vswitch", "northbound"}.

import type { OvsdbClient } from '../ovsdb/client';
import type { Mutation } from '../ovsdb/operations';
import { DOCKER_KEYS } from './keys';

export interface NetworkRecord {
  networkId: string;
  vswitch: string;
  /** Local vswitches: whether the plugin created the bridge (else it was adopted). */
  created: boolean;
  /** OVN vswitches: the Northbound holding the logical switch. */
  northbound?: string;
}

type IdsColumn = ['map', [string, string][]];

/** The Open_vSwitch row's key recording OVN network `nid` on this host. */
export const ovnNetworkKey = (nid: string): string => `${DOCKER_KEYS.ovnNetwork}${nid}`;

/** The Open_vSwitch row's external_ids. */
export async function hostIds(ovs: OvsdbClient): Promise<Map<string, string>> {
  const [res] = await ovs.transact('Open_vSwitch', [{ op: 'select', table: 'Open_vSwitch', where: [], columns: ['external_ids'] }]);
  const row = res.rows?.[0] as { external_ids: IdsColumn } | undefined;
  return new Map(row?.external_ids[1] ?? []);
}

function ovnRecord(nid: string, value: string | undefined): NetworkRecord | undefined {
  if (value === undefined) return undefined;
  try {
    const v = JSON.parse(value) as { vswitch?: unknown; northbound?: unknown };
    if (typeof v.vswitch === 'string' && typeof v.northbound === 'string') return { networkId: nid, vswitch: v.vswitch, created: false, northbound: v.northbound };
  } catch {
    // not ours to read: ignored
  }
  return undefined;
}

/** Every Docker network this host's plugin serves. */
export async function allNetworks(ovs: OvsdbClient): Promise<NetworkRecord[]> {
  const out: NetworkRecord[] = [];
  const [res] = await ovs.transact('Open_vSwitch', [{ op: 'select', table: 'Bridge', where: [], columns: ['name', 'external_ids'] }]);
  for (const row of (res.rows ?? []) as { name: string; external_ids: IdsColumn }[]) {
    const ids = new Map(row.external_ids[1]);
    const nid = ids.get(DOCKER_KEYS.network);
    if (nid) out.push({ networkId: nid, vswitch: row.name, created: ids.get(DOCKER_KEYS.created) === 'true' });
  }
  for (const [k, v] of await hostIds(ovs)) {
    const rec = k.startsWith(DOCKER_KEYS.ovnNetwork) ? ovnRecord(k.slice(DOCKER_KEYS.ovnNetwork.length), v) : undefined;
    if (rec) out.push(rec);
  }
  return out;
}

/** The vswitch serving Docker network `nid`, or undefined. */
export async function findNetwork(ovs: OvsdbClient, nid: string): Promise<NetworkRecord | undefined> {
  const [res] = await ovs.transact('Open_vSwitch', [
    { op: 'select', table: 'Bridge', where: [['external_ids', 'includes', ['map', [[DOCKER_KEYS.network, nid]]]]], columns: ['name', 'external_ids'] },
  ]);
  const row = res.rows?.[0] as { name: string; external_ids: IdsColumn } | undefined;
  if (row) return { networkId: nid, vswitch: row.name, created: new Map(row.external_ids[1]).get(DOCKER_KEYS.created) === 'true' };
  return ovnRecord(nid, (await hostIds(ovs)).get(ovnNetworkKey(nid)));
}

/** Records (or, with undefined, forgets) OVN network `nid` on this host. */
export async function recordOvnNetwork(ovs: OvsdbClient, nid: string, v: { vswitch: string; northbound: string } | undefined): Promise<void> {
  const key = ovnNetworkKey(nid);
  await ovs.transact('Open_vSwitch', [
    {
      op: 'mutate',
      table: 'Open_vSwitch',
      where: [],
      mutations: [
        ['external_ids', 'delete', ['set', [key]]],
        ...(v ? [['external_ids', 'insert', ['map', [[key, JSON.stringify({ vswitch: v.vswitch, northbound: v.northbound })]]]] as Mutation] : []),
      ],
    },
  ]);
}
