// ec watch: follows Docker events for slotted containers until SIGINT/SIGTERM: a container that
// restarts is plugged into its new namespace, one that dies is reported down, one that is removed
// has its slot freed. One line (or JSON line) per event.
import { Command } from 'commander';
import type { EcdockError } from '../../errors';
import { ContainerFollower, type FollowEvent, type RepairEvent } from '../../follow';
import { action } from '../action';
import { addGlobalOptions } from '../context';

export function watchCommand(): Command {
  const cmd = new Command('watch')
    .summary('follow Docker: re-plug restarted containers, free removed ones')
    .description(
      'Follow the containers started by "ec start" until interrupted: when one restarts (docker restart,\n' +
        'a restart policy, docker start after ec stop --no-rm), plug its slot into its new network namespace;\n' +
        'when it dies, report its slot down; when it is removed, free its slot. At start, one pass repairs\n' +
        'what happened while nobody watched. When ovs-vswitchd restarts, runs the vswitch\'s cleanup repair\n' +
        '(internal-port slots plugged into their target again, gateway, static MACs) and reports it.\n' +
        'Prints one line per event (a JSON line with --json).',
    )
    .option('-a, --all', 'follow every vswitch on this OVS (default: --vswitch only)');
  addGlobalOptions(cmd);
  return cmd.action(
    action<{ all?: boolean }>(async (ctx, _args, opts) => {
      const ovs = await ctx.ovs({ reconnect: true });
      const follower = new ContainerFollower(ovs, { runtime: ctx.docker(), ...(opts.all ? {} : { vswitch: ctx.vswitchName }) });
      const print = (type: string) => (e: FollowEvent) => {
        const extra = type === 'down' && e.exitCode !== undefined ? ` (exit code ${e.exitCode})` : type === 'replugged' && e.how ? ` (${e.how})` : '';
        ctx.out.event(`${type} ${e.vswitch} slot ${e.slot} container ${e.name || e.container.slice(0, 12)}${extra}`, { event: type, time: new Date().toISOString(), ...e });
      };
      follower.on('replugged', print('replugged'));
      follower.on('down', print('down'));
      follower.on('freed', print('freed'));
      follower.on('repaired', (e: RepairEvent) => {
        const what = e.repaired.map((r) => (r.slot !== undefined ? `${r.what} slot ${r.slot}` : r.what));
        const removed = e.removed.map((p) => `removed slot ${p.slot} (${p.reason})`);
        ctx.out.event(`repaired ${e.vswitch} after an ovs-vswitchd restart: ${[...what, ...removed].join(', ')}`, { event: 'repaired', time: new Date().toISOString(), ...e });
      });
      follower.on('error', (e: EcdockError) => {
        if (ctx.out.json) ctx.out.event('', { event: 'error', time: new Date().toISOString(), error: { code: e.code, message: e.message } });
        else process.stderr.write(`ec: ${e.message} (code ${e.code})\n`);
      });
      const stopped = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      await follower.start();
      ctx.out.note(`watching ${opts.all ? 'every vswitch' : ctx.vswitchName} (ctrl-c to stop)`);
      const why = await stopped;
      await follower.stop();
      ctx.out.note(`stopped watching (${why})`);
    }),
  );
}
