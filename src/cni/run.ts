// One CNI call, whoever runs it: the plugin process started per call (main.ts) or the resident
// daemon (serve.ts), which passes each forwarded call's environment and stdin. Returns what the
// plugin prints on stdout and its exit status; never throws.
//
// Only the pure parsing modules are loaded here; the OVSDB client, the vswitch model and the
// netlink addon come in with ./commands, required by the commands that use them (VERSION loads none).

import { CniError, errorObject, toCniError } from './cni-error';
import { LATEST_VERSION, SUPPORTED_VERSIONS, checkVersion, decodeJson, parseConf } from './config';
import { parseCommand, parseEnv, type CniCommand } from './env';

export interface CallOutcome {
  /** What goes to stdout: a JSON line, or empty. */
  stdout: string;
  /** 0 or 1. */
  code: number;
}

function versionOf(raw: Record<string, unknown> | undefined): string {
  const v = raw?.cniVersion;
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v) ? v : LATEST_VERSION;
}

async function dispatch(env: NodeJS.ProcessEnv, stdin: string): Promise<{ out?: unknown; error?: CniError; cniVersion: string }> {
  let raw: Record<string, unknown> | undefined;
  let command: CniCommand | undefined;
  try {
    command = parseCommand(env);
    if (command === 'VERSION') {
      // Answers whatever the config holds, even nothing: the runtime asks before anything else.
      try {
        raw = decodeJson(stdin);
      } catch {
        raw = undefined;
      }
      return { out: { cniVersion: versionOf(raw), supportedVersions: SUPPORTED_VERSIONS }, cniVersion: versionOf(raw) };
    }
    raw = decodeJson(stdin);
    checkVersion(raw);
    const cniEnv = parseEnv(env, command);
    const conf = parseConf(raw);
    // The OVSDB default a plugin process would take from its own environment.
    if (conf.db === undefined && env.ECDOCK_DB) conf.db = env.ECDOCK_DB;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const commands = require('./commands') as typeof import('./commands');
    switch (command) {
      case 'ADD':
        return { out: await commands.add(cniEnv, conf), cniVersion: conf.cniVersion };
      case 'DEL':
        await commands.del(cniEnv, conf);
        return { cniVersion: conf.cniVersion };
      case 'CHECK':
        await commands.check(cniEnv, conf);
        return { cniVersion: conf.cniVersion };
      case 'GC':
        await commands.gc(conf);
        return { cniVersion: conf.cniVersion };
      case 'STATUS':
        await commands.status(conf);
        return { cniVersion: conf.cniVersion };
    }
  } catch (e) {
    return { error: toCniError(e), cniVersion: versionOf(raw) };
  }
}

/** Runs one call given its CNI_* environment and its stdin. */
export async function runCall(env: NodeJS.ProcessEnv, stdin: string): Promise<CallOutcome> {
  try {
    const r = await dispatch(env, stdin);
    if (r.error) return { stdout: JSON.stringify(errorObject(r.error, r.cniVersion)) + '\n', code: 1 };
    return { stdout: r.out !== undefined ? JSON.stringify(r.out) + '\n' : '', code: 0 };
  } catch (e) {
    return { stdout: JSON.stringify(errorObject(toCniError(e), LATEST_VERSION)) + '\n', code: 1 };
  }
}
