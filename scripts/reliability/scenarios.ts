// Fault scenarios shared by the fast CI tests (test/integration/hardening-faults.test.ts, small
// numbers) and the full scripts (scripts/reliability/faults.ts, the numbers). Each one
// injects a fault into a private OVS (OvsSandbox) while slots are being attached, then checks the
// invariants from outside the library (test/support/invariants.ts):
//   every attach completed or failed with a typed error (EcdockError with a code), within a bound;
//   after cleanup: zero ghost ports, zero orphan veths, zero stale claims, every slot up and pinging;
//   a completed attach is listed with its target; a failed one left nothing in its namespace.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { setCrashHook, type CrashPoint } from '../../src/crash-points';
import { isEcdockError } from '../../src/errors';
import type { Slot } from '../../src/slot';
import type { VSwitch } from '../../src/vswitch';
import { eventually, sh, type TestNetns } from '../../test/support/env';
import { checkInvariants, mapLimit, violations, waitVswitchdSynced, type InvariantReport } from '../../test/support/invariants';
import type { SwitchFixture } from '../../test/support/switch';

export interface Outcomes {
  attempted: number;
  completed: number;
  /** Typed failures by error code. */
  typed: Record<string, number>;
  /** Failures that were not EcdockErrors (each one is a violation). */
  untyped: string[];
  /** Attaches that did not settle within the bound (each one is a violation). */
  hung: number;
}

export interface ScenarioResult {
  name: string;
  outcomes: Outcomes;
  invariants: InvariantReport;
  /** Violated invariants, as sentences; empty when the scenario passed. */
  violations: string[];
  /** Scenario-specific figures (timings, counts). */
  figures: Record<string, number | string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Settles attach promises with a bound; classifies each outcome. */
export async function settleAll(ps: Promise<Slot>[], boundMs: number): Promise<{ outcomes: Outcomes; results: (Slot | Error | 'hung')[] }> {
  const HUNG = Symbol('hung');
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof HUNG>((r) => (timer = setTimeout(() => r(HUNG), boundMs)));
  const results = await Promise.all(
    ps.map((p) =>
      Promise.race([p.then((s) => s as Slot | Error, (e: unknown) => (e instanceof Error ? e : new Error(String(e)))), deadline]).then((v) =>
        v === HUNG ? ('hung' as const) : v,
      ),
    ),
  );
  clearTimeout(timer);
  const outcomes: Outcomes = { attempted: ps.length, completed: 0, typed: {}, untyped: [], hung: 0 };
  for (const r of results) {
    if (r === 'hung') outcomes.hung++;
    else if (r instanceof Error) {
      if (isEcdockError(r)) outcomes.typed[r.code] = (outcomes.typed[r.code] ?? 0) + 1;
      else outcomes.untyped.push(`${r.name}: ${r.message}`);
    } else outcomes.completed++;
  }
  return { outcomes, results };
}

/** Makes n namespaces with the fixture (removed by its cleanup), a few at a time. */
export async function makeNamespaces(f: SwitchFixture, n: number, prefix = 'ecf-'): Promise<TestNetns[]> {
  return mapLimit(Array.from({ length: n }), 8, () => f.netns(prefix));
}

/** Link names inside a namespace other than lo. */
async function leftovers(ns: TestNetns): Promise<string[]> {
  const links = await ns.ipJson<{ ifname: string }[]>(['link']);
  return links.map((l) => l.ifname).filter((n) => n !== 'lo');
}

/**
 * After cleanup: the invariants, plus agreement between what each attach said and what is there.
 * `byNs`: for each namespace, true if its attach reported success, false if it failed, undefined
 * if unknown (a killed process).
 */
export async function verify(
  f: SwitchFixture,
  vs: VSwitch,
  byNs: Map<TestNetns, boolean | undefined>,
  o: { ping?: boolean | number } = {},
): Promise<{ invariants: InvariantReport; violations: string[]; figures: Record<string, number> }> {
  // The client reconnects by itself after an ovsdb-server restart; cleanup needs the session.
  await eventually(() => vs.ovs.connected, 30_000, 50);
  // ...and ovs-vswitchd reconnects with a backoff of its own: the fault has healed when it caught up.
  const healMs = await waitVswitchdSynced(vs);
  const t0 = Date.now();
  const report = await vs.cleanup();
  const cleanupMs = Date.now() - t0;
  const inv = await checkInvariants(vs, { sbns: f.sbns, ping: o.ping ?? true });
  const bad = violations(inv);
  const slots = await vs.slots();
  const byPath = new Map(slots.filter((s) => s.target?.kind === 'netns').map((s) => [s.target!.ref, s]));
  let lost = 0;
  let dirtyFailed = 0;
  let phantom = 0;
  await mapLimit([...byNs], 8, async ([ns, ok]) => {
    const slot = byPath.get(ns.path);
    const left = await leftovers(ns);
    if (ok === true && !slot) lost++;
    if (ok === false && slot) phantom++;
    if (!slot && left.length) dirtyFailed++;
  });
  if (lost) bad.push(`${lost} attach(es) reported success but their slot is gone after cleanup`);
  if (phantom) bad.push(`${phantom} attach(es) reported failure but left a slot behind`);
  if (dirtyFailed) bad.push(`${dirtyFailed} namespace(s) without a slot still hold interfaces`);
  return {
    invariants: inv,
    violations: bad,
    figures: { healMs, cleanupMs, cleanedPorts: report.ports.length, cleanedLinks: report.links.length, slotsAfter: slots.length },
  };
}

/**
 * Restarts ovsdb-server (SIGKILL, then start on the same database) while `n` attaches run
 * concurrently in this process. The restart is triggered when `triggerAfter` attaches passed
 * `at` (a crash point, used here only as a progress signal), or after `delayMs`.
 */
export async function ovsdbRestartDuringAttaches(
  f: SwitchFixture,
  o: { n: number; subnet?: string; at?: CrashPoint; triggerAfter?: number; delayMs?: number; boundMs?: number; ping?: boolean | number },
): Promise<ScenarioResult> {
  const vs = await f.vswitch({ subnet: o.subnet ?? '10.60.0.254/16' });
  const nss = await makeNamespaces(f, o.n);
  let restart: Promise<void> | undefined;
  let restartAt = 0;
  const t0 = Date.now();
  const fire = () => {
    if (restart) return;
    restartAt = Date.now() - t0;
    restart = f.sb.restartOvsdb();
  };
  let seen = 0;
  if (o.at) {
    setCrashHook((p) => {
      if (p === o.at && ++seen >= (o.triggerAfter ?? Math.ceil(o.n / 2))) fire();
    });
  }
  const timer = o.delayMs !== undefined ? setTimeout(fire, o.delayMs) : undefined;
  let settled: Awaited<ReturnType<typeof settleAll>>;
  try {
    settled = await settleAll(
      nss.map((ns) => vs.attach({ target: { netns: ns.path }, timeoutMs: 20_000 })),
      o.boundMs ?? 90_000,
    );
  } finally {
    setCrashHook(undefined);
    if (timer) clearTimeout(timer);
  }
  const attachMs = Date.now() - t0;
  if (!restart) fire(); // everything finished before the trigger: still restart, and say so
  await restart;
  const byNs = new Map(nss.map((ns, i) => [ns, !(settled.results[i] instanceof Error) && settled.results[i] !== 'hung'] as [TestNetns, boolean]));
  const v = await verify(f, vs, byNs, { ping: o.ping ?? true });
  const bad = [...v.violations];
  if (settled.outcomes.untyped.length) bad.push(`${settled.outcomes.untyped.length} untyped failure(s): ${settled.outcomes.untyped.slice(0, 3).join('; ')}`);
  if (settled.outcomes.hung) bad.push(`${settled.outcomes.hung} attach(es) did not settle within ${o.boundMs ?? 90_000} ms`);
  return {
    name: 'ovsdb-server restart during concurrent attaches',
    outcomes: settled.outcomes,
    invariants: v.invariants,
    violations: bad,
    figures: { ...v.figures, restartAtMs: restartAt, attachMs, restartedDuringAttaches: restartAt < attachMs ? 'yes' : 'no' },
  };
}

/**
 * Restarts ovs-vswitchd (`exit --cleanup`, or SIGKILL with `kill`) while `n` attaches run, with
 * `before` slots already attached; vswitchd comes back after `downMs`.
 */
export async function vswitchdRestartDuringAttaches(
  f: SwitchFixture,
  o: { n: number; before: number; subnet?: string; kill?: boolean; delayMs?: number; downMs?: number; boundMs?: number },
): Promise<ScenarioResult> {
  const vs = await f.vswitch({ subnet: o.subnet ?? '10.61.0.254/16' });
  const pre = await makeNamespaces(f, o.before);
  const preSlots = await Promise.all(pre.map((ns) => vs.attach({ target: { netns: ns.path } })));
  const nss = await makeNamespaces(f, o.n);
  const t0 = Date.now();
  const restart = (async () => {
    await sleep(o.delayMs ?? 50);
    if (o.kill) await f.sb.killVswitchd();
    else await f.sb.stopVswitchd();
    await sleep(o.downMs ?? 300);
    await f.sb.startVswitchd();
  })();
  const settled = await settleAll(
    nss.map((ns) => vs.attach({ target: { netns: ns.path }, timeoutMs: 30_000 })),
    o.boundMs ?? 90_000,
  );
  const attachMs = Date.now() - t0;
  await restart;
  // vswitchd re-reads the database and re-adds every port; give it a moment to settle.
  await f.sb.appctl('ovs-vswitchd', 'version');
  const byNs = new Map<TestNetns, boolean>([
    ...pre.map((ns) => [ns, true] as [TestNetns, boolean]),
    ...nss.map((ns, i) => [ns, !(settled.results[i] instanceof Error) && settled.results[i] !== 'hung'] as [TestNetns, boolean]),
  ]);
  const v = await verify(f, vs, byNs);
  const bad = [...v.violations];
  if (settled.outcomes.untyped.length) bad.push(`${settled.outcomes.untyped.length} untyped failure(s): ${settled.outcomes.untyped.slice(0, 3).join('; ')}`);
  if (settled.outcomes.hung) bad.push(`${settled.outcomes.hung} attach(es) did not settle within ${o.boundMs ?? 90_000} ms`);
  const stillThere = preSlots.filter((s) => v.invariants.indexes.includes(s.index)).length;
  if (stillThere !== preSlots.length) bad.push(`${preSlots.length - stillThere} slot(s) attached before the restart were lost`);
  return {
    name: `ovs-vswitchd ${o.kill ? 'kill -9' : 'restart'} during concurrent attaches`,
    outcomes: settled.outcomes,
    invariants: v.invariants,
    violations: bad,
    figures: { ...v.figures, attachMs, slotsBefore: preSlots.length, keptSlotsBefore: stillThere },
  };
}

const WORKER = path.join(__dirname, '..', '..', 'test', 'support', 'attach-worker.js');

/** Runs attach-worker with a job; SIGKILLs it after `killAfterMs` (if still running). */
export function runWorkerKilled(job: Record<string, unknown>, killAfterMs: number): Promise<{ killed: boolean; code: number | null; out: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let killed = false;
    // Under scripts/reliability/asan.sh the sanitized addon needs libasan preloaded in the worker too.
    const asan = process.env.ECDOCK_ASAN_PRELOAD;
    const env = asan ? { ...process.env, LD_PRELOAD: asan, ASAN_OPTIONS: 'detect_leaks=0' } : process.env;
    const child = execFile(process.execPath, [WORKER, JSON.stringify(job)], { timeout: 120_000, env }, (err, stdout) => {
      clearTimeout(timer);
      const e = err as (Error & { code?: number }) | null;
      resolve({ killed, code: e ? (typeof e.code === 'number' ? e.code : null) : 0, out: String(stdout), ms: Date.now() - t0 });
    });
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.pid) {
        killed = true;
        child.kill('SIGKILL');
      }
    }, killAfterMs);
  });
}

/**
 * `rounds` times: a separate process attaches `perRound` namespaces (veth or internal, and every
 * third round it detaches a slot attached earlier), and is SIGKILLed at a random moment between 0
 * and `maxDelayMs`. After each kill: cleanup, then the invariants. `seed` makes the moments
 * reproducible.
 */
export async function killAtRandomMoments(
  f: SwitchFixture,
  o: { rounds: number; perRound: number; maxDelayMs?: number; seed?: number; subnet?: string; ping?: boolean | number; log?: (s: string) => void },
): Promise<ScenarioResult & { rounds: { delayMs: number; killed: boolean; job: string; violations: string[] }[] }> {
  const vs = await f.vswitch({ subnet: o.subnet ?? '10.62.0.254/16' });
  let seed = o.seed ?? 1;
  const rand = () => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  // Calibrate: how long an unkilled worker takes for one round, so the moments cover its whole life.
  const cal = await makeNamespaces(f, o.perRound, 'eck-');
  const calRun = await runWorkerKilled({ db: f.sb.dbUrl, vswitch: vs.name, targets: cal.map((n) => n.path) }, 120_000);
  if (calRun.code !== 0) throw new Error(`calibration worker failed: ${calRun.out}`);
  const maxDelay = o.maxDelayMs ?? Math.round(calRun.ms * 1.2);
  // Node's own start and loading ecdock take part of a worker's life; killing then tests nothing,
  // so the moments start at about that point.
  const bootRun = await runWorkerKilled({ db: 'unix:/nonexistent/ecdock-boot-probe.sock', vswitch: vs.name, targets: [] }, 60_000);
  const minDelay = o.maxDelayMs !== undefined ? 0 : Math.round(Math.min(bootRun.ms * 0.6, maxDelay * 0.5));
  const rounds: { delayMs: number; killed: boolean; job: string; violations: string[] }[] = [];
  const outcomes: Outcomes = { attempted: 0, completed: 0, typed: {}, untyped: [], hung: 0 };
  let lastInv: InvariantReport | undefined;
  const all: string[] = [];
  let killedCount = 0;
  let repaired = 0;
  let cleanedPorts = 0;
  let cleanedLinks = 0;
  for (let r = 0; r < o.rounds; r++) {
    const nss = await makeNamespaces(f, o.perRound, 'eck-');
    const portType = rand() < 0.3 ? 'internal' : 'veth';
    const current = await vs.slots();
    const detach = r % 3 === 2 && current.length ? current[Math.floor(rand() * current.length)]!.index : undefined;
    const job = detach !== undefined ? { db: f.sb.dbUrl, vswitch: vs.name, targets: [], detach } : { db: f.sb.dbUrl, vswitch: vs.name, targets: nss.map((n) => n.path), portType };
    const delayMs = minDelay + Math.round(rand() * (maxDelay - minDelay));
    const run = await runWorkerKilled(job, delayMs);
    if (run.killed) killedCount++;
    outcomes.attempted++;
    let known: boolean | undefined;
    if (!run.killed) {
      const line = run.out.trim().split('\n').pop() ?? '';
      try {
        const parsed = JSON.parse(line) as { error?: { code?: string; message?: string } };
        if (parsed.error) {
          if (parsed.error.code) outcomes.typed[parsed.error.code] = (outcomes.typed[parsed.error.code] ?? 0) + 1;
          else outcomes.untyped.push(parsed.error.message ?? line);
          known = false;
        } else {
          outcomes.completed++;
          known = true;
        }
      } catch {
        outcomes.untyped.push(`unparsable worker output: ${line.slice(0, 200)}`);
      }
    }
    const byNs = new Map<TestNetns, boolean | undefined>(detach !== undefined ? [] : nss.map((ns) => [ns, known] as [TestNetns, boolean | undefined]));
    const v = await verify(f, vs, byNs, { ping: o.ping ?? true });
    lastInv = v.invariants;
    if (run.killed && (v.figures.cleanedPorts || v.figures.cleanedLinks)) repaired++;
    cleanedPorts += v.figures.cleanedPorts ?? 0;
    cleanedLinks += v.figures.cleanedLinks ?? 0;
    rounds.push({ delayMs, killed: run.killed, job: detach !== undefined ? `detach ${detach}` : `attach ${o.perRound} ${portType}`, violations: v.violations });
    for (const s of v.violations) all.push(`round ${r} (${rounds[r]!.job}, killed at ${delayMs} ms: ${run.killed}): ${s}`);
    o.log?.(`round ${r}: ${rounds[r]!.job} kill@${delayMs}ms killed=${run.killed} slots=${v.invariants.slots} ${v.violations.length ? 'VIOLATION ' + v.violations.join('; ') : 'ok'}`);
    // Keep the switch from filling up: detach about half of what is there.
    const now = await vs.slots();
    if (now.length > o.perRound * 3) for (const s of now.slice(0, Math.floor(now.length / 2))) await vs.detach(s.index);
  }
  if (outcomes.untyped.length) all.push(`${outcomes.untyped.length} untyped failure(s): ${outcomes.untyped.slice(0, 3).join('; ')}`);
  return {
    name: 'kill -9 of the attaching process at random moments',
    outcomes,
    invariants: lastInv!,
    violations: all,
    figures: {
      rounds: o.rounds,
      killed: killedCount,
      finishedBeforeKill: o.rounds - killedCount,
      minDelayMs: minDelay,
      maxDelayMs: maxDelay,
      workerMs: calRun.ms,
      bootMs: bootRun.ms,
      roundsCleanupRepaired: repaired,
      cleanedPorts,
      cleanedLinks,
    },
    rounds,
  };
}

/** Runs `sh` and returns the load average line (for figures). */
export async function loadAverage(): Promise<string> {
  return (await sh('cat', ['/proc/loadavg'])).stdout.split(' ').slice(0, 3).join(' ');
}

/** One markdown table row. */
export function mdRow(cells: (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}
