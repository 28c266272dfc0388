// The plugin's socket is a root-owned door into OVS and the kernel: whoever can write to it can
// plug namespaces into switches. So it is created 0600 (0660 with a group the admin names), never
// world-writable, and never taken over from someone else: an existing path is removed only when
// it is a dead socket of our own uid.

import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { UsageError } from '../errors';

export const PLUGIN_DIR = '/run/docker/plugins';

/** The gid of a group given by name or number; BAD_ARGUMENT when /etc/group does not have it. */
export function groupId(group: string, groupFile = '/etc/group'): number {
  if (/^\d+$/.test(group)) return Number(group);
  for (const line of readFileSync(groupFile, 'utf8').split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new UsageError('BAD_ARGUMENT', `--group ${group}: no such group in ${groupFile}; give an existing group (e.g. docker) or leave --group out for a root-only socket`);
}

/** Whether something accepts connections on the unix socket at `p`. */
function socketAnswers(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(p);
    const done = (v: boolean): void => {
      c.destroy();
      resolve(v);
    };
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
    c.setTimeout(1000, () => done(false));
  });
}

/** Refuses a path that is not ours to replace; removes our own dead socket. */
async function clearStale(p: string): Promise<void> {
  let st: import('node:fs').Stats;
  try {
    st = await fs.lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) throw new UsageError('NAME_TAKEN', `${p} exists and is not a socket: remove it, or give another --socket`);
  const uid = process.geteuid?.() ?? 0;
  if (st.uid !== uid) {
    throw new UsageError('NOT_OURS', `${p} belongs to uid ${st.uid}, not to this plugin (uid ${uid}): refusing to replace it; remove it if it is stale, or give another --socket`);
  }
  if (await socketAnswers(p)) throw new UsageError('NAME_TAKEN', `another process already serves ${p}: stop it first, or give another --socket`);
  await fs.unlink(p);
}

export interface SocketHandle {
  path: string;
  /** Removes the socket file if it is still the one we made. */
  remove(): Promise<void>;
}

/** Listens on `p` with mode 0600 (0660 and the group, when given). */
export async function listenOnSocket(server: net.Server, p: string, o: { group?: string } = {}): Promise<SocketHandle> {
  const gid = o.group !== undefined ? groupId(o.group) : undefined;
  await fs.mkdir(path.dirname(p), { recursive: true, mode: 0o755 });
  await clearStale(p);
  // The umask makes the socket private from the moment it exists, before the chmod below.
  const old = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(old);
  }
  if (gid !== undefined) await fs.chown(p, process.geteuid?.() ?? 0, gid);
  await fs.chmod(p, gid !== undefined ? 0o660 : 0o600);
  const { ino, mode } = await fs.stat(p);
  if (mode & 0o007) throw new Error(`${p} came out with mode ${(mode & 0o777).toString(8)}`);
  return {
    path: p,
    async remove() {
      const st = await fs.lstat(p).catch(() => undefined);
      if (st && st.ino === ino) await fs.unlink(p).catch(() => undefined);
    },
  };
}
