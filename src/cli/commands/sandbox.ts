// ec sandbox up|down|env: a private Open vSwitch (ovsdb-server + ovs-vswitchd, userspace datapath,
// in a network namespace of its own) for trying ec without touching the host's OVS. Its daemons
// are detached and outlive ec; `down` stops them. `up` and `env` print shell lines to eval:
//   eval "$(ec sandbox up)"
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { SandboxError } from '../../errors';
import { OvnSandbox, OvsSandbox, pidAlive } from '../../sandbox';
import { action } from '../action';
import { addGlobalOptions, type Context } from '../context';

export const DEFAULT_SANDBOX_DIR = '/run/ecdock/sandbox';
export const DEFAULT_OVN_SANDBOX_DIR = '/run/ecdock/ovn-sandbox';

interface SandboxOpts {
  dir?: string;
  ovn?: boolean;
  hosts?: string;
  host?: string;
}

const dirOf = (o: SandboxOpts): string => o.dir ?? (o.ovn ? DEFAULT_OVN_SANDBOX_DIR : DEFAULT_SANDBOX_DIR);

/** The OVN sandbox in dir if its daemons run, else undefined. */
async function runningOvn(dir: string): Promise<OvnSandbox | undefined> {
  if (!existsSync(join(dir, 'ovn-sandbox.json'))) return undefined;
  const sb = await OvnSandbox.open(dir);
  return sb.pids.length > 0 && sb.pids.every(pidAlive) ? sb : undefined;
}

function hostIndex(sb: OvnSandbox, host: string | undefined): number {
  const n = host === undefined ? 1 : Number(host);
  if (!Number.isInteger(n) || n < 1 || n > sb.hosts.length) throw new SandboxError('SANDBOX_FAILED', `--host must be 1..${sb.hosts.length}, got '${String(host)}'`);
  return n - 1;
}

/** Shell lines that make ec act as host i of the OVN sandbox, and how to act as another. */
function printOvnEnv(ctx: Context, sb: OvnSandbox, i: number, state: 'started' | 'running', dir: string): void {
  const env = sb.env(i);
  ctx.out.result(exportLines(env), { dir: sb.dir, state, northbound: sb.northbound, southbound: sb.southbound, host: sb.hosts[i], hosts: sb.hosts, env }, { always: true });
  const d = dir === DEFAULT_OVN_SANDBOX_DIR ? '' : ` --dir ${dir}`;
  ctx.out.note(
    `# ec now acts as ${sb.hosts[i]!.name} (host ${i + 1} of ${sb.hosts.length}). Try:
` +
      `#   ec create-vswitch 10.0.0.254/24 && ip netns add a && ec plug --netns /var/run/netns/a
` +
      `# act as another host:  eval "$(ec sandbox env --ovn --host 2${d})"
` +
      `# stop it:              ec sandbox down --ovn${d}`,
  );
}

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
        '  ec sandbox down                stop it and remove its run dir and namespace\n' +
        '  eval "$(ec sandbox up --ovn)"  a private OVN: Northbound, Southbound, ovn-northd and 3 simulated hosts\n' +
        '                                 (--hosts N); ec acts as host 1 (ECDOCK_DB, ECDOCK_NETNS, ECDOCK_OVN_NB)\n' +
        '  ec sandbox env --ovn --host 2  act as host 2;  ec sandbox down --ovn  stops it all',
    );
  const dirOption = (c: Command) =>
    c.option('--dir <dir>', `run dir of the sandbox (default ${DEFAULT_SANDBOX_DIR}, with --ovn ${DEFAULT_OVN_SANDBOX_DIR})`).option('--ovn', 'a private OVN instead: central part + simulated hosts (see ec sandbox --help)');

  const up = dirOption(new Command('up').summary('start the sandbox (or print its environment if it runs)')).option('--hosts <n>', 'with --ovn: how many simulated hosts (default 3)');
  addGlobalOptions(up);
  up.action(
    action<SandboxOpts>(async (ctx, _a, o) => {
      const opts = { dir: dirOf(o) };
      if (o.ovn) {
        const have = await runningOvn(opts.dir);
        if (have) {
          ctx.out.note(`an OVN sandbox is already running in ${opts.dir}`);
          printOvnEnv(ctx, have, 0, 'running', opts.dir);
          return;
        }
        if (existsSync(join(opts.dir, 'ovn-sandbox.json'))) await (await OvnSandbox.open(opts.dir)).stop().catch(() => undefined);
        const hosts = o.hosts === undefined ? 3 : Number(o.hosts);
        if (!Number.isInteger(hosts) || hosts < 1 || hosts > 16) throw new SandboxError('SANDBOX_FAILED', `--hosts must be 1..16, got '${String(o.hosts)}'`);
        ctx.out.note(`starting a private OVN in ${opts.dir}: Northbound, Southbound, ovn-northd and ${hosts} simulated hosts (Geneve)...`);
        const sb = await OvnSandbox.start({ dir: opts.dir, hosts });
        printOvnEnv(ctx, sb, 0, 'started', opts.dir);
        return;
      }
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

  const env = dirOption(new Command('env').summary("print the sandbox's environment (export lines)")).option('--host <n>', 'with --ovn: act as simulated host n (default 1)');
  addGlobalOptions(env);
  env.action(
    action<SandboxOpts>(async (ctx, _a, o) => {
      const opts = { dir: dirOf(o) };
      if (o.ovn) {
        const sb = await runningOvn(opts.dir);
        if (!sb) throw new SandboxError('SANDBOX_FAILED', `no OVN sandbox is running in ${opts.dir}; start one with: ec sandbox up --ovn`, { detail: { dir: opts.dir } });
        printOvnEnv(ctx, sb, hostIndex(sb, o.host), 'running', opts.dir);
        return;
      }
      const have = await running(opts.dir);
      if (!have) throw new SandboxError('SANDBOX_FAILED', `no sandbox is running in ${opts.dir}; start one with: ec sandbox up`, { detail: { dir: opts.dir } });
      printEnv(ctx, have, 'running');
    }),
  );

  const down = dirOption(new Command('down').summary('stop the sandbox and remove its run dir and namespace'));
  addGlobalOptions(down);
  down.action(
    action<SandboxOpts>(async (ctx, _a, o) => {
      const opts = { dir: dirOf(o) };
      if (o.ovn) {
        if (!existsSync(join(opts.dir, 'ovn-sandbox.json'))) {
          ctx.out.result(`no OVN sandbox in ${opts.dir}: nothing to stop`, { dir: opts.dir, stopped: false });
          return;
        }
        await (await OvnSandbox.open(opts.dir)).stop();
        ctx.out.result(`stopped the OVN sandbox in ${opts.dir}`, { dir: opts.dir, stopped: true });
        return;
      }
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
