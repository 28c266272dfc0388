// Transaction operations on the wire (RFC 7047 §5.2, plus OVS's explicit-uuid insert): the types of
// every operation, of conditions and mutations, and of a transaction's results. Pure types, and the
// one reader of an insert result; the builders that make these are in operations.ts.

import type { WireDatum, WireRow, WireUuid } from './datum';

/** The comparison of a condition (RFC 7047 §5.1): equality and order, and `includes`/`excludes` for sets and maps. */
export type ConditionFunction = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'includes' | 'excludes';
/** The mutator of a mutation (RFC 7047 §5.1): arithmetic on numbers, `insert`/`delete` on sets and maps. */
export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
/** A wire condition; `true`/`false` are OVS extensions. */
export type Condition = [string, ConditionFunction, WireDatum] | boolean;
/** A wire mutation: column, mutator, value. */
export type Mutation = [string, Mutator, WireDatum];

/** An `insert` operation (RFC 7047 §5.2.1); build it with `op.insert` or a schema's `ops(...).insert`. */
export interface InsertOp {
  op: 'insert';
  table: string;
  row: WireRow;
  'uuid-name'?: string;
  /** OVS ≥ 2.13: the caller chooses the row's UUID (idempotent retries). */
  uuid?: string;
}
/** A `select` operation (RFC 7047 §5.2.2): the matching rows, optionally only some columns. */
export interface SelectOp {
  op: 'select';
  table: string;
  where: Condition[];
  columns?: string[];
}
/** An `update` operation (RFC 7047 §5.2.3): set columns of the matching rows. */
export interface UpdateOp {
  op: 'update';
  table: string;
  where: Condition[];
  row: WireRow;
}
/** A `mutate` operation (RFC 7047 §5.2.4): change columns of the matching rows in place. */
export interface MutateOp {
  op: 'mutate';
  table: string;
  where: Condition[];
  mutations: Mutation[];
}
/** A `delete` operation (RFC 7047 §5.2.5). */
export interface DeleteOp {
  op: 'delete';
  table: string;
  where: Condition[];
}
/** A `wait` operation (RFC 7047 §5.2.6): the transaction waits (or fails after `timeout`) until the rows match. */
export interface WaitOp {
  op: 'wait';
  table: string;
  where: Condition[];
  columns: string[];
  until: '==' | '!=';
  rows: WireRow[];
  /** Milliseconds; 0 makes the wait a precondition check, absent waits forever. */
  timeout?: number;
}
/** A `commit` operation (RFC 7047 §5.2.7): `durable` asks the server to sync to disk first. */
export interface CommitOp {
  op: 'commit';
  durable: boolean;
}
/** An `abort` operation (RFC 7047 §5.2.8): the transaction fails here, changing nothing. */
export interface AbortOp {
  op: 'abort';
}
/** A `comment` operation (RFC 7047 §5.2.9): text for the server's log. */
export interface CommentOp {
  op: 'comment';
  comment: string;
}
/** An `assert` operation (RFC 7047 §5.2.10): fails the transaction unless this session holds the lock. */
export interface AssertOp {
  op: 'assert';
  lock: string;
}
/** Any transaction operation, as `OvsdbClient.transact` takes it. */
export type Operation = InsertOp | SelectOp | UpdateOp | MutateOp | DeleteOp | WaitOp | CommitOp | AbortOp | CommentOp | AssertOp;

/** One element of a transaction's result array. */
export interface OperationResult {
  uuid?: WireUuid;
  rows?: WireRow[];
  count?: number;
  error?: string;
  details?: string;
  syntax?: unknown;
}

/** The UUID an insert result carries. */
export function insertedUuid(result: OperationResult | undefined): string | undefined {
  return result?.uuid?.[1];
}
