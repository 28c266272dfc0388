// Where ovs-vswitchd runs, as recorded in the database it serves: the Open_vSwitch row's
// external_ids:ecdock:netns (a netns path). A private OVS whose ovs-vswitchd runs in a namespace of
// its own writes it (OvsSandbox), so that a client given only the database (ECDOCK_DB) creates
// bridges, gateways and slot host ends in the right namespace without being told.

import { isEcdockError, VSwitchError } from './errors';
import type { OvsdbClient } from './ovsdb/client';

/** The external_ids key of the Open_vSwitch row that names ovs-vswitchd's network namespace. */
export const VSWITCHD_NETNS_KEY = 'ecdock:netns';

/** The netns recorded in the database, or undefined (then ovs-vswitchd runs in the caller's). */
export async function recordedVswitchdNetns(ovs: OvsdbClient): Promise<string | undefined> {
  const [result] = await ovs.transact('Open_vSwitch', [{ op: 'select', table: 'Open_vSwitch', where: [], columns: ['external_ids'] }]);
  const rows = (result as { rows?: { external_ids?: unknown }[] } | undefined)?.rows ?? [];
  const ids = rows[0]?.external_ids;
  // RFC 7047 map on the wire: ["map", [[key, value], ...]].
  if (!Array.isArray(ids) || ids[0] !== 'map' || !Array.isArray(ids[1])) return undefined;
  for (const pair of ids[1] as unknown[]) {
    if (Array.isArray(pair) && pair[0] === VSWITCHD_NETNS_KEY && typeof pair[1] === 'string' && pair[1] !== '') return pair[1];
  }
  return undefined;
}

/**
 * A bridge device that never appeared where ecdock looked usually means ovs-vswitchd runs in
 * another network namespace: say so, and how to name it, instead of a bare NO_SUCH_LINK.
 */
export function explainMissingBridge(e: unknown, bridge: string, netns: string | undefined): unknown {
  if (!isEcdockError(e, 'NO_SUCH_LINK')) return e;
  const where = netns ?? "this process's network namespace";
  return new VSwitchError(
    'NO_SUCH_LINK',
    `the bridge device ${bridge} did not appear in ${where}: ovs-vswitchd probably runs in another network namespace; ` +
      `name it with --netns PATH (library: the netns option), or record it in the database: ovs-vsctl set Open_vSwitch . external_ids:${VSWITCHD_NETNS_KEY.replace(':', '\\:')}=PATH`,
    { cause: e, detail: { bridge, netns: netns ?? null, underlying: e.message } },
  );
}
