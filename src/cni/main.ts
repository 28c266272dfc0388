#!/usr/bin/env node
// `ecdock-cni`: the CNI plugin (type "ecdock"), run per call by the runtime — directly, or exec'd
// by the forwarder when no daemon serves the calls (see run.ts for the call itself). Also:
//   ecdock-cni serve [--socket PATH]   the resident daemon the forwarder hands calls to (serve.ts)
//   ecdock-cni forwarder               prints the path of the forwarder to link into the CNI bin dir
// Output goes out with writeSync so that process.exit cannot cut it short.

import { existsSync, readFileSync, writeSync } from 'node:fs';
import * as nodeModule from 'node:module';
import * as path from 'node:path';
import { runCall } from './run';

// Node ≥ 22.1 keeps compiled code between runs (a plugin process starts for every call); older Node has no such cache.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

/** The forwarder: built next to the addon by node-gyp, or shipped with the prebuilt addon. */
function forwarderPath(): string | undefined {
  const root = path.resolve(__dirname, '../../..');
  return [path.join(root, 'build', 'Release', 'ecdock-cni-forward'), path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'ecdock-cni-forward')].find((p) =>
    existsSync(p),
  );
}

function fatal(msg: string): never {
  process.stderr.write(`ecdock-cni: ${msg}\n`);
  process.exit(1);
}

const [sub, ...rest] = process.argv.slice(2);
if (sub === 'serve') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('./serve') as typeof import('./serve')).serveMain(rest).catch((e: unknown) => fatal((e as Error).message));
} else if (sub === 'forwarder') {
  const p = forwarderPath();
  if (!p) fatal('no forwarder was built for this platform (prebuilds/ or build/Release/ecdock-cni-forward); link ecdock-cni itself into the CNI bin dir instead');
  writeSync(1, p + '\n');
} else if (sub !== undefined && !process.env.CNI_COMMAND) {
  fatal(`unknown command "${sub}"; a runtime runs ecdock-cni with CNI_COMMAND set, or use "ecdock-cni serve [--socket PATH]" or "ecdock-cni forwarder"`);
} else {
  void runCall(process.env, readStdin()).then((r) => {
    if (r.stdout) writeSync(1, r.stdout);
    process.exit(r.code);
  });
}
