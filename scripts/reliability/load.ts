// Issue 6, load: 1000 slots on one vswitch, and 10 vswitches at once.
//   node dist/scripts/reliability/load.js [--slots 1000] [--vswitches 10] [--per 20] [--only one|many]
// Root, Open vSwitch installed. Prints markdown rows; exit 1 if an invariant is violated:
//   - every attach completes (no typed failure is expected without faults);
//   - after cleanup: no ghost, orphan or stale claim, every slot up, no slot/MAC/IP twice;
//   - pings: every slot of the 10 vswitches pings its gateway; of the 1000, a spread sample of 100
//     pings the gateway and 20 pairs ping each other (pinging all 1000 one by one takes minutes
//     on this machine and proves nothing more about ecdock);
//   - destroy leaves no port and no link of the vswitch.
import { sh } from '../../test/support/env';
import { checkInvariants, mapLimit, pingFrom, violations } from '../../test/support/invariants';
import { groupLinks, startSwitchFixture, type SwitchFixture } from '../../test/support/switch';
import { loadAverage, makeNamespaces, mdRow, settleAll } from './scenarios';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

const HEADER = ['| scenario | slots | attach time | completed | invariants after cleanup | pings | destroy | verdict |', '|---|---|---|---|---|---|---|---|'];

async function oneBig(f: SwitchFixture, n: number): Promise<{ row: string; bad: string[] }> {
  const vs = await f.vswitch({ subnet: '10.64.0.254/16' });
  const nss = await makeNamespaces(f, n, 'ecl-');
  const t0 = Date.now();
  const { outcomes, results } = await settleAll(
    nss.map((ns) => vs.attach({ target: { netns: ns.path }, timeoutMs: 120_000 })),
    300_000,
  );
  const attachMs = Date.now() - t0;
  const bad: string[] = [];
  if (outcomes.completed !== n) bad.push(`${n - outcomes.completed} attach(es) failed: ${JSON.stringify(outcomes.typed)} ${outcomes.untyped.slice(0, 2).join('; ')}`);
  const slots = results.filter((r): r is Exclude<typeof r, Error | 'hung'> => !(r instanceof Error) && r !== 'hung');
  for (const [what, key] of [['slot', 'index'], ['IP', 'ipv4'], ['MAC', 'mac']] as const) {
    if (new Set(slots.map((s) => s[key])).size !== slots.length) bad.push(`a ${what} was handed out twice`);
  }
  await vs.cleanup();
  const inv = await checkInvariants(vs, { sbns: f.sbns, ping: 100 });
  bad.push(...violations(inv));
  // 20 pairs across the range ping each other.
  const pairs = Array.from({ length: 20 }, (_, i) => [slots[(i * 37) % slots.length]!, slots[(i * 53 + 500) % slots.length]!] as const);
  const pairFails = (
    await mapLimit(pairs, 8, async ([a, b]) => ((await pingFrom(a.target!.ref, b.ipv4)) ? 0 : 1))
  ).reduce((x: number, y: number) => x + y, 0);
  if (pairFails) bad.push(`${pairFails} of 20 slot pairs could not ping each other`);
  const t1 = Date.now();
  await vs.destroy();
  const destroyMs = Date.now() - t1;
  const left = await groupLinks(f, vs);
  const ports = (await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, '--columns=name', '--bare', 'find', 'Port', `external_ids:ecdock\\:vswitch=${vs.name}`])).stdout.trim();
  if (left.length || ports) bad.push(`destroy left ${left.length} links and ports ${ports.split('\n').length}`);
  const row = mdRow([
    `${n} slots on one vswitch (/16), attached concurrently from one process`,
    inv.slots,
    `${(attachMs / 1000).toFixed(1)} s`,
    `${outcomes.completed}/${n}`,
    violations(inv).length ? violations(inv).join('; ') : 'no ghost, orphan or stale claim; all up',
    `gateway from 100 spread slots: ${100 - inv.noPing.length}/100; 20 slot pairs: ${20 - pairFails}/20`,
    `${(destroyMs / 1000).toFixed(1)} s, nothing left`,
    bad.length ? `**FAIL**: ${bad.join('; ')}` : 'pass',
  ]);
  return { row, bad };
}

async function many(f: SwitchFixture, k: number, per: number): Promise<{ row: string; bad: string[] }> {
  const t0 = Date.now();
  // Created at once, each with its own subnet, all in the sandbox's ovs-vswitchd.
  const vss = await Promise.all(Array.from({ length: k }, (_, i) => f.vswitch({ subnet: `10.${100 + i}.0.254/24` })));
  const createMs = Date.now() - t0;
  const nss = await makeNamespaces(f, k * per, 'ecm-');
  const t1 = Date.now();
  const { outcomes } = await settleAll(
    nss.map((ns, i) => vss[i % k]!.attach({ target: { netns: ns.path }, timeoutMs: 120_000 })),
    300_000,
  );
  const attachMs = Date.now() - t1;
  const bad: string[] = [];
  if (outcomes.completed !== k * per) bad.push(`${k * per - outcomes.completed} attach(es) failed: ${JSON.stringify(outcomes.typed)}`);
  let slots = 0;
  let noPing = 0;
  const invBad: string[] = [];
  for (const vs of vss) {
    await vs.cleanup();
    const inv = await checkInvariants(vs, { sbns: f.sbns });
    slots += inv.slots;
    noPing += inv.noPing.length;
    invBad.push(...violations(inv).map((v) => `${vs.name}: ${v}`));
  }
  bad.push(...invBad);
  const t2 = Date.now();
  await Promise.all(vss.map((vs) => vs.destroy()));
  const destroyMs = Date.now() - t2;
  for (const vs of vss) if ((await groupLinks(f, vs)).length) bad.push(`${vs.name}: destroy left links`);
  const row = mdRow([
    `${k} vswitches created at once (${(createMs / 1000).toFixed(1)} s), ${per} slots each, all attached concurrently`,
    slots,
    `${(attachMs / 1000).toFixed(1)} s`,
    `${outcomes.completed}/${k * per}`,
    invBad.length ? invBad.slice(0, 3).join('; ') : 'no ghost, orphan or stale claim; all up',
    `every slot pings its gateway: ${slots - noPing}/${slots}`,
    `${(destroyMs / 1000).toFixed(1)} s (all at once), nothing left`,
    bad.length ? `**FAIL**: ${bad.join('; ')}` : 'pass',
  ]);
  return { row, bad };
}

async function main(): Promise<void> {
  const only = arg('only', '');
  const started = new Date();
  const rows: string[] = [];
  let failed = 0;
  for (const [name, run] of [
    ['one', (f: SwitchFixture) => oneBig(f, Number(arg('slots', '1000')))],
    ['many', (f: SwitchFixture) => many(f, Number(arg('vswitches', '10')), Number(arg('per', '20')))],
  ] as const) {
    if (only && only !== name) continue;
    const f = await startSwitchFixture();
    try {
      const { row, bad } = await run(f);
      rows.push(row);
      process.stderr.write(`${row}\n`);
      if (bad.length) failed++;
    } finally {
      await f.cleanup.run();
    }
  }
  process.stdout.write(`\nload: ${started.toISOString()}, load average at end ${await loadAverage()} (2 cores, shared machine; userspace datapath)\n\n`);
  process.stdout.write([...HEADER, ...rows].join('\n') + '\n');
  process.exitCode = failed ? 1 : 0;
}

main().catch((e: unknown) => {
  process.stderr.write(`load: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(2);
});
