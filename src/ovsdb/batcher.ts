// Folds concurrent writers into few transactions. Every submit() that arrives in the same tick,
// or while a transaction is in flight, joins the next transaction; results are split back by op
// index. ovsdb-server commits 1000 ports in one transaction in ~80 ms and ovs-vswitchd then
// reconfigures once, where 1000 transactions would cost 1000 round trips and 1000
// reconfigurations.
//
// One submitter's failure must not fail the others. A failure at operation k belongs to the
// submitter owning k: it is rejected and the rest are retried without it. A commit-time failure
// names no operation, so the group is split in halves and each half retried until the culprit is
// alone (bisect). Uuid-names are made unique per submitter so that two submitters both naming a
// row "iface" cannot collide.

import type { OvsdbClient, TransactOptions } from './client';
import { checkJson } from './json';
import { renameUuidNames, type Operation, type OperationResult } from './operations';
import { OvsdbTransactionError } from './results';

/** Options of {@link TransactionBatcher}. */
export interface BatcherOptions {
  /** Most operations per transaction (a single submitter with more still goes alone). Default 5000. */
  maxOps?: number;
  /** Operations appended once per transaction (e.g. bump next_cfg and select it); their results reach every submitter as batchResults. */
  perBatch?: () => Operation[];
  /** Per-transaction options (timeout). */
  transact?: TransactOptions;
}

/** A submitter's results, plus the results of the per-batch operations of the transaction it rode in. */
export type BatchResult = OperationResult[] & { batchResults?: OperationResult[] };

interface Entry {
  ops: Operation[];
  /** ops with uuid-names made unique to this entry. */
  wire: Operation[];
  resolve(r: BatchResult): void;
  reject(e: unknown): void;
}

/** Something that runs transactions; OvsdbClient is one. */
export type Transactor = Pick<OvsdbClient, 'transact'>;

/**
 * Folds operations submitted concurrently into few transactions: what is submitted while one
 * transaction is in flight goes out together in the next, each submitter getting its own results
 * (or the transaction's error). ecdock's vswitches write through one, so 50 concurrent attaches make
 * a handful of transactions.
 *
 * @example
 * ```ts
 * const batcher = new TransactionBatcher(ovs, 'Open_vSwitch');
 * const [r] = await batcher.submit([op.select('Bridge', [], ['name'])]);
 * ```
 */
export class TransactionBatcher {
  private readonly client: Transactor;
  private readonly db: string;
  private readonly maxOps: number;
  private readonly perBatch: (() => Operation[]) | undefined;
  private readonly transactOptions: TransactOptions;
  private queue: Entry[] = [];
  private running = false;
  private scheduled = false;
  private seq = 0;
  /** Counters for tests and tuning. */
  readonly stats = { transactions: 0, submits: 0, retries: 0, bisections: 0 };

  constructor(client: Transactor, db: string, opts: BatcherOptions = {}) {
    this.client = client;
    this.db = db;
    this.maxOps = opts.maxOps ?? 5000;
    this.perBatch = opts.perBatch;
    this.transactOptions = opts.transact ?? {};
  }

  /** Queues operations for the next transaction; resolves with their results (length = ops.length). */
  submit(ops: Operation[]): Promise<BatchResult> {
    this.stats.submits++;
    const tag = `_b${(this.seq++).toString(36)}`;
    return new Promise<BatchResult>((resolve, reject) => {
      let wire: Operation[];
      try {
        // A value JSON cannot carry fails this submitter alone, before it joins a transaction.
        checkJson(ops, 'operations');
        wire = renameUuidNames(ops, (n) => n + tag);
      } catch (e) {
        reject(e);
        return;
      }
      this.queue.push({ ops, wire, resolve, reject });
      this.schedule();
    });
  }

  /** Submitters waiting for a transaction. */
  get queued(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: callers that submit after their own awaits in this tick still join.
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length) {
        const group: Entry[] = [];
        let n = 0;
        while (this.queue.length && (group.length === 0 || n + this.queue[0]!.ops.length <= this.maxOps)) {
          const e = this.queue.shift()!;
          group.push(e);
          n += e.ops.length;
        }
        await this.run(group);
      }
    } finally {
      this.running = false;
    }
  }

  /** Runs a group as one transaction; settles every entry in it. */
  private async run(group: Entry[]): Promise<void> {
    while (group.length) {
      const shared = this.perBatch ? this.perBatch() : [];
      const ops: Operation[] = [];
      const offsets: number[] = [];
      for (const e of group) {
        offsets.push(ops.length);
        for (const o of e.wire) ops.push(o);
      }
      const sharedAt = ops.length;
      for (const o of shared) ops.push(o);
      this.stats.transactions++;
      let results: OperationResult[];
      try {
        results = await this.client.transact(this.db, ops, this.transactOptions);
      } catch (err) {
        if (!(err instanceof OvsdbTransactionError)) {
          // Connection lost, timeout…: the outcome is unknown for everyone in the group.
          for (const e of group) e.reject(err);
          return;
        }
        if (err.opIndex >= sharedAt) {
          // The shared operations failed: that is everyone's failure.
          for (const e of group) e.reject(err);
          return;
        }
        if (err.opIndex >= 0) {
          let owner = group.length - 1;
          while (offsets[owner]! > err.opIndex) owner--;
          const culprit = group[owner]!;
          culprit.reject(rebase(err, culprit, offsets[owner]!));
          group = group.filter((_, i) => i !== owner);
          this.stats.retries++;
          continue;
        }
        // Commit-time failure: nobody is named. Alone, it is yours; together, split and retry.
        if (group.length === 1) {
          group[0]!.reject(rebase(err, group[0]!, 0));
          return;
        }
        this.stats.bisections++;
        const half = Math.ceil(group.length / 2);
        await this.run(group.slice(0, half));
        await this.run(group.slice(half));
        return;
      }
      const batchResults = results.slice(sharedAt);
      group.forEach((e, i) => {
        const mine = results.slice(offsets[i]!, offsets[i]! + e.ops.length) as BatchResult;
        if (shared.length) mine.batchResults = batchResults;
        e.resolve(mine);
      });
      return;
    }
  }
}

/** The error as the submitter would have seen it from transacting its own operations alone. */
function rebase(err: OvsdbTransactionError, e: Entry, offset: number): OvsdbTransactionError {
  const opIndex = err.opIndex < 0 ? -1 : err.opIndex - offset;
  const results = err.results.slice(offset, offset + e.ops.length);
  const info = {
    opIndex,
    tag: err.tag,
    results: opIndex < 0 ? [...results, err.results[err.results.length - 1]] : results,
    ...(err.details !== undefined ? { details: err.details } : {}),
    ...(err.syntax !== undefined ? { syntax: err.syntax } : {}),
    ...(opIndex >= 0 ? { op: e.ops[opIndex]! } : {}),
  };
  return new OvsdbTransactionError(info);
}
