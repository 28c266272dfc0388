// How Docker failures become stable codes, and where DockerRuntime looks for dockerd.
import assert from 'node:assert/strict';
import { toRuntimeError } from '../../src/runtime/docker-errors';
import { DockerRuntime } from '../../src/runtime/docker';
import type { ErrorCode } from '../../src/errors';

const socket = '/var/run/docker.sock';
function status(statusCode: number, message: string) {
  return Object.assign(new Error(`(HTTP code ${statusCode}) whatever - ${message} `), { statusCode, json: { message } });
}

describe('Docker errors', () => {
  const cases: [string, unknown, Record<string, string>, ErrorCode][] = [
    ['404 container', status(404, 'No such container: web1'), { ref: 'web1' }, 'NO_SUCH_CONTAINER'],
    ['404 image on create', status(404, 'No such image: nope:latest'), { image: 'nope', name: 'web1' }, 'NO_SUCH_IMAGE'],
    ['409 name in use', status(409, 'Conflict. The container name "/web1" is already in use by container "abc".'), { name: 'web1', image: 'x' }, 'NAME_TAKEN'],
    ['409 not running', status(409, 'Container abc is not running'), { ref: 'abc' }, 'CONTAINER_NOT_RUNNING'],
    ['409 paused', status(409, 'Container abc is paused, unpause the container before stopping or killing'), { ref: 'abc' }, 'CONTAINER_NOT_RUNNING'],
    ['409 other', status(409, 'You cannot remove a running container abc.'), { ref: 'abc' }, 'DOCKER_ERROR'],
    ['400 bad name', status(400, 'Invalid container name (a b), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed'), { name: 'a b', image: 'x' }, 'BAD_NAME'],
    ['500', status(500, 'driver failed'), { ref: 'x' }, 'DOCKER_ERROR'],
    ['ENOENT', Object.assign(new Error('connect ENOENT /x.sock'), { code: 'ENOENT' }), {}, 'DOCKER_UNREACHABLE'],
    ['ECONNREFUSED', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), {}, 'DOCKER_UNREACHABLE'],
    ['EACCES', Object.assign(new Error('connect EACCES'), { code: 'EACCES' }), {}, 'PERMISSION_DENIED'],
    ['timeout', new DOMException('The operation was aborted due to timeout', 'TimeoutError'), {}, 'DOCKER_UNREACHABLE'],
  ];
  for (const [what, err, ctx, code] of cases) {
    it(`${what} -> ${code}`, () => {
      const e = toRuntimeError(err, { op: 'do it', socket, timeoutMs: 1234, ...ctx });
      assert.equal(e.code, code, e.message);
      assert.equal(e.cause, err);
      assert.equal((e.detail as { op: string }).op, 'do it');
      const sc = (err as { statusCode?: number }).statusCode;
      if (sc) {
        assert.equal((e.detail as { statusCode: number }).statusCode, sc);
        assert.equal((e.detail as { message: string }).message, (err as { json: { message: string } }).json.message);
      }
    });
  }

  it('unreachable says how to start dockerd and which socket was tried; timeouts say how long', () => {
    const e = toRuntimeError(Object.assign(new Error('x'), { code: 'ENOENT' }), { op: 'ping dockerd', socket: '/run/x.sock' });
    assert.match(e.message, /dockerd/);
    assert.match(e.message, /DOCKER_HOST/);
    assert.match(e.message, /\/run\/x\.sock/);
    const t = toRuntimeError(new DOMException('t', 'TimeoutError'), { op: 'ping dockerd', socket, timeoutMs: 1234 });
    assert.match(t.message, /1234 ms/);
  });

  it('the image message says nothing is pulled', () => {
    const e = toRuntimeError(status(404, 'No such image: nope:latest'), { op: 'create container c1', socket, image: 'nope', name: 'c1' });
    assert.match(e.message, /does not pull/);
  });
});

describe('DockerRuntime endpoint', () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.DOCKER_HOST;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  });

  it('defaults to /var/run/docker.sock, follows DOCKER_HOST=unix://, and an explicit socketPath wins', () => {
    delete process.env.DOCKER_HOST;
    assert.equal(new DockerRuntime().endpoint, '/var/run/docker.sock');
    process.env.DOCKER_HOST = 'unix:///tmp/other/docker.sock';
    assert.equal(new DockerRuntime().endpoint, '/tmp/other/docker.sock');
    assert.equal(new DockerRuntime({ socketPath: '/run/mine.sock' }).endpoint, '/run/mine.sock');
    process.env.DOCKER_HOST = 'tcp://127.0.0.1:2375';
    assert.equal(new DockerRuntime().endpoint, 'tcp://127.0.0.1:2375');
  });
});
