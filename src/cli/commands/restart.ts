// ec restart SLOT [IMAGE [ARGS...]]: without IMAGE, restarts the container in the slot and plugs
// the slot into its new namespace at once; with IMAGE (ecDock's form), replaces the container with
// a new one from IMAGE in the same slot.
import { Command } from 'commander';
import { UsageError } from '../../errors';
import { containerOfSlot, plugOptionsOfLabels, restartInSlot, startInSlot } from '../../in-slot';
import { action } from '../action';
import { addGlobalOptions, parseIntOption } from '../context';
import { slotLine } from '../slot-view';
import { addContainerOptions, type StartOpts } from './start';
import { stopSlot } from './stop';

export function restartCommand(): Command {
  const cmd = new Command('restart')
    .summary('restart the container in a slot (or replace it with a new one from IMAGE)')
    .description(
      'Without IMAGE: restart the container in SLOT and plug the slot into its new network namespace,\n' +
        'keeping the slot options. With IMAGE [ARGS...] (ecDock\'s form): stop and remove the container\n' +
        'in SLOT and start a new one from IMAGE in the same slot.',
    )
    .argument('[SLOT]', 'the slot (or --slot=N)')
    .argument('[IMAGE]', 'start a new container from this image')
    .argument('[ARGS...]', 'its command and arguments')
    .option('-t, --time <seconds>', 'seconds to wait for the container to stop before killing it', '10')
    .passThroughOptions();
  addContainerOptions(cmd);
  addGlobalOptions(cmd);
  return cmd.action(
    action<StartOpts & { time: string }>(async (ctx, args, opts) => {
      let [slotArg, image, rest] = args as [string | undefined, string | undefined, string[]];
      // `ec --slot=1 restart IMAGE ARGS`: the first argument is the image, not a slot.
      if (ctx.slotOption !== undefined && slotArg !== undefined && !/^\d+$/.test(slotArg)) {
        rest = image !== undefined ? [image, ...(rest ?? [])] : (rest ?? []);
        image = slotArg;
        slotArg = undefined;
      }
      if (image?.startsWith('-')) throw new UsageError('BAD_ARGUMENT', `'${image}': options of restart go before SLOT (ec restart -t 0 1)`);
      const n = ctx.slot(slotArg, true);
      const timeoutS = parseIntOption(opts.time, '--time')!;
      const vs = await ctx.vswitch();
      const docker = ctx.docker();

      if (image === undefined) {
        const { info, container: c } = await restartInSlot(vs, n, {
          runtime: docker,
          timeoutS,
          onRestarting: (old) => ctx.out.note(`restarting container ${old.name}...`),
        });
        ctx.out.result(`restarted container ${c.name}: ${slotLine(info)}`, { slot: info, container: { id: c.id, name: c.name, image: c.image, pid: c.pid } });
        return;
      }

      vs.addressOf(n); // SLOT_OUT_OF_RANGE before anything else
      const slot = await vs.slot(n);
      const old = await containerOfSlot(vs, n, { runtime: docker, ...(slot ? { slot } : {}) });
      // The new container is plugged as the old one was, unless told otherwise.
      const was = old ? plugOptionsOfLabels(old.labels) : { portType: 'veth' as const, dualNic: false };
      const portType = opts.internal ? 'internal' : (slot?.portType ?? was.portType);
      const dualNic = opts.dualNic ?? (slot ? !!slot.info.nic2 : was.dualNic);
      if (slot || old) await stopSlot(ctx, vs, n, { timeoutS });
      const mtu = parseIntOption(opts.mtu, '--mtu');
      const vlan = parseIntOption(opts.vlan, '--vlan');
      const started = await startInSlot(vs, {
        runtime: docker,
        slot: n,
        image,
        args: rest ?? [],
        portType,
        dualNic,
        ...(mtu !== undefined ? { mtu } : {}),
        ...(vlan !== undefined ? { vlan } : {}),
        ...(opts.privileged ? { privileged: true } : {}),
        ...(opts.env?.length ? { env: opts.env } : {}),
        ...(opts.hostname ? { hostname: opts.hostname } : {}),
      });
      ctx.out.result(`started container ${started.container.name}: ${slotLine(started.slot.info)}`, {
        slot: started.slot.info,
        container: { id: started.container.id, name: started.container.name, image: started.container.image, pid: started.container.pid },
      });
    }),
  );
}
