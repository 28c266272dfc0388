// Issue 6, hostile peers: a fake OVSDB server that sends truncated, huge, deeply nested, non-UTF-8,
// out-of-order, duplicated or trickled messages, floods, and a monitor update the cache cannot
// follow. Each must end in a typed error (or the right answer), never a crash, a hang or unbounded
// memory; one bad request must not take the session (and everyone else's requests) down with it.
import { strict as assert } from 'node:assert';
import { isEcdockError, type EcdockError } from '../../src/errors';
import { TransactionBatcher } from '../../src/ovsdb/batcher';
import { OvsdbClient } from '../../src/ovsdb/client';
import type { DatabaseSchema } from '../../src/ovsdb/schema';
import { FakeOvsdb, defaultAnswer, fakeClients, type FakeRequest, type FakeSession } from '../support/fake-ovsdb';

const SCHEMA: DatabaseSchema = {
  name: 'Test',
  version: '1.0.0',
  tables: { T: { columns: { name: { type: 'string' }, n: { type: { key: 'integer', min: 0, max: 1 } } } } },
};
const U1 = '11111111-0000-0000-0000-000000000001';

async function rejectsWith(p: Promise<unknown>, code: string | string[], re?: RegExp): Promise<EcdockError> {
  const codes = Array.isArray(code) ? code : [code];
  try {
    await p;
  } catch (e) {
    assert.ok(isEcdockError(e), `not an EcdockError: ${e instanceof Error ? e.stack : String(e)}`);
    assert.ok(codes.includes(e.code), `expected ${codes.join('|')}, got ${e.code}: ${e.message}`);
    if (re) assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected a ${codes.join('|')} rejection`);
}

/** Behaves like ovsdb-server on a NUL character in a string: it drops the session (observed with 3.1). */
function dropsOnNul(r: FakeRequest, s: FakeSession): boolean {
  const hasNul = (v: unknown): boolean =>
    typeof v === 'string' ? v.includes('\u0000') : Array.isArray(v) ? v.some(hasNul) : typeof v === 'object' && v !== null ? Object.entries(v).some(([k, x]) => hasNul(k) || hasNul(x)) : false;
  if (hasNul(r.raw)) {
    s.close();
    return true;
  }
  return false;
}

/** A transact answer: one empty result per operation. */
function transactOk(r: FakeRequest, s: FakeSession): void {
  s.reply(r.id, r.params.slice(1).map(() => ({})));
}

describe('hardening: hostile OVSDB peers (fake server)', function () {
  this.timeout(30_000);
  let fake: FakeOvsdb | undefined;
  const { connect, closeAll } = fakeClients(() => fake!.url);
  afterEach(async () => {
    closeAll();
    await fake?.stop();
    fake = undefined;
  });

  describe('one bad request does not take the session down', () => {
    it('a NUL character in a transact string is refused locally (OVSDB_TXN_FAILED at that operation), and the session lives on', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (defaultAnswer(r, s) || dropsOnNul(r, s)) return;
        if (r.method === 'transact') transactOk(r, s);
      });
      const c = await connect();
      let disconnected = false;
      c.on('disconnect', () => (disconnected = true));
      const ops = [
        { op: 'comment' as const, comment: 'fine' },
        { op: 'insert' as const, table: 'T', row: { name: 'a\u0000b' } },
      ];
      const bystander = c.echo('bystander');
      const e = await rejectsWith(c.transact('Test', ops), 'OVSDB_TXN_FAILED', /NUL/);
      assert.equal((e as unknown as { opIndex: number }).opIndex, 1);
      assert.deepEqual(await bystander, ['bystander']);
      assert.deepEqual(await c.echo('after'), ['after']);
      assert.equal(disconnected, false, 'the session must not have been dropped');
      assert.equal(fake.sessions.length, 1);
    });

    it('a backslash followed by "u0000" as text is not a NUL and is sent as is', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (defaultAnswer(r, s) || dropsOnNul(r, s)) return;
        if (r.method === 'transact') transactOk(r, s);
      });
      const c = await connect();
      await c.transact('Test', [{ op: 'insert', table: 'T', row: { name: 'C:\\u0000' } }]);
      const sent = fake.sessions[0]!.received.find((m) => m.method === 'transact')!;
      assert.equal(((sent.params as unknown[])[1] as { row: { name: string } }).row.name, 'C:\\u0000');
    });

    it('in a batch, only the submitter with the NUL fails; the others commit', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (defaultAnswer(r, s) || dropsOnNul(r, s)) return;
        if (r.method === 'transact') transactOk(r, s);
      });
      const c = await connect();
      const b = new TransactionBatcher(c, 'Test');
      const good1 = b.submit([{ op: 'insert', table: 'T', row: { name: 'one' } }]);
      const bad = b.submit([{ op: 'insert', table: 'T', row: { name: 'tw\u0000o' } }]);
      const good2 = b.submit([{ op: 'insert', table: 'T', row: { name: 'three' } }]);
      const refused = rejectsWith(bad, 'OVSDB_TXN_FAILED');
      assert.equal((await good1).length, 1);
      assert.equal((await good2).length, 1);
      await refused;
      assert.equal(c.connected, true);
    });

    it('a NUL in a non-transact request (a monitor condition, a lock name) is refused locally with BAD_ARGUMENT', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (defaultAnswer(r, s) || dropsOnNul(r, s)) return;
        if (r.method === 'lock') s.reply(r.id, { locked: true });
      });
      const c = await connect();
      await rejectsWith(c.lock('x\u0000y'), 'BAD_ARGUMENT', /NUL/);
      assert.equal(await c.lock('fine'), true);
      assert.equal(c.connected, true);
    });

    it('a value JSON cannot carry (a function, a symbol, NaN, a subnormal) is a typed BAD_ARGUMENT, not a TypeError; a BigInt is an exact integer', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (defaultAnswer(r, s)) return;
        if (r.method === 'transact') transactOk(r, s);
      });
      const c = await connect();
      for (const bad of [() => 1, Symbol('s'), NaN, 5e-324, Infinity]) {
        await rejectsWith(c.transact('Test', [{ op: 'insert', table: 'T', row: { n: bad as unknown as number } }]), 'BAD_ARGUMENT', /params\[1\]\.row\.n/);
      }
      assert.equal((await c.transact('Test', [{ op: 'insert', table: 'T', row: { n: 10n } }])).length, 1);
      assert.deepEqual(await c.echo('ok'), ['ok']);
    });
  });

  describe('replies that break the rules', () => {
    it('out-of-order replies each reach their own request', async () => {
      const held: FakeRequest[] = [];
      fake = await FakeOvsdb.start((r, s) => {
        if (r.method !== 'echo' || r.params[0] === undefined) return void defaultAnswer(r, s);
        held.push(r);
        if (held.length === 5) for (const h of held.reverse()) s.reply(h.id, h.params);
      });
      const c = await connect();
      const got = await Promise.all([1, 2, 3, 4, 5].map((i) => c.echo(`m${i}`)));
      assert.deepEqual(got, [1, 2, 3, 4, 5].map((i) => [`m${i}`]));
    });

    it('a duplicated reply is a protocol error; the session ends and pending requests fail typed', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (r.method === 'echo' && r.params[0] === 'dup') {
          s.reply(r.id, r.params);
          s.reply(r.id, r.params);
          return;
        }
        if (r.method === 'echo' && r.params[0] === 'slow') return; // never answered
        defaultAnswer(r, s);
      });
      const c = await connect();
      const slow = c.echo('slow');
      assert.deepEqual(await c.echo('dup'), ['dup']);
      await rejectsWith(slow, 'OVSDB_PROTOCOL', /unknown request id/);
    });

    it('a reply whose id is a string "1" instead of 1 is a protocol error, not a match', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (r.method === 'echo') s.send({ id: String(r.id), result: r.params, error: null });
        else defaultAnswer(r, s);
      });
      const c = await connect();
      await rejectsWith(c.echo('x'), 'OVSDB_PROTOCOL');
    });

    it('a transact reply that is not an array is OVSDB_PROTOCOL', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (r.method === 'transact') s.reply(r.id, { not: 'an array' });
        else defaultAnswer(r, s);
      });
      const c = await connect();
      await rejectsWith(c.transact('Test', [{ op: 'comment', comment: 'x' }]), 'OVSDB_PROTOCOL');
    });

    it('a truncated reply followed by silence times out (OVSDB_TIMEOUT), no hang', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (r.method === 'echo') s.send(`{"id":${r.id},"result":["trunc`);
        else defaultAnswer(r, s);
      });
      const c = await connect({ timeoutMs: 500 });
      const t0 = Date.now();
      await rejectsWith(c.echo('x'), ['OVSDB_TIMEOUT']);
      assert.ok(Date.now() - t0 < 2000);
    });

    it('a reply trickled one byte every 20 ms still times out at the deadline', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (r.method !== 'echo') return void defaultAnswer(r, s);
        const text = JSON.stringify({ id: r.id, result: ['x'.repeat(200)], error: null });
        let i = 0;
        const t = setInterval(() => {
          if (i >= text.length || s.socket.destroyed) return clearInterval(t);
          s.send(text[i++]!);
        }, 20);
      });
      const c = await connect({ timeoutMs: 600 });
      const t0 = Date.now();
      await rejectsWith(c.echo('x'), 'OVSDB_TIMEOUT');
      assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    });
  });

  describe('shapes and sizes', () => {
    it('100,000 nested brackets: OVSDB_PROTOCOL at the depth limit, no stack overflow', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (r.method === 'echo') s.send(`{"id":${r.id},"result":${'['.repeat(100_000)}`);
        else defaultAnswer(r, s);
      });
      const c = await connect();
      await rejectsWith(c.echo('x'), 'OVSDB_PROTOCOL', /nested deeper/);
    });

    it('nesting just under the limit (900 levels) is accepted', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (r.method === 'echo') s.send(`{"id":${r.id},"result":${'['.repeat(900)}${']'.repeat(900)},"error":null}`);
        else defaultAnswer(r, s);
      });
      const c = await connect();
      let v = (await c.echo('x')) as unknown;
      let depth = 0;
      while (Array.isArray(v) && v.length) {
        v = v[0];
        depth++;
      }
      assert.equal(depth, 899);
    });

    it('non-UTF-8 bytes inside a string decode to U+FFFD; outside strings they are OVSDB_PROTOCOL', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (r.method === 'echo' && r.params[0] === 'in') {
          s.send(Buffer.concat([Buffer.from(`{"id":${r.id},"result":["a`), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('z"],"error":null}')]));
        } else if (r.method === 'echo') {
          s.send(Buffer.concat([Buffer.from(`{"id":${r.id},"result":[`), Buffer.from([0xff, 0xfe]), Buffer.from('],"error":null}')]));
        } else defaultAnswer(r, s);
      });
      const c = await connect();
      const [text] = (await c.echo('in')) as string[];
      assert.equal(text, 'a\ufffd\ufffd\ufffdz');
      await rejectsWith(c.echo('out'), 'OVSDB_PROTOCOL', /invalid JSON/);
    });

    it('an endless message stops at maxMessageBytes (1 MiB here) with bounded memory', async () => {
      let sent = 0;
      fake = await FakeOvsdb.start((r, s) => {
        if (r.method !== 'echo') return void defaultAnswer(r, s);
        s.send(`{"id":${r.id},"result":"`);
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        const pump = () => {
          while (!s.socket.destroyed && sent < 512 * 1024 * 1024) {
            sent += chunk.length;
            if (!s.socket.write(chunk)) return void s.socket.once('drain', pump);
          }
        };
        pump();
      });
      const c = await connect({ maxMessageBytes: 1024 * 1024 });
      const before = process.memoryUsage().rss;
      await rejectsWith(c.echo('x'), 'OVSDB_MESSAGE_TOO_LARGE');
      const grew = process.memoryUsage().rss - before;
      assert.ok(grew < 64 * 1024 * 1024, `RSS grew by ${grew} bytes`);
      assert.ok(sent < 64 * 1024 * 1024, `the client kept reading: ${sent} bytes`);
    });

    it('50 MB of whitespace between messages holds no memory, and a reply after it still arrives', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (r.method !== 'echo') return void defaultAnswer(r, s);
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        let n = 0;
        const pump = () => {
          while (!s.socket.destroyed && n < 50) {
            n++;
            if (!s.socket.write(chunk)) return void s.socket.once('drain', pump);
          }
          s.reply(r.id, r.params);
        };
        pump();
      });
      const c = await connect({ timeoutMs: 20_000 });
      const before = process.memoryUsage().rss;
      assert.deepEqual(await c.echo('after-space'), ['after-space']);
      assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024);
    });

    it('a flood of 20,000 notifications for monitors we never asked for is ignored', async () => {
      fake = await FakeOvsdb.start((r, s) => {
        if (r.method === 'echo' && r.params[0] === 'flood') {
          let text = '';
          for (let i = 0; i < 20_000; i++) text += JSON.stringify({ id: null, method: i % 2 ? 'update2' : 'update3', params: [`m${i}`, { T: { [U1]: { insert: { name: 'x' } } } }] });
          s.send(text);
        }
        defaultAnswer(r, s);
      });
      const c = await connect();
      assert.deepEqual(await c.echo('flood'), ['flood']);
      assert.deepEqual(await c.echo('still'), ['still']);
    });
  });

  describe('monitor updates the cache cannot follow', () => {
    function monitorServer(onMonitor: (r: FakeRequest, s: FakeSession) => void) {
      return (r: FakeRequest, s: FakeSession) => {
        if (defaultAnswer(r, s)) return;
        if (r.method === 'get_schema') return s.reply(r.id, SCHEMA);
        if (r.method === 'monitor_cond_since') {
          s.reply(r.id, [false, '00000000-0000-0000-0000-000000000000', { T: { [U1]: { initial: { name: 'a' } } } }]);
          onMonitor(r, s);
          return;
        }
        s.error(r.id, 'unknown method');
      };
    }

    for (const [what, update] of [
      ['a modify of a row that is not in the cache', { T: { '22222222-0000-0000-0000-000000000002': { modify: { name: 'b' } } } }],
      ['a map diff that is not a map', { T: { [U1]: { modify: { name: 'b', n: ['map', 'x'] } } } }],
      ['a table-updates that is a string', 'garbage'],
      ['a row update that is a number', { T: { [U1]: 42 } }],
    ] as const) {
      it(`${what}: the session ends with a typed error, the process survives, pending requests fail typed`, async () => {
        let session: FakeSession | undefined;
        let monId: unknown;
        fake = await FakeOvsdb.start(
          monitorServer((r, s) => {
            session = s;
            monId = r.params[1];
          }),
        );
        const c = await connect();
        const mon = await c.monitor('Test', { T: ['name', 'n'] });
        const closed = new Promise<unknown>((resolve) => {
          c.once('disconnect', resolve);
          setTimeout(() => resolve(new Error('no disconnect within 5 s')), 5000);
        });
        session!.send({ id: null, method: 'update3', params: [monId, '00000000-0000-0000-0000-000000000000', update] });
        const err = await closed;
        assert.ok(isEcdockError(err), `disconnect with ${String(err)}`);
        assert.ok(['OVSDB_PROTOCOL', 'OVSDB_ERROR'].includes(err.code), `${err.code}: ${err.message}`);
        assert.notEqual(err.code, 'INTERNAL');
        await rejectsWith(c.echo('after'), 'OVSDB_CONNECTION_LOST');
        assert.equal(mon.rows('T').size, 1, 'the last good rows stay readable');
      });
    }
  });

  describe('connect to something that is not ovsdb-server', () => {
    it('a server that accepts and never answers: connect fails OVSDB_TIMEOUT within its timeout', async () => {
      fake = await FakeOvsdb.start(() => undefined);
      const t0 = Date.now();
      // connect itself needs no answer on a unix socket; the first request does.
      const c = await connect({ timeoutMs: 500 }).catch((e: unknown) => e);
      if (c instanceof OvsdbClient) {
        await rejectsWith(c.listDbs(), 'OVSDB_TIMEOUT');
      } else assert.ok(isEcdockError(c, 'OVSDB_TIMEOUT'), String(c));
      assert.ok(Date.now() - t0 < 3000);
    });

    it('a server that greets with an HTTP banner: OVSDB_PROTOCOL', async () => {
      fake = await FakeOvsdb.start((_r, s) => s.send('HTTP/1.1 400 Bad Request\r\n\r\n'));
      const c = await connect();
      await rejectsWith(c.echo('x'), 'OVSDB_PROTOCOL', /unexpected byte/);
    });
  });
});
