// Reconnect delays for OvsdbSession: exponential from minMs to maxMs, with jitter so that many
// clients do not all come back at the same instant after a server restart.

export interface Backoff {
  minMs: number;
  maxMs: number;
}

/** The delay before retry number `attempt` (0 = retry at once), before jitter. */
export function nominalDelay(r: Backoff, attempt: number): number {
  return attempt <= 0 ? 0 : Math.min(r.maxMs, r.minMs * 2 ** (attempt - 1));
}

/** The nominal delay, jittered down to between half and all of it. */
export function backoffDelay(r: Backoff, attempt: number): number {
  const base = nominalDelay(r, attempt);
  // Jitter spreads the reconnects of many clients after a server restart.
  return Math.round(base / 2 + (Math.random() * base) / 2);
}
