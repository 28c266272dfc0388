// What a slot's facts mean. A realisation reports what it sees of a slot (SlotFacts: the claim, the
// switch's port, the switch-side link); the model adds whether the target is still there
// (Liveness, from src/targets.ts) and decides the state here. Pure, so every rule is unit-tested.

import type { SlotFacts } from './realisation';
import type { SlotState, SlotTargetInfo } from './slot';
import type { Liveness } from './targets';

export interface SlotVerdict {
  state: SlotState;
  error?: string;
}

/**
 * A slot's state, in this order:
 * - `attaching`: the claim is marked in flight;
 * - a slot bound on another host (`remote`): `ghost` once that host is gone from the cluster, else
 *   `up` or `down` as the cluster says (its target is not on this host, so liveness is not asked);
 * - `ghost`: the target is gone (a pid or path target that is gone makes a ghost even while its
 *   namespace lingers: the kernel tears namespaces down lazily);
 * - `down`: the target is a container that exists but is stopped (a follower re-plugs it);
 * - veth slots: no host-side link → `down` for a container (it restarted into a new namespace
 *   and waits to be re-plugged), `ghost` otherwise (the link died with its namespace);
 * - `error`: the switch could not add the port (portError, or ofport -1);
 * - `down` while the switch's controller has not installed the port (`installed` false);
 * - veth slots: `up` when the host-side link is up, else `down`;
 * - internal slots: `up`.
 * Liveness `unknown` (the runtime cannot be asked) never makes a ghost.
 */
export function slotState(facts: SlotFacts, target: SlotTargetInfo | undefined, liveness: Liveness): SlotVerdict {
  if (facts.attaching) return { state: 'attaching' };
  if (facts.remote) return { state: facts.remote.chassisGone ? 'ghost' : facts.remote.up ? 'up' : 'down' };
  if (liveness === 'gone') return { state: 'ghost' };
  if (liveness === 'stopped') return { state: 'down' };
  const failed = !!facts.portError || facts.ofport === -1;
  const error = facts.portError ? { error: facts.portError } : {};
  if (facts.portType === 'veth') {
    if (facts.hostLink === 'absent') return { state: target?.kind === 'container' ? 'down' : 'ghost' };
    if (failed) return { state: 'error', ...error };
    if (facts.installed === false) return { state: 'down' };
    return { state: facts.hostLink === 'up' || facts.hostLink === undefined ? 'up' : 'down' };
  }
  if (failed) return { state: 'error', ...error };
  return { state: facts.installed === false ? 'down' : 'up' };
}
