// The model's verdict on a slot report. A realisation reports facts (src/realisation.ts SlotFacts);
// the model adds the ones only it can gather — whether the slot's target is still there
// (src/targets.ts), and an internal slot's interface inside its target, which the realisation
// cannot open — and src/slot-state.ts says which facts make which state.

import { getLink } from './netlink/link';
import type { SlotReport } from './realisation';
import type { ContainerRuntime } from './runtime/container-runtime';
import type { SlotInfo, SlotTargetInfo } from './slot';
import { slotState } from './slot-state';
import { openRecordedTarget, targetLiveness, type Liveness } from './targets';

type Runtime = () => ContainerRuntime;

/** A slot just attached: its target was open a moment ago, so it is alive. */
export function judgeAttached(r: SlotReport): SlotInfo {
  return judge(r, 'alive');
}

/** A report's verdict, given the target's liveness (src/slot-state.ts says which facts make which state). */
function judge(r: SlotReport, liveness: Liveness): SlotInfo {
  const { state, error, reason } = slotState(r.facts, r.info.target, liveness);
  return { ...r.info, state, ...(error ? { error } : {}), ...(reason ? { reason } : {}) };
}

/**
 * Adds the facts only the model can see (an internal slot's interface in its target: the
 * realisation cannot open a container's namespace) and judges the report.
 */
export async function look(r: SlotReport, runtime: Runtime): Promise<{ info: SlotInfo; liveness: Liveness; facts: SlotReport['facts'] }> {
  const liveness = await slotLiveness(r, runtime);
  let facts = r.facts;
  if (liveness === 'alive' && facts.portType === 'internal' && !facts.attaching && r.info.target) {
    const targetLink = await targetLinkState(r.info.target, r.info.ifname, runtime);
    if (targetLink) facts = { ...facts, targetLink };
  }
  return { info: judge({ ...r, facts }, liveness), liveness, facts };
}

/** The slot's interface in its target: up with carrier, down, absent; undefined when the target cannot be opened. */
async function targetLinkState(t: SlotTargetInfo, ifname: string, runtime: Runtime): Promise<'up' | 'down' | 'absent' | undefined> {
  const ns = await openRecordedTarget(t, runtime);
  if (!ns) return undefined;
  try {
    const l = await getLink({ netns: ns, name: ifname });
    if (!l) return 'absent';
    return l.up && (l.operState === 'up' || l.operState === 'unknown') ? 'up' : 'down';
  } catch {
    return undefined;
  } finally {
    ns.close();
  }
}

/** Whether a slot's target is still there; an attaching claim, or a slot on another host, is not asked about. */
function slotLiveness(r: SlotReport, runtime: Runtime): Promise<Liveness> {
  if (r.facts.attaching || r.facts.remote) return Promise.resolve('unknown');
  return r.info.target ? targetLiveness(r.info.target, runtime) : Promise.resolve('gone');
}
