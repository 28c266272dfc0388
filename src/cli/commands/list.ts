// ec list: the slots of a vswitch (or of all with --all) with their addresses, port, target and
// state; --json gives the SlotInfo objects.
import { Command } from 'commander';
import type { SlotInfo } from '../../slot';
import { VSwitch } from '../../vswitch';
import { action } from '../action';
import { addGlobalOptions } from '../context';
import { formatTable, type Row } from '../output';
import { OVN_SLOT_COLUMNS, SLOT_COLUMNS, slotRow } from '../slot-view';

/** This host's chassis name, as an OVN vswitch reports it. */
function chassisOf(vs: VSwitch | undefined): string | undefined {
  const ovn = vs?.toJSON().ovn as { chassis?: unknown } | undefined;
  return typeof ovn?.chassis === 'string' ? ovn.chassis : undefined;
}

export function listCommand(): Command {
  const cmd = new Command('list')
    .alias('ls')
    .summary('list slots: IP, MAC, port, type, (OVN: host,) target, state')
    .description(
      'List the slots of the vswitch with their IP, MAC, OVS port, port type, target (container name,\n' +
        'pid or namespace path) and state, with the reason when it is not up: up (ovs-vswitchd runs and\n' +
        'has the port, the interface is in the target with carrier), down (ovs-vswitchd not running,\n' +
        'container stopped or restarted, link down, no carrier after an ovs-vswitchd restart: "ec cleanup"\n' +
        're-plugs it), ghost (target gone: "ec cleanup" removes it), attaching, or error. An OVN vswitch\n' +
        '(--ovn-nb) has a HOST column: the chassis each slot is bound on, this host\'s marked "(here)".',
    )
    .option('-a, --all', 'slots of every vswitch on this OVS');
  addGlobalOptions(cmd);
  return cmd.action(
    action<{ all?: boolean }>(async (ctx, _args, opts) => {
      const switches = opts.all ? await VSwitch.list(await ctx.ovs(), await ctx.ovnOptions()) : [await ctx.vswitch()];
      const infos: SlotInfo[] = [];
      for (const vs of switches) for (const s of await vs.slots()) infos.push(s.info);
      // An OVN vswitch spans hosts: HOST names each slot's chassis (this host's marked "(here)").
      const here = ctx.ovnNb !== undefined ? chassisOf(switches[0]) : undefined;
      const base = ctx.ovnNb !== undefined ? OVN_SLOT_COLUMNS : SLOT_COLUMNS;
      const columns = opts.all ? ['VSWITCH', ...base] : [...base];
      ctx.out.result(() => formatTable(columns, infos.map((i) => slotRow(i, here))), infos, { always: true });
    }, { readOnly: true }),
  );
}

export function listVswitchesCommand(): Command {
  const cmd = new Command('list-vswitches').summary('list the vswitches on this OVS').description('List the vswitches ecdock manages on this OVS, with their plan and slot count.');
  addGlobalOptions(cmd);
  return cmd.action(
    action(async (ctx) => {
      const switches = await VSwitch.list(await ctx.ovs(), await ctx.ovnOptions());
      const rows: Row[] = [];
      const json: unknown[] = [];
      for (const vs of switches) {
        const slots = (await vs.slots()).length;
        rows.push({
          NAME: vs.name,
          SUBNET: vs.plan.subnet,
          GATEWAY: vs.plan.gateway,
          IPV6: vs.plan.ipv6Prefix,
          DATAPATH: vs.usermode ? 'userspace' : 'kernel',
          SLOTS: slots,
          NETNS: vs.netns,
        });
        json.push({ ...vs.toJSON(), slots });
      }
      ctx.out.result(() => formatTable(['NAME', 'SUBNET', 'GATEWAY', 'IPV6', 'DATAPATH', 'SLOTS', 'NETNS'], rows), json, { always: true });
    }, { readOnly: true }),
  );
}
