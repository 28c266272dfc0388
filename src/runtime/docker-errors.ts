// Turns what dockerode throws (HTTP status errors from docker-modem, socket errors from node:net,
// aborts from our own deadlines) into RuntimeErrors with stable codes. Docker's own message is kept
// in `detail` so that nothing is lost for whoever debugs.
import { RuntimeError, UsageError, type EcdockError } from '../errors';

/** Where the failure happened, to word the message and pick between container and image. */
export interface DockerErrorContext {
  /** What we were doing, e.g. 'create container web1'. */
  op: string;
  socket: string;
  ref?: string;
  image?: string;
  name?: string;
  timeoutMs?: number;
}

export interface DockerErrorDetail {
  op: string;
  socket: string;
  statusCode?: number;
  /** Docker's message, e.g. "No such container: web1". */
  message?: string;
  /** errno code for socket failures (ECONNREFUSED, ENOENT, EACCES...). */
  errno?: string;
}

interface ModemError {
  statusCode?: number;
  code?: string;
  name?: string;
  message?: string;
  json?: unknown;
}

/** Docker's message from a docker-modem status error, without modem's "(HTTP code N) reason -" prefix. */
export function dockerMessage(e: unknown): string | undefined {
  const err = (e ?? {}) as ModemError;
  const j = err.json as { message?: unknown } | string | undefined | null;
  if (j && typeof j === 'object' && typeof j.message === 'string') return j.message.trim();
  if (typeof j === 'string' && j.trim()) return j.trim();
  if (Buffer.isBuffer(j)) return j.toString('utf8').trim() || undefined;
  return typeof err.message === 'string' ? err.message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim() : undefined;
}

export function isStatus(e: unknown, status: number): boolean {
  return typeof e === 'object' && e !== null && (e as ModemError).statusCode === status;
}

export function unreachableHint(socket: string): string {
  return (
    `is dockerd running? Start it (\`systemctl start docker\`, or \`dockerd &\` as root) ` +
    `or point DOCKER_HOST (unix:///path/to/docker.sock) at the socket it listens on`
  ) + (socket ? ` (tried ${socket})` : '');
}

export function toRuntimeError(e: unknown, ctx: DockerErrorContext): EcdockError {
  if (e instanceof RuntimeError || e instanceof UsageError) return e;
  const err = (e ?? {}) as ModemError;
  const detail: DockerErrorDetail = { op: ctx.op, socket: ctx.socket };
  const msg = dockerMessage(e);
  if (msg) detail.message = msg;
  const opts = { detail, cause: e };

  if (typeof err.statusCode === 'number') {
    detail.statusCode = err.statusCode;
    const m = (msg ?? '').toLowerCase();
    switch (err.statusCode) {
      case 400:
        if (ctx.name !== undefined && m.includes('invalid container name')) {
          return new UsageError('BAD_NAME', `${ctx.op}: '${ctx.name}' is not a valid container name (letters, digits, '_', '.', '-'; first a letter or digit)`, opts);
        }
        return new RuntimeError('DOCKER_ERROR', `${ctx.op}: dockerd refused the request: ${msg ?? 'bad parameter'}`, opts);
      case 404:
        if (ctx.image !== undefined && (m.includes('image') || ctx.ref === undefined)) return noSuchImage(ctx.image, ctx.op, opts);
        return new RuntimeError('NO_SUCH_CONTAINER', `${ctx.op}: no container named or with id '${ctx.ref ?? ctx.name ?? '?'}'`, opts);
      case 409:
        if (m.includes('is already in use') || m.includes('conflict. the container name')) {
          return new RuntimeError('NAME_TAKEN', `${ctx.op}: the container name '${ctx.name ?? ctx.ref ?? '?'}' is already in use: remove that container or choose another name`, opts);
        }
        if (m.includes('is not running') || m.includes('is paused') || m.includes('stopped') || m.includes('is restarting')) {
          return new RuntimeError('CONTAINER_NOT_RUNNING', `${ctx.op}: container '${ctx.ref ?? '?'}' is not running`, opts);
        }
        return new RuntimeError('DOCKER_ERROR', `${ctx.op}: conflict: ${msg ?? 'unknown'}`, opts);
      default:
        return new RuntimeError('DOCKER_ERROR', `${ctx.op}: dockerd answered ${err.statusCode}: ${msg ?? 'unknown error'}`, opts);
    }
  }

  if (err.name === 'AbortError' || err.name === 'TimeoutError' || err.code === 'ABORT_ERR') {
    return new RuntimeError(
      'DOCKER_UNREACHABLE',
      `${ctx.op}: dockerd did not answer within ${ctx.timeoutMs ?? '?'} ms; ${unreachableHint(ctx.socket)}`,
      opts,
    );
  }
  if (typeof err.code === 'string') {
    detail.errno = err.code;
    switch (err.code) {
      case 'EACCES':
      case 'EPERM':
        return new RuntimeError(
          'PERMISSION_DENIED',
          `${ctx.op}: permission denied on the Docker socket ${ctx.socket}: run as root or as a member of the 'docker' group`,
          opts,
        );
      case 'ENOENT':
      case 'ECONNREFUSED':
      case 'ENOTSOCK':
      case 'ECONNRESET':
      case 'EPIPE':
      case 'EHOSTUNREACH':
      case 'ETIMEDOUT':
        return new RuntimeError('DOCKER_UNREACHABLE', `${ctx.op}: cannot reach dockerd (${err.code}); ${unreachableHint(ctx.socket)}`, opts);
    }
  }
  return new RuntimeError('DOCKER_ERROR', `${ctx.op}: ${msg ?? String(e)}`, opts);
}

export function noSuchImage(image: string, op: string, opts: { detail?: unknown; cause?: unknown } = {}): RuntimeError {
  return new RuntimeError(
    'NO_SUCH_IMAGE',
    `${op}: image '${image}' is not in dockerd's image store, and ecdock does not pull images (no registry is assumed): ` +
      `load it first with \`docker pull\`, \`docker load\` or \`docker import\``,
    opts,
  );
}
