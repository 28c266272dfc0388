// Podman 4.3 with its CNI backend and a private configuration, for the CNI plugin tests. Nothing
// system-wide is edited: CONTAINERS_CONF and CONTAINERS_STORAGE_CONF point at a temp dir that
// holds the storage, the run dir and net.d. The fixes this VM needs: runc (crun refuses the hybrid
// cgroup layout), default_ulimits we may set (no CAP_SYS_RESOURCE), cgroupfs and a file events
// logger (no systemd, no journald), and a default network of our own so podman's built-in bridge
// network is never used. Podman also writes a few paths outside the private dirs; `remove()`
// deletes those only if they did not exist before.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh } from './env';

const OUTSIDE = ['/var/lib/cni', '/var/lib/containers', '/dev/shm/libpod_lock'];

export interface PodmanEnv {
  root: string;
  netDir: string;
  image: string;
  podman(args: string[], o?: { allowFail?: boolean; timeoutMs?: number; input?: string }): Promise<{ code: number; stdout: string; stderr: string }>;
  remove(): Promise<void>;
}

export function havePodman(): boolean {
  return existsSync('/usr/bin/podman') && existsSync('/usr/sbin/runc') && existsSync('/usr/bin/busybox');
}

function cgroupParents(): string[] {
  try {
    return readdirSync('/sys/fs/cgroup')
      .map((c) => `/sys/fs/cgroup/${c}/libpod_parent`)
      .filter((p) => existsSync(p));
  } catch {
    return [];
  }
}

export async function startPodman(cniPath: string, defaultNetwork: string): Promise<PodmanEnv> {
  const root = mkdtempSync(join(tmpdir(), 'ecdock-podman-'));
  try {
    return await setUp(root, cniPath, defaultNetwork);
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
}

async function setUp(root: string, cniPath: string, defaultNetwork: string): Promise<PodmanEnv> {
  const existed = new Set([...OUTSIDE, ...cgroupParents()].filter((p) => existsSync(p)));
  const netDir = join(root, 'net.d');
  mkdirSync(netDir);
  mkdirSync(join(root, 'tmp'));
  const nofile = (await sh('bash', ['-c', 'ulimit -Hn'])).stdout.trim();
  const nprocHard = (await sh('bash', ['-c', 'ulimit -Hu'])).stdout.trim();
  const nproc = nprocHard === 'unlimited' ? 32768 : Math.min(Number(nprocHard), 32768);
  writeFileSync(
    join(root, 'containers.conf'),
    [
      '[containers]',
      `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
      '[network]',
      'network_backend = "cni"',
      `cni_plugin_dirs = [${cniPath.split(':').map((d) => JSON.stringify(d)).join(', ')}]`,
      `network_config_dir = "${netDir}"`,
      `default_network = "${defaultNetwork}"`,
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `tmp_dir = "${join(root, 'tmp')}"`,
      'runtime = "runc"',
      '',
    ].join('\n'),
  );
  writeFileSync(join(root, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${join(root, 'storage')}"\nrunroot = "${join(root, 'run')}"\n`);
  const env = { ...process.env, CONTAINERS_CONF: join(root, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(root, 'storage.conf') };
  const podman: PodmanEnv['podman'] = (args, o = {}) =>
    new Promise((resolve, reject) => {
      const child = execFile('podman', args, { env, timeout: o.timeoutMs ?? 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        if (err && !o.allowFail) reject(new Error(`podman ${args.join(' ')} exited ${code}: ${stderr || err.message}`));
        else resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(o.input ?? '');
    });

  // A busybox image from busybox-static, with a page for httpd.
  const rootfs = join(root, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  mkdirSync(join(rootfs, 'www'));
  await sh('cp', ['/bin/busybox', join(rootfs, 'bin', 'busybox')]);
  for (const tool of ['sh', 'httpd', 'sleep', 'ip', 'cat']) symlinkSync('busybox', join(rootfs, 'bin', tool));
  writeFileSync(join(rootfs, 'www', 'index.html'), 'hello from an ecdock slot\n');
  const image = `ecdock-test/busybox-${root.slice(-6).toLowerCase()}`;
  await sh('sh', ['-c', `tar -C '${rootfs}' -c . | CONTAINERS_CONF='${env.CONTAINERS_CONF}' CONTAINERS_STORAGE_CONF='${env.CONTAINERS_STORAGE_CONF}' podman import - ${image}`], { timeoutMs: 120_000 });

  return {
    root,
    netDir,
    image,
    podman,
    async remove() {
      await podman(['rm', '-a', '-f', '-t', '0'], { allowFail: true });
      await podman(['rmi', '-a', '-f'], { allowFail: true });
      // c/storage leaves its overlay mounts; unmount what lies under our root, deepest first.
      const mounts = (await sh('findmnt', ['-rn', '-o', 'TARGET'], { allowFail: true })).stdout
        .split('\n')
        .filter((m) => m.startsWith(root))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) await sh('umount', ['-l', m], { allowFail: true });
      rmSync(root, { recursive: true, force: true });
      for (const p of [...OUTSIDE, ...cgroupParents()]) {
        if (existed.has(p)) continue;
        if (p.startsWith('/sys/')) await sh('find', [p, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';'], { allowFail: true });
        else rmSync(p, { recursive: true, force: true });
      }
    },
  };
}
