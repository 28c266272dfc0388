// The batcher folds concurrent submitters into one transaction and never fails the innocent.
import * as assert from 'node:assert/strict';
import { TransactionBatcher, type Transactor } from '../../src/ovsdb/batcher';
import { op, type Operation, type OperationResult } from '../../src/ovsdb/operations';
import { OvsdbTransactionError } from '../../src/ovsdb/results';
import { OvsdbError } from '../../src/errors';

/** A transactor that fails at `comment "fail"` ops and at commit when a `comment "commitfail"` is present. */
class FakeTransactor implements Transactor {
  calls: Operation[][] = [];
  delayMs = 1;
  failAll: Error | undefined;
  async transact(_db: string, ops: Operation[]): Promise<OperationResult[]> {
    this.calls.push(ops);
    await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failAll) throw this.failAll;
    const names = new Set<string>();
    const results: unknown[] = [];
    for (let i = 0; i < ops.length; i++) {
      const o = ops[i]!;
      if (o.op === 'insert' && o['uuid-name']) {
        if (names.has(o['uuid-name'])) {
          results.push({ error: 'duplicate uuid-name' });
          throw new OvsdbTransactionError({ opIndex: i, tag: 'duplicate uuid-name', results, op: o });
        }
        names.add(o['uuid-name']);
      }
      if (o.op === 'comment' && o.comment === 'fail') {
        results.push({ error: 'constraint violation', details: `op ${i}` });
        throw new OvsdbTransactionError({ opIndex: i, tag: 'constraint violation', details: `op ${i}`, results, op: o });
      }
      results.push(o.op === 'insert' ? { uuid: ['uuid', `u${i}`] } : { count: i });
    }
    if (ops.some((o) => o.op === 'comment' && o.comment === 'commitfail')) {
      throw new OvsdbTransactionError({ opIndex: -1, tag: 'referential integrity violation', details: 'dangling', results: [...results, { error: 'referential integrity violation' }] });
    }
    return results as OperationResult[];
  }
}

const good = (n: number): Operation[] => Array.from({ length: n }, (_, i) => op.mutate('T', [], [['c', '+=', i]]));

describe('ovsdb transaction batcher', () => {
  it('folds submits of one tick into one transaction and splits results back', async () => {
    const t = new FakeTransactor();
    const b = new TransactionBatcher(t, 'db');
    const rs = await Promise.all([b.submit(good(2)), b.submit(good(3)), b.submit(good(1))]);
    assert.equal(t.calls.length, 1);
    assert.equal(t.calls[0]!.length, 6);
    assert.deepEqual(rs.map((r) => r.length), [2, 3, 1]);
    assert.deepEqual(rs[1], [{ count: 2 }, { count: 3 }, { count: 4 }]);
  });

  it('folds submits arriving while a transaction is in flight into the next one', async () => {
    const t = new FakeTransactor();
    t.delayMs = 20;
    const b = new TransactionBatcher(t, 'db');
    const first = b.submit(good(1));
    await new Promise((r) => setTimeout(r, 5));
    const later = Array.from({ length: 50 }, () => b.submit(good(1)));
    await Promise.all([first, ...later]);
    assert.equal(t.calls.length, 2);
    assert.equal(t.calls[1]!.length, 50);
  });

  it('makes uuid-names unique per submitter', async () => {
    const t = new FakeTransactor();
    const b = new TransactionBatcher(t, 'db');
    const mk = () => [op.insert('I', { name: 'x' }, { uuidName: 'iface' }), op.insert('P', { interfaces: ['named-uuid', 'iface'] }, { uuidName: 'port' })];
    const rs = await Promise.all([b.submit(mk()), b.submit(mk())]);
    assert.equal(t.calls.length, 1);
    const names = t.calls[0]!.filter((o) => o.op === 'insert').map((o) => (o as { 'uuid-name': string })['uuid-name']);
    assert.equal(new Set(names).size, 4);
    // References follow their submitter's renamed declaration.
    const p2 = t.calls[0]![3] as unknown as { row: { interfaces: [string, string] } };
    assert.equal(p2.row.interfaces[1], names[2]);
    assert.equal(rs[1]![0]!.uuid![1], 'u2');
  });

  it('rejects only the submitter owning the failed op (index relative to its ops) and retries the rest', async () => {
    const t = new FakeTransactor();
    const b = new TransactionBatcher(t, 'db');
    const bad = [...good(2), op.comment('fail')];
    const results = await Promise.allSettled([b.submit(good(1)), b.submit(bad), b.submit(good(2))]);
    assert.equal(results[0]!.status, 'fulfilled');
    assert.equal(results[2]!.status, 'fulfilled');
    assert.equal(results[1]!.status, 'rejected');
    const err = (results[1] as PromiseRejectedResult).reason as OvsdbTransactionError;
    assert.ok(err instanceof OvsdbTransactionError);
    assert.equal(err.opIndex, 2);
    assert.deepEqual(err.op, bad[2]);
    assert.equal(err.results.length, 3);
    assert.equal(t.calls.length, 2);
    assert.equal(t.calls[1]!.length, 3);
    // The retried transaction's results are split correctly for the survivors.
    assert.deepEqual((results[2] as PromiseFulfilledResult<OperationResult[]>).value, [{ count: 1 }, { count: 2 }]);
  });

  it('attributes a commit-time failure by bisecting, so innocent submitters succeed', async () => {
    const t = new FakeTransactor();
    const b = new TransactionBatcher(t, 'db');
    const subs = Array.from({ length: 8 }, (_, i) => (i === 5 ? [...good(1), op.comment('commitfail')] : good(2)));
    const results = await Promise.allSettled(subs.map((s) => b.submit(s)));
    results.forEach((r, i) => assert.equal(r.status, i === 5 ? 'rejected' : 'fulfilled', `submitter ${i}`));
    const err = (results[5] as PromiseRejectedResult).reason as OvsdbTransactionError;
    assert.equal(err.opIndex, -1);
    assert.equal(err.tag, 'referential integrity violation');
    assert.ok(b.stats.bisections >= 3);
  });

  it('runs per-batch operations once per transaction and hands their results to everyone', async () => {
    const t = new FakeTransactor();
    const b = new TransactionBatcher(t, 'db', { perBatch: () => [op.mutate('Open_vSwitch', [], [['next_cfg', '+=', 1]]), op.select('Open_vSwitch', [], ['next_cfg'])] });
    const rs = await Promise.all([b.submit(good(1)), b.submit(good(1))]);
    assert.equal(t.calls.length, 1);
    assert.equal(t.calls[0]!.length, 4);
    assert.deepEqual(rs[0]!.batchResults, [{ count: 2 }, { count: 3 }]);
    assert.equal(rs[0]!.length, 1);
  });

  it('respects maxOps', async () => {
    const t = new FakeTransactor();
    const b = new TransactionBatcher(t, 'db', { maxOps: 4 });
    await Promise.all([b.submit(good(3)), b.submit(good(3)), b.submit(good(6))]);
    assert.deepEqual(t.calls.map((c) => c.length), [3, 3, 6]);
  });

  it('rejects the whole group with the cause when the transaction fails for a non-transaction reason', async () => {
    const t = new FakeTransactor();
    t.failAll = new OvsdbError('OVSDB_CONNECTION_LOST', 'gone');
    const b = new TransactionBatcher(t, 'db');
    const results = await Promise.allSettled([b.submit(good(1)), b.submit(good(1))]);
    for (const r of results) assert.equal(r.status === 'rejected' && (r.reason as OvsdbError).code, 'OVSDB_CONNECTION_LOST');
  });
});
