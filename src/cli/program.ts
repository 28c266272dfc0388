// The `ec` program: its commands, help, and how commander's own errors become exit codes.
import { Command, CommanderError } from 'commander';
import { UsageError } from '../errors';
import { CliExit } from './action';
import { addGlobalOptions } from './context';
import { EXIT, EXIT_CODES_HELP } from './exit-codes';
import { Output } from './output';
import { packageVersion } from './version';

/* eslint-disable @typescript-eslint/no-require-imports */
/**
 * Every command by name, in help order, each loaded only when used: `ec list` does not pay for
 * Docker, the sandbox or the other commands' modules.
 */
const COMMANDS: [names: string[], make: () => Command][] = [
  [['create-vswitch'], () => (require('./commands/create-vswitch') as typeof import('./commands/create-vswitch')).createVswitchCommand()],
  [['delete-vswitch'], () => (require('./commands/delete-vswitch') as typeof import('./commands/delete-vswitch')).deleteVswitchCommand()],
  [['list-vswitches'], () => (require('./commands/list') as typeof import('./commands/list')).listVswitchesCommand()],
  [['start'], () => (require('./commands/start') as typeof import('./commands/start')).startCommand()],
  [['attach'], () => (require('./commands/attach') as typeof import('./commands/attach')).attachCommand()],
  [['stop'], () => (require('./commands/stop') as typeof import('./commands/stop')).stopCommand()],
  [['restart'], () => (require('./commands/restart') as typeof import('./commands/restart')).restartCommand()],
  [['plug'], () => (require('./commands/plug') as typeof import('./commands/plug')).plugCommand()],
  [['unplug'], () => (require('./commands/plug') as typeof import('./commands/plug')).unplugCommand()],
  [['list', 'ls'], () => (require('./commands/list') as typeof import('./commands/list')).listCommand()],
  [['cleanup'], () => (require('./commands/cleanup') as typeof import('./commands/cleanup')).cleanupCommand()],
  [['watch'], () => (require('./commands/watch') as typeof import('./commands/watch')).watchCommand()],
  [['sandbox'], () => (require('./commands/sandbox') as typeof import('./commands/sandbox')).sandboxCommand()],
  [['demo'], () => (require('./commands/demo') as typeof import('./commands/demo')).demoCommand()],
  [['get-test-images'], () => (require('./commands/get-test-images') as typeof import('./commands/get-test-images')).getTestImagesCommand()],
];
/* eslint-enable @typescript-eslint/no-require-imports */

/** Global options that take a value as the next word (`--db URL`), to find the command name past them. */
const VALUE_OPTIONS = new Set(['--db', '--vswitch', '--slot', '--netns', '--private-key', '--certificate', '--ca-cert']);

/** The command word in argv, or undefined (none, or only options: help or an error follows). */
export function commandWord(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv[i + 1];
    if (!a.startsWith('-')) return a;
    if (VALUE_OPTIONS.has(a)) i++;
  }
  return undefined;
}

const EXAMPLES = `
As in ecDock:
  ec create-vswitch --usermode              ovs0 on 10.0.0.254/24 (--usermode: no kernel module needed)
  ec --slot=1 start IMAGE ARGS...           container ovs0-s01 with 10.0.0.1 and MAC 52:00:0a:00:00:01
  ec attach 1                               its terminal (detach: ctrl-p ctrl-q)
  ec stop 1                                 stop and remove it, free the slot
  ec cleanup                                ghost ports, dead links, exited containers
Try it without touching the host's OVS:
  eval "$(ec sandbox up)"; ec create-vswitch --usermode; ...; ec sandbox down
  ec demo                                   sandbox, three slots, a ping matrix, teardown

Environment: ECDOCK_DB (OVSDB), ECDOCK_VSWITCH (vswitch), ECDOCK_NETNS (ovs-vswitchd's netns),
DOCKER_HOST (dockerd).
`;

/**
 * The program; with `only`, just the command that argv names (all of them when it names none we
 * know, so that help lists them and a typo gets its suggestion).
 */
export function buildProgram(only?: string): Command {
  const program = new Command('ec')
    .description('ec: plug Docker containers and network namespaces into Open vSwitch slots with fixed MACs and IPs\n(the ecDock command, over OVSDB and rtnetlink)')
    .usage('[options] COMMAND [arguments]')
    .version(packageVersion(), '-V, --version', 'print the version')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false, showGlobalOptions: false })
    .addHelpText('after', EXAMPLES + '\n' + EXIT_CODES_HELP + '\n');
  addGlobalOptions(program);
  const wanted = only !== undefined ? COMMANDS.filter(([names]) => names.includes(only)) : [];
  for (const [, make] of wanted.length ? wanted : COMMANDS) program.addCommand(make());
  // Every command reports usage errors itself, as one line with an exit code of 2.
  const configure = (c: Command) => {
    c.exitOverride().configureOutput({ outputError: () => undefined });
    // Descriptions are written with line breaks for the source; commander wraps to the terminal, so
    // join the lines of a paragraph (indented example lines keep theirs) and let it wrap once.
    c.description(c.description().replace(/\n(?!\n| )/g, ' '));
    if (c !== program) c.addHelpText('after', `\n${EXIT_CODES_HELP}\n`);
    for (const sub of c.commands) configure(sub);
  };
  configure(program);
  return program;
}

/** Runs ec with these arguments (without node and the script); resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram(commandWord(argv));
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CliExit) return e.code;
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.ok;
      // Scripts that asked for JSON get JSON, even for a mistyped command or none.
      const json = argv.includes('--json');
      if (e.code === 'commander.help') {
        // No command (or `sandbox` without up/down/env): the usage went to stderr.
        if (json) new Output({ json: true }).error(new UsageError('BAD_ARGUMENT', "no command given: ec --help lists the commands (and ec sandbox --help the sandbox's up, env, down)"));
        return EXIT.usage;
      }
      const message = e.message.replace(/^error: /, '');
      if (json) new Output({ json: true }).error(new UsageError('BAD_ARGUMENT', message));
      else process.stderr.write(`ec: ${message} (code BAD_ARGUMENT)\n(ec --help lists the commands; ec COMMAND --help explains one)\n`);
      return EXIT.usage;
    }
    new Output().error(e);
    return EXIT.internal;
  }
}
