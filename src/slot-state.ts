// What a slot's facts mean. A realisation reports what it sees of a slot (SlotFacts: the claim,
// the switch daemon, the switch's port, the switch-side link); the model adds whether the target
// is still there (Liveness, from src/targets.ts) and, for internal ports, the slot's interface in
// the target, and decides the state here. Pure, so every rule is unit-tested.

import type { SlotFacts } from './realisation';
import type { SlotState, SlotTargetInfo } from './slot';
import type { Liveness } from './targets';

export interface SlotVerdict {
  state: SlotState;
  /** The switch's own error text (OVS Interface.error), for `error`. */
  error?: string;
  /** Why the slot is not up, in words. */
  reason?: string;
}

/**
 * A slot's state; the first rule that matches wins:
 * 1. `attaching`: the claim is marked in flight (facts.attaching);
 * 2. a slot bound on another host (remote): `ghost` once that host is gone from the cluster, else
 *    `up` or `down` as the cluster says (its target is not on this host: liveness is not asked);
 *    then `ghost`: the target is gone (liveness) — a pid or path target that is gone makes a ghost even
 *    while its namespace lingers (the kernel tears namespaces down lazily);
 * 3. `down`: the target is a container that exists but is stopped (liveness);
 * 4. veth without its host-side link (hostLink absent): `down` for a container (it restarted into
 *    a new namespace and waits to be re-plugged), `ghost` otherwise (the link died with its namespace);
 * 5. `down`: ovs-vswitchd is not running (switchDaemon);
 * 6. `error`: the switch could not add the port (portError, or ofport -1);
 * 7. `down`: the switch has not added the port yet (ofport unknown or 0), or its controller has not
 *    installed it (installed false: OVN's ovn-installed);
 * 8. veth: `down` when the switch sees the port's link down (portLink) or the host end is down (hostLink);
 * 9. internal ports: `down` when the device is back in the switch's namespace (deviceInSwitch:
 *    ovs-vswitchd restarted) or the interface in the target is absent or without carrier (targetLink);
 * 10. `up`.
 * Liveness `unknown` (the runtime cannot be asked) never makes a ghost.
 */
export function slotState(facts: SlotFacts, target: SlotTargetInfo | undefined, liveness: Liveness): SlotVerdict {
  if (facts.attaching) return { state: 'attaching' };
  if (facts.remote) {
    const h = facts.remote.host || 'its host';
    if (facts.remote.chassisGone) return { state: 'ghost', reason: `${h} is gone from the cluster; ec cleanup (from any host) removes the slot` };
    return facts.remote.up ? { state: 'up' } : { state: 'down', reason: `${h} has not bound it (or ovn-controller there has not installed it)` };
  }
  if (liveness === 'gone') return { state: 'ghost', reason: `its ${target ? target.kind : 'target'} is gone; ec cleanup removes the slot` };
  if (liveness === 'stopped') return { state: 'down', reason: 'its container is stopped' };
  if (facts.portType === 'veth' && facts.hostLink === 'absent') {
    return target?.kind === 'container'
      ? { state: 'down', reason: 'its container restarted into a new network namespace; ec watch (or a reattach) plugs it again' }
      : { state: 'ghost', reason: 'its veth is gone (it dies with the target namespace); ec cleanup removes the slot' };
  }
  if (facts.switchDaemon === 'stopped') return { state: 'down', reason: 'ovs-vswitchd is not running' };
  if (facts.portError || facts.ofport === -1) {
    return { state: 'error', ...(facts.portError ? { error: facts.portError } : {}), reason: `ovs-vswitchd could not add the port${facts.portError ? `: ${facts.portError}` : ''}` };
  }
  if (facts.ofport === undefined || facts.ofport <= 0) return { state: 'down', reason: 'ovs-vswitchd has not added the port (yet)' };
  if (facts.installed === false) return { state: 'down', reason: 'ovn-controller has not installed the port (yet)' };
  // An internal port's device lives in the target, where ovs-vswitchd cannot see its link state
  // (it reads down there): for those, the target's own view (rule 9) says it.
  if (facts.portType === 'veth' && (facts.portLink === 'down' || facts.hostLink === 'down')) return { state: 'down', reason: 'the link is down' };
  if (facts.portType === 'internal') {
    if (facts.deviceInSwitch) return { state: 'down', reason: "ovs-vswitchd restarted and made the port's device anew outside the target; ec cleanup plugs it in again" };
    if (facts.targetLink === 'absent') return { state: 'down', reason: "the slot's interface is gone from the target" };
    if (facts.targetLink === 'down') return { state: 'down', reason: "the slot's interface in the target has no carrier (ovs-vswitchd restarted?); ec cleanup plugs it in again" };
  }
  return { state: 'up' };
}
