// ec attach SLOT: the terminal goes to the container in the slot (raw tty) until the detach keys
// (ctrl-p ctrl-q) are typed, or the container exits: then ec exits with the container's code.
import { Command } from 'commander';
import { UsageError, VSwitchError } from '../../errors';
import { action } from '../action';
import { addGlobalOptions } from '../context';
import { containerOfSlot } from '../../in-slot';

export function attachCommand(): Command {
  const cmd = new Command('attach')
    .summary('attach the terminal to the container in a slot')
    .description(
      'Give this terminal to the container in SLOT (its tty, in raw mode). Detach with ctrl-p ctrl-q\n' +
        '(or --detach-keys) and the container keeps running; if it exits, ec exits with its exit code.\n' +
        'A shell may wait for a key before it prints a prompt. Needs a terminal: with stdin not a TTY\n' +
        '(a pipe, a file, cron) it refuses with exit code 2, as docker attach does; use docker exec -i there.',
    )
    .argument('[SLOT]', 'the slot (or --slot=N)')
    .option('--detach-keys <keys>', "keys that detach, Docker's syntax", 'ctrl-p,ctrl-q');
  addGlobalOptions(cmd);
  return cmd.action(
    action<{ detachKeys: string }>(async (ctx, args, opts) => {
      const n = ctx.slot(args[0] as string | undefined, true);
      const vs = await ctx.vswitch();
      vs.addressOf(n); // SLOT_OUT_OF_RANGE before anything else
      const docker = ctx.docker();
      const slot = await vs.slot(n);
      const c = await containerOfSlot(vs, n, { runtime: docker, ...(slot ? { slot } : {}) });
      if (!c) throw new VSwitchError('NO_SUCH_CONTAINER', `slot ${n} of ${vs.name} holds no container (ec list shows what each slot holds)`, { detail: { slot: n } });
      if (!process.stdin.isTTY) {
        throw new UsageError('BAD_ARGUMENT', `ec attach needs a terminal, and stdin is not one (a pipe or a file): nothing would reach the container. Run it from a terminal, or send input with docker exec -i CONTAINER CMD`);
      }
      ctx.out.note(`attached to ${c.name}; detach with ${opts.detachKeys}`);
      const r = await docker.attach(c.id, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, detachKeys: opts.detachKeys });
      if (ctx.out.json) ctx.out.result('', { container: c.name, ...r });
      else if (r.detached) ctx.out.note(`\r\ndetached from ${c.name}; it keeps running`);
      else ctx.out.note(`\r\n${c.name} exited${r.exitCode !== undefined ? ` with code ${r.exitCode}` : ''}`);
      return r.detached ? 0 : (r.exitCode ?? 0);
    }),
  );
}
