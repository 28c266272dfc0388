// The OVSDB connection and the vswitch of one plugin call. A call in its own process gets a
// connection of its own that does not reconnect and fails fast; in the resident daemon it shares
// the daemon's session. The vswitch is opened if it exists (its plan must be the configured one)
// and created otherwise.

import { AddressPlan } from '../addressing';
import { VSwitchError, isEcdockError } from '../errors';
import type { OvsdbClient } from '../ovsdb/client';
import type { VSwitch } from '../vswitch';
import { CNI_CODE, CniError } from './cni-error';
import type { NetConf } from './config';

// Generous: runtimes start many plugin processes at once, and a busy ovsdb-server answers late.
const CONNECT_TIMEOUT_MS = 20_000;

export async function connect(conf: NetConf): Promise<OvsdbClient> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { OvsdbClient } = require('../ovsdb/client') as typeof import('../ovsdb/client');
  return OvsdbClient.connect(conf.db, { timeoutMs: CONNECT_TIMEOUT_MS, reconnect: false, ...(conf.tls ? { tls: conf.tls } : {}) });
}

/** The OVSDB session of one call, and what to do with it afterwards. */
export interface CallSession {
  ovs: OvsdbClient;
  done(): void;
}

/** Where calls get their session: by default a connection of their own, closed after the call. */
let sessionSource = async (conf: NetConf): Promise<CallSession> => {
  const ovs = await connect(conf);
  return { ovs, done: () => ovs.close() };
};

/** The resident daemon hands out its long-lived sessions instead (see serve.ts). */
export function setSessionSource(source: (conf: NetConf) => Promise<CallSession>): void {
  sessionSource = source;
}

export function callSession(conf: NetConf): Promise<CallSession> {
  return sessionSource(conf);
}

function loadVSwitch(): typeof import('../vswitch').VSwitch {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../vswitch') as typeof import('../vswitch')).VSwitch;
}

/** Refuses what this build cannot realise (the switch factory says) as a configuration error, before anything is touched. */
export function checkSupported(conf: NetConf): void {
  if (!conf.ovn) return;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('../switch-factory') as typeof import('../switch-factory')).realisationFor({ ovn: conf.ovn });
  } catch (e) {
    throw new CniError(CNI_CODE.INVALID_CONFIG, `"ovn" is set, but ${(e as Error).message}`, isEcdockError(e) ? e.code : 'BAD_ARGUMENT', { ovn: conf.ovn });
  }
}

function checkPlan(vs: VSwitch, conf: NetConf): void {
  if (!conf.subnet) return;
  const want = AddressPlan.parse(conf.vswitch, conf.subnet, conf.ipv6Prefix);
  const sameMode = conf.usermode === undefined || conf.usermode === vs.usermode;
  if (!vs.plan.equals(want) || !sameMode) {
    throw new VSwitchError(
      'VSWITCH_PLAN_MISMATCH',
      `vswitch ${vs.name} exists with ${vs.plan.cidr}${vs.plan.ipv6Prefix ? ` and ${vs.plan.ipv6Prefix}` : ''} (${vs.usermode ? 'userspace' : 'kernel'} datapath), ` +
        `but this network configures ${want.cidr}${want.ipv6Prefix ? ` and ${want.ipv6Prefix}` : ''}${conf.usermode !== undefined ? ` (${conf.usermode ? 'userspace' : 'kernel'} datapath)` : ''}; ` +
        `make the configuration match or use another vswitch name`,
      { detail: { existing: vs.plan.toJSON(), configured: want.toJSON() } },
    );
  }
}

/** Per session and vswitch, the open-or-create in progress: calls served by one process take turns. */
const turns = new WeakMap<OvsdbClient, Map<string, Promise<unknown>>>();

/**
 * Opens the vswitch or creates it; `create: false` only opens (undefined when it does not exist).
 * Calls sharing a session (the daemon's) do this one after another for the same vswitch: the first
 * creates it, the next find it in the session's replica instead of racing to create it too.
 */
export function openVswitch(ovs: OvsdbClient, conf: NetConf, create = true): Promise<VSwitch | undefined> {
  let byName = turns.get(ovs);
  if (!byName) turns.set(ovs, (byName = new Map<string, Promise<unknown>>()));
  const m = byName;
  const prev = m.get(conf.vswitch) ?? Promise.resolve();
  const mine = prev.then(
    () => openOrCreate(ovs, conf, create),
    () => openOrCreate(ovs, conf, create),
  );
  const tail = mine.catch(() => undefined);
  m.set(conf.vswitch, tail);
  void tail.then(() => {
    if (m.get(conf.vswitch) === tail) m.delete(conf.vswitch);
  });
  return mine;
}

async function openOrCreate(ovs: OvsdbClient, conf: NetConf, create: boolean): Promise<VSwitch | undefined> {
  const VSwitch = loadVSwitch();
  try {
    const vs = await VSwitch.open(ovs, conf.vswitch, openOptions(conf));
    checkPlan(vs, conf);
    return vs;
  } catch (e) {
    if (!isEcdockError(e, 'NO_SUCH_VSWITCH')) throw e;
    if (!create) return undefined;
  }
  if (!conf.subnet) {
    throw new CniError(CNI_CODE.INVALID_CONFIG, `vswitch ${conf.vswitch} does not exist and the configuration has no "subnet" to create it with; add "subnet", e.g. "10.0.0.254/24"`, 'NO_SUCH_VSWITCH');
  }
  try {
    return await VSwitch.create(ovs, {
      name: conf.vswitch,
      subnet: conf.subnet,
      usermode: !!conf.usermode,
      ...(conf.ipv6Prefix ? { ipv6Prefix: conf.ipv6Prefix } : {}),
      ...(conf.mtu !== undefined ? { mtu: conf.mtu } : {}),
      ...(conf.switchNetns ? { netns: conf.switchNetns } : {}),
      ...(conf.ovn ? { ovn: conf.ovn } : {}),
    });
  } catch (e) {
    // Another plugin process created it at the same moment: use theirs.
    if (!isEcdockError(e, 'VSWITCH_EXISTS')) throw e;
    const vs = await VSwitch.open(ovs, conf.vswitch, openOptions(conf));
    checkPlan(vs, conf);
    return vs;
  }
}

/** An OVN vswitch is seen from this host: where this host's ovs-vswitchd runs is not recorded with it, so it is passed on every open. */
function openOptions(conf: NetConf): { ovn?: { northbound: string }; netns?: string } {
  return conf.ovn ? { ovn: conf.ovn, ...(conf.switchNetns ? { netns: conf.switchNetns } : {}) } : {};
}
