// ContainerEvents against a fake dockerd on a unix socket: resuming with `since` after a drop,
// dropping replayed events, retrying with backoff while the socket is gone, refusing to retry a
// request the server rejected, and closing cleanly. No root and no Docker needed.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerRuntime } from '../../src/runtime/docker';
import { decodeDockerEvent, formatSince, type ReconnectInfo } from '../../src/runtime/container-events';
import type { ContainerEvent } from '../../src/runtime';
import { isEcdockError, type EcdockError } from '../../src/errors';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

class FakeDockerd {
  readonly socketPath: string;
  readonly requests: URL[] = [];
  private server?: Server;
  private readonly dir: string;
  private readonly open = new Set<ServerResponse>();

  constructor(private readonly onEvents: Handler) {
    this.dir = mkdtempSync(join(tmpdir(), 'ecdock-fake-dockerd-'));
    this.socketPath = join(this.dir, 'docker.sock');
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://docker');
      if (url.pathname.endsWith('/events')) {
        this.requests.push(url);
        this.open.add(res);
        res.on('close', () => this.open.delete(res));
        this.onEvents(req, res, this.requests.length);
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"page not found"}');
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(this.socketPath, resolve));
  }

  /** Stops listening and cuts every open stream, like a dockerd that dies. */
  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  get openStreams(): number {
    return this.open.size;
  }
}

/** A Docker events line, with timeNano written as the big integer dockerd writes. */
function line(action: string, id: string, timeNano: bigint, attrs: Record<string, string> = {}): string {
  const body = JSON.stringify({
    status: action,
    id,
    from: 'busybox',
    Type: 'container',
    Action: action,
    Actor: { ID: id, Attributes: { name: `c-${id}`, image: 'busybox', ...attrs } },
    scope: 'local',
    time: Number(timeNano / 1_000_000_000n),
    timeNano: 0,
  });
  return body.replace('"timeNano":0', `"timeNano":${timeNano}`) + '\n';
}

function collect(n: number, events: AsyncIterable<ContainerEvent>, ms = 5000): Promise<ContainerEvent[]> {
  return new Promise((resolve, reject) => {
    const got: ContainerEvent[] = [];
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${n} events in ${ms} ms`)), ms);
    (async () => {
      for await (const ev of events) {
        got.push(ev);
        if (got.length === n) break;
      }
      clearTimeout(timer);
      resolve(got);
    })().catch(reject);
  });
}

const T1 = 1_700_000_000_123_456_789n;
const T2 = 1_700_000_001_000_000_001n;
const T3 = 1_700_000_002_999_999_999n;

describe('ContainerEvents (fake dockerd)', function () {
  this.timeout(10_000);
  let fake: FakeDockerd | undefined;
  afterEach(async () => {
    await fake?.dispose();
    fake = undefined;
  });

  it('asks dockerd to filter by type, action and label', async () => {
    fake = new FakeDockerd((_req, res) => res.writeHead(200).write(''));
    await fake.start();
    const events = new DockerRuntime({ socketPath: fake.socketPath }).events({ labels: { 'ecdock.vswitch': 'ovs0' }, actions: ['start', 'die'] });
    try {
      await events.ready();
      const filters = JSON.parse(fake.requests[0]!.searchParams.get('filters')!);
      assert.deepEqual(filters, { type: ['container'], event: ['start', 'die'], label: ['ecdock.vswitch=ovs0'] });
      assert.equal(fake.requests[0]!.searchParams.get('since'), null, 'the first connection starts from now');
    } finally {
      events.close();
    }
  });

  it('resumes with `since` = the last event (to the nanosecond) and drops the replayed one', async () => {
    fake = new FakeDockerd((_req, res, n) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (n === 1) {
        res.write(line('start', 'a', T1, { 'ecdock.slot': '1' }));
        res.end(line('die', 'a', T2, { exitCode: '137', 'ecdock.slot': '1' }));
      } else {
        // `since` is inclusive: dockerd sends the last event again.
        res.write(line('die', 'a', T2, { exitCode: '137', 'ecdock.slot': '1' }));
        res.write(line('destroy', 'a', T3, { 'ecdock.slot': '1' }));
      }
    });
    await fake.start();
    const events = new DockerRuntime({ socketPath: fake.socketPath }).events({ minDelayMs: 10 });
    const reconnects: ReconnectInfo[] = [];
    events.on('reconnect', (info) => reconnects.push(info));
    try {
      const got = await collect(3, events);
      assert.deepEqual(
        got.map((e) => [e.action, e.timeNano]),
        [
          ['start', T1.toString()],
          ['die', T2.toString()],
          ['destroy', T3.toString()],
        ],
      );
      assert.equal(fake.requests[1]!.searchParams.get('since'), '1700000001.000000001');
      assert.equal(reconnects.length, 1);
      assert.equal(reconnects[0]!.attempt, 1);
      assert.equal(reconnects[0]!.since, '1700000001.000000001');
      assert.equal(got[1]!.exitCode, 137);
      assert.deepEqual(got[0]!.labels, { 'ecdock.slot': '1' });
      assert.equal(got[0]!.name, 'c-a');
      assert.equal(got[0]!.time.getTime(), 1_700_000_000_123);
      assert.equal(events.isClosed, true, 'breaking out of for-await closes the stream');
    } finally {
      events.close();
    }
  });

  it('before any event, resumes from the server clock of the first connection', async () => {
    fake = new FakeDockerd((_req, res, n) => {
      res.sendDate = false;
      res.writeHead(200, { date: 'Tue, 14 Nov 2023 22:13:20 GMT' });
      if (n === 1) res.end();
      else res.write('');
    });
    await fake.start();
    const events = new DockerRuntime({ socketPath: fake.socketPath }).events({ minDelayMs: 10 });
    try {
      await new Promise((resolve) => events.once('reconnect', resolve));
      await new Promise<void>((resolve) => events.once('connect', () => resolve()));
      assert.equal(fake.requests[1]!.searchParams.get('since'), '1700000000.000000000');
    } finally {
      events.close();
    }
  });

  it('retries with growing delays while dockerd is gone, then carries on', async () => {
    let n = 0;
    fake = new FakeDockerd((_req, res) => {
      res.writeHead(200);
      res.write(line('start', `x${++n}`, T1 + BigInt(n)));
    });
    const events = new DockerRuntime({ socketPath: fake.socketPath }).events({ minDelayMs: 10, maxDelayMs: 40 });
    const reconnects: ReconnectInfo[] = [];
    events.on('reconnect', (info) => reconnects.push(info));
    try {
      while (reconnects.length < 4) await new Promise((r) => setTimeout(r, 10));
      assert.ok(reconnects.every((r) => r.error && isEcdockError(r.error, 'DOCKER_UNREACHABLE')), 'socket absent: DOCKER_UNREACHABLE');
      assert.deepEqual(
        reconnects.slice(0, 4).map((r) => [r.attempt, r.delayMs]),
        [
          [1, 10],
          [2, 20],
          [3, 40],
          [4, 40],
        ],
      );
      await fake.start();
      const [ev] = await collect(1, events);
      assert.equal(ev!.id, 'x1');
    } finally {
      events.close();
    }
  });

  it('keeps backing off when dockerd accepts and drops at once, without events', async () => {
    fake = new FakeDockerd((_req, res) => res.writeHead(200).end());
    await fake.start();
    const events = new DockerRuntime({ socketPath: fake.socketPath }).events({ minDelayMs: 5, maxDelayMs: 1000 });
    const reconnects: ReconnectInfo[] = [];
    events.on('reconnect', (info) => reconnects.push(info));
    try {
      while (reconnects.length < 3) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(
        reconnects.slice(0, 3).map((r) => [r.attempt, r.delayMs, r.error]),
        [
          [1, 5, undefined],
          [2, 10, undefined],
          [3, 20, undefined],
        ],
      );
    } finally {
      events.close();
    }
  });

  it('survives a dockerd restart: reconnects and sees what happened meanwhile', async () => {
    let sent = 0;
    fake = new FakeDockerd((req, res, n) => {
      res.writeHead(200);
      if (n === 1) res.write(line('start', 'a', T1));
      else {
        assert.equal(new URL(req.url!, 'http://d').searchParams.get('since'), formatSince(T1));
        res.write(line('start', 'a', T1)); // replay of the inclusive `since`
        res.write(line('die', 'a', T2)); // happened while we were away
      }
      sent++;
    });
    await fake.start();
    const events = new DockerRuntime({ socketPath: fake.socketPath }).events({ minDelayMs: 10 });
    const got: ContainerEvent[] = [];
    events.on('event', (ev) => got.push(ev));
    try {
      await events.ready();
      while (got.length < 1) await new Promise((r) => setTimeout(r, 5));
      await fake.stop();
      await new Promise((r) => setTimeout(r, 50));
      await fake.start();
      while (got.length < 2) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(
        got.map((e) => e.action),
        ['start', 'die'],
      );
      assert.ok(sent >= 2);
    } finally {
      events.close();
    }
  });

  it('does not retry a request dockerd refused: the iterator rejects and "error" fires', async () => {
    fake = new FakeDockerd((_req, res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"invalid filter \'bogus\'"}'));
    await fake.start();
    const events = new DockerRuntime({ socketPath: fake.socketPath }).events({ minDelayMs: 10 });
    const errors: EcdockError[] = [];
    events.on('error', (e) => errors.push(e));
    await assert.rejects(collect(1, events), (e: unknown) => isEcdockError(e, 'DOCKER_ERROR') && /invalid filter/.test(String((e as EcdockError).detail && (e as EcdockError & { detail: { message: string } }).detail.message)));
    await assert.rejects(events.ready());
    assert.equal(errors.length, 1);
    assert.equal(events.isClosed, true);
    assert.equal(fake.requests.length, 1);
  });

  it('gives up after maxAttempts with DOCKER_UNREACHABLE', async () => {
    const events = new DockerRuntime({ socketPath: '/nonexistent/ecdock/docker.sock' }).events({ minDelayMs: 5, maxAttempts: 3 });
    const errors: EcdockError[] = [];
    events.on('error', (e) => errors.push(e));
    await assert.rejects(collect(1, events), (e: unknown) => isEcdockError(e, 'DOCKER_UNREACHABLE') && /gave up after 3/.test((e as Error).message));
    assert.equal(errors.length, 1);
  });

  it('close() ends iterators and drops the connection', async () => {
    fake = new FakeDockerd((_req, res) => res.writeHead(200).write(''));
    await fake.start();
    const events = new DockerRuntime({ socketPath: fake.socketPath }).events();
    await events.ready();
    assert.equal(fake.openStreams, 1);
    const done = collect(1, events).catch((e: unknown) => e);
    let closed = 0;
    events.on('close', () => closed++);
    events.close();
    events.close();
    assert.equal(closed, 1);
    // the iterator ends with fewer events than it wanted: collect's own timeout would reject; ending resolves
    const got = await Promise.race([done, new Promise((r) => setTimeout(() => r('timeout'), 1000))]);
    assert.deepEqual(got, []);
    for (let i = 0; i < 50 && fake.openStreams > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(fake.openStreams, 0);
    const after: ContainerEvent[] = [];
    for await (const ev of events) after.push(ev);
    assert.deepEqual(after, []);
  });
});

describe('decodeDockerEvent', () => {
  it('separates labels from the other attributes and strips the leading slash', () => {
    const ev = decodeDockerEvent({
      Type: 'container',
      Action: 'kill',
      Actor: { ID: 'abc', Attributes: { name: '/web', image: 'busybox', signal: '15', 'ecdock.slot': '3' } },
      time: 1700000000,
      timeNano: '1700000000000000007',
    });
    assert.deepEqual(ev, {
      action: 'kill',
      id: 'abc',
      name: 'web',
      labels: { 'ecdock.slot': '3' },
      time: new Date(1_700_000_000_000),
      timeNano: '1700000000000000007',
      image: 'busybox',
      signal: '15',
    });
  });

  it('ignores other types and actions we do not follow', () => {
    assert.equal(decodeDockerEvent({ Type: 'network', Action: 'connect', Actor: { ID: 'n' }, time: 1 }), undefined);
    assert.equal(decodeDockerEvent({ Type: 'container', Action: 'exec_start: sh', Actor: { ID: 'c' }, time: 1 }), undefined);
    assert.equal(decodeDockerEvent(null), undefined);
    assert.equal(decodeDockerEvent('x'), undefined);
  });

  it('falls back to `time` in seconds without timeNano', () => {
    const ev = decodeDockerEvent({ status: 'start', id: 'c', time: 1700000000 })!;
    assert.equal(ev.timeNano, '1700000000000000000');
    assert.equal(ev.name, '');
  });

  it('formats since as seconds.nanoseconds', () => {
    assert.equal(formatSince(1_700_000_000_000_000_001n), '1700000000.000000001');
    assert.equal(formatSince(5n), '0.000000005');
  });
});
