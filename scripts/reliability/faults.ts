// Issue 6, faults, full numbers (the fast subset is test/integration/hardening-faults.test.ts).
//   node dist/scripts/reliability/faults.js [--only ovsdb|vswitchd|kill] [--kills N] [--seed S]
// Root, Open vSwitch installed. Each scenario runs in a private isolated OVS (OvsSandbox) with
// namespaces it makes itself, and prints one markdown row; the exit status is 1 if any invariant
// was violated (see scripts/reliability/scenarios.ts for what is checked).
import { killAtRandomMoments, loadAverage, mdRow, ovsdbRestartDuringAttaches, vswitchdRestartDuringAttaches, type ScenarioResult } from './scenarios';
import { startSwitchFixture } from '../../test/support/switch';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const HEADER = [
  '| scenario | attaches | completed | failed (typed, by code) | untyped / hung | ghosts | orphans | stale claims | slots not up | no ping | slots after | heal | verdict |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];

function row(label: string, r: ScenarioResult): string {
  const i = r.invariants;
  const typed = Object.entries(r.outcomes.typed)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return mdRow([
    label,
    r.outcomes.attempted,
    r.outcomes.completed,
    typed || '0',
    `${r.outcomes.untyped.length} / ${r.outcomes.hung}`,
    i.ghosts.length,
    i.orphans.length,
    i.staleClaims.length,
    i.notUp.length,
    i.noPing.length,
    i.slots,
    `${r.figures.healMs ?? '-'} ms`,
    r.violations.length ? `**FAIL**: ${r.violations.join('; ')}` : 'pass',
  ]);
}

async function inFixture<T>(fn: (f: Awaited<ReturnType<typeof startSwitchFixture>>) => Promise<T>): Promise<T> {
  const f = await startSwitchFixture();
  try {
    return await fn(f);
  } finally {
    await f.cleanup.run();
  }
}

async function main(): Promise<void> {
  const only = arg('only');
  const kills = Number(arg('kills') ?? 100);
  const seed = Number(arg('seed') ?? 2026);
  const started = new Date();
  const rows: string[] = [];
  let failed = 0;
  const note = (label: string, r: ScenarioResult) => {
    const line = row(label, r);
    rows.push(line);
    process.stderr.write(`${line}\n`);
    if (r.violations.length) failed++;
  };

  if (!only || only === 'ovsdb') {
    // 200 concurrent attaches; ovsdb-server is SIGKILLed and restarted at a different moment each trial.
    const trials: [string, Parameters<typeof ovsdbRestartDuringAttaches>[1]][] = [
      ['while veths are made (after 100 of 200)', { n: 200, at: 'attach:veth-created', triggerAfter: 100 }],
      ['right after the first claims commit', { n: 200, at: 'attach:port-committed', triggerAfter: 1 }],
      ['after 50 ms', { n: 200, delayMs: 50 }],
      ['after 150 ms', { n: 200, delayMs: 150 }],
      ['as the first attaches return (waiting for ovs-vswitchd)', { n: 200, at: 'attach:vswitchd-applied', triggerAfter: 1 }],
    ];
    for (const [when, o] of trials) {
      const r = await inFixture((f) => ovsdbRestartDuringAttaches(f, { ...o, subnet: '10.60.0.254/16' }));
      note(`ovsdb-server kill -9 + restart during 200 concurrent attaches, ${when} (restart at ${r.figures.restartAtMs} ms, attaches took ${r.figures.attachMs} ms)`, r);
    }
  }
  if (!only || only === 'vswitchd') {
    for (const kill of [false, true]) {
      const r = await inFixture((f) => vswitchdRestartDuringAttaches(f, { n: 100, before: 50, kill, delayMs: 40, downMs: 500, subnet: '10.61.0.254/16' }));
      note(`ovs-vswitchd ${kill ? 'kill -9' : 'restart (exit --cleanup)'} during 100 concurrent attaches, 50 slots up before (kept ${r.figures.keptSlotsBefore}); attaches took ${r.figures.attachMs} ms`, r);
    }
  }
  if (!only || only === 'kill') {
    const r = await inFixture((f) =>
      killAtRandomMoments(f, { rounds: kills, perRound: 3, seed, subnet: '10.62.0.254/16', log: (s) => process.stderr.write(`  ${s}\n`) }),
    );
    note(
      `attaching process (3 attaches, or a detach every 3rd round) kill -9 at ${kills} random moments, cleanup and check after each (seed ${seed}; ${r.figures.killed} killed mid-way, ${r.figures.finishedBeforeKill} finished first; moments ${r.figures.minDelayMs}-${r.figures.maxDelayMs} ms after spawn, a worker lives ${r.figures.workerMs} ms of which ${r.figures.bootMs} ms is node starting; after ${r.figures.roundsCleanupRepaired} kills cleanup had leftovers to remove: ${r.figures.cleanedPorts} ports, ${r.figures.cleanedLinks} veths); counts are per worker`,
      r,
    );
  }

  process.stdout.write(`\nfaults: ${started.toISOString()}, load average at end ${await loadAverage()} (2 cores, shared machine)\n\n`);
  process.stdout.write([...HEADER, ...rows].join('\n') + '\n');
  process.exitCode = failed ? 1 : 0;
}

main().catch((e: unknown) => {
  process.stderr.write(`faults: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(2);
});
