// Docker for tests: skip when dockerd is not there (fail under ECDOCK_REQUIRE_DOCKER=1), a tiny
// busybox image imported from Debian's busybox-static (there is no registry to pull from), and a
// tracker that force-removes, by id, every container a test created — even when the test fails.
import { DockerRuntime } from '../../src/runtime/docker';
import { ensureBusyboxImage as ensureImage } from '../../src/runtime/busybox-image';
import type { ContainerInfo, CreateContainerOptions } from '../../src/runtime';
import { uniqueName } from './env';

export const BUSYBOX_IMAGE = 'ecdock-busybox:latest';

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

/**
 * Makes sure `tag` exists: a rootfs of /usr/bin/busybox plus applet symlinks, imported through the
 * Engine API from a tar built in memory. Idempotent: does nothing when the image is already there.
 */
export async function ensureBusyboxImage(tag = BUSYBOX_IMAGE, runtime = new DockerRuntime()): Promise<string> {
  return ensureImage(runtime, tag);
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
