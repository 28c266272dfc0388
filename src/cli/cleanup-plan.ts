// What `ec cleanup --dry-run` lists: what a cleanup would remove, found the way cleanup finds it
// (the slots' states, dockerd's word on container slots, the vswitch's exited containers), with
// nothing changed. Veths that no port uses (a crashed attach) are found only by the cleanup itself.
import type { DockerRuntime } from '../runtime/docker';
import type { VSwitch } from '../vswitch';
import type { Context } from './context';
import { formatTable, type Row } from './output';

export interface CleanupCandidate {
  what: 'port' | 'container';
  vswitch: string;
  name: string;
  why: string;
  slot?: number;
}

/** Prints what cleanup would remove; `containers` are the exited or dead ones it would remove. */
export async function printCleanupPlan(
  ctx: Context,
  switches: VSwitch[],
  docker: DockerRuntime,
  dockerUp: boolean,
  containers: Map<string, { id: string; name: string; state: string }[]>,
): Promise<void> {
  const found: CleanupCandidate[] = [];
  for (const vs of switches) {
    for (const s of await vs.slots()) {
      let why: string | undefined;
      if (s.target?.kind === 'container' && dockerUp) {
        const c = await docker.inspect(s.target.ref);
        if (!c) why = 'target-gone';
        else if (!c.running) why = 'container-stopped';
      } else if (s.state === 'ghost') {
        why = 'target-gone';
      } else if (s.state === 'error') {
        why = 'port-error';
      }
      if (!why) continue;
      found.push({ what: 'port', vswitch: vs.name, name: s.portName, why, slot: s.index });
      if (s.info.nic2) found.push({ what: 'port', vswitch: vs.name, name: s.info.nic2.portName, why, slot: s.index });
    }
    for (const c of containers.get(vs.name) ?? []) found.push({ what: 'container', vswitch: vs.name, name: c.name, why: c.state });
  }
  ctx.out.result(() => {
    if (!found.length) return `nothing to clean up on ${switches.map((s) => s.name).join(', ') || 'this OVS'} (dry run)`;
    const rows: Row[] = found.map((f) => ({ WHAT: f.what, VSWITCH: f.vswitch, NAME: f.name, WHY: f.why }));
    const ports = found.filter((f) => f.what === 'port').length;
    return formatTable(['WHAT', 'VSWITCH', 'NAME', 'WHY'], rows) + `dry run: would remove ${ports} port(s) and ${found.length - ports} container(s); nothing was changed`;
  }, { dryRun: true, wouldRemove: found });
}
