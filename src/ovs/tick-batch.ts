// Folds work that arrives together. Calls made in the same tick with the same key are queued, and
// one run of `flush` handles all their items; each call gets its own item's outcome. This is how
// 1000 concurrent attaches become a few createVeths calls, one neighbour batch, one control
// connection and one group delete instead of a thousand of each.

export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Waiting<T, R> {
  item: T;
  resolve(v: R): void;
  reject(e: unknown): void;
}

export class TickBatch<T, R> {
  private readonly pending = new Map<string, Waiting<T, R>[]>();

  /** `flush` receives one key's items and answers with one outcome per item, in order. */
  constructor(private readonly flush: (key: string, items: T[]) => Promise<Settled<R>[]>) {}

  add(key: string, item: T): Promise<R> {
    let queue = this.pending.get(key);
    if (!queue) {
      queue = [];
      this.pending.set(key, queue);
      setImmediate(() => void this.run(key));
    }
    const q = queue;
    return new Promise<R>((resolve, reject) => q.push({ item, resolve, reject }));
  }

  private async run(key: string): Promise<void> {
    const queue = this.pending.get(key) ?? [];
    this.pending.delete(key);
    try {
      const out = await this.flush(
        key,
        queue.map((w) => w.item),
      );
      queue.forEach((w, i) => {
        const r = out[i];
        if (r?.ok) w.resolve(r.value);
        else w.reject(r ? r.error : new Error('batch gave no outcome for this item'));
      });
    } catch (e) {
      for (const w of queue) w.reject(e);
    }
  }
}

/** Every item shares the outcome of one operation on all of them. */
export async function together<R>(n: number, op: () => Promise<R>): Promise<Settled<R>[]> {
  const value = await op();
  return Array.from({ length: n }, () => ({ ok: true as const, value }));
}
