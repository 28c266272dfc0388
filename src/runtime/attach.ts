// Giving a terminal to a container, the way `docker attach` does: bytes flow both ways over the
// hijacked attach connection, the local terminal is raw while attached (and restored however the
// session ends), the container's tty follows the local window size, and typing the detach keys
// lets go of the container without stopping it.
import type { Duplex } from 'node:stream';
import { UsageError } from '../errors';

/** Options of `DockerRuntime.attach`: the local streams, the detach keys, raw mode. */
export interface AttachOptions {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  /** Where the container's stderr goes when it has no tty (with a tty it is merged into stdout). Default: stdout. */
  stderr?: NodeJS.WritableStream;
  /** Docker's syntax: comma-separated keys, each a single character or ctrl-<char>. Default 'ctrl-p,ctrl-q'. */
  detachKeys?: string;
  /** Put stdin in raw mode while attached. Default: true when stdin is a TTY. Ignored when it is not. */
  rawMode?: boolean;
}

/** How an attach session ended: detached (the container runs on) or the container exited, with its exit code. */
export interface AttachResult {
  /** True when the user typed the detach keys: the container keeps running. */
  detached: boolean;
  /** The container's exit code when the session ended because it exited. */
  exitCode?: number;
}

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

const CTRL_SPECIALS: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 };

/** The bytes of a detach key sequence in Docker's syntax ('ctrl-p,ctrl-q', 'ctrl-a,d'). */
export function parseDetachKeys(spec: string): Buffer {
  const bytes: number[] = [];
  for (const part of spec.split(',')) {
    const key = part.trim();
    const lower = key.toLowerCase();
    if (lower.startsWith('ctrl-') && lower.length === 6) {
      const c = lower[5]!;
      if (c >= 'a' && c <= 'z') bytes.push(c.charCodeAt(0) - 96);
      else if (c in CTRL_SPECIALS) bytes.push(CTRL_SPECIALS[c]!);
      else throw badKeys(spec, key);
    } else if (key.length === 1 && key.charCodeAt(0) < 128) {
      bytes.push(key.charCodeAt(0));
    } else throw badKeys(spec, key);
  }
  return Buffer.from(bytes);
}

function badKeys(spec: string, key: string): UsageError {
  return new UsageError(
    'BAD_ARGUMENT',
    `detach keys '${spec}': '${key}' is not a key; use single characters or ctrl-<a-z, @, [, \\, ], ^, _>, separated by commas (e.g. 'ctrl-p,ctrl-q')`,
  );
}

/** Watches typed bytes for the detach sequence across chunk boundaries, as dockerd does. */
export class DetachKeyMatcher {
  private readonly keys: Buffer;
  private matched = 0;

  constructor(keys: Buffer) {
    this.keys = keys;
  }

  /** Index in chunk of the byte that completes the sequence, or -1. */
  feed(chunk: Buffer): number {
    if (this.keys.length === 0) return -1;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === this.keys[this.matched]) this.matched++;
      else this.matched = b === this.keys[0] ? 1 : 0;
      if (this.matched === this.keys.length) {
        this.matched = 0;
        return i;
      }
    }
    return -1;
  }
}

/** Splits Docker's multiplexed stream (8-byte headers: stream type, 3 zero bytes, big-endian length). */
export class StreamDemuxer {
  private buf: Buffer = Buffer.alloc(0);
  private readonly out: (stream: number, data: Buffer) => void;

  constructor(out: (stream: number, data: Buffer) => void) {
    this.out = out;
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      this.out(this.buf[0]!, this.buf.subarray(8, 8 + size));
      this.buf = this.buf.subarray(8 + size);
    }
  }
}

interface TtyIn {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode?: (raw: boolean) => unknown;
  readableFlowing?: boolean | null;
  pause?: () => unknown;
}
interface TtyOut {
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

export interface AttachSession {
  /** The hijacked attach connection. */
  socket: Duplex;
  /** Whether the container has a tty (raw stream) or not (multiplexed stdout/stderr). */
  tty: boolean;
  detachKeys: Buffer;
  /** Sets the container tty's size; failures are ignored. */
  resize: (rows: number, cols: number) => Promise<unknown>;
  /** Called when the stream ended without a detach: the exit code, or undefined if still running. */
  exitCode: () => Promise<number | undefined>;
}

/** Runs an attach session to its end. Restores the terminal however it ends. */
export function runAttachSession(s: AttachSession, o: AttachOptions): Promise<AttachResult> {
  const stdin = o.stdin;
  const tin = stdin as unknown as TtyIn;
  const tout = o.stdout as unknown as TtyOut;
  const stderr = o.stderr ?? o.stdout;
  const matcher = new DetachKeyMatcher(s.detachKeys);
  const wasFlowing = tin.readableFlowing === true;
  const useRaw = (o.rawMode ?? true) && tin.isTTY === true && typeof tin.setRawMode === 'function';
  const wasRaw = tin.isRaw === true;

  return new Promise<AttachResult>((resolve, reject) => {
    let finished = false;
    let detached = false;
    let forceClose: NodeJS.Timeout | undefined;

    const resize = () => {
      const rows = tout.rows ?? 0;
      const cols = tout.columns ?? 0;
      if (s.tty && tout.isTTY && rows > 0 && cols > 0) s.resize(rows, cols).catch(() => undefined);
    };
    const demux = s.tty
      ? undefined
      : new StreamDemuxer((type, data) => {
          (type === 2 ? stderr : o.stdout).write(data);
        });

    const onOut = (chunk: Buffer) => {
      if (demux) demux.push(chunk);
      else o.stdout.write(chunk);
    };
    const onIn = (chunk: Buffer | string) => {
      if (finished || detached) return;
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const at = matcher.feed(buf);
      if (at >= 0) {
        // dockerd holds back the partial sequence and ends the stream when it completes: send it all,
        // and close ourselves if it does not.
        detached = true;
        s.socket.write(buf.subarray(0, at + 1));
        forceClose = setTimeout(() => s.socket.destroy(), 1000);
        return;
      }
      s.socket.write(buf);
    };
    const onInEnd = () => {
      if (!finished && !detached) s.socket.end();
    };
    const onSocketEnd = () => finish();
    const onSocketError = (e: unknown) => finish(e);
    // Every listener this attach adds, so that restore() removes exactly these.
    const wiring: [NodeJS.EventEmitter, string, Parameters<NodeJS.EventEmitter['on']>[1]][] = [
      [s.socket, 'data', onOut],
      [s.socket, 'end', onSocketEnd],
      [s.socket, 'close', onSocketEnd],
      [s.socket, 'error', onSocketError],
      [stdin, 'data', onIn],
      [stdin, 'end', onInEnd],
      [o.stdout as unknown as NodeJS.EventEmitter, 'resize', resize],
    ];

    const restore = () => {
      for (const [emitter, event, listener] of wiring) emitter.removeListener(event, listener);
      if (useRaw) {
        try {
          tin.setRawMode!(wasRaw);
        } catch {
          // the terminal is gone; nothing to restore
        }
      }
      if (!wasFlowing) tin.pause?.();
      if (forceClose) clearTimeout(forceClose);
      s.socket.destroy();
    };

    const finish = (err?: unknown) => {
      if (finished) return;
      finished = true;
      restore();
      if (detached) {
        resolve({ detached: true });
        return;
      }
      s.exitCode().then(
        (code) => resolve(code === undefined ? { detached: false } : { detached: false, exitCode: code }),
        (e) => reject(err ?? e),
      );
    };

    try {
      if (useRaw) tin.setRawMode!(true);
      for (const [emitter, event, listener] of wiring) emitter.on(event, listener);
      stdin.resume();
      resize();
    } catch (e) {
      finished = true;
      restore();
      reject(e);
    }
  });
}
