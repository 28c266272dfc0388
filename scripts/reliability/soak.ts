// Issue 6, soak: attach/detach cycles in one process, sampling resident memory, V8 heap and open
// file descriptors, to show nothing grows with use.
//   node --expose-gc dist/scripts/reliability/soak.js [--cycles 10000] [--workers 10] [--every 500]
// Root, Open vSwitch installed. `workers` namespaces each cycle attach → detach on their own slot
// concurrently. The bounds (stated up front, checked at the end; exit 1 if violated):
//   - after warm-up (the first 10% of cycles), RSS grows by less than 20 MB and the V8 heap (after
//     a forced GC) by less than 5 MB;
//   - open fds at the end are back to the baseline taken after warm-up (±2), and no netlink
//     socket or namespace fd is left open;
//   - every cycle either completes or fails with a typed error, and at the end the invariants hold.
import { readdirSync, readlinkSync } from 'node:fs';
import { isEcdockError } from '../../src/errors';
import { checkInvariants, violations } from '../../test/support/invariants';
import { startSwitchFixture } from '../../test/support/switch';
import { loadAverage, makeNamespaces } from './scenarios';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const RSS_BOUND_MB = 20;
const HEAP_BOUND_MB = 5;
const FD_SLACK = 2;

function fds(): { total: number; sockets: number; netns: number } {
  let sockets = 0;
  let netns = 0;
  const list = readdirSync('/proc/self/fd');
  for (const fd of list) {
    try {
      const t = readlinkSync(`/proc/self/fd/${fd}`);
      if (t.startsWith('socket:')) sockets++;
      else if (t.startsWith('net:')) netns++;
    } catch {
      /* closed meanwhile */
    }
  }
  return { total: list.length, sockets, netns };
}

function sample(): { rssMb: number; heapMb: number; fds: ReturnType<typeof fds> } {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
  const m = process.memoryUsage();
  return { rssMb: m.rss / 2 ** 20, heapMb: m.heapUsed / 2 ** 20, fds: fds() };
}

async function main(): Promise<void> {
  const cycles = arg('cycles', 10_000);
  const workers = arg('workers', 10);
  const every = arg('every', 500);
  if (!(globalThis as { gc?: unknown }).gc) process.stderr.write('soak: run with node --expose-gc for heap figures after a forced GC\n');
  const f = await startSwitchFixture();
  const started = new Date();
  const t0 = Date.now();
  let failed = 0;
  const typed: Record<string, number> = {};
  const untyped: string[] = [];
  try {
    const vs = await f.vswitch({ subnet: '10.63.0.254/24' });
    const nss = await makeNamespaces(f, workers, 'ecs-');
    const samples: { cycle: number; rssMb: number; heapMb: number; fds: ReturnType<typeof fds>; sec: number }[] = [];
    let done = 0;
    let nextSample = 0;
    const warm = Math.max(every, Math.round(cycles * 0.1));
    let baseline: ReturnType<typeof sample> | undefined;
    const take = () => {
      const s = sample();
      samples.push({ cycle: done, ...s, sec: Math.round((Date.now() - t0) / 1000) });
      process.stderr.write(`  cycle ${done}: rss ${s.rssMb.toFixed(1)} MB, heap ${s.heapMb.toFixed(1)} MB, fds ${s.fds.total} (sockets ${s.fds.sockets}, netns ${s.fds.netns})\n`);
      return s;
    };
    take();
    await Promise.all(
      nss.map(async (ns, w) => {
        const slot = w + 1;
        while (done < cycles) {
          done++;
          try {
            await vs.attach({ slot, target: { netns: ns.path } });
            await vs.detach(slot);
          } catch (e) {
            failed++;
            if (isEcdockError(e)) typed[e.code] = (typed[e.code] ?? 0) + 1;
            else untyped.push(String(e));
            // leave the slot clean for the next cycle
            await vs.detach(slot).catch(() => undefined);
          }
          if (done >= nextSample) {
            nextSample += every;
            const s = take();
            if (!baseline && done >= warm) baseline = s;
          }
        }
      }),
    );
    // Let deferred work (timers, finalizers of dropped handles) settle before the last sample.
    await new Promise((r) => setTimeout(r, 2000));
    const end = take();
    baseline ??= samples[0]!;
    await vs.cleanup();
    const inv = await checkInvariants(vs, { sbns: f.sbns });
    const bad = violations(inv);
    const rssGrowth = end.rssMb - baseline.rssMb;
    const heapGrowth = end.heapMb - baseline.heapMb;
    const fdDelta = end.fds.total - baseline.fds.total;
    if (rssGrowth >= RSS_BOUND_MB) bad.push(`RSS grew ${rssGrowth.toFixed(1)} MB after warm-up (bound ${RSS_BOUND_MB} MB)`);
    if (heapGrowth >= HEAP_BOUND_MB) bad.push(`V8 heap grew ${heapGrowth.toFixed(1)} MB after warm-up (bound ${HEAP_BOUND_MB} MB)`);
    if (Math.abs(fdDelta) > FD_SLACK) bad.push(`open fds ${baseline.fds.total} → ${end.fds.total}`);
    if (end.fds.netns > baseline.fds.netns) bad.push(`${end.fds.netns - baseline.fds.netns} namespace fd(s) left open`);
    if (untyped.length) bad.push(`${untyped.length} untyped failure(s): ${untyped.slice(0, 3).join('; ')}`);
    const secs = (Date.now() - t0) / 1000;
    process.stdout.write(`\nsoak: ${started.toISOString()}, ${cycles} attach/detach cycles by ${workers} concurrent workers in ${secs.toFixed(0)} s (${(cycles / secs).toFixed(1)} cycles/s), load average at end ${await loadAverage()} (2 cores, shared machine)\n\n`);
    process.stdout.write('| cycle | s | RSS MB | V8 heap MB (after GC) | open fds | sockets | netns fds |\n|---|---|---|---|---|---|---|\n');
    for (const s of samples) process.stdout.write(`| ${s.cycle} | ${s.sec} | ${s.rssMb.toFixed(1)} | ${s.heapMb.toFixed(1)} | ${s.fds.total} | ${s.fds.sockets} | ${s.fds.netns} |\n`);
    process.stdout.write(
      `\n| cycles | failed (typed) | RSS growth after warm-up (bound ${RSS_BOUND_MB} MB) | heap growth (bound ${HEAP_BOUND_MB} MB) | fds baseline → end | invariants | verdict |\n|---|---|---|---|---|---|---|\n` +
        `| ${cycles} | ${failed}${Object.keys(typed).length ? ` (${Object.entries(typed).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''} | ${rssGrowth.toFixed(1)} MB | ${heapGrowth.toFixed(1)} MB | ${baseline.fds.total} → ${end.fds.total} | ${violations(inv).length ? violations(inv).join('; ') : `${inv.slots} slots, no ghost/orphan/stale`} | ${bad.length ? `**FAIL**: ${bad.join('; ')}` : 'pass'} |\n`,
    );
    process.exitCode = bad.length ? 1 : 0;
  } finally {
    await f.cleanup.run();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`soak: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(2);
});
