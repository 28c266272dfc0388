// A tiny image for demos and tests on hosts without a registry: the static busybox from Debian's
// busybox-static, with symlinks for the applets a network test needs, imported through the API.
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { RuntimeError } from '../errors';
import type { DockerRuntime } from './docker';
import { TarWriter } from './tar';

export const BUSYBOX_BINARY = '/usr/bin/busybox';
export const DEFAULT_BUSYBOX_IMAGE = 'ecdock-busybox:latest';

// Linked into /bin. An applet this busybox build lacks just answers "applet not found".
const APPLETS = [
  'sh', 'ash', 'cat', 'echo', 'sleep', 'ls', 'ps', 'hostname', 'ip', 'ifconfig', 'route', 'ping', 'ping6', 'arping',
  'udhcpc', 'nc', 'wget', 'stty', 'true', 'false', 'env', 'id', 'mkdir', 'rm', 'cp', 'mv', 'grep', 'sed', 'awk',
  'head', 'tail', 'wc', 'kill', 'top', 'uname', 'date', 'test', '[', 'printf', 'touch', 'tee', 'which', 'mount',
  'sysctl', 'ln', 'chmod', 'vi', 'less', 'more', 'traceroute', 'nslookup', 'tr', 'cut', 'sort', 'uniq', 'xargs',
  'find', 'tty', 'reset', 'clear', 'seq', 'yes', 'timeout', 'watch', 'netstat', 'dmesg',
];

/** The rootfs as a tar: /bin/busybox, applet links, an /etc/passwd for root, the usual empty dirs. */
export async function busyboxRootfsTar(binary = BUSYBOX_BINARY): Promise<Buffer> {
  let busybox: Buffer;
  try {
    busybox = await readFile(binary);
  } catch (e) {
    throw new RuntimeError('NO_SUCH_IMAGE', `cannot build the busybox image: ${binary} is missing; install busybox-static (apt-get install busybox-static)`, {
      cause: e,
      detail: { binary },
    });
  }
  const tar = new TarWriter();
  for (const d of ['bin', 'etc', 'dev', 'proc', 'sys', 'root', 'var', 'run']) tar.dir(d, 0o755);
  tar.dir('tmp', 0o1777);
  tar.file('bin/busybox', busybox, 0o755);
  for (const a of APPLETS) tar.symlink(`bin/${a}`, 'busybox');
  tar.file('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\n'));
  tar.file('etc/group', Buffer.from('root:x:0:\n'));
  return tar.finish();
}

/** Makes sure `tag` exists, importing the busybox rootfs if it does not. Returns the tag. */
export async function ensureBusyboxImage(runtime: DockerRuntime, tag = DEFAULT_BUSYBOX_IMAGE, binary = BUSYBOX_BINARY): Promise<string> {
  if (await runtime.imageExists(tag)) return tag;
  await runtime.importImage(Readable.from([await busyboxRootfsTar(binary)]), { tag, changes: ['CMD ["/bin/sh"]', 'ENV PATH=/bin'] });
  if (!(await runtime.imageExists(tag))) throw new RuntimeError('DOCKER_ERROR', `imported ${tag}, but dockerd does not list it`);
  return tag;
}
