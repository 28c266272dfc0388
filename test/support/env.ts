// Shared test plumbing: root checks, throwaway network namespaces, and cleanup that runs even when
// a test fails. Tests stop only what they started, by pid or by the exact name they created.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Skips the suite (not fails) when not root, unless ECDOCK_REQUIRE_ROOT=1 makes that an error. */
export function requireRoot(ctx: Mocha.Context): void {
  if (isRoot) return;
  if (process.env.ECDOCK_REQUIRE_ROOT === '1') throw new Error('integration tests need root (ECDOCK_REQUIRE_ROOT=1)');
  ctx.skip();
}

export function sh(file: string, args: string[], opts: { timeoutMs?: number; allowFail?: boolean; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      if (err && !opts.allowFail) reject(new Error(`${file} ${args.join(' ')} exited ${code}: ${stderr || err.message}`));
      else resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(3).toString('hex')}`;
}

/** A named network namespace made by a test (`ip netns add`), removed by `del()`. */
export class TestNetns {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  get path(): string {
    return `/var/run/netns/${this.name}`;
  }
  static async create(prefix = 'ect-'): Promise<TestNetns> {
    const ns = new TestNetns(uniqueName(prefix));
    await sh('ip', ['netns', 'add', ns.name]);
    return ns;
  }
  exec(args: string[], opts: { timeoutMs?: number; allowFail?: boolean } = {}) {
    return sh('ip', ['netns', 'exec', this.name, ...args], opts);
  }
  /** `ip -j ...` inside the namespace, parsed. */
  async ipJson<T = unknown>(args: string[]): Promise<T> {
    const r = await sh('ip', ['-n', this.name, '-j', ...args]);
    return JSON.parse(r.stdout || '[]') as T;
  }
  async ping(address: string, opts: { count?: number; timeoutS?: number } = {}): Promise<boolean> {
    const six = address.includes(':');
    const r = await this.exec(['ping', ...(six ? ['-6'] : []), '-c', String(opts.count ?? 1), '-W', String(opts.timeoutS ?? 2), address], { allowFail: true });
    return r.code === 0;
  }
  async del(): Promise<void> {
    await sh('ip', ['netns', 'del', this.name], { allowFail: true });
  }
}

/** Collects cleanup steps; `run()` executes them in reverse order and never throws. */
export class Cleanup {
  private steps: (() => unknown)[] = []; // a step may return a promise; run() awaits it
  add(step: () => unknown): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    while (this.steps.length) {
      const step = this.steps.pop()!;
      try {
        await step();
      } catch (e) {
        process.stderr.write(`cleanup step failed: ${(e as Error).message}\n`);
      }
    }
  }
}

/** Poll until fn() is truthy or the deadline passes. */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
