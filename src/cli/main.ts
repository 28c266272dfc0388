#!/usr/bin/env node
// The `ec` command.
import { run } from './program';

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`ec: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(70);
  },
);
