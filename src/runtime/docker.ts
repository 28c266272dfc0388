// Docker as ecdock's container runtime, over the Engine API (dockerode) and nothing else: no docker
// CLI, no child processes. Containers are created with network mode 'none' because ecdock gives
// them their network; images are never pulled, since ecdock assumes no registry.
import type { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { RuntimeError, UsageError } from '../errors';
import { DEFAULT_DETACH_KEYS, parseDetachKeys, runAttachSession, type AttachOptions, type AttachResult } from './attach';
import { ContainerEvents, type ContainerEventsOptions, type EventConnection } from './container-events';
import { CONTAINER_EVENT_ACTIONS, type ContainerInfo, type ContainerRuntime } from './container-runtime';
import { isStatus, noSuchImage, toRuntimeError, type DockerErrorContext } from './docker-errors';
import { toInfo, type InspectData } from './docker-inspect';
import { checkImage, checkName, checkRef, labelFilter } from './docker-names';
import type { ContainerEventsFilter, CreateContainerOptions, DockerRuntimeOptions, ListContainersOptions } from './docker-options';

export type { ContainerEventsFilter, CreateContainerOptions, DockerRuntimeOptions, ListContainersOptions } from './docker-options';

// dockerode (and the gRPC stack it pulls in) costs ~100 ms to load: only users of Docker pay it.
function loadDockerode(): typeof Dockerode {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('dockerode') as typeof Dockerode;
}

const INSPECT_CONCURRENCY = 16;

/**
 * Docker, through its API on DOCKER_HOST or /var/run/docker.sock (dockerode, loaded on first use):
 * what ecdock needs to run containers in slots and follow them. Images are never pulled.
 *
 * @example
 * ```ts
 * const docker = new DockerRuntime();
 * const c = await docker.resolve('web');   // a running container by name or id
 * console.log(c.pid);
 * ```
 */
export class DockerRuntime implements ContainerRuntime {
  readonly kind = 'docker';
  /** Where dockerd is expected: a socket path, or DOCKER_HOST when it is not a unix socket. */
  readonly endpoint: string;
  readonly timeoutMs: number;
  private client?: Dockerode;
  private readonly makeClient: () => Dockerode;

  constructor(opts: DockerRuntimeOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const host = process.env.DOCKER_HOST;
    if (opts.socketPath !== undefined) {
      this.endpoint = opts.socketPath;
      const socketPath = opts.socketPath;
      this.makeClient = () => new (loadDockerode())({ socketPath });
    } else if (host && !host.startsWith('unix://')) {
      // tcp:// or ssh://: dockerode reads DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) itself.
      this.endpoint = host;
      try {
        // Made now, not on first use: a malformed DOCKER_HOST is a usage error of the constructor.
        const client = new (loadDockerode())();
        this.makeClient = () => client;
      } catch (e) {
        throw new UsageError('BAD_URL', `DOCKER_HOST='${host}' is not a Docker address (unix:///path, tcp://host:port)`, { cause: e });
      }
    } else {
      this.endpoint = (host && host.slice('unix://'.length)) || '/var/run/docker.sock';
      const socketPath = this.endpoint;
      this.makeClient = () => new (loadDockerode())({ socketPath });
    }
  }

  /** The Engine API client, made on first use: a runtime that is never asked anything costs nothing to load. */
  private get docker(): Dockerode {
    this.client ??= this.makeClient();
    return this.client;
  }

  /** Resolves when dockerd answers; DOCKER_UNREACHABLE (or PERMISSION_DENIED) otherwise. */
  async ping(): Promise<void> {
    await this.call({ op: 'ping dockerd' }, (signal) => (this.docker.ping as (o: object) => Promise<unknown>).call(this.docker, { abortSignal: signal }));
  }

  /** The container with this name or id, or undefined. */
  async inspect(ref: string): Promise<ContainerInfo | undefined> {
    ref = checkRef(ref);
    try {
      const data = await this.call({ op: `inspect container ${ref}`, ref }, (signal) =>
        this.docker.getContainer(ref).inspect({ abortSignal: signal }),
      );
      return toInfo(data as unknown as InspectData);
    } catch (e) {
      if (e instanceof RuntimeError && e.code === 'NO_SUCH_CONTAINER') return undefined;
      throw e;
    }
  }

  /** A running container: NO_SUCH_CONTAINER when missing, CONTAINER_NOT_RUNNING without a process. */
  async resolve(ref: string): Promise<ContainerInfo> {
    const info = await this.mustInspect(ref, `find container ${ref}`);
    if (!info.running || info.pid <= 0) {
      throw new RuntimeError('CONTAINER_NOT_RUNNING', `container '${info.name}' is ${info.state}, not running: start it first`, {
        detail: { id: info.id, state: info.state },
      });
    }
    return info;
  }

  /** Whether the image is present locally. */
  async imageExists(image: string): Promise<boolean> {
    checkImage(image);
    try {
      await this.call({ op: `inspect image ${image}`, image }, () => this.docker.getImage(image).inspect());
      return true;
    } catch (e) {
      if (e instanceof RuntimeError && e.code === 'NO_SUCH_IMAGE') return false;
      throw e;
    }
  }

  /**
   * Imports a root filesystem (a tar stream, like `docker import`) as image `tag`. `changes` are
   * Dockerfile instructions applied to it, e.g. ['CMD ["/bin/sh"]', 'ENV PATH=/bin'].
   */
  async importImage(tar: NodeJS.ReadableStream, o: { tag: string; changes?: string[]; timeoutMs?: number }): Promise<void> {
    checkImage(o.tag);
    const at = o.tag.lastIndexOf(':');
    const [repo, tag] = at > o.tag.lastIndexOf('/') && at > 0 ? [o.tag.slice(0, at), o.tag.slice(at + 1)] : [o.tag, 'latest'];
    const op = `import image ${o.tag}`;
    const timeoutMs = o.timeoutMs ?? Math.max(this.timeoutMs, 120_000);
    const progress = await this.call(
      { op, image: o.tag },
      async (signal) => {
        const stream = (await this.docker.importImage(tar, { repo, tag, changes: o.changes ?? [], abortSignal: signal } as object)) as NodeJS.ReadableStream;
        // dockerd reports import failures inside its progress stream, with status 200.
        return await new Promise<string>((resolve, reject) => {
          let text = '';
          stream.on('data', (c: Buffer) => (text += c.toString()));
          stream.on('end', () => resolve(text));
          stream.on('error', reject);
        });
      },
      timeoutMs,
    );
    const failure = progress
      .split('\n')
      .map((l) => {
        try {
          return JSON.parse(l) as { error?: string; errorDetail?: { message?: string } };
        } catch {
          return undefined;
        }
      })
      .find((m) => m?.error);
    if (failure) {
      throw new RuntimeError('DOCKER_ERROR', `${op}: dockerd could not import it: ${failure.error}`, {
        detail: { op, socket: this.endpoint, message: failure.errorDetail?.message ?? failure.error },
      });
    }
  }

  /** Creates (does not start) a container with no network of its own. */
  async create(o: CreateContainerOptions): Promise<ContainerInfo> {
    checkName(o.name);
    checkImage(o.image);
    const body: Record<string, unknown> = {
      Image: o.image,
      Tty: o.tty ?? true,
      OpenStdin: o.openStdin ?? true,
      StdinOnce: false,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Labels: { ...(o.labels ?? {}) },
      HostConfig: {
        NetworkMode: 'none',
        ...(o.privileged ? { Privileged: true } : {}),
        ...(o.sysctls ? { Sysctls: { ...o.sysctls } } : {}),
      },
    };
    if (o.args && o.args.length) body.Cmd = [...o.args];
    if (o.hostname !== undefined) body.Hostname = o.hostname;
    if (o.env) body.Env = [...o.env];
    const ctx: DockerErrorContext = { op: `create container ${o.name}`, name: o.name, image: o.image, socket: this.endpoint };
    const created = await this.call(ctx, (signal) =>
      this.docker.createContainer({ _query: { name: o.name }, _body: body, abortSignal: signal } as unknown as Dockerode.ContainerCreateOptions),
    ).catch((e: unknown) => {
      // dockerd answers 404 "No such image" here; no pull is attempted.
      if (e instanceof RuntimeError && e.code === 'NO_SUCH_CONTAINER') throw noSuchImage(o.image, ctx.op, { detail: e.detail, cause: e });
      throw e;
    });
    return this.mustInspect(created.id, ctx.op);
  }

  /** Starts a created or stopped container; returns its info with the pid. Already running is fine. */
  async start(ref: string): Promise<ContainerInfo> {
    ref = checkRef(ref);
    await this.call({ op: `start container ${ref}`, ref }, (signal) => this.docker.getContainer(ref).start({ abortSignal: signal })).catch(
      (e: unknown) => {
        if (!isStatus((e as RuntimeError).cause, 304)) throw e;
      },
    );
    return this.mustInspect(ref, `start container ${ref}`);
  }

  /** create + start; the created container is removed again if it cannot be started. */
  async run(o: CreateContainerOptions): Promise<ContainerInfo> {
    const created = await this.create(o);
    try {
      return await this.start(created.id);
    } catch (e) {
      await this.remove(created.id, { force: true }).catch(() => undefined);
      throw e;
    }
  }

  /** Stops a container (SIGTERM, then SIGKILL after timeoutS, default 10). Already stopped is fine. */
  async stop(ref: string, o: { timeoutS?: number } = {}): Promise<void> {
    ref = checkRef(ref);
    const t = o.timeoutS;
    const graceMs = (t ?? 10) * 1000;
    await this.call(
      { op: `stop container ${ref}`, ref },
      (signal) => this.docker.getContainer(ref).stop({ ...(t !== undefined ? { t } : {}), abortSignal: signal }),
      this.timeoutMs + graceMs,
    ).catch((e: unknown) => {
      if (!isStatus((e as RuntimeError).cause, 304)) throw e;
    });
  }

  /** Sends a signal (default SIGKILL). CONTAINER_NOT_RUNNING if it is not running. */
  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    ref = checkRef(ref);
    await this.call({ op: `kill container ${ref}`, ref }, (abortSignal) => this.docker.getContainer(ref).kill({ signal, abortSignal }));
  }

  /** Stops (if running) and starts again; returns the new info (new pid). */
  async restart(ref: string, o: { timeoutS?: number } = {}): Promise<ContainerInfo> {
    ref = checkRef(ref);
    const t = o.timeoutS;
    await this.call(
      { op: `restart container ${ref}`, ref },
      (signal) => this.docker.getContainer(ref).restart({ ...(t !== undefined ? { t } : {}), abortSignal: signal }),
      this.timeoutMs + (t ?? 10) * 1000,
    );
    return this.mustInspect(ref, `restart container ${ref}`);
  }

  /** Removes a container (and its anonymous volumes). False if there was none. force: kill it first if running. */
  async remove(ref: string, o: { force?: boolean } = {}): Promise<boolean> {
    ref = checkRef(ref);
    try {
      await this.call({ op: `remove container ${ref}`, ref }, (signal) =>
        this.docker.getContainer(ref).remove({ force: o.force ?? false, v: true, abortSignal: signal }),
      );
      return true;
    } catch (e) {
      if (e instanceof RuntimeError && e.code === 'NO_SUCH_CONTAINER') return false;
      // Someone else is removing it already: the outcome is the same.
      if (e instanceof RuntimeError && /already in progress/i.test(String((e.detail as { message?: string } | undefined)?.message))) return true;
      throw e;
    }
  }

  /** Containers, optionally only those with all the given labels; running ones unless all: true. */
  async list(o: ListContainersOptions = {}): Promise<ContainerInfo[]> {
    const filters: Record<string, string[]> = {};
    const labels = labelFilter(o.labels);
    if (labels.length) filters.label = labels;
    const summaries = await this.call({ op: 'list containers' }, (signal) =>
      this.docker.listContainers({ all: o.all ?? false, filters, abortSignal: signal }),
    );
    const infos = await mapLimit(summaries, INSPECT_CONCURRENCY, (s) => this.inspect(s.Id));
    return infos.filter((i): i is ContainerInfo => i !== undefined);
  }

  /**
   * Container lifecycle events (create, start, restart, die, kill, stop, destroy, pause, unpause).
   * The stream reconnects by itself when dockerd goes away and resumes from the last event; see
   * ContainerEvents. Call close() when done.
   */
  events(o: ContainerEventsFilter = {}): ContainerEvents {
    const filters: Record<string, string[]> = {
      type: ['container'],
      event: [...(o.actions ?? CONTAINER_EVENT_ACTIONS)],
    };
    const labels = labelFilter(o.labels);
    if (labels.length) filters.label = labels;
    const connect = async (since: string | undefined, signal: AbortSignal): Promise<EventConnection> => {
      // Only the wait for the response is bounded; the stream itself may stay quiet for hours.
      const ac = new AbortController();
      const onAbort = () => ac.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => ac.abort(new DOMException('timeout', 'TimeoutError')), this.timeoutMs);
      try {
        const res = (await this.docker.getEvents({
          filters,
          ...(since !== undefined ? { since } : {}),
          abortSignal: ac.signal,
        } as unknown as Parameters<Dockerode['getEvents']>[0])) as unknown as NodeJS.ReadableStream & { headers?: Record<string, string> };
        const date = res.headers?.date;
        return date ? { stream: res, serverDate: new Date(date) } : { stream: res };
      } catch (e) {
        throw toRuntimeError(e, { op: 'follow container events', socket: this.endpoint, timeoutMs: this.timeoutMs });
      } finally {
        clearTimeout(timer);
      }
    };
    const opts: ContainerEventsOptions = {};
    if (o.minDelayMs !== undefined) opts.minDelayMs = o.minDelayMs;
    if (o.maxDelayMs !== undefined) opts.maxDelayMs = o.maxDelayMs;
    if (o.maxAttempts !== undefined) opts.maxAttempts = o.maxAttempts;
    return new ContainerEvents(connect, opts);
  }

  /**
   * Gives a terminal to a running container like `docker attach`: resolves { detached: true } when
   * the detach keys are typed (the container keeps running) or { detached: false, exitCode } when
   * the container exits. stdin is put in raw mode while attached (when it is a TTY) and restored.
   */
  async attach(ref: string, o: AttachOptions): Promise<AttachResult> {
    const keysSpec = o.detachKeys === undefined || o.detachKeys === '' ? DEFAULT_DETACH_KEYS : o.detachKeys;
    const detachKeys = parseDetachKeys(keysSpec);
    const info = await this.mustInspect(ref, `attach to container ${ref}`);
    if (!info.running) {
      throw new RuntimeError('CONTAINER_NOT_RUNNING', `cannot attach to container '${info.name}': it is ${info.state}; start it first`, {
        detail: { id: info.id, state: info.state },
      });
    }
    const container = this.docker.getContainer(info.id);
    const socket = (await this.call({ op: `attach to container ${info.name}`, ref }, (signal) =>
      container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true, detachKeys: keysSpec, abortSignal: signal }),
    )) as unknown as Duplex;
    return runAttachSession(
      {
        socket,
        tty: info.tty,
        detachKeys,
        resize: (rows, cols) => container.resize({ h: rows, w: cols, abortSignal: AbortSignal.timeout(this.timeoutMs) } as object),
        exitCode: () => this.exitCodeAfterStreamEnd(info.id),
      },
      o,
    );
  }

  /** After an attach stream ends without a detach: the exit code, or undefined if it still runs. */
  private async exitCodeAfterStreamEnd(id: string): Promise<number | undefined> {
    // dockerd may close the stream a moment before it records the exit: give it that moment.
    const deadline = Date.now() + 3000;
    for (;;) {
      const info = await this.inspect(id);
      if (!info) return undefined;
      if (!info.running) return info.exitCode;
      if (Date.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async mustInspect(ref: string, op: string): Promise<ContainerInfo> {
    const info = await this.inspect(ref);
    if (!info) throw new RuntimeError('NO_SUCH_CONTAINER', `${op}: no container named or with id '${ref}'`, { detail: { ref } });
    return info;
  }

  /** One API request with a deadline; errors become RuntimeErrors. */
  private async call<T>(ctx: Omit<DockerErrorContext, 'socket'>, fn: (signal: AbortSignal) => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    // The signal cancels the request where dockerode passes it on; the race keeps the deadline where it does not.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const e = new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError');
        ac.abort(e);
        reject(e);
      }, timeoutMs);
    });
    try {
      return await Promise.race([fn(ac.signal), deadline]);
    } catch (e) {
      throw toRuntimeError(e, { ...ctx, socket: this.endpoint, timeoutMs });
    } finally {
      clearTimeout(timer);
    }
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
