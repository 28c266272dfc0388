// Issue 6, hostile peers: the fuzz properties of test/support/hostile-fuzz.ts run longer than CI
// does, each for a time budget, with the heap measured before and after.
//   node --expose-gc dist/scripts/reliability/fuzz.js [--seconds 60] [--seed N]
// Prints one markdown row per property (runs done, time, heap growth); exit 1 on a counterexample.
import fc from 'fast-check';
import { classifyProperty, framerProperty, netlinkProperty, replicaProperty, sessionProperty } from '../../test/support/hostile-fuzz';
import { loadAverage, mdRow } from './scenarios';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const heapMb = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

async function main(): Promise<void> {
  const seconds = arg('seconds', 60);
  const seed = arg('seed', Date.now() % 2 ** 31);
  const started = new Date();
  const props: [string, () => fc.IRawProperty<unknown[], boolean>][] = [
    ['OVSDB framer: random bytes, random chunks (limit 256 B, depth 64)', () => framerProperty() as fc.IRawProperty<unknown[], boolean>],
    ['JSON-RPC classify: any JSON value', () => classifyProperty() as fc.IRawProperty<unknown[], boolean>],
    ['OVSDB session: hostile replies, notifications, garbage, truncation, then close', () => sessionProperty() as unknown as fc.IRawProperty<unknown[], boolean>],
    ['monitor replica: hostile update/update2/resync sequences', () => replicaProperty() as fc.IRawProperty<unknown[], boolean>],
    ['rtnetlink decoders + reply collection: structured and raw garbage', () => netlinkProperty() as fc.IRawProperty<unknown[], boolean>],
  ];
  const rows: string[] = [];
  let failed = 0;
  for (const [name, make] of props) {
    const h0 = heapMb();
    const t0 = Date.now();
    const r = await fc.check(make(), { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: seconds * 1000, seed });
    const ms = Date.now() - t0;
    // Let timers and immediates queued by the last runs fire before measuring.
    await new Promise((r) => setTimeout(r, 200));
    const grew = heapMb() - h0;
    if (r.failed) failed++;
    const row = mdRow([name, r.numRuns, `${(ms / 1000).toFixed(0)} s`, `${grew.toFixed(1)} MB`, r.failed ? `**FAIL** (seed ${seed}, path ${r.counterexamplePath}): ${String(r.errorInstance).slice(0, 300)}` : 'pass']);
    rows.push(row);
    process.stderr.write(`${row}\n`);
  }
  process.stdout.write(`\nfuzz: ${started.toISOString()}, seed ${seed}, ${seconds} s per property, load average at end ${await loadAverage()} (2 cores, shared machine)\n\n`);
  process.stdout.write(['| property | runs | time | heap growth (after GC) | verdict |', '|---|---|---|---|---|', ...rows].join('\n') + '\n');
  process.exitCode = failed ? 1 : 0;
}

main().catch((e: unknown) => {
  process.stderr.write(`fuzz: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(2);
});
