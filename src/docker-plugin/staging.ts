// The plugin's staging namespace. dockerd binds a container's namespace only after Join (runc's
// prestart hook), so a slot cannot be plugged straight into it: the library makes the slot in
// this namespace, the plugin moves the container end into its own, and dockerd takes it from
// there. It outlives the plugin on purpose: slots record it as their target, so removing it while
// Docker slots exist would make them ghosts.

import { isEcdockError } from '../errors';
import { Netns } from '../netlink/netns';
import { ScratchNetns } from '../sandbox';

const NETNS_DIR = '/var/run/netns/';

/** /var/run/netns/ecdock-docker-NAME for driver NAME. */
export function stagingPath(driverName: string): string {
  return `${NETNS_DIR}ecdock-docker-${driverName}`;
}

/** Makes the staging namespace unless it exists. */
export async function ensureStaging(p: string): Promise<string> {
  try {
    Netns.open({ path: p }).close();
    return p;
  } catch (e) {
    if (!isEcdockError(e, 'NETNS_GONE')) throw e;
  }
  return (await ScratchNetns.create(p.slice(NETNS_DIR.length))).path;
}

