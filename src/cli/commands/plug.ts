// ec plug (--pid PID | --netns PATH | --container REF): any network namespace into a slot, no
// Docker needed for the first two. ec unplug SLOT takes it out again.
import { Command } from 'commander';
import { UsageError } from '../../errors';
import type { SlotTarget } from '../../slot';
import { action } from '../action';
import { addGlobalOptions, parseIntOption } from '../context';
import { slotLine } from '../slot-view';

interface PlugOpts {
  pid?: string;
  netns?: string;
  container?: string;
  internal?: boolean;
  dualNic?: boolean;
  ifname?: string;
  mtu?: string;
  vlan?: string;
}

/** A namespace given as a name (`ip netns add NAME`) or a path. */
export function netnsPath(s: string): string {
  return s.includes('/') ? s : `/var/run/netns/${s}`;
}

export function plugCommand(): Command {
  const cmd = new Command('plug')
    .summary('plug a network namespace (pid, netns path or container) into a slot')
    .description(
      'Plug any network namespace into a slot: a process\'s (--pid), a namespace file or name\n' +
        '(--netns, e.g. /var/run/netns/x or just x), or a running container\'s (--container). Without --slot\n' +
        'the lowest free slot is used. The namespace gets eth0 with the slot MAC and IP and a default route.',
    )
    .option('--pid <pid>', "the network namespace of this process")
    .option('--netns <path|name>', 'a network namespace file, or a name from "ip netns add"')
    .option('--container <ref>', 'a running container (name or id)')
    .option('--internal', 'use an OVS internal port instead of a veth pair')
    .option('--dual-nic', 'a second NIC eth1 (port <vswitch>-oNN, MAC 52:80 + the IPv4 bytes)')
    .option('--ifname <name>', 'interface name in the namespace', 'eth0')
    .option('--mtu <bytes>', 'MTU of the slot link')
    .option('--vlan <tag>', 'access VLAN tag of the slot port (0-4095)');
  addGlobalOptions(cmd, { except: ['netns'] });
  cmd.addHelpText('after', '\nExamples:\n  ip netns add web && ec plug --netns web\n  ec --slot=5 plug --pid 1234 --internal\n');
  return cmd.action(
    action<PlugOpts>(async (ctx, _args, opts) => {
      const targets: SlotTarget[] = [];
      if (opts.pid !== undefined) targets.push({ pid: parseIntOption(opts.pid, '--pid', 1)! });
      if (opts.netns !== undefined) targets.push({ netns: netnsPath(opts.netns) });
      if (opts.container !== undefined) targets.push({ container: opts.container });
      if (targets.length !== 1) throw new UsageError('BAD_TARGET', 'give exactly one of --pid PID, --netns PATH|NAME or --container REF');
      const vs = await ctx.vswitch();
      const mtu = parseIntOption(opts.mtu, '--mtu');
      const vlan = parseIntOption(opts.vlan, '--vlan');
      const slot = await vs.attach({
        ...(ctx.slotOption !== undefined ? { slot: ctx.slotOption } : {}),
        target: targets[0]!,
        portType: opts.internal ? 'internal' : 'veth',
        ...(opts.dualNic ? { dualNic: true } : {}),
        ...(opts.ifname !== undefined ? { ifname: opts.ifname } : {}),
        ...(mtu !== undefined ? { mtu } : {}),
        ...(vlan !== undefined ? { vlan } : {}),
      });
      ctx.out.result(slotLine(slot.info, 'plugged slot'), slot.info);
    }),
  );
}

export function unplugCommand(): Command {
  const cmd = new Command('unplug')
    .summary('take a slot out (its port and links); the namespace or container stays')
    .argument('[SLOT]', 'the slot (or --slot=N)');
  addGlobalOptions(cmd);
  return cmd.action(
    action(async (ctx, args) => {
      const n = ctx.slot(args[0] as string | undefined, true);
      const vs = await ctx.vswitch();
      await vs.detach(n);
      ctx.out.result(`unplugged slot ${n} of ${vs.name}`, { vswitch: vs.name, slot: n, detached: true });
    }),
  );
}
