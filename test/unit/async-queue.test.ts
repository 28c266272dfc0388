import { strict as assert } from 'node:assert';
import { AsyncQueue } from '../../src/async-queue';
import { noteRollback, rollback } from '../../src/ovs/rollback';
import { VSwitchError } from '../../src/errors';

describe('AsyncQueue (pure)', () => {
  it('delivers pushes in order, to a waiting reader and a late one alike, and ends after draining', async () => {
    const q = new AsyncQueue<number>();
    const first = q.next();
    q.push(1);
    q.push(2);
    q.push(3);
    q.end();
    q.push(4); // after end: dropped
    assert.deepEqual(await first, { value: 1, done: false });
    const rest: number[] = [];
    for await (const n of q) rest.push(n);
    assert.deepEqual(rest, [2, 3]);
  });

  it('fail: queued items first, then one rejection, then done', async () => {
    const q = new AsyncQueue<string>();
    q.push('a');
    q.fail(new Error('boom'));
    assert.deepEqual(await q.next(), { value: 'a', done: false });
    await assert.rejects(q.next(), /boom/);
    assert.deepEqual(await q.next(), { value: undefined, done: true });
    const waiting = new AsyncQueue<string>();
    const p = waiting.next();
    waiting.fail(new Error('while waiting'));
    await assert.rejects(p, /while waiting/);
  });

  it('breaking out of for-await runs onReturn once and drops what is queued', async () => {
    let returned = 0;
    const q = new AsyncQueue<number>(() => returned++);
    q.push(1);
    q.push(2);
    for await (const n of q) {
      assert.equal(n, 1);
      break;
    }
    assert.equal(returned, 1);
    assert.deepEqual(await q.next(), { value: undefined, done: true });
  });
});

describe('rollback (pure)', () => {
  it('records a failed undo in detail.rollback of the error being reported, keeping the detail there', async () => {
    const e = new VSwitchError('PORT_FAILED', 'no port', { detail: { ofport: -1 } });
    await rollback(e, 'delete the veths made', async () => {
      throw new VSwitchError('NETLINK_ERROR', 'EBUSY');
    });
    await rollback(e, 'detach slot 1', async () => undefined);
    assert.deepEqual(e.detail, { ofport: -1, rollback: [{ step: 'delete the veths made', error: 'EBUSY', code: 'NETLINK_ERROR' }] });
    const bare = new Error('plain');
    noteRollback(bare, 'x', new Error('y'));
    assert.deepEqual((bare as unknown as { detail: unknown }).detail, { rollback: [{ step: 'x', error: 'y' }] });
  });
});
