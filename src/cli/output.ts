// What `ec` prints. stdout carries the result (a table or a line for people, JSON with --json);
// stderr carries progress notes, which -q silences. Errors are one line `ec: message (code X)` on
// stderr, or `{"error":{...}}` on stdout with --json, so a script reading stdout always gets JSON.
import { isEcdockError } from '../errors';

export interface OutputOptions {
  json?: boolean;
  quiet?: boolean;
  stdout?: NodeJS.WriteStream | NodeJS.WritableStream;
  stderr?: NodeJS.WriteStream | NodeJS.WritableStream;
}

export type Row = Record<string, string | number | undefined>;

/** Renders rows as a table with a header; columns are padded to their widest cell. */
export function formatTable(columns: readonly string[], rows: readonly Row[]): string {
  const cells = rows.map((r) => columns.map((c) => (r[c] === undefined || r[c] === '' ? '-' : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(displayWidth(c), ...cells.map((row) => displayWidth(row[i]!))));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - displayWidth(cell))))
      .join('  ')
      .trimEnd();
  return [line(columns), ...cells.map(line)].join('\n') + '\n';
}

/** Width on a terminal: code points, which is right for the ASCII, ✓ and ✗ we print. */
function displayWidth(s: string): number {
  return [...s].length;
}

/**
 * JSON as `ec` prints it: a slot's description carries its number once (`slot`; the library's
 * `index` is the same number) and its second NIC's MAC only under `nic2`, where it exists.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && 'index' in v && 'slot' in v && 'portName' in v) {
      const { index: _index, mac2: _mac2, ...rest } = v as Record<string, unknown>;
      return rest;
    }
    return v;
  });
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;

  constructor(o: OutputOptions = {}) {
    this.json = !!o.json;
    this.quiet = !!o.quiet;
    this.stdout = o.stdout ?? process.stdout;
    this.stderr = o.stderr ?? process.stderr;
  }

  /** Is stdout a terminal (progress bars, colours of nothing)? */
  get interactive(): boolean {
    return (this.stdout as NodeJS.WriteStream).isTTY === true;
  }

  /** A progress note on stderr; silenced by -q. */
  note(message: string): void {
    if (!this.quiet) this.stderr.write(`${message}\n`);
  }

  /**
   * The result of a command: `json` with --json, else `human` (a string, printed as is). -q
   * silences the human form unless `always` (commands whose output is their purpose, like list).
   */
  result(human: string | (() => string), json: unknown, o: { always?: boolean } = {}): void {
    if (this.json) {
      this.stdout.write(toJson(json) + '\n');
      return;
    }
    if (this.quiet && !o.always) return;
    const text = typeof human === 'function' ? human() : human;
    if (text) this.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** One event line of a stream (ec watch): a JSON line with --json. */
  event(human: string, json: unknown): void {
    if (this.json) this.stdout.write(toJson(json) + '\n');
    else this.stdout.write(human + '\n');
  }

  /** Reports a failure the way scripts and people expect it. */
  error(e: unknown): void {
    const code = isEcdockError(e) ? e.code : 'INTERNAL';
    const message = e instanceof Error ? e.message : String(e);
    if (this.json) {
      const err: Record<string, unknown> = { code, message };
      if (isEcdockError(e)) err.kind = e.kind;
      this.stdout.write(JSON.stringify({ error: err }) + '\n');
      return;
    }
    this.stderr.write(`ec: ${message} (code ${code})\n`);
    if (!isEcdockError(e) && e instanceof Error && e.stack && process.env.ECDOCK_DEBUG) this.stderr.write(`${e.stack}\n`);
  }

  /**
   * A progress bar for long work, drawn on the terminal only: when stdout is not a TTY, or with
   * --json or -q, or for fewer than `minItems` items, it draws nothing.
   */
  progress(total: number, label: string, o: { minItems?: number } = {}): Progress {
    const on = this.interactive && !this.json && !this.quiet && total >= (o.minItems ?? 10);
    return new Progress(on ? (this.stdout as NodeJS.WriteStream) : undefined, total, label);
  }
}

export class Progress {
  private done = 0;
  private lastDraw = 0;

  constructor(
    private readonly tty: NodeJS.WriteStream | undefined,
    private readonly total: number,
    private label: string,
  ) {
    this.draw(true);
  }

  tick(n = 1, label?: string): void {
    this.done = Math.min(this.total, this.done + n);
    if (label !== undefined) this.label = label;
    this.draw(this.done === this.total);
  }

  /** Clears the bar so that the result prints on a clean line. */
  finish(): void {
    if (this.tty) this.tty.write('\r\x1b[2K');
  }

  private draw(force: boolean): void {
    if (!this.tty) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 50) return;
    this.lastDraw = now;
    const width = 30;
    const filled = this.total ? Math.round((this.done / this.total) * width) : width;
    const label = this.label.slice(0, Math.max(0, (this.tty.columns ?? 80) - width - 20));
    this.tty.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} ${label}`);
  }
}
