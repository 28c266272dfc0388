// The glue between commander and a command's body: builds the Context from the merged options,
// runs the body, prints a failure the way --json asks, turns it into an exit code, and closes
// connections whatever happens.
import type { Command } from 'commander';
import { Context } from './context';
import { exitCodeFor } from './exit-codes';
import { Output } from './output';

/** Thrown to end the program with a code once the reason has been printed. */
export class CliExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/**
 * Wraps a command body for `.action()`. The body gets the Context, the positional arguments and
 * the command's own options; it returns an exit code (default 0). `readOnly`: the command only
 * reads and exits (Context.readOnly).
 */
export function action<O = Record<string, unknown>>(
  body: (ctx: Context, args: unknown[], opts: O, cmd: Command) => Promise<number | void>,
  o: { readOnly?: boolean } = {},
): (...a: unknown[]) => Promise<void> {
  return async (...a: unknown[]) => {
    const cmd = a[a.length - 1] as Command;
    const opts = a[a.length - 2] as O;
    const args = a.slice(0, -2);
    let ctx: Context;
    try {
      ctx = Context.from(cmd);
      ctx.readOnly = !!o.readOnly;
    } catch (e) {
      const raw = cmd.optsWithGlobals<{ json?: boolean; quiet?: boolean }>();
      new Output({ json: !!raw.json, quiet: !!raw.quiet }).error(e);
      throw new CliExit(exitCodeFor(e));
    }
    let code: number;
    try {
      code = (await body(ctx, args, opts, cmd)) ?? 0;
    } catch (e) {
      if (e instanceof CliExit) throw e;
      ctx.out.error(e);
      throw new CliExit(exitCodeFor(e));
    } finally {
      await ctx.close();
    }
    if (code !== 0) throw new CliExit(code);
  };
}
