// The errors OvsdbClient makes itself (as opposed to those ovsdb-server reports): protocol
// violations in a reply, unexpected failures wrapped with a stable code, and a transaction the
// connection refused to send, turned into the failure of the one operation that caused it.

import { EcdockError, OvsdbError } from '../errors';
import { hasNul } from './connection';
import { stringifyJson } from './json';
import type { Operation } from './operations';
import { OvsdbTransactionError } from './results';

/** A server that answered but must not be used now (no raft leader, behind, …); worth retrying. */
export class NotUsable extends OvsdbError {}

export function protocol(what: string, detail: unknown): OvsdbError {
  return new OvsdbError('OVSDB_PROTOCOL', `OVSDB protocol error: ${what}`, { detail });
}

/** The `locked` flag of a lock or steal reply. */
export function lockResult(r: unknown): boolean {
  if (!r || typeof r !== 'object' || typeof (r as { locked?: unknown }).locked !== 'boolean') throw protocol('lock result has no "locked"', r);
  return (r as { locked: boolean }).locked;
}

export function asOvsdbError(e: unknown): EcdockError {
  if (e instanceof EcdockError) return e;
  return new OvsdbError('INTERNAL', `unexpected failure: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/**
 * A transaction the connection refused to send for a NUL character, as the failure of the
 * operation that holds it: the batcher then fails that submitter alone.
 */
export function unsendable(e: unknown, operations: Operation[]): unknown {
  const why = e instanceof EcdockError ? (e.detail as { unsendable?: string } | undefined)?.unsendable : undefined;
  // A value JSON cannot carry stays the caller's UsageError (the batcher checks each submission first).
  if (why !== 'nul') return e;
  const opIndex = operations.findIndex((op) => {
    try {
      return hasNul(stringifyJson(op));
    } catch {
      return true;
    }
  });
  if (opIndex < 0) return e;
  const op = operations[opIndex]!;
  const what = 'table' in op ? `${op.op} ${op.table}` : op.op;
  const details = why === 'nul' ? 'a string contains a NUL character, which ovsdb-server does not accept' : (e as Error).message;
  return new OvsdbTransactionError(
    { opIndex, tag: 'syntax error', details, results: [], op },
    `OVSDB transaction not sent: operation ${opIndex} (${what}): ${details}`,
  );
}
