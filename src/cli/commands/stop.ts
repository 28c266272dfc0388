// ec stop SLOT [--no-rm]: frees the slot and stops (and removes) its container, like ecDock's stop.
import { Command } from 'commander';
import { stopInSlot, type Stopped } from '../../in-slot';
import { action } from '../action';
import { addGlobalOptions, parseIntOption, type Context } from '../context';
import type { VSwitch } from '../../vswitch';

/** Detaches slot n and stops its container (stopInSlot), with a progress note. */
export function stopSlot(ctx: Context, vs: VSwitch, n: number, o: { keep?: boolean; timeoutS?: number } = {}): Promise<Stopped> {
  return stopInSlot(vs, n, { ...o, runtime: ctx.docker(), onStopping: (c) => ctx.out.note(`stopping container ${c.name}...`) });
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
