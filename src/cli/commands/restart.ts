// ec restart SLOT [IMAGE [ARGS...]]: without IMAGE, restarts the container in the slot and plugs
// the slot into its new namespace at once; with IMAGE (ecDock's form), replaces the container with
// a new one from IMAGE in the same slot.
import { Command } from 'commander';
import { UsageError, VSwitchError, isEcdockError } from '../../errors';
import { CONTAINER_LABELS, slotPluggedInto } from '../../follow';
import { action } from '../action';
import { addGlobalOptions, parseIntOption } from '../context';
import { containerOfSlot, startInSlot } from '../containers';
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
      vs.addressOf(n); // SLOT_OUT_OF_RANGE before anything else
      const docker = ctx.docker();
      const slot = await vs.slot(n);
      const old = await containerOfSlot(vs, docker, n, slot);

      if (image !== undefined) {
        const portType = opts.internal ? 'internal' : (slot?.portType ?? (old?.labels[CONTAINER_LABELS.portType] === 'internal' ? 'internal' : 'veth'));
        const dualNic = opts.dualNic ?? (slot ? !!slot.info.nic2 : old?.labels[CONTAINER_LABELS.dualNic] === 'true');
        if (slot || old) await stopSlot(ctx, vs, n, { timeoutS });
        const mtu = parseIntOption(opts.mtu, '--mtu');
        const vlan = parseIntOption(opts.vlan, '--vlan');
        const started = await startInSlot(vs, docker, {
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
        return;
      }

      if (!old) throw new VSwitchError('NO_SUCH_CONTAINER', `slot ${n} of ${vs.name} holds no container to restart`, { detail: { slot: n } });
      ctx.out.note(`restarting container ${old.name}...`);
      const c = await docker.restart(old.id, { timeoutS });
      const now = await vs.slot(n);
      let info;
      if (now && now.target?.kind === 'container' && now.target.ref === c.id) {
        // A follower (ec watch) may have plugged it into the new namespace already.
        try {
          info = (await slotPluggedInto(c.pid, now.info)) ? now.info : (await vs.reattach(n, { target: { container: c.id } })).info;
        } catch (e) {
          // A follower (ec watch) re-plugging it at the same moment: fine if it ended plugged.
          if (!isEcdockError(e, 'NO_SUCH_SLOT') && !isEcdockError(e, 'SLOT_TAKEN')) throw e;
          await new Promise((r) => setTimeout(r, 500));
          const held = await vs.slot(n);
          if (!held || held.target?.ref !== c.id || !(await slotPluggedInto(c.pid, held.info))) throw e;
          info = held.info;
        }
      } else if (!now) {
        try {
          info = (
            await vs.attach({
              slot: n,
              target: { container: c.id },
              portType: c.labels[CONTAINER_LABELS.portType] === 'internal' ? 'internal' : 'veth',
              dualNic: c.labels[CONTAINER_LABELS.dualNic] === 'true',
            })
          ).info;
        } catch (e) {
          const held = isEcdockError(e, 'SLOT_TAKEN') ? await vs.slot(n) : undefined;
          if (held?.target?.ref !== c.id) throw e;
          info = held.info;
        }
      } else {
        throw new VSwitchError('SLOT_TAKEN', `container ${c.name} restarted, but slot ${n} is now held by something else; it was not plugged`, { detail: { slot: n } });
      }
      ctx.out.result(`restarted container ${c.name}: ${slotLine(info)}`, { slot: info, container: { id: c.id, name: c.name, image: c.image, pid: c.pid } });
    }),
  );
}
