// The `ec` program: its commands, help, and how commander's own errors become exit codes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { UsageError } from '../errors';
import { CliExit } from './action';
import { attachCommand } from './commands/attach';
import { cleanupCommand } from './commands/cleanup';
import { createVswitchCommand } from './commands/create-vswitch';
import { deleteVswitchCommand } from './commands/delete-vswitch';
import { demoCommand } from './commands/demo';
import { getTestImagesCommand } from './commands/get-test-images';
import { listCommand, listVswitchesCommand } from './commands/list';
import { plugCommand, unplugCommand } from './commands/plug';
import { restartCommand } from './commands/restart';
import { sandboxCommand } from './commands/sandbox';
import { startCommand } from './commands/start';
import { stopCommand } from './commands/stop';
import { watchCommand } from './commands/watch';
import { addGlobalOptions } from './context';
import { EXIT, EXIT_CODES_HELP } from './exit-codes';
import { Output } from './output';

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
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

export function buildProgram(): Command {
  const program = new Command('ec')
    .description('ec: plug Docker containers and network namespaces into Open vSwitch slots with fixed MACs and IPs\n(the ecDock command, over OVSDB and rtnetlink)')
    .usage('[options] COMMAND [arguments]')
    .version(version(), '-V, --version', 'print the version')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .configureHelp({ sortSubcommands: false, showGlobalOptions: false })
    .addHelpText('after', EXAMPLES + '\n' + EXIT_CODES_HELP + '\n');
  addGlobalOptions(program);
  for (const make of [
    createVswitchCommand,
    deleteVswitchCommand,
    listVswitchesCommand,
    startCommand,
    attachCommand,
    stopCommand,
    restartCommand,
    plugCommand,
    unplugCommand,
    listCommand,
    cleanupCommand,
    watchCommand,
    sandboxCommand,
    demoCommand,
    getTestImagesCommand,
  ]) {
    program.addCommand(make());
  }
  // Every command reports usage errors itself, as one line with an exit code of 2.
  const configure = (c: Command) => {
    c.exitOverride().configureOutput({ outputError: () => undefined });
    if (c !== program) c.addHelpText('after', `\n${EXIT_CODES_HELP}\n`);
    for (const sub of c.commands) configure(sub);
  };
  configure(program);
  return program;
}

/** Runs ec with these arguments (without node and the script); resolves to the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
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
