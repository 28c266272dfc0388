#!/usr/bin/env node
// `ecdock-cni`: the CNI plugin (type "ecdock"). Every call is a fresh process, so start-up is the
// cost: this file loads only the pure parsing modules, and the OVSDB client, the vswitch model
// and the netlink addon are required only by the commands that use them (VERSION loads none).
// Output goes out with writeSync so that process.exit cannot cut it short.

import { readFileSync, writeSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { CniError, errorObject, toCniError } from './cni-error';
import { LATEST_VERSION, SUPPORTED_VERSIONS, checkVersion, decodeJson, parseConf } from './config';
import { parseCommand, parseEnv, type CniCommand } from './env';

// Node ≥ 22.1 keeps compiled code between runs (a plugin process starts for every call); older Node has no such cache.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

function versionOf(raw: Record<string, unknown> | undefined): string {
  const v = raw?.cniVersion;
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v) ? v : LATEST_VERSION;
}

async function run(env: NodeJS.ProcessEnv, stdin: string): Promise<{ out?: unknown; error?: CniError; cniVersion: string }> {
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

run(process.env, readStdin()).then(
  (r) => {
    if (r.error) {
      writeSync(1, JSON.stringify(errorObject(r.error, r.cniVersion)) + '\n');
      process.exit(1);
    }
    if (r.out !== undefined) writeSync(1, JSON.stringify(r.out) + '\n');
    process.exit(0);
  },
  (e: unknown) => {
    writeSync(1, JSON.stringify(errorObject(toCniError(e), LATEST_VERSION)) + '\n');
    process.exit(1);
  },
);
