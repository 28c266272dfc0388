// A separate process that attaches namespaces to a vswitch, for the multi-process and crash tests.
//   node attach-worker.js '<json>'   with { db, vswitch, targets: string[], slot?, portType?, crashAt?, detach? }
// Prints one JSON line: the slots it got. With crashAt, it SIGKILLs itself at that crash point.
import { setCrashHook, type CrashPoint } from '../../src/crash-points';
import { OvsdbClient } from '../../src/ovsdb/client';
import { VSwitch } from '../../src/vswitch';

interface Job {
  db: string;
  vswitch: string;
  targets: string[];
  slot?: number;
  portType?: 'veth' | 'internal';
  crashAt?: CrashPoint;
  /** Detach this slot instead of attaching. */
  detach?: number;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]) as Job;
  if (job.crashAt) {
    setCrashHook((p) => {
      if (p === job.crashAt) process.kill(process.pid, 'SIGKILL');
    });
  }
  const ovs = await OvsdbClient.connect(job.db);
  const vs = await VSwitch.open(ovs, job.vswitch);
  if (job.detach !== undefined) {
    await vs.detach(job.detach);
    process.stdout.write(JSON.stringify({ detached: job.detach }) + '\n');
  } else {
    const slots = await Promise.all(
      job.targets.map((t) => vs.attach({ target: { netns: t }, ...(job.slot !== undefined ? { slot: job.slot } : {}), ...(job.portType ? { portType: job.portType } : {}) })),
    );
    process.stdout.write(JSON.stringify(slots.map((s) => ({ index: s.index, ipv4: s.ipv4, mac: s.mac, portName: s.portName }))) + '\n');
  }
  ovs.close();
}

main().catch((e: unknown) => {
  process.stdout.write(JSON.stringify({ error: { code: (e as { code?: string }).code, message: (e as Error).message } }) + '\n');
  process.exit(1);
});
