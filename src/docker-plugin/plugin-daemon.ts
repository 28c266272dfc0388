// The ecdock-docker-plugin daemon: options, the socket, the driver, and a clean stop on SIGTERM.
// Foreground, logs to stderr (systemd and `docker logs`-style supervisors keep them).

import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { Context, addGlobalOptions, type GlobalOptions } from '../cli/context';
import { UsageError, isEcdockError } from '../errors';
import { stagingPath } from './staging';
import { NetworkDriver } from './network-driver';
import { createPluginServer } from './plugin-server';
import { PLUGIN_DIR, listenOnSocket, type SocketHandle } from './plugin-socket';

export const DEFAULT_DRIVER_NAME = 'ecdock';

export interface PluginDaemon {
  socket: string;
  driverName: string;
  stop(): Promise<void>;
}

interface DaemonOptions {
  socket?: string;
  name?: string;
  group?: string;
}

function logLine(line: string): void {
  process.stderr.write(`ecdock-docker-plugin: ${new Date().toISOString()} ${line}\n`);
}

/** Socket path and driver name: Docker names a legacy plugin after its socket file. */
export function socketAndName(o: DaemonOptions): { socket: string; driverName: string } {
  const socket = o.socket !== undefined ? path.resolve(o.socket) : undefined;
  const driverName = o.name ?? (socket ? path.basename(socket).replace(/\.sock$/, '') : DEFAULT_DRIVER_NAME);
  // The name also names the staging namespace (ecdock-docker-NAME), hence the length.
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,48}$/.test(driverName)) {
    throw new UsageError('BAD_NAME', `driver name "${driverName}": use up to 49 letters, digits, "_", "-" or ".", starting with a letter or digit (give --name, or a --socket file named so)`);
  }
  return { socket: socket ?? path.join(PLUGIN_DIR, `${driverName}.sock`), driverName };
}

/** Starts serving; resolves once the socket listens. */
export async function startDaemon(o: DaemonOptions, ctx: Context): Promise<PluginDaemon> {
  const { socket, driverName } = socketAndName(o);
  const driver = new NetworkDriver({
    dbUrl: ctx.dbUrl,
    staging: stagingPath(driverName),
    ...(ctx.tls ? { tls: ctx.tls } : {}),
    ...(ctx.netns !== undefined ? { netns: ctx.netns } : {}),
    log: logLine,
  });
  // What a killed predecessor left goes before Docker can call: a Join cut short is told from one
  // in flight only when nothing is in flight. OVSDB down is no reason not to start.
  await driver.reconcile().catch((e: unknown) => logLine(`startup cleanup skipped: ${(e as Error).message}`));
  const server = createPluginServer(driver, logLine);
  let handle: SocketHandle;
  try {
    handle = await listenOnSocket(server, socket, o.group !== undefined ? { group: o.group } : {});
  } catch (e) {
    driver.close();
    throw e;
  }
  logLine(`serving driver "${driverName}" on ${socket} (OVSDB ${ctx.dbUrl}${ctx.netns ? `, ovs-vswitchd in ${ctx.netns}` : ''})`);
  let stopping: Promise<void> | undefined;
  return {
    socket,
    driverName,
    stop() {
      stopping ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await handle.remove();
        driver.close();
      })();
      return stopping;
    },
  };
}

export function buildDaemonProgram(onStarted: (d: PluginDaemon) => void): Command {
  const program = new Command('ecdock-docker-plugin')
    .description("Docker's remote network driver for ecdock: `docker network create -d ecdock` makes a vswitch, `docker run --network` gives each container a slot")
    .option('--socket <path>', `unix socket Docker finds the plugin by (default: ${PLUGIN_DIR}/NAME.sock); the driver name is the file's name without .sock`)
    .option('--name <name>', `driver name, when --socket is not given (default: ${DEFAULT_DRIVER_NAME})`)
    .option('--group <group>', 'make the socket 0660 for this group (default: 0600, root only)')
    .addHelpText('after', '\nEnvironment: ECDOCK_DB (OVSDB), ECDOCK_NETNS (where ovs-vswitchd runs), ECDOCK_TLS_KEY/CERT/CA.\n')
    .exitOverride();
  addGlobalOptions(program, { except: ['vswitch', 'slot', 'quiet', 'json'] });
  program.action(async () => {
    const opts = program.opts<DaemonOptions & GlobalOptions>();
    onStarted(await startDaemon(opts, new Context(opts)));
  });
  return program;
}

/** The command: runs until SIGTERM/SIGINT, then stops serving and exits 0. */
export async function main(argv: string[]): Promise<void> {
  let daemon: PluginDaemon | undefined;
  const program = buildDaemonProgram((d) => (daemon = d));
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    logLine(isEcdockError(e) ? `cannot start: ${e.message}` : `cannot start: ${(e as Error)?.stack ?? String(e)}`);
    process.exit(1);
  }
  const stop = (sig: string): void => {
    logLine(`${sig}: stopping`);
    void daemon?.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
