// A command under a pseudo-terminal (util-linux `script`), 30 rows by 100 columns, for tests that
// drive interactive programs: type() writes keystrokes, waitFor() polls what the terminal showed.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface Pty {
  proc: ChildProcessWithoutNullStreams;
  type(s: string): boolean;
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  out(): string;
}

const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

export function underPty(argv: string[], env: Record<string, string | undefined> = {}): Pty {
  const full = { ...process.env, ...env };
  for (const [k, v] of Object.entries(full)) if (v === undefined) delete full[k];
  const p = spawn('script', ['-qfec', `stty cols 100 rows 30; exec ${argv.map(quote).join(' ')}`, '/dev/null'], { env: full });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => p.on('exit', resolve));
  const waitFor = async (re: RegExp, ms = 10_000): Promise<RegExpMatchArray> => {
    const end = Date.now() + ms;
    for (;;) {
      const m = out.match(re);
      if (m) return m;
      if (Date.now() > end) throw new Error(`no ${re} in pty output within ${ms} ms: ${JSON.stringify(out.slice(-2000))}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return { proc: p, type: (s: string) => p.stdin.write(s), waitFor, exited, out: () => out };
}
