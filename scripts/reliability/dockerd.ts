// Issue 6, faults: dockerd restarted under the container follower (`ec watch` runs a
// ContainerFollower, src/follow.ts). Never part of `npm test`: restarting dockerd disturbs
// everything else that uses it.
//   node dist/scripts/reliability/dockerd.js [--containers 5] [--system] [--in-process]
// The follower is the real `ec watch --json` process (dist/src/cli/main.js), or with --in-process a
// ContainerFollower (what `ec watch` runs) in this process.
// By default the scenario runs against a private dockerd it starts itself (own socket, data root
// and exec root in a temp dir, vfs storage, no bridge, no iptables), so the machine's dockerd and
// whoever uses it are left alone. With --system it restarts the system dockerd instead: the pid
// comes from /var/run/docker.pid (never a search by name), its command line from /proc/PID/cmdline,
// and it is started again with that same command line even when the scenario fails.
//
// Phases, each ending with checks (exit 1 if any fails):
//  1. N labelled containers in slots, the follower running; all slots up and pinging.
//  2. dockerd restarted (SIGTERM, wait for exit, start again). Its containers die with it (no
//     live-restore): their slots must read `down` (not ghosts: cleanup must keep them), and the
//     follower's event stream must reconnect by itself.
//  3. The containers are started again: the follower must replug every slot into its container's
//     new namespace; all up and pinging within a bound. One container is then removed: the follower
//     frees its slot. After cleanup: no ghost, orphan or stale claim; the rest up and pinging.
//  4. (private dockerd only) dockerd restarted with --live-restore: containers keep running, slots
//     keep pinging through the restart, and a container restarted afterwards is still replugged.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ContainerFollower, containerLabels, type FollowEvent } from '../../src/follow';
import type { OvsdbClient } from '../../src/ovsdb/client';
import { ensureBusyboxImage } from '../../src/runtime/busybox-image';
import { DockerRuntime } from '../../src/runtime/docker';
import { pidAlive, stopPid } from '../../src/sandbox';
import type { VSwitch } from '../../src/vswitch';
import { eventually, sh } from '../../test/support/env';
import { checkInvariants, pingFrom, violations } from '../../test/support/invariants';
import { startSwitchFixture } from '../../test/support/switch';
import { loadAverage, mdRow } from './scenarios';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Dockerd {
  socket: string;
  pidfile: string;
  args: string[];
  log: string;
  pid(): number | undefined;
}

function readPid(file: string): number | undefined {
  try {
    const pid = parseInt(readFileSync(file, 'utf8'), 10);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Starts dockerd detached (it must outlive this script when it is the system's), waits until it answers. */
async function startDockerd(d: Dockerd): Promise<void> {
  const out = openSync(d.log, 'a');
  const child = spawn(d.args[0]!, d.args.slice(1), { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  closeSync(out);
  const rt = new DockerRuntime({ socketPath: d.socket, timeoutMs: 2000 });
  await eventually(() => rt.ping().then(() => true), 60_000, 200);
}

/** Stops dockerd by the pid in its pidfile (SIGTERM, then SIGKILL after 30 s). */
async function stopDockerd(d: Dockerd): Promise<void> {
  const pid = d.pid();
  if (!pid) throw new Error(`no pid in ${d.pidfile}`);
  await stopPid(pid, 30_000);
  if (pidAlive(pid)) throw new Error(`dockerd ${pid} did not exit`);
}

async function privateDockerd(dir: string, liveRestore = false): Promise<Dockerd> {
  const socket = path.join(dir, 'docker.sock');
  const pidfile = path.join(dir, 'docker.pid');
  const args = [
    'dockerd',
    `--host=unix://${socket}`,
    `--pidfile=${pidfile}`,
    `--data-root=${path.join(dir, 'data')}`,
    `--exec-root=${path.join(dir, 'exec')}`,
    '--bridge=none',
    '--iptables=false',
    '--ip6tables=false',
    '--storage-driver=vfs',
    '--shutdown-timeout=2',
    ...(liveRestore ? ['--live-restore'] : []),
  ];
  return { socket, pidfile, args, log: path.join(dir, 'dockerd.log'), pid: () => readPid(pidfile) };
}

function systemDockerd(): Dockerd {
  const pidfile = '/var/run/docker.pid';
  const pid = readPid(pidfile);
  if (!pid || !pidAlive(pid)) throw new Error(`no running dockerd in ${pidfile}`);
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const host = args.find((a) => a.startsWith('--host=unix://') || a.startsWith('-H=unix://'))?.split('unix://')[1];
  const hostIdx = args.findIndex((a) => a === '--host' || a === '-H');
  const socket = host ?? (hostIdx >= 0 ? args[hostIdx + 1]!.replace('unix://', '') : '/var/run/docker.sock');
  return { socket, pidfile, args, log: '/var/log/ecdock-reliability-dockerd.log', pid: () => readPid(pidfile) };
}

async function containerNs(rt: DockerRuntime, id: string): Promise<string | undefined> {
  const c = await rt.inspect(id);
  return c?.running && c.pid > 0 ? `/proc/${c.pid}/ns/net` : undefined;
}

/** Every slot whose container runs is up, plugged into that container, and pings the gateway. */
async function slotsPing(vs: VSwitch, rt: DockerRuntime, ids: Map<number, string>): Promise<string[]> {
  const bad: string[] = [];
  const slots = new Map((await vs.slots()).map((s) => [s.index, s]));
  for (const [n, id] of ids) {
    const s = slots.get(n);
    const ns = await containerNs(rt, id);
    if (!s) bad.push(`slot ${n} is gone`);
    else if (!ns) bad.push(`container of slot ${n} is not running`);
    else if (s.state !== 'up') bad.push(`slot ${n} is ${s.state}`);
    else if (!(await pingFrom(ns, s.gateway))) bad.push(`slot ${n} cannot ping its gateway`);
  }
  return bad;
}

/** A follower of the slots' containers: `ec watch` in its own process, or a ContainerFollower here. */
interface Watcher {
  stop(): Promise<void>;
  /** Waits until queued work is done (in process), or a moment (ec watch). */
  idle(): Promise<void>;
}

async function inProcess(ovs: OvsdbClient, rt: DockerRuntime, vswitch: string, events: { type: string; slot: number }[], errors: string[]): Promise<Watcher> {
  const follower = new ContainerFollower(ovs, { runtime: rt, vswitch });
  for (const type of ['replugged', 'freed', 'down'] as const) follower.on(type, (e: FollowEvent) => events.push({ type, slot: e.slot }));
  follower.on('error', (e) => errors.push(`${e.code}: ${e.message}`));
  await follower.start();
  return { stop: () => follower.stop(), idle: () => follower.idle() };
}

const EC = path.join(__dirname, '..', '..', 'src', 'cli', 'main.js');

/** Runs `ec watch --json` against this OVS and dockerd; its JSON lines become events. */
async function ecWatch(db: string, vswitch: string, socket: string, events: { type: string; slot: number }[], errors: string[]): Promise<Watcher> {
  const child = spawn(process.execPath, [EC, 'watch', '--json', '--db', db, '--vswitch', vswitch], {
    env: { ...process.env, DOCKER_HOST: `unix://${socket}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let ready: () => void = () => undefined;
  const started = new Promise<void>((r) => (ready = r));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl).trim();
      out = out.slice(nl + 1);
      if (!line) continue;
      try {
        const ev = JSON.parse(line) as { event?: string; slot?: number; error?: { code: string; message: string } };
        if (ev.event === 'error') errors.push(`${ev.error?.code}: ${ev.error?.message}`);
        else if (ev.event) events.push({ type: ev.event, slot: Number(ev.slot) });
        ready();
      } catch {
        /* a note */
      }
    }
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (/watching/.test(err)) ready();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // Ready when it says so, or after its reconcile pass had time to run.
  await Promise.race([started, sleep(5000), exited]);
  if (child.exitCode !== null) throw new Error(`ec watch exited ${child.exitCode}: ${err.trim()}`);
  return {
    stop: async () => {
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        errors.push('ec watch did not stop on SIGTERM within 10 s');
      } else if (code !== 0) errors.push(`ec watch exited ${code} on SIGTERM: ${err.trim().slice(-300)}`);
    },
    idle: () => sleep(1000).then(() => undefined),
  };
}

async function main(): Promise<void> {
  const useSystem = process.argv.includes('--system');
  // Default: the real `ec watch` process; --in-process drives a ContainerFollower directly.
  const useEc = !process.argv.includes('--in-process');
  const ci = process.argv.indexOf('--containers');
  const n = ci >= 0 ? Number(process.argv[ci + 1]) : 5;
  const started = new Date();
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ecd-'));
  let d = useSystem ? systemDockerd() : await privateDockerd(tmp);
  let weStarted = false;
  const rows: string[] = [];
  const bad: string[] = [];
  const f = await startSwitchFixture();
  let follower: Watcher | undefined;
  const made: string[] = [];
  let rt = new DockerRuntime({ socketPath: d.socket });
  try {
    if (!useSystem) {
      await startDockerd(d);
      weStarted = true;
    }
    await ensureBusyboxImage(rt);
    const vs = await f.vswitch({ subnet: '10.65.0.254/24', runtime: rt });
    const ids = new Map<number, string>();
    for (let slot = 1; slot <= n; slot++) {
      const c = await rt.run({ name: `ecrel-${process.pid}-${slot}`, image: 'ecdock-busybox:latest', args: ['sleep', '3600'], tty: false, openStdin: false, labels: containerLabels(vs, slot) });
      made.push(c.id);
      ids.set(slot, c.id);
      await vs.attach({ slot, target: { container: c.id } });
    }
    const events: { type: string; slot: number }[] = [];
    const errors: string[] = [];
    const start = async () => {
      follower = useEc ? await ecWatch(f.sb.dbUrl, vs.name, d.socket, events, errors) : await inProcess(f.ovs, rt, vs.name, events, errors);
    };
    await start();
    const p1 = await slotsPing(vs, rt, ids);
    rows.push(mdRow(['1. containers in slots, follower running', n, p1.length ? p1.join('; ') : `${n}/${n} up and pinging`, p1.length ? '**FAIL**' : 'pass']));
    bad.push(...p1);

    // 2. restart dockerd; containers die with it
    const t0 = Date.now();
    await stopDockerd(d);
    const downAt = Date.now() - t0;
    await startDockerd(d);
    const upAt = Date.now() - t0;
    weStarted = !useSystem;
    await sleep(1000);
    const states = (await vs.slots()).map((s) => s.state);
    const report = await vs.cleanup();
    const p2: string[] = [];
    if (report.ports.length) p2.push(`cleanup removed ${report.ports.length} slot(s) of stopped containers`);
    if (states.some((s) => s === 'ghost')) p2.push(`slot states after the restart: ${states.join(',')}`);
    rows.push(
      mdRow([
        `2. dockerd restarted (stopped in ${(downAt / 1000).toFixed(1)} s, answering again after ${(upAt / 1000).toFixed(1)} s); its containers died with it`,
        n,
        `slot states: ${[...new Set(states)].map((s) => `${states.filter((x) => x === s).length} ${s}`).join(', ')}; cleanup kept them`,
        p2.length ? `**FAIL**: ${p2.join('; ')}` : 'pass',
      ]),
    );
    bad.push(...p2);

    // 3. start the containers again: the follower must replug every slot
    const before = events.length;
    const t1 = Date.now();
    for (const id of ids.values()) await rt.start(id);
    let p3: string[] = [];
    try {
      await eventually(async () => (await slotsPing(vs, rt, ids)).length === 0, 30_000, 250);
    } catch {
      p3 = await slotsPing(vs, rt, ids);
    }
    const replugMs = Date.now() - t1;
    const replugged = events.slice(before).filter((e) => e.type === 'replugged').length;
    // one container removed: its slot is freed by the follower
    const [gone, goneId] = [...ids][0]!;
    await rt.remove(goneId, { force: true });
    ids.delete(gone);
    try {
      await eventually(async () => (await vs.slot(gone)) === undefined, 15_000, 100);
    } catch {
      p3.push(`slot ${gone} of a removed container was not freed`);
    }
    await follower!.idle();
    await vs.cleanup();
    const inv = await checkInvariants(vs, { sbns: f.sbns, ping: false });
    p3.push(...violations(inv), ...(await slotsPing(vs, rt, ids)));
    if (errors.length) p3.push(`follower errors: ${errors.join('; ')}`);
    rows.push(
      mdRow([
        `3. containers started again: follower replugged ${replugged} slot(s), all pinging after ${(replugMs / 1000).toFixed(1)} s; one container removed → slot freed`,
        n,
        p3.length ? p3.join('; ') : `${ids.size}/${ids.size} up and pinging; no ghost, orphan or stale claim`,
        p3.length ? '**FAIL**' : 'pass',
      ]),
    );
    bad.push(...p3);

    // 4. live-restore: containers survive a dockerd restart, and the follower keeps following
    if (!useSystem) {
      await follower!.stop();
      await stopDockerd(d);
      d = await privateDockerd(tmp, true);
      await startDockerd(d);
      rt = new DockerRuntime({ socketPath: d.socket });
      for (const id of ids.values()) await rt.start(id);
      await eventually(async () => (await slotsPing(vs, rt, ids)).length === 0, 30_000, 250).catch(() => undefined);
      await start();
      const t2 = Date.now();
      // restart dockerd (live-restore) while pinging
      let pingFails = 0;
      let pings = 0;
      let stopPinging = false;
      const [, anyId] = [...ids][0]!;
      const ns = (await containerNs(rt, anyId))!;
      const pinger = (async () => {
        while (!stopPinging) {
          pings++;
          if (!(await pingFrom(ns, '10.65.0.254', 1))) pingFails++;
        }
      })();
      await stopDockerd(d);
      await startDockerd(d);
      const restartMs = Date.now() - t2;
      await sleep(1000);
      stopPinging = true;
      await pinger;
      // a container restarted after that is replugged by the follower
      const [rslot, rid] = [...ids][1] ?? [...ids][0]!;
      await rt.restart(rid, { timeoutS: 1 });
      const p4: string[] = [];
      try {
        await eventually(async () => (await slotsPing(vs, rt, ids)).length === 0, 30_000, 250);
      } catch {
        p4.push(...(await slotsPing(vs, rt, ids)));
      }
      if (pingFails) p4.push(`${pingFails} of ${pings} pings failed during the restart`);
      if (errors.length) p4.push(`follower errors: ${errors.join('; ')}`);
      rows.push(
        mdRow([
          `4. dockerd restarted with --live-restore (${(restartMs / 1000).toFixed(1)} s): containers kept running; then container of slot ${rslot} restarted`,
          ids.size,
          p4.length ? p4.join('; ') : `${pings - pingFails}/${pings} pings answered during the restart; slot ${rslot} replugged; all up and pinging`,
          p4.length ? '**FAIL**' : 'pass',
        ]),
      );
      bad.push(...p4);
    }
  } finally {
    await follower?.stop().catch(() => undefined);
    for (const id of made) await rt.remove(id, { force: true }).catch(() => undefined);
    await f.cleanup.run();
    if (useSystem) {
      // Restore the system dockerd whatever happened.
      const pid = d.pid();
      if (!pid || !pidAlive(pid)) await startDockerd(d).catch((e: unknown) => process.stderr.write(`dockerd.ts: could not restart the system dockerd: ${String(e)}\n`));
    } else if (weStarted || d.pid()) {
      await stopDockerd(d).catch(() => undefined);
    }
    if (!useSystem && existsSync(tmp)) {
      // dockerd leaves its data root mounted on itself (a private bind mount); rm cannot remove a mount point.
      await sh('umount', [path.join(tmp, 'data')], { allowFail: true });
      await fs.rm(tmp, { recursive: true, force: true }).catch((e: unknown) => process.stderr.write(`dockerd.ts: could not remove ${tmp}: ${String(e)}\n`));
    }
  }
  process.stdout.write(`\ndockerd restart under ${useEc ? '`ec watch` (a separate process)' : 'a ContainerFollower in this process'}: ${started.toISOString()}, ${useSystem ? 'the system dockerd' : 'a private dockerd'}, load average at end ${await loadAverage()} (2 cores, shared machine)\n\n`);
  process.stdout.write(['| phase | containers | result | verdict |', '|---|---|---|---|', ...rows].join('\n') + '\n');
  process.exitCode = bad.length ? 1 : 0;
}

main().catch((e: unknown) => {
  process.stderr.write(`dockerd: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(2);
});
