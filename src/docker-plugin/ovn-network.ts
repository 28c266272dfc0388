// A Docker network backed by an OVN logical switch (`-o ecdock.ovn.northbound=URL`). Each host's
// dockerd has its own network (own id, local scope); the logical switch they share is named by
// `-o ecdock.vswitch`. Who uses it is written on the switch itself, one key per host
// (docker:network-id:<chassis> = that host's network id), and whether a plugin created it
// (docker:created-by-plugin). `docker network rm` takes this host's key away; the last host out
// destroys the switch only if a plugin created it and no slot is left on it. This host remembers
// the network in its own OVSDB (network-records), written last: it is what makes the network exist
// for the plugin, so a create cut short is simply made again.

import { VSwitchError, isEcdockError } from '../errors';
import { OvsdbClient } from '../ovsdb/client';
import type { Mutation, Operation } from '../ovsdb/operations';
import { VSwitch } from '../vswitch';
import { DOCKER_KEYS } from './keys';
import { findNetwork, hostIds, ovnNetworkKey, recordOvnNetwork, type NetworkRecord } from './network-records';
import type { NetworkPlan } from './network-options';

const short = (id: string): string => id.slice(0, 12);
const NB = 'OVN_Northbound';

/** The plugin's own Northbound sessions, one per URL (the library keeps its own for the vswitches). */
const northbounds = new Map<string, Promise<OvsdbClient>>();

function northbound(url: string): Promise<OvsdbClient> {
  let p = northbounds.get(url);
  if (!p) {
    // A clustered Northbound takes writes only through its leader.
    p = OvsdbClient.connect(url, { timeoutMs: 10_000, leaderOnly: url.includes(','), reconnect: { minMs: 100, maxMs: 1000 } });
    northbounds.set(url, p);
    p.catch(() => northbounds.delete(url));
  }
  return p;
}

/** Closes the plugin's Northbound sessions (on stop). */
export function closeNorthbounds(): void {
  for (const p of northbounds.values()) p.then((c) => c.close()).catch(() => undefined);
  northbounds.clear();
}

/** This host's chassis name (the OVN realisation has checked that it is one). */
async function chassisOf(ovs: OvsdbClient): Promise<string> {
  const name = (await hostIds(ovs)).get('system-id');
  if (!name) throw new VSwitchError('OVN_HOST_NOT_CONFIGURED', `the Open vSwitch at ${ovs.url} is not an OVN host: it has no external_ids:system-id`);
  return name;
}

interface LsRow {
  _uuid: ['uuid', string];
  external_ids: ['map', [string, string][]];
}

async function switchRow(nb: OvsdbClient, name: string): Promise<{ uuid: string; ids: Map<string, string> } | undefined> {
  const [res] = await nb.transact(NB, [{ op: 'select', table: 'Logical_Switch', where: [['name', '==', name]], columns: ['_uuid', 'external_ids'] }]);
  const row = res.rows?.[0] as LsRow | undefined;
  return row && { uuid: row._uuid[1], ids: new Map(row.external_ids[1]) };
}

/** Sets (or with `nid` undefined, removes) this host's key on the logical switch, in one guarded transaction. */
function hostKeyOps(uuid: string, key: string, nid: string | undefined, created: boolean): Operation[] {
  return [
    {
      op: 'mutate',
      table: 'Logical_Switch',
      where: [['_uuid', '==', ['uuid', uuid]]],
      mutations: [
        ['external_ids', 'delete', ['set', [key]]],
        ...(nid ? [['external_ids', 'insert', ['map', [[key, nid], ...(created ? [[DOCKER_KEYS.created, 'true']] : [])]]] as Mutation] : []),
      ],
    },
  ];
}

/** An unreachable Northbound, in words that name the option (the library's error is its cause). */
export function explainNorthbound(e: unknown, url: string): unknown {
  if (!isEcdockError(e) || (e.code !== 'OVSDB_UNREACHABLE' && e.code !== 'OVSDB_TIMEOUT')) return e;
  return new VSwitchError(e.code, `ecdock cannot reach the OVN Northbound at ${url}: check -o ecdock.ovn.northbound and that its ovsdb-server listens there, then retry`, { cause: e, detail: { northbound: url } });
}

export interface OvnNetworkContext {
  ovs: OvsdbClient;
  netns?: string;
  log: (line: string) => void;
}

/** CreateNetwork for an OVN network: the logical switch made or joined, this host's use written on it. */
export async function createOvnNetwork(c: OvnNetworkContext, plan: NetworkPlan & { ovnNorthbound: string }): Promise<void> {
  try {
    await createOrJoin(c, plan);
  } catch (e) {
    throw explainNorthbound(e, plan.ovnNorthbound);
  }
}

async function createOrJoin(c: OvnNetworkContext, plan: NetworkPlan & { ovnNorthbound: string }): Promise<void> {
  const nid = plan.networkId;
  const known = await findNetwork(c.ovs, nid);
  if (known) return; // a repeated request
  const nb = await northbound(plan.ovnNorthbound);
  const before = await switchRow(nb, plan.vswitch);
  // (It refuses a host that is no OVN chassis, and a different plan, before writing anything.)
  const vs = await VSwitch.create(c.ovs, {
    name: plan.vswitch,
    subnet: plan.subnet,
    ...(plan.mtu !== undefined ? { mtu: plan.mtu } : {}),
    ...(c.netns !== undefined ? { netns: c.netns } : {}),
    ovn: { northbound: plan.ovnNorthbound },
  });
  const ls = await switchRow(nb, vs.name);
  if (!ls) throw new VSwitchError('NO_SUCH_VSWITCH', `vswitch ${vs.name} was deleted from the OVN Northbound while docker network ${short(nid)} was being created: create the network again`);
  const chassis = await chassisOf(c.ovs);
  const key = `${DOCKER_KEYS.ovnHost}${chassis}`;
  const holder = ls.ids.get(key);
  // Another Docker network of this host on the same switch: refused, unless this host no longer
  // knows it (a create cut short before its record was written).
  if (holder && holder !== nid && (await hostIds(c.ovs)).has(ovnNetworkKey(holder))) {
    throw new VSwitchError('NAME_TAKEN', `vswitch ${vs.name} already serves docker network ${short(holder)} on this host: give another -o ecdock.vswitch=NAME, or docker network rm that network`, {
      detail: { vswitch: vs.name, network: holder },
    });
  }
  await nb.transact(NB, hostKeyOps(ls.uuid, key, nid, !before));
  await recordOvnNetwork(c.ovs, nid, { vswitch: vs.name, northbound: plan.ovnNorthbound });
  c.log(`network ${short(nid)}: ${before ? 'joined' : 'created'} OVN vswitch ${vs.name} ${vs.plan.cidr} (Northbound ${plan.ovnNorthbound}, this host is ${chassis})`);
}

/** DeleteNetwork for an OVN network: this host leaves the switch; the last host out destroys it if a plugin made it and it is empty. */
export async function deleteOvnNetwork(c: OvnNetworkContext, rec: NetworkRecord & { northbound: string }): Promise<void> {
  const nid = rec.networkId;
  const nb = await northbound(rec.northbound);
  let ls = await switchRow(nb, rec.vswitch);
  let verdict = 'the logical switch was already gone';
  const key = `${DOCKER_KEYS.ovnHost}${await chassisOf(c.ovs)}`;
  if (ls?.ids.get(key) === nid) {
    await nb.transact(NB, hostKeyOps(ls.uuid, key, undefined, false));
    // Read again: of two hosts leaving at once, the second to write sees the other gone.
    ls = await switchRow(nb, rec.vswitch);
  }
  if (ls) {
    const others = [...ls.ids.keys()].filter((k) => k.startsWith(DOCKER_KEYS.ovnHost) && k !== key);
    if (others.length) verdict = `kept: docker networks on ${others.map((k) => k.slice(DOCKER_KEYS.ovnHost.length)).join(', ')} still use it`;
    else if (ls.ids.get(DOCKER_KEYS.created) !== 'true') verdict = 'kept: not created by the plugin';
    else {
      try {
        const vs = await VSwitch.open(c.ovs, rec.vswitch, { ovn: { northbound: rec.northbound }, ...(c.netns !== undefined ? { netns: c.netns } : {}) });
        const slots = await vs.slots();
        if (slots.length) verdict = `kept: slots ${slots.map((s) => s.index).join(', ')} are on it`;
        else {
          await vs.destroy();
          verdict = 'destroyed (the last docker network on it)';
        }
      } catch (e) {
        if (!isEcdockError(e, 'NO_SUCH_VSWITCH')) throw e; // another host leaving at once destroyed it
      }
    }
  }
  await recordOvnNetwork(c.ovs, nid, undefined);
  c.log(`network ${short(nid)}: left OVN vswitch ${rec.vswitch}; ${verdict}`);
}
