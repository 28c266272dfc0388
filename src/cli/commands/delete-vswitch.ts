// ec delete-vswitch [NAME]: removes the bridge and every slot link at once.
import { Command } from 'commander';
import { UsageError, VSwitchError } from '../../errors';
import { action } from '../action';
import { addGlobalOptions } from '../context';

export function deleteVswitchCommand(): Command {
  const cmd = new Command('delete-vswitch')
    .summary('delete a vswitch and its slots')
    .description(
      'Delete a vswitch: its bridge, ports and slot links. Refuses while slots are attached, or while\n' +
        'its bridge holds ports ecdock did not create (exit 3, naming them), unless --force.\n' +
        'Containers in its slots keep running, without their network.',
    )
    .argument('[NAME]', 'the vswitch (default: --vswitch, $ECDOCK_VSWITCH or ovs0)')
    .option('-f, --force', 'delete it even if slots are attached or it holds ports ecdock did not create');
  addGlobalOptions(cmd);
  return cmd.action(
    action<{ force?: boolean }>(async (ctx, args, opts) => {
      const arg = args[0] as string | undefined;
      if (arg && ctx.options.vswitch && arg !== ctx.options.vswitch) throw new UsageError('BAD_ARGUMENT', `two different names given: ${arg} and --vswitch=${ctx.options.vswitch}`);
      const vs = await ctx.vswitch(arg ?? ctx.vswitchName);
      const slots = await vs.slots();
      if (slots.length && !opts.force) {
        throw new VSwitchError(
          'SLOT_TAKEN',
          `vswitch ${vs.name} still has ${slots.length} slot${slots.length === 1 ? '' : 's'} (${slots.map((s) => s.index).join(', ')}): stop or unplug them first, or use --force`,
          { detail: { slots: slots.map((s) => s.index) } },
        );
      }
      await vs.destroy({ force: !!opts.force });
      ctx.out.result(`deleted vswitch ${vs.name}${slots.length ? ` and its ${slots.length} slot${slots.length === 1 ? '' : 's'}` : ''}`, { deleted: vs.name, slots: slots.map((s) => s.index) });
    }),
  );
}
