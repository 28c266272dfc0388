// A separate process that attaches a namespace to an OVN vswitch (or detaches a slot), for the
// crash tests: with crashAt it SIGKILLs itself at that crash point.
//   node ovn-attach-worker.js '<json>'   with { db, nb, netns, vswitch, target?, slot, crashAt?, detach? }
import { setCrashHook, type CrashPoint } from '../../src/crash-points';
import { OvsdbClient } from '../../src/ovsdb/client';
import { VSwitch } from '../../src/vswitch';

interface Job {
  db: string;
  nb: string;
  netns: string;
  vswitch: string;
  target?: string;
  slot: number;
  crashAt?: CrashPoint;
  detach?: boolean;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as Job;
  if (job.crashAt) setCrashHook((p) => p === job.crashAt && process.kill(process.pid, 'SIGKILL'));
  const ovs = await OvsdbClient.connect(job.db);
  const nb = await OvsdbClient.connect(job.nb);
  const vs = await VSwitch.open(ovs, job.vswitch, { ovn: { northbound: nb }, netns: job.netns });
  if (job.detach) await vs.detach(job.slot);
  else await vs.attach({ slot: job.slot, target: { netns: job.target! } });
  process.stdout.write('done\n');
  ovs.close();
  nb.close();
}

main().catch((e: unknown) => {
  process.stdout.write(JSON.stringify({ code: (e as { code?: string }).code, message: (e as Error).message }) + '\n');
  process.exit(1);
});
