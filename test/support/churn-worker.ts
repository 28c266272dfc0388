// A process that churns a vswitch until it is killed, for the SIGKILL-window test:
//   node churn-worker.js '{"db": URL, "vswitch": NAME, "targets": [netns paths]}'
// Target i is slot i+1 (odd slots veth, even internal). Each cycle attaches every slot that is not
// attached, prints "cycle N", then detaches a random half, all concurrently. Typed errors (a slot
// a previous, killed worker left busy) are expected; anything else is printed as {"error": ...}.
import { isEcdockError } from '../../src/errors';
import { OvsdbClient } from '../../src/ovsdb/client';
import { VSwitch } from '../../src/vswitch';

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as { db: string; vswitch: string; targets: string[] };
  const ovs = await OvsdbClient.connect(job.db);
  const vs = await VSwitch.open(ovs, job.vswitch);
  const untyped = (rs: PromiseSettledResult<unknown>[]) => {
    for (const r of rs) if (r.status === 'rejected' && !isEcdockError(r.reason)) process.stdout.write(JSON.stringify({ error: String((r.reason as Error)?.stack ?? r.reason) }) + '\n');
  };
  for (let cycle = 0; ; cycle++) {
    const have = new Set((await vs.slots()).map((s) => s.index));
    untyped(
      await Promise.allSettled(
        job.targets.map((t, i) => (have.has(i + 1) ? Promise.resolve() : vs.attach({ slot: i + 1, target: { netns: t }, portType: i % 2 ? 'internal' : 'veth' }))),
      ),
    );
    process.stdout.write(`cycle ${cycle}\n`);
    const now = (await vs.slots()).map((s) => s.index).filter(() => Math.random() < 0.5);
    untyped(await Promise.allSettled(now.map((n) => vs.detach(n))));
  }
}

main().catch((e: unknown) => {
  process.stdout.write(JSON.stringify({ error: String((e as Error)?.stack ?? e) }) + '\n');
  process.exit(1);
});
