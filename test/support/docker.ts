// Docker for tests: skip when dockerd is not there (fail under ECDOCK_REQUIRE_DOCKER=1), a tiny
// busybox image imported from Debian's busybox-static (there is no registry to pull from), and a
// tracker that force-removes, by id, every container a test created — even when the test fails.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { DockerRuntime } from '../../src/runtime/docker';
import type { ContainerInfo, CreateContainerOptions } from '../../src/runtime';
import { sh, uniqueName } from './env';

export const BUSYBOX_IMAGE = 'ecdock-busybox:latest';
const BUSYBOX_BIN = '/usr/bin/busybox';

let reachable: Promise<boolean> | undefined;

/** Skips the test or suite when dockerd does not answer, unless ECDOCK_REQUIRE_DOCKER=1 makes that an error. */
export async function requireDocker(ctx: Mocha.Context): Promise<void> {
  reachable ??= new DockerRuntime({ timeoutMs: 5000 })
    .ping()
    .then(() => true)
    .catch(() => false);
  if (await reachable) return;
  if (process.env.ECDOCK_REQUIRE_DOCKER === '1') throw new Error('dockerd is unreachable and ECDOCK_REQUIRE_DOCKER=1: start dockerd');
  ctx.skip();
}

// Applets linked into /bin; whatever this busybox build lacks is left out.
const APPLETS = [
  'sh', 'ash', 'cat', 'echo', 'sleep', 'ls', 'ps', 'hostname', 'ip', 'ifconfig', 'route', 'ping', 'ping6', 'arping',
  'udhcpc', 'nc', 'wget', 'stty', 'true', 'false', 'env', 'id', 'mkdir', 'rm', 'cp', 'mv', 'grep', 'sed', 'awk',
  'head', 'tail', 'wc', 'kill', 'top', 'uname', 'date', 'test', '[', 'printf', 'touch', 'tee', 'which', 'mount', 'dmesg',
  'sysctl', 'ln', 'chmod', 'vi', 'less', 'more', 'traceroute', 'nslookup', 'tr', 'cut', 'sort', 'uniq', 'xargs', 'find',
  'tty', 'reset', 'clear', 'seq', 'yes', 'timeout', 'watch', 'netstat', 'ss', 'tcpdump',
];

/**
 * Makes sure `tag` exists: a rootfs of /usr/bin/busybox plus applet symlinks, imported through the
 * Engine API from a tar built here. Idempotent: does nothing when the image is already there.
 */
export async function ensureBusyboxImage(tag = BUSYBOX_IMAGE, runtime = new DockerRuntime()): Promise<string> {
  if (await runtime.imageExists(tag)) return tag;
  const busybox = readFileSync(BUSYBOX_BIN);
  const have = new Set((await sh(BUSYBOX_BIN, ['--list'])).stdout.split('\n').filter(Boolean));
  const tar = new TarWriter();
  for (const d of ['bin', 'etc', 'dev', 'proc', 'sys', 'root', 'var', 'run']) tar.dir(d, 0o755);
  tar.dir('tmp', 0o1777);
  tar.file('bin/busybox', busybox, 0o755);
  for (const a of APPLETS) if (have.has(a)) tar.symlink(`bin/${a}`, 'busybox');
  tar.file('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\n'), 0o644);
  tar.file('etc/group', Buffer.from('root:x:0:\n'), 0o644);
  const [repo, version] = splitTag(tag);
  const docker = (runtime as unknown as { docker: import('dockerode') }).docker;
  const progress = await docker.importImage(Readable.from([tar.finish()]), {
    repo,
    tag: version,
    changes: ['CMD ["/bin/sh"]', 'ENV PATH=/bin'],
  } as object);
  // The import is done when dockerd has written its whole progress stream.
  const out = await new Promise<string>((resolve, reject) => {
    let text = '';
    progress.on('data', (c: Buffer) => (text += c.toString()));
    progress.on('end', () => resolve(text));
    progress.on('error', reject);
  });
  if (!(await runtime.imageExists(tag))) throw new Error(`importing ${tag} failed: ${out.slice(0, 500)}`);
  return tag;
}

function splitTag(tag: string): [string, string] {
  const at = tag.lastIndexOf(':');
  return at > tag.lastIndexOf('/') && at > 0 ? [tag.slice(0, at), tag.slice(at + 1)] : [tag, 'latest'];
}

/** Just enough ustar to carry a rootfs: directories, regular files and symlinks, owned by root. */
export class TarWriter {
  private parts: Buffer[] = [];

  dir(name: string, mode: number): void {
    this.entry(name.endsWith('/') ? name : `${name}/`, '5', mode, 0);
  }
  file(name: string, data: Buffer, mode: number): void {
    this.entry(name, '0', mode, data.length);
    this.parts.push(data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) this.parts.push(Buffer.alloc(pad));
  }
  symlink(name: string, target: string): void {
    this.entry(name, '2', 0o777, 0, target);
  }
  finish(): Buffer {
    return Buffer.concat([...this.parts, Buffer.alloc(1024)]);
  }

  private entry(name: string, type: string, mode: number, size: number, link = ''): void {
    if (name.length > 100 || link.length > 100) throw new Error(`tar: name too long: ${name}`);
    const h = Buffer.alloc(512);
    const put = (off: number, len: number, s: string) => h.write(s, off, len, 'utf8');
    const oct = (off: number, len: number, n: number) => put(off, len, n.toString(8).padStart(len - 1, '0') + '\0');
    put(0, 100, name);
    oct(100, 8, mode);
    oct(108, 8, 0);
    oct(116, 8, 0);
    oct(124, 12, size);
    oct(136, 12, Math.floor(Date.now() / 1000));
    put(148, 8, '        ');
    put(156, 1, type);
    put(157, 100, link);
    put(257, 6, 'ustar\0');
    put(263, 2, '00');
    put(265, 32, 'root');
    put(297, 32, 'root');
    let sum = 0;
    for (const b of h) sum += b;
    put(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
    this.parts.push(h);
  }
}

/** Containers made by one test or suite; cleanup() force-removes them by id and never throws. */
export class TestContainers {
  readonly runtime: DockerRuntime;
  readonly ids = new Set<string>();
  readonly prefix: string;

  constructor(runtime = new DockerRuntime(), prefix = 'ect-') {
    this.runtime = runtime;
    this.prefix = prefix;
  }

  /** A fresh name for a container this test will create. */
  name(): string {
    return uniqueName(this.prefix);
  }

  track(idOrInfo: string | { id: string }): void {
    this.ids.add(typeof idOrInfo === 'string' ? idOrInfo : idOrInfo.id);
  }

  /** runtime.run with a fresh name (unless given) and the busybox image; tracked for cleanup. */
  async run(o: Partial<CreateContainerOptions> = {}): Promise<ContainerInfo> {
    const name = o.name ?? this.name();
    try {
      const info = await this.runtime.run({ image: BUSYBOX_IMAGE, args: ['sh'], ...o, name });
      this.track(info);
      return info;
    } catch (e) {
      // If it got as far as existing under our fresh name, it is ours to clean.
      const left = await this.runtime.inspect(name).catch(() => undefined);
      if (left) this.track(left);
      throw e;
    }
  }

  async cleanup(): Promise<void> {
    for (const id of [...this.ids]) {
      try {
        await this.runtime.remove(id, { force: true });
        this.ids.delete(id);
      } catch (e) {
        process.stderr.write(`cleanup: could not remove container ${id}: ${(e as Error).message}\n`);
      }
    }
  }
}
