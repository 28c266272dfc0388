// One async iterator fed by pushes: the shape of every event stream ecdock hands out (slot events
// from the OVSDB monitor, container events from dockerd). Items pushed before anyone waits are
// kept in order; `end` lets the consumer drain what is queued and then finish; `fail` makes the
// next `next()` reject; breaking out of a `for await` loop calls `return`, which runs `onReturn`
// so the producer can stop listening.

export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] = [];
  private waiting?: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void };
  private ended = false;
  private failed = false;
  private error?: unknown;
  private readonly onReturn: () => void;

  constructor(onReturn: () => void = () => undefined) {
    this.onReturn = onReturn;
  }

  push(item: T): void {
    if (this.ended) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve({ value: item, done: false });
    } else this.items.push(item);
  }

  /** No more items: the consumer gets what is queued, then done. */
  end(): void {
    this.ended = true;
    if (this.waiting && this.items.length === 0) {
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve({ value: undefined, done: true });
    }
  }

  /** Ends the stream with a failure: queued items are still delivered first, then `next()` rejects once. */
  fail(e: unknown): void {
    this.error = e;
    this.failed = true;
    this.ended = true;
    if (this.waiting && this.items.length === 0) {
      const w = this.waiting;
      this.waiting = undefined;
      this.failed = false;
      w.reject(e);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.failed) {
      this.failed = false;
      const e = this.error;
      this.error = undefined;
      return Promise.reject(e);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.items = [];
    this.end();
    this.onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
