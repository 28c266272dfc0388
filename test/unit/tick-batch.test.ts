import { strict as assert } from 'node:assert';
import { TickBatch, together } from '../../src/ovs/tick-batch';

describe('TickBatch (pure)', () => {
  it('folds the calls of one tick and key into one flush, each call getting its own outcome', async () => {
    const flushes: [string, number[]][] = [];
    const b = new TickBatch<number, number>(async (key, items) => {
      flushes.push([key, items]);
      return items.map((n) => (n < 0 ? { ok: false as const, error: new Error(`neg ${n}`) } : { ok: true as const, value: n * 10 }));
    });
    const a = b.add('k', 1);
    const c = b.add('k', -2);
    const d = b.add('other', 3);
    assert.equal(await a, 10);
    await assert.rejects(c, /neg -2/);
    assert.equal(await d, 30);
    assert.deepEqual(flushes, [
      ['k', [1, -2]],
      ['other', [3]],
    ]);
    assert.equal(await b.add('k', 4), 40, 'a later tick is a new batch');
    assert.equal(flushes.length, 3);
  });

  it('rejects every call of the batch when the flush throws', async () => {
    const b = new TickBatch<number, void>(async () => {
      throw new Error('down');
    });
    const all = await Promise.allSettled([b.add('k', 1), b.add('k', 2)]);
    assert.deepEqual(all.map((x) => x.status), ['rejected', 'rejected']);
  });

  it('together() gives every item the one result', async () => {
    let runs = 0;
    const b = new TickBatch<string, string>((_k, items) => together(items.length, async () => `${++runs}:${items.join(',')}`));
    assert.deepEqual(await Promise.all([b.add('x', 'a'), b.add('x', 'b')]), ['1:a,b', '1:a,b']);
  });
});
