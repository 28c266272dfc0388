// OvsdbClient against a scripted fake server: every way a peer can misbehave ends in a typed
// error, pending requests are rejected, nothing hangs.
import * as assert from 'node:assert/strict';
import { OvsdbClient } from '../../src/ovsdb/client';
import { isEcdockError, type EcdockError } from '../../src/errors';
import { FakeOvsdb, defaultAnswer, fakeClients, type FakeRequest, type FakeSession } from '../support/fake-ovsdb';
import type { DatabaseSchema } from '../../src/ovsdb/schema';

const SCHEMA: DatabaseSchema = {
  name: 'Test',
  version: '1.0.0',
  tables: { T: { columns: { name: { type: 'string' }, n: { type: { key: 'integer', min: 0, max: 1 } }, s: { type: { key: 'string', min: 0, max: 'unlimited' } } }, indexes: [['name']] } },
};
const U1 = '11111111-0000-0000-0000-000000000001';
const U2 = '11111111-0000-0000-0000-000000000002';
const U3 = '11111111-0000-0000-0000-000000000003';

function waitEvent(em: NodeJS.EventEmitter, ev: string, ms = 3000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${ev} within ${ms} ms`)), ms);
    em.once(ev, (...a: unknown[]) => {
      clearTimeout(t);
      resolve(a);
    });
  });
}

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<EcdockError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isEcdockError(e), `not an EcdockError: ${e}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected a ${code} rejection`);
}

describe('ovsdb client against a misbehaving server (fake)', function () {
  this.timeout(20_000);
  let fake: FakeOvsdb | undefined;
  const { connect, closeAll } = fakeClients(() => fake!.url);
  afterEach(async () => {
    closeAll();
    await fake?.stop();
    fake = undefined;
  });

  it('reports a missing socket as OVSDB_UNREACHABLE', async () => {
    await rejectsWith(OvsdbClient.connect('unix:/nonexistent/dir/db.sock'), 'OVSDB_UNREACHABLE', /no socket at \/nonexistent/);
  });

  it('reports a bad URL as BAD_URL', async () => {
    await rejectsWith(OvsdbClient.connect('ptcp:6640'), 'BAD_URL');
  });

  it('rejects pending requests with OVSDB_PROTOCOL when the server sends garbage', async () => {
    fake = await FakeOvsdb.start((r, s) => {
      if (r.method === 'list_dbs') s.send('this is not json');
    });
    const c = await connect();
    const disc = waitEvent(c, 'disconnect');
    const p1 = c.listDbs();
    const p2 = c.echo('x');
    await rejectsWith(p1, 'OVSDB_PROTOCOL', /unexpected byte/);
    await rejectsWith(p2, 'OVSDB_PROTOCOL');
    const [err] = await disc;
    assert.ok(isEcdockError(err, 'OVSDB_PROTOCOL'));
    assert.equal(c.connected, false);
    await rejectsWith(c.echo(), 'OVSDB_CONNECTION_LOST', /unexpected byte.*reconnect is off/);
  });

  it('rejects invalid JSON inside balanced braces with OVSDB_PROTOCOL', async () => {
    fake = await FakeOvsdb.start((r, s) => s.send(`{"id":${r.id},"result":[1,,2]}`));
    const c = await connect();
    await rejectsWith(c.echo(), 'OVSDB_PROTOCOL', /invalid JSON/);
  });

  it('rejects a non-object top-level message with OVSDB_PROTOCOL', async () => {
    fake = await FakeOvsdb.start((_r, s) => s.send('[1,2]'));
    const c = await connect();
    await rejectsWith(c.echo(), 'OVSDB_PROTOCOL', /not a JSON object/);
  });

  it('rejects pending requests with OVSDB_CONNECTION_LOST when the server closes mid-reply', async () => {
    fake = await FakeOvsdb.start((r, s) => {
      s.send(`{"id":${r.id},"result":["Open_vSw`);
      setTimeout(() => s.close(), 20);
    });
    const c = await connect();
    await rejectsWith(c.listDbs(), 'OVSDB_CONNECTION_LOST', /middle of a message/);
  });

  it('rejects every pending request when the server closes the connection', async () => {
    let seen = 0;
    fake = await FakeOvsdb.start((_r, s) => {
      if (++seen === 5) s.close();
    });
    const c = await connect();
    const ps = Array.from({ length: 5 }, () => c.echo());
    const errs = await Promise.allSettled(ps);
    for (const r of errs) assert.ok(r.status === 'rejected' && isEcdockError(r.reason, 'OVSDB_CONNECTION_LOST'), String((r as PromiseRejectedResult).reason));
  });

  it('stops at the message size limit with OVSDB_MESSAGE_TOO_LARGE (a 100 MB message, default 64 MiB limit)', async function () {
    this.timeout(60_000);
    fake = await FakeOvsdb.start((r, s) => {
      const total = 100 * 1024 * 1024;
      const chunk = Buffer.alloc(1024 * 1024, 0x61);
      s.send(`{"id":${r.id},"result":"`);
      let sent = 0;
      const pump = () => {
        while (sent < total && !s.socket.destroyed) {
          sent += chunk.length;
          if (!s.socket.write(chunk)) {
            s.socket.once('drain', pump);
            return;
          }
        }
        if (!s.socket.destroyed) s.send('"}');
      };
      pump();
    });
    const c = await connect({ timeoutMs: 30_000 });
    const before = process.memoryUsage().rss;
    await rejectsWith(c.listDbs(), 'OVSDB_MESSAGE_TOO_LARGE', /67108864-byte limit/);
    const grew = process.memoryUsage().rss - before;
    assert.ok(grew < 400 * 1024 * 1024, `RSS grew by ${grew} bytes`);
  });

  it('honours a smaller maxMessageBytes', async () => {
    fake = await FakeOvsdb.start((r, s) => s.reply(r.id, 'x'.repeat(5000)));
    const c = await connect({ maxMessageBytes: 1000 });
    await rejectsWith(c.echo(), 'OVSDB_MESSAGE_TOO_LARGE');
  });

  it('answers the server echo probe with the same params', async () => {
    fake = await FakeOvsdb.start();
    const c = await connect();
    assert.deepEqual(await c.echo(), []); // a session exists now
    const s = fake.sessions[0]!;
    s.send({ id: 'echo', method: 'echo', params: ['probe', 1] });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(s.received.at(-1), { id: 'echo', result: ['probe', 1], error: null });
    s.send({ id: 9, method: 'frobnicate', params: [] });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(s.received.at(-1), { id: 9, result: null, error: 'unknown method' });
  });

  it('drops a silent server after an unanswered inactivity probe (OVSDB_TIMEOUT)', async () => {
    fake = await FakeOvsdb.start((r, s) => {
      if (r.method === 'list_dbs') defaultAnswer(r, s); // echo probes go unanswered
    });
    const c = await connect({ probeIntervalMs: 100 });
    const [err] = await waitEvent(c, 'disconnect', 3000);
    assert.ok(isEcdockError(err, 'OVSDB_TIMEOUT'), String(err));
    assert.match((err as Error).message, /inactivity probe/);
    assert.ok(fake.sessions[0]!.received.some((m) => m.method === 'echo'), 'the client sent an echo');
  });

  it('keeps a quiet but answering server connected, even across a stall of our own event loop', async () => {
    let stallOnce = false;
    fake = await FakeOvsdb.start((r, s) => {
      defaultAnswer(r, s);
      if (r.method === 'echo' && stallOnce) {
        stallOnce = false;
        // The answer is in the socket; now block the (shared) event loop past two probe intervals,
        // so that our probe timer fires before the answer is read.
        const until = Date.now() + 500;
        while (Date.now() < until) {
          /* busy */
        }
      }
    });
    const c = await connect({ probeIntervalMs: 150 });
    let lost = false;
    c.on('disconnect', () => (lost = true));
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(lost, false);
    assert.ok(fake.sessions[0]!.received.filter((m) => m.method === 'echo').length >= 3);
    stallOnce = true;
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(stallOnce, false, 'the stall happened');
    assert.equal(lost, false, 'a stall of our own loop must not count as a dead server');
  });

  it('times a request out with OVSDB_TIMEOUT, and ignores its late reply', async () => {
    const late: FakeRequest[] = [];
    fake = await FakeOvsdb.start((r, s) => {
      if (r.method === 'transact') late.push(r);
      else defaultAnswer(r, s);
    });
    const c = await connect({ timeoutMs: 200 });
    await rejectsWith(c.transact('Test', [{ op: 'comment', comment: 'x' }]), 'OVSDB_TIMEOUT', /within 200 ms/);
    const s = fake.sessions[0]!;
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(s.received.some((m) => m.method === 'cancel' && (m.params as unknown[])[0] === late[0]!.id && m.id === null), 'cancel sent');
    s.reply(late[0]!.id, [{}]);
    assert.deepEqual(await c.listDbs(), ['Open_vSwitch', '_Server']);
    assert.equal(c.connected, true);
  });

  it('rejects a canceled transaction locally with OVSDB_CANCELED and sends cancel', async () => {
    fake = await FakeOvsdb.start((r, s) => void (r.method !== 'transact' && defaultAnswer(r, s)));
    const c = await connect();
    const ac = new AbortController();
    const p = c.transact('Test', [{ op: 'comment', comment: 'x' }], { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await rejectsWith(p, 'OVSDB_CANCELED');
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(fake.sessions[0]!.received.some((m) => m.method === 'cancel'));
  });

  it('treats a reply to an unknown id as a protocol error', async () => {
    fake = await FakeOvsdb.start((r, s) => s.reply(9999, r.params));
    const c = await connect();
    await rejectsWith(c.echo(), 'OVSDB_PROTOCOL', /unknown request id/);
  });

  it('maps JSON-RPC string and object errors to OVSDB_ERROR, "canceled" to OVSDB_CANCELED', async () => {
    fake = await FakeOvsdb.start((r, s) => {
      if (r.method === 'get_schema') s.error(r.id, { error: 'unknown database', details: 'no database Nope' });
      else if (r.method === 'transact') s.error(r.id, 'canceled');
      else s.error(r.id, 'unknown method');
    });
    const c = await connect();
    await rejectsWith(c.getSchema('Nope'), 'OVSDB_ERROR', /unknown database: no database Nope/);
    await rejectsWith(c.transact('Nope', []), 'OVSDB_CANCELED');
    await rejectsWith(c.echo(), 'OVSDB_ERROR', /unknown method/);
  });

  describe('monitors', () => {
    /** A server with one table; `methods` lists the monitor methods it knows. */
    function monitorServer(methods: string[], rows: () => Record<string, unknown>, after?: (r: FakeRequest, s: FakeSession) => void) {
      return (r: FakeRequest, s: FakeSession) => {
        if (defaultAnswer(r, s)) return;
        if (r.method === 'get_schema') return s.reply(r.id, SCHEMA);
        if (r.method.startsWith('monitor') && !methods.includes(r.method)) return s.error(r.id, 'unknown method');
        if (r.method === 'monitor_cond_since') s.reply(r.id, [false, '00000000-0000-0000-0000-000000000000', { T: rows() }]);
        else if (r.method === 'monitor_cond') s.reply(r.id, { T: rows() });
        else if (r.method === 'monitor') {
          const v1: Record<string, unknown> = {};
          for (const [u, x] of Object.entries(rows())) v1[u] = { new: { n: ['set', []], s: ['set', []], ...(x as { initial: object }).initial } };
          s.reply(r.id, { T: v1 });
        } else if (r.method === 'monitor_cancel') s.reply(r.id, {});
        else return s.error(r.id, 'unknown method');
        after?.(r, s);
      };
    }
    const twoRows = () => ({ [U1]: { initial: { name: 'a', n: 1 } }, [U2]: { initial: { name: 'b' } } });

    for (const methods of [['monitor_cond_since', 'monitor_cond', 'monitor'], ['monitor_cond', 'monitor'], ['monitor']]) {
      it(`loads the initial rows with ${methods[0]} (falling back from newer methods)`, async () => {
        fake = await FakeOvsdb.start(monitorServer(methods, twoRows));
        const c = await connect();
        const mon = await c.monitor('Test', { T: ['name', 'n', 's'] });
        assert.equal(mon.rows('T').size, 2);
        assert.deepEqual(mon.findBy('T', 'name', 'b'), { _uuid: U2, name: 'b', n: undefined, s: [] });
        const used = fake.sessions[0]!.received.filter((m) => String(m.method).startsWith('monitor')).map((m) => m.method);
        assert.equal(used.at(-1), methods[0]);
      });
    }

    it('applies an update that arrives in the same chunk as the monitor reply after the initial rows', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (defaultAnswer(r, s)) return;
        if (r.method === 'get_schema') return s.reply(r.id, SCHEMA);
        if (r.method === 'monitor_cond_since') {
          s.send(
            JSON.stringify({ id: r.id, result: [false, '00000000-0000-0000-0000-000000000000', { T: { [U1]: { initial: { name: 'a' } } } }], error: null }) +
              JSON.stringify({ id: null, method: 'update3', params: [r.params[1], '00000000-0000-0000-0000-000000000000', { T: { [U1]: { modify: { n: 7 } } } }] }),
          );
        }
      });
      const c = await connect();
      const mon = await c.monitor('Test', { T: ['name', 'n'] });
      assert.equal(mon.get('T', U1)!.n, 7);
    });

    it('emits change and update events, and waitFor sees them', async () => {
      let session: FakeSession | undefined;
      let monId: unknown;
      fake = await FakeOvsdb.start(
        monitorServer(['monitor_cond'], twoRows, (r, s) => {
          session = s;
          monId = r.params[1];
        }),
      );
      const c = await connect();
      const mon = await c.monitor('Test', { T: ['name', 'n', 's'] });
      const changes: unknown[] = [];
      mon.on('change', (ch) => changes.push(ch));
      const updated = waitEvent(mon, 'update');
      const waited = mon.waitFor(() => mon.findBy('T', 'name', 'c'), 2000);
      session!.send({ id: null, method: 'update2', params: [monId, { T: { [U3]: { insert: { name: 'c', s: ['set', ['x', 'y']] } }, [U1]: { delete: null } } }] });
      const [batch] = await updated;
      assert.equal((batch as unknown[]).length, 2);
      assert.equal(changes.length, 2);
      assert.deepEqual((await waited)._uuid, U3);
      assert.deepEqual(mon.get('T', U3)!.s, ['x', 'y']);
      await rejectsWith(mon.waitFor(() => mon.findBy('T', 'name', 'never'), 100), 'OVSDB_TIMEOUT');
    });

    it('rejects waitFor with OVSDB_CONNECTION_LOST when the client is closed', async () => {
      fake = await FakeOvsdb.start(monitorServer(['monitor_cond'], twoRows));
      const c = await connect();
      const mon = await c.monitor('Test', { T: ['name'] });
      const w = mon.waitFor(() => false, 5000);
      c.close();
      await rejectsWith(w, 'OVSDB_CONNECTION_LOST');
    });

    it('refuses to monitor tables or columns the server lacks (OVSDB_SCHEMA_MISMATCH)', async () => {
      fake = await FakeOvsdb.start(monitorServer(['monitor_cond'], twoRows));
      const c = await connect();
      await rejectsWith(c.monitor('Test', { T: ['name', 'nope'], U: ['x'] }), 'OVSDB_SCHEMA_MISMATCH', /column T\.nope, table U/);
    });

    it('resubscribes after a reconnect and reports only the differences, then resync', async () => {
      let generation = 0;
      fake = await FakeOvsdb.start(
        monitorServer(['monitor_cond_since'], () =>
          generation === 0 ? twoRows() : { [U2]: { initial: { name: 'b' } }, [U3]: { initial: { name: 'c' } } },
        ),
      );
      const c = await connect({ reconnect: { minMs: 10, maxMs: 50 } });
      const mon = await c.monitor('Test', { T: ['name', 'n'] });
      const changes: { uuid: string; old?: unknown; new?: unknown }[] = [];
      mon.on('change', (ch) => changes.push(ch));
      const resync = waitEvent(mon, 'resync');
      const reconnected = waitEvent(c, 'reconnect');
      generation = 1;
      fake.sessions[0]!.close();
      await reconnected;
      await resync;
      assert.deepEqual(changes.map((x) => `${x.uuid}:${x.old ? 'o' : ''}${x.new ? 'n' : ''}`).sort(), [`${U1}:o`, `${U3}:n`].sort());
      assert.deepEqual([...mon.rows('T').keys()].sort(), [U2, U3]);
      // Requests made after the reconnect work on the new session.
      assert.deepEqual(await c.echo(1), [1]);
    });

    it('queues requests made while reconnecting and sends them once reconnected', async () => {
      fake = await FakeOvsdb.start();
      const c = await connect({ reconnect: { minMs: 10, maxMs: 20 } });
      const path = fake.path;
      const dir = fake.dir;
      const disc = waitEvent(c, 'disconnect');
      // Stop the server entirely, ask while it is down, then bring a new one up on the same path.
      await fake.stop().catch(() => undefined);
      fake = undefined;
      await disc;
      const p = c.listDbs();
      await new Promise((r) => setTimeout(r, 100));
      const { promises: fs } = await import('node:fs');
      await fs.mkdir(dir, { recursive: true });
      const net = await import('node:net');
      const srv = net.createServer((sock) => {
        sock.on('data', (d) => {
          const m = JSON.parse(String(d)) as { id: number };
          sock.write(JSON.stringify({ id: m.id, result: ['Again'], error: null }));
        });
      });
      await new Promise<void>((r) => srv.listen(path, () => r()));
      try {
        assert.deepEqual(await p, ['Again']);
      } finally {
        c.close();
        await new Promise<void>((r) => srv.close(() => r()));
        await fs.rm(dir, { recursive: true, force: true });
      }
    });
  });
});
