// The hostile-input table of issue 6, CLI part: RESERVED for the CLI engineer (src/cli/, `ec`).
//
// Rows go in CLI_ROWS below, with surface 'cli'. A row runs `ec` as a child process against the
// fixture's sandbox (ctx.f.sb.dbUrl, ctx.vs.name) and must reject with the EcdockError code the
// CLI reports (e.g. parse `ec --json ...`'s error object and throw an EcdockError with its code),
// so that the runner in test/integration/hardening-input.test.ts checks the code and the unchanged
// OVSDB + kernel snapshot exactly as it does for the API rows. Ideas from the issue: bad IP/MASK
// for create-vswitch, --slot=0/abc/65536, names of 16 bytes or odd bytes, --netns paths that are
// not namespaces, --pid of a dead process or of ec itself, --db URLs that are wrong, TLS files that
// are missing or not PEM, arguments that look like options ("--slot=--help"), shell
// metacharacters in IMAGE/ARGS (must reach Docker as data, never a shell).
import type { HostileRow } from './hostile-inputs';

export const CLI_ROWS: HostileRow[] = [
  // (pending: the `ec` command is being written; see docs/RELIABILITY.md, "Hostile input")
];
