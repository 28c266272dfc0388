// Daemons the sandboxes start detach and are re-parented to PID 1, which may reap them late: a
// killed one lingers as a zombie, so "gone" means no process or a zombie (pidAlive), and a group is
// signalled all at once before anyone is waited for. Every sandbox stops only the pids it started.
import { promises as fs, readFileSync } from 'node:fs';
import { SandboxError } from '../errors';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed daemon whose parent does not reap it lingers as a zombie: count that as gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!pidAlive(pid)) return true;
    await sleep(20);
  }
  return !pidAlive(pid);
}

/** Stops a process we started, by pid: SIGTERM, then SIGKILL. */
export async function stopPid(pid: number | undefined, graceMs = 3000): Promise<void> {
  if (!pid || !pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitGone(pid, graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitGone(pid, 2000);
}

/** The pid a detached daemon wrote to its pidfile, waited for up to `ms`. */
export async function readPid(file: string, ms = 10_000): Promise<number> {
  const end = Date.now() + ms;
  for (;;) {
    const pid = parseInt(await fs.readFile(file, 'utf8').catch(() => ''), 10);
    if (pid > 0) return pid;
    if (Date.now() > end) throw new SandboxError('SANDBOX_FAILED', `no pid appeared in ${file}`);
    await sleep(10);
  }
}

/** SIGTERM to all at once (a daemon's exit does not wait for the others), then SIGKILL to whoever stays. */
export async function stopPids(pids: (number | undefined)[], graceMs = 3000): Promise<void> {
  const live = pids.filter((p): p is number => !!p && pidAlive(p));
  for (const p of live) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const end = Date.now() + graceMs;
  while (live.some(pidAlive) && Date.now() < end) await sleep(20);
  for (const p of live.filter(pidAlive)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const end2 = Date.now() + 3000;
  while (live.some(pidAlive) && Date.now() < end2) await sleep(20);
}

export function killNow(pid: number | undefined): Promise<void> {
  if (pid && pidAlive(pid)) process.kill(pid, 'SIGKILL');
  return stopPids([pid], 0);
}

