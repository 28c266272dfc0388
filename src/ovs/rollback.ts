// Undoing a half-done step after a failure. The failure that made us undo is what the caller
// reports; if the undo fails too, that is recorded in the error's `detail.rollback` (as the netlink
// layer does) rather than swallowed, so that whoever debugs the leftover knows why it is there.

import { EcdockError } from '../errors';

export interface RollbackFailure {
  step: string;
  error: string;
  code?: string;
}

/** Records that undoing `step` failed with `failure`, on the error being reported. */
export function noteRollback(e: unknown, step: string, failure: unknown): void {
  const entry: RollbackFailure = {
    step,
    error: failure instanceof Error ? failure.message : String(failure),
    ...(failure instanceof EcdockError ? { code: failure.code } : {}),
  };
  if (typeof e !== 'object' || e === null) return;
  const holder = e as { detail?: unknown };
  let detail = holder.detail;
  if (detail === undefined) {
    detail = {};
    try {
      holder.detail = detail;
    } catch {
      return; // a frozen error: nothing to record on
    }
  }
  if (typeof detail !== 'object' || detail === null) return;
  const d = detail as { rollback?: unknown };
  if (Array.isArray(d.rollback)) (d.rollback as unknown[]).push(entry);
  else d.rollback = [entry];
}

/** Runs `undo` after `e` happened; a failing undo is noted on `e`. Never throws. */
export async function rollback(e: unknown, step: string, undo: () => Promise<unknown>): Promise<void> {
  try {
    await undo();
  } catch (failure) {
    noteRollback(e, step, failure);
  }
}
