// ec [--slot=N] start [--internal] [--dual-nic] IMAGE [ARGS...]: a Docker container in a slot.
// Everything after IMAGE goes to the container verbatim (quoting is kept, unlike ecDock's $*).
import { Command } from 'commander';
import { EcdockError } from '../../errors';
import { action } from '../action';
import { addGlobalOptions, parseIntOption } from '../context';
import { startInSlot } from '../../in-slot';
import { slotLine } from '../slot-view';
import { stopSlot } from './stop';

export interface StartOpts {
  internal?: boolean;
  dualNic?: boolean;
  mtu?: string;
  vlan?: string;
  privileged?: boolean;
  env?: string[];
  hostname?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The container options shared by start and restart. */
export function addContainerOptions(cmd: Command): Command {
  return cmd
    .option('--internal', "use an OVS internal port moved into the container instead of a veth pair")
    .option('--dual-nic', 'a second NIC eth1 (port <vswitch>-oNN, MAC 52:80 + the IPv4 bytes, no address)')
    .option('--mtu <bytes>', 'MTU of the slot link (default: the vswitch MTU)')
    .option('--vlan <tag>', 'access VLAN tag of the slot port (0-4095)')
    .option('--privileged', 'run the container privileged (ecDock always did)')
    .option('-e, --env <KEY=VALUE>', 'environment variable for the container (repeatable)', collect)
    .option('--hostname <name>', 'hostname in the container (default <host>-<vswitch>-sNN, as ecDock)');
}

export function startCommand(): Command {
  const cmd = new Command('start')
    .summary('start a Docker container in a slot')
    .description(
      'Start a container from IMAGE in a slot: created with no network of its own, named <vswitch>-sNN\n' +
        '(e.g. ovs0-s01), labelled ecdock.vswitch and ecdock.slot, with a tty and open stdin (for ec attach),\n' +
        'then plugged: eth0 with the slot MAC and IP and a default route to the gateway. If plugging fails the\n' +
        'container is removed again. Without --slot the lowest free slot is used.\n' +
        'ARGS go to the container verbatim; options for ec go before IMAGE.',
    )
    .argument('<IMAGE>', 'a local image (ec never pulls)')
    .argument('[ARGS...]', 'the command and its arguments (default: the image\'s)')
    .passThroughOptions();
  addContainerOptions(cmd);
  addGlobalOptions(cmd);
  cmd.addHelpText('after', "\nExamples:\n  ec --slot=1 start busybox sh\n  ec start --dual-nic busybox sh -c 'ip addr; exec sh'\n");
  return cmd.action(
    action<StartOpts>(async (ctx, args, opts) => {
      const [image, rest] = args as [string, string[]];
      const vs = await ctx.vswitch();
      const mtu = parseIntOption(opts.mtu, '--mtu');
      const vlan = parseIntOption(opts.vlan, '--vlan');
      ctx.out.note(`starting ${image} in ${ctx.slotOption !== undefined ? `slot ${ctx.slotOption}` : 'the lowest free slot'} of ${vs.name}...`);
      // ctrl-c halfway would leave a running container without its network: finish, then undo.
      let interrupted: string | undefined;
      const onSignal = (sig: NodeJS.Signals) => {
        if (interrupted === 'late') return;
        if (interrupted) process.exit(130);
        interrupted = sig;
        ctx.out.note(`${sig}: finishing the start, then undoing it (again to quit at once)...`);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const started = await startInSlot(vs, {
          runtime: ctx.docker(),
          ...(ctx.slotOption !== undefined ? { slot: ctx.slotOption } : {}),
          image,
          args: rest ?? [],
          portType: opts.internal ? 'internal' : 'veth',
          dualNic: !!opts.dualNic,
          ...(mtu !== undefined ? { mtu } : {}),
          ...(vlan !== undefined ? { vlan } : {}),
          ...(opts.privileged ? { privileged: true } : {}),
          ...(opts.env?.length ? { env: opts.env } : {}),
          ...(opts.hostname ? { hostname: opts.hostname } : {}),
        });
        const { slot, container } = started;
        if (interrupted) {
          await stopSlot(ctx, vs, slot.index, { timeoutS: 0 });
          throw new EcdockError('INTERRUPTED', `interrupted by ${interrupted}: container ${container.name} was removed and slot ${slot.index} freed`);
        }
        ctx.out.result(`started container ${container.name} (${container.id.slice(0, 12)}): ${slotLine(slot.info)}`, {
          slot: slot.info,
          container: { id: container.id, name: container.name, image: container.image, pid: container.pid },
        });
      } finally {
        // A signal from here on finds the work done and reported: ec exits normally.
        interrupted ??= 'late';
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }),
  );
}
