// ec stop SLOT [--no-rm]: frees the slot and stops (and removes) its container, like ecDock's stop.
import { Command } from 'commander';
import { VSwitchError, isEcdockError } from '../../errors';
import type { ContainerInfo } from '../../runtime/container-runtime';
import { action } from '../action';
import { addGlobalOptions, parseIntOption, type Context } from '../context';
import { containerOfSlot } from '../containers';
import type { VSwitch } from '../../vswitch';

export interface Stopped {
  detached: boolean;
  container?: ContainerInfo;
  removed: boolean;
}

/** Detaches slot n and stops its container; removes the container unless keep. */
export async function stopSlot(ctx: Context, vs: VSwitch, n: number, o: { keep?: boolean; timeoutS?: number } = {}): Promise<Stopped> {
  vs.plan.checkSlot(n);
  const slot = await vs.slot(n);
  const needsDocker = !slot || slot.target?.kind === 'container';
  const docker = ctx.docker();
  const container = needsDocker ? await containerOfSlot(vs, docker, n, slot) : undefined;
  if (!slot && !container) throw new VSwitchError('NO_SUCH_SLOT', `slot ${n} of ${vs.name} is not attached and holds no container`, { detail: { slot: n } });
  let detached = false;
  if (slot) {
    // The slot goes first: a follower seeing the container die and go then has nothing to do.
    try {
      await vs.detach(n);
      detached = true;
    } catch (e) {
      if (!isEcdockError(e, 'NO_SUCH_SLOT')) throw e;
    }
  }
  let removed = false;
  if (container) {
    ctx.out.note(`stopping container ${container.name}...`);
    await docker.stop(container.id, o.timeoutS !== undefined ? { timeoutS: o.timeoutS } : {});
    if (!o.keep) removed = await docker.remove(container.id, { force: true });
  }
  return { detached, removed, ...(container ? { container } : {}) };
}

export function stopCommand(): Command {
  const cmd = new Command('stop')
    .summary('stop the container in a slot and free the slot')
    .description(
      'Free SLOT (its port and links) and stop its container, then remove the container unless --no-rm.\n' +
        'A slot plugged into a namespace without a container is just unplugged.',
    )
    .argument('[SLOT]', 'the slot (or --slot=N)')
    .option('--no-rm', 'keep the stopped container (docker start brings it back; ec watch plugs it again)')
    .option('-t, --time <seconds>', 'seconds to wait for the container to stop before killing it', '10');
  addGlobalOptions(cmd);
  return cmd.action(
    action<{ rm: boolean; time: string }>(async (ctx, args, opts) => {
      const n = ctx.slot(args[0] as string | undefined, true);
      const vs = await ctx.vswitch();
      const r = await stopSlot(ctx, vs, n, { keep: !opts.rm, timeoutS: parseIntOption(opts.time, '--time')! });
      const what = r.container ? `container ${r.container.name} ${r.removed ? 'stopped and removed' : 'stopped'}` : 'no container';
      ctx.out.result(`slot ${n} of ${vs.name} ${r.detached ? 'freed' : 'was already free'}; ${what}`, {
        vswitch: vs.name,
        slot: n,
        detached: r.detached,
        ...(r.container ? { container: { id: r.container.id, name: r.container.name, removed: r.removed } } : {}),
      });
    }),
  );
}
