// ec sandbox up|down|env: a private Open vSwitch (ovsdb-server + ovs-vswitchd, userspace datapath,
// in a network namespace of its own) for trying ec without touching the host's OVS. Its daemons
// are detached and outlive ec; `down` stops them. `up` and `env` print shell lines to eval:
//   eval "$(ec sandbox up)"
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { SandboxError } from '../../errors';
import { OvsSandbox, pidAlive } from '../../sandbox';
import { action } from '../action';
import { addGlobalOptions, type Context } from '../context';

export const DEFAULT_SANDBOX_DIR = '/run/ecdock/sandbox';

/** `export K='v'` lines, quoted for any POSIX shell. */
export function exportLines(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`)
    .join('\n');
}

function printEnv(ctx: Context, sb: OvsSandbox, state: 'started' | 'running'): void {
  const env = sb.env();
  ctx.out.result(exportLines(env), { dir: sb.dir, state, dbUrl: sb.dbUrl, ...(sb.netns ? { netns: sb.netns } : {}), env }, { always: true });
}

/** The sandbox in dir if its ovsdb-server runs, else undefined. */
async function running(dir: string): Promise<OvsSandbox | undefined> {
  if (!existsSync(join(dir, 'sandbox.json'))) return undefined;
  const sb = await OvsSandbox.open(dir);
  return sb.ovsdbPid !== undefined && pidAlive(sb.ovsdbPid) ? sb : undefined;
}

export function sandboxCommand(): Command {
  const sandbox = new Command('sandbox')
    .summary('a private OVS to try things out: up, down, env')
    .description(
      'A private Open vSwitch (ovsdb-server and ovs-vswitchd with the userspace datapath) in a run dir and\n' +
        'network namespace of its own, so that ec can be tried without the host\'s OVS or kernel module:\n' +
        '  eval "$(ec sandbox up)"        start it and point ec (ECDOCK_DB, ECDOCK_NETNS) and ovs-vsctl at it\n' +
        '  ec create-vswitch --usermode   ...\n' +
        '  ec sandbox down                stop it and remove its run dir and namespace',
    );
  const dirOption = (c: Command) => c.option('--dir <dir>', 'run dir of the sandbox', DEFAULT_SANDBOX_DIR);

  const up = dirOption(new Command('up').summary('start the sandbox (or print its environment if it runs)'));
  addGlobalOptions(up);
  up.action(
    action<{ dir: string }>(async (ctx, _a, opts) => {
      const have = await running(opts.dir);
      if (have) {
        ctx.out.note(`a sandbox is already running in ${opts.dir}`);
        printEnv(ctx, have, 'running');
        return;
      }
      // A sandbox that died (reboot, killed daemons) leaves its dir: clear it before starting anew.
      if (existsSync(join(opts.dir, 'sandbox.json'))) await (await OvsSandbox.open(opts.dir)).stop().catch(() => undefined);
      ctx.out.note(`starting a private OVS in ${opts.dir}...`);
      const sb = await OvsSandbox.start({ dir: opts.dir, isolated: true });
      printEnv(ctx, sb, 'started');
      ctx.out.note(`# stop it with: ec sandbox down${opts.dir === DEFAULT_SANDBOX_DIR ? '' : ` --dir ${opts.dir}`}`);
    }),
  );

  const env = dirOption(new Command('env').summary("print the sandbox's environment (export lines)"));
  addGlobalOptions(env);
  env.action(
    action<{ dir: string }>(async (ctx, _a, opts) => {
      const have = await running(opts.dir);
      if (!have) throw new SandboxError('SANDBOX_FAILED', `no sandbox is running in ${opts.dir}; start one with: ec sandbox up`, { detail: { dir: opts.dir } });
      printEnv(ctx, have, 'running');
    }),
  );

  const down = dirOption(new Command('down').summary('stop the sandbox and remove its run dir and namespace'));
  addGlobalOptions(down);
  down.action(
    action<{ dir: string }>(async (ctx, _a, opts) => {
      if (!existsSync(join(opts.dir, 'sandbox.json'))) {
        ctx.out.result(`no sandbox in ${opts.dir}: nothing to stop`, { dir: opts.dir, stopped: false });
        return;
      }
      await (await OvsSandbox.open(opts.dir)).stop();
      ctx.out.result(`stopped the sandbox in ${opts.dir}`, { dir: opts.dir, stopped: true });
    }),
  );

  return sandbox.addCommand(up).addCommand(env).addCommand(down);
}
