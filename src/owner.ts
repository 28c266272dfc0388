// Who is doing an attach right now. Work that is in flight is marked with its owner, a string
// naming this boot, this process and its start time; `cleanup` removes marked leftovers only when
// the owner is dead, so it never undoes the work of a live process, and pid reuse cannot fool it.

import { readFileSync } from 'node:fs';

function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" of comm: state is field 3, starttime field 22
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

let bootId: string | undefined;
function currentBootId(): string {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().slice(0, 8);
    } catch {
      bootId = 'noboot';
    }
  }
  return bootId;
}

let self: string | undefined;
/** This process as an owner: `<boot>/<pid>/<starttime>`. */
export function selfOwner(): string {
  if (self === undefined) self = `${currentBootId()}/${process.pid}/${procStartTime(process.pid) ?? '0'}`;
  return self;
}

/** Whether the process an owner string names is still running (false for malformed strings). */
export function ownerAlive(owner: string | undefined): boolean {
  if (!owner) return false;
  const [boot, pidText, start] = owner.split('/');
  if (boot !== currentBootId()) return false;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const now = procStartTime(pid);
  return now !== undefined && now === start;
}

const ALIAS_PREFIX = 'ecdock ';

/**
 * An owner written into a link's alias (IFLA_IFALIAS, up to 255 bytes): `ecdock <owner>`. The
 * prefix tells ecdock's links from anyone else's; ownerFromAlias is the only reader of this format.
 */
export function ownerAlias(owner: string): string {
  return `${ALIAS_PREFIX}${owner}`;
}

/** The owner in a link's alias if ownerAlias wrote it, else undefined (no alias, or someone else's). */
export function ownerFromAlias(alias: string | undefined): string | undefined {
  return alias?.startsWith(ALIAS_PREFIX) ? alias.slice(ALIAS_PREFIX.length) : undefined;
}

/** The pid in an owner string, for messages. */
export function ownerPid(owner: string | undefined): number | undefined {
  const pid = Number(owner?.split('/')[1]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
