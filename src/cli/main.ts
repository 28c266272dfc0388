#!/usr/bin/env node
// The `ec` command. `ec --version` is answered here, without loading the program, because scripts
// call it often; everything else loads only the command it runs (program.ts).
const argv = process.argv.slice(2);
// `ec ... | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  process.stdout.write(`${(require('./version') as typeof import('./version')).packageVersion()}\n`);
} else {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('./program') as typeof import('./program')).run(argv).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`ec: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(70);
    },
  );
}
export {};
