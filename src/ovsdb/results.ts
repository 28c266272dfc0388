// Turning what ovsdb-server answers into results or typed errors. Two layers fail differently:
// a JSON-RPC error (a string such as "unknown method" or "canceled",
// or an {error, details} object) rejects the whole request, while a failed transaction is a
// *successful* reply whose result array holds {error, details} at the first failing operation —
// or, for a commit-time failure, one element past the last operation.

import { OvsdbError, type ErrorCode } from '../errors';
import { jsonForMessage } from './json';
import { describeRpcError, rpcErrorTag, type OvsdbRpcErrorValue } from './jsonrpc';
import type { Operation, OperationResult } from './operations';

/** Error tags after which rebuilding the transaction from fresh state may succeed (the OVS IDL's TXN_TRY_AGAIN). */
const TRY_AGAIN_TAGS = new Set(['timed out', 'canceled', 'unknown database', 'database not available']);

/** Where and how a transaction failed: the failing operation's index and the server's error. */
export interface OvsdbTransactionErrorInfo {
  /** Index of the failing operation, or -1 when the commit itself failed. */
  opIndex: number;
  /** The OVSDB error tag, e.g. "constraint violation", "referential integrity violation". */
  tag: string;
  details?: string;
  syntax?: unknown;
  /** The raw result array. */
  results: unknown[];
  /** The failing operation. */
  op?: Operation;
}

/** A transaction the server refused; nothing of it was committed. */
export class OvsdbTransactionError extends OvsdbError {
  readonly opIndex: number;
  readonly tag: string;
  readonly details?: string;
  readonly syntax?: unknown;
  readonly results: unknown[];
  readonly op?: Operation;

  constructor(info: OvsdbTransactionErrorInfo, message?: string) {
    const where = info.opIndex < 0 ? 'commit' : `operation ${info.opIndex}${info.op ? ` (${describeOp(info.op)})` : ''}`;
    super('OVSDB_TXN_FAILED', message ?? `OVSDB transaction failed at ${where}: ${info.tag}${info.details ? `: ${info.details}` : ''}`, {
      detail: { opIndex: info.opIndex, tag: info.tag, details: info.details, syntax: info.syntax, results: info.results },
    });
    this.opIndex = info.opIndex;
    this.tag = info.tag;
    if (info.details !== undefined) this.details = info.details;
    if (info.syntax !== undefined) this.syntax = info.syntax;
    this.results = info.results;
    if (info.op !== undefined) this.op = info.op;
  }

  /** True when re-reading state and rebuilding the transaction may succeed (a `wait` failed, …). */
  get tryAgain(): boolean {
    return TRY_AGAIN_TAGS.has(this.tag);
  }
}

function describeOp(o: Operation): string {
  return 'table' in o ? `${o.op} ${o.table}` : o.op;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks a transact result against the operations sent. Returns the per-operation results
 * (length = ops.length) or throws OvsdbTransactionError / OVSDB_PROTOCOL.
 */
export function checkTransactResult(operations: readonly Operation[], result: unknown): OperationResult[] {
  if (!Array.isArray(result)) {
    throw new OvsdbError('OVSDB_PROTOCOL', 'OVSDB protocol error: transact result is not an array', { detail: result });
  }
  const n = operations.length;
  // Fast path: every slot is an object without `error`, and there is no commit error.
  let failed = -1;
  for (let i = 0; i < result.length; i++) {
    const r: unknown = result[i];
    if (!isObj(r) || r.error !== undefined) {
      failed = i;
      break;
    }
  }
  if (failed < 0) {
    if (result.length === n) return result as OperationResult[];
    throw new OvsdbError('OVSDB_PROTOCOL', `OVSDB protocol error: transact returned ${result.length} results for ${n} operations`, { detail: result });
  }
  const r: unknown = result[failed];
  if (failed >= n) {
    // The (n+1)th element: the commit failed after every operation succeeded.
    const e = isObj(r) ? r : {};
    throw new OvsdbTransactionError({
      opIndex: -1,
      tag: typeof e.error === 'string' ? e.error : 'unknown error',
      ...(typeof e.details === 'string' ? { details: e.details } : {}),
      ...(e.syntax !== undefined ? { syntax: e.syntax } : {}),
      results: result,
    });
  }
  if (!isObj(r)) {
    // A null slot with no error before it: the server gave up on the transaction (try again).
    throw new OvsdbTransactionError({ opIndex: failed, tag: 'timed out', details: 'operation result missing', results: result, op: operations[failed]! });
  }
  throw new OvsdbTransactionError({
    opIndex: failed,
    tag: typeof r.error === 'string' ? r.error : jsonForMessage(r.error),
    ...(typeof r.details === 'string' ? { details: r.details } : {}),
    ...(r.syntax !== undefined ? { syntax: r.syntax } : {}),
    results: result,
    op: operations[failed]!,
  });
}

/** Maps a JSON-RPC error reply to a typed error. */
export function rpcError(method: string, error: OvsdbRpcErrorValue, code?: ErrorCode): OvsdbError {
  const tag = rpcErrorTag(error);
  const c: ErrorCode = code ?? (tag === 'canceled' ? 'OVSDB_CANCELED' : 'OVSDB_ERROR');
  return new OvsdbError(c, `OVSDB ${method} failed: ${describeRpcError(error)}`, { detail: error });
}

/** The OVSDB error tag of an OvsdbError made by rpcError (or undefined). */
export function errorTag(e: unknown): string | undefined {
  if (e instanceof OvsdbTransactionError) return e.tag;
  if (e instanceof OvsdbError) {
    const d = e.detail;
    if (typeof d === 'string') return d;
    if (isObj(d) && typeof d.error === 'string') return d.error;
  }
  return undefined;
}
