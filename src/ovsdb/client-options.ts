// The options of OvsdbClient: how it connects, reconnects and times out, and per transaction.

import type { DatabaseSchema } from './schema';
import type { TlsOptions } from './transport';

/** How a client reconnects after it loses its server: backoff and attempts. */
export interface ReconnectOptions {
  /** First retry delay after an unhealthy connection (default 250 ms). */
  minMs?: number;
  /** Largest retry delay (default 8000 ms). */
  maxMs?: number;
}

/** Options of `OvsdbClient.connect`. */
export interface ConnectOptions {
  tls?: TlsOptions;
  /** Connect timeout and default per-request timeout (default 10000 ms; 0 = no request timeout). */
  timeoutMs?: number;
  /** Reconnect after losing the session (default true). */
  reconnect?: boolean | ReconnectOptions;
  /** With a clustered database, use only the raft leader (found through _Server). */
  leaderOnly?: boolean;
  /** Send an echo after this much silence and drop the session if it stays unanswered as long
   *  again. Default 5000 ms on tcp/ssl, 0 (off) on unix sockets. */
  probeIntervalMs?: number;
  /** Largest message accepted (default 64 MiB). */
  maxMessageBytes?: number;
  /**
   * Compare the server's schema of `db` with `expected` at connect (see schemaReport()). Fails
   * with OVSDB_SCHEMA_MISMATCH only if a table or column listed in `require` is missing.
   */
  schemaCheck?: { db: string; expected: DatabaseSchema; require?: Record<string, readonly string[]> };
}

/** Options of one `OvsdbClient.transact` call. */
export interface TransactOptions {
  timeoutMs?: number;
  /** Aborting sends `cancel` and rejects with OVSDB_CANCELED (the transaction may have committed). */
  signal?: AbortSignal;
}
