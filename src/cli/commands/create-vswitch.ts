// ec create-vswitch [IP/MASK] [DEVICE]: an OVS bridge with its addressing plan. As in ecDock, the
// name comes from --vswitch (default ovs0) and the address defaults to 10.0.0.254/24, so that slot
// 1 is 10.0.0.1 with MAC 52:00:0a:00:00:01. The original's usage text also showed the name as the
// first argument; that form is accepted too.
import { Command } from 'commander';
import { AddressPlan } from '../../addressing';
import { UsageError } from '../../errors';
import { checkSubnetUnused } from '../../subnet-overlap';
import { recordedVswitchdNetns } from '../../vswitchd-netns';
import { VSwitch } from '../../vswitch';
import { action } from '../action';
import { addGlobalOptions, parseIntOption } from '../context';

export const DEFAULT_SUBNET = '10.0.0.254/24';
/** ecDock's DEFAULT_IPV6_PREFIX ("2001:db8"), as a prefix. */
export const DEFAULT_IPV6_PREFIX = '2001:db8::/64';

const looksLikeAddress = (s: string) => s.includes('/') || /^\d+\.\d+\.\d+\.\d+$/.test(s) || s.includes(':');

interface Opts {
  usermode?: boolean;
  ipv6?: string | boolean;
  mtu?: string;
  force?: boolean;
}

export function createVswitchCommand(): Command {
  const cmd = new Command('create-vswitch')
    .summary('create a vswitch (OVS bridge + addressing plan); default ovs0 on 10.0.0.254/24')
    .description(
      'Create a vswitch: an OVS bridge whose internal port carries the gateway address, and the\n' +
        'addressing plan of its slots (slot N = network + N, MAC 52:00 + the IPv4 bytes).\n' +
        'The name comes from --vswitch (default ovs0). Creating it again with the same plan does nothing.\n' +
        'Without --usermode the kernel datapath is used, which needs the openvswitch kernel module.',
    )
    .argument('[IP/MASK]', `the gateway's address and prefix length (default ${DEFAULT_SUBNET})`)
    .argument('[DEVICE]', 'a host device to add as the uplink (OpenFlow port 65261)')
    .allowExcessArguments(true)
    .option('--usermode', 'use the userspace datapath (datapath_type=netdev): no kernel module needed')
    .option('--ipv6 [prefix]', `give slots IPv6 addresses too: prefix + the slot's IPv4 address (prefix default ${DEFAULT_IPV6_PREFIX}, as ecDock)`)
    .option('--mtu <bytes>', 'MTU of the bridge and default MTU of its slots')
    .option('--force', "create it even if the subnet overlaps an address or route already in ovs-vswitchd's namespace")
    .addHelpText(
      'after',
      '\nExamples:\n  ec create-vswitch --usermode\n  ec create-vswitch 10.0.0.254/24\n  ec --vswitch=ovs1 create-vswitch --usermode --ipv6 172.16.0.1/16 eth1\n',
    );
  addGlobalOptions(cmd);
  return cmd.action(
    action<Opts>(async (ctx, _args, opts, c) => {
      const positional = [...c.args];
      // `--ipv6` takes an optional value, so `--ipv6 10.0.0.254/24` would swallow the subnet: a value
      // that is no IPv6 prefix is an argument, and --ipv6 gets the default prefix.
      let ipv6 = opts.ipv6;
      if (typeof ipv6 === 'string' && !ipv6.includes(':')) {
        positional.unshift(ipv6);
        ipv6 = true;
      }
      let [a, b, extra] = positional;
      let name = ctx.vswitchName;
      // `create-vswitch NAME IP/MASK [DEVICE]`, the form in the original's usage text.
      if (a !== undefined && !looksLikeAddress(a)) {
        if (ctx.options.vswitch && ctx.options.vswitch !== a) throw new UsageError('BAD_ARGUMENT', `two different names given: ${a} and --vswitch=${ctx.options.vswitch}`);
        name = a;
        [a, b] = [b, extra];
        extra = positional[3];
      }
      if (extra !== undefined) throw new UsageError('BAD_ARGUMENT', `too many arguments: create-vswitch takes [IP/MASK] [DEVICE], got '${positional.join(' ')}'`);
      const subnet = a ?? DEFAULT_SUBNET;
      const ipv6Prefix = ipv6 === true ? DEFAULT_IPV6_PREFIX : typeof ipv6 === 'string' ? ipv6 : undefined;
      const mtu = parseIntOption(opts.mtu, '--mtu');
      // Every refusal before the progress line: BAD_SUBNET, BAD_NAME, SUBNET_IN_USE.
      const plan = AddressPlan.parse(name, subnet, ipv6Prefix);
      const ovs = await ctx.ovs();
      const netns = ctx.netns ?? (await recordedVswitchdNetns(ovs));
      if (!opts.force) await checkSubnetUnused(plan, name, netns);
      ctx.out.note(`creating vswitch ${name} on ${subnet} (${opts.usermode ? 'userspace' : 'kernel'} datapath)...`);
      const vs = await VSwitch.create(ovs, {
        name,
        subnet,
        usermode: !!opts.usermode,
        ...(ipv6Prefix ? { ipv6Prefix } : {}),
        ...(b ? { uplink: b } : {}),
        ...(mtu !== undefined ? { mtu } : {}),
        ...(netns ? { netns } : {}),
        ...(opts.force ? { allowSubnetOverlap: true } : {}),
        runtime: ctx.docker(),
      });
      const first = vs.plan.isValidSlot(1) ? vs.addressOf(1) : undefined;
      ctx.out.result(
        `vswitch ${vs.name}: gateway ${vs.plan.gateway}/${vs.plan.prefixLength}${vs.plan.ipv6Prefix ? ` and ${vs.plan.ipv6Prefix}` : ''}, ` +
          `${vs.usermode ? 'userspace' : 'kernel'} datapath, slots ${vs.plan.slotRange}` +
          (first ? ` (slot 1: ${first.ipv4} ${first.mac})` : ''),
        vs.toJSON(),
      );
    }),
  );
}
