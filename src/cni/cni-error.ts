// The CNI error object (spec 1.x, "Error" section) and how ecdock's own errors map onto it. A
// plugin answers every failure with { cniVersion, code, msg, details } on stdout and exit status 1.
// Codes below 100 are the spec's; 100 and up are ecdock's own, one per kind of EcdockError, with
// the stable ecdock code and its detail in `details` so a runtime's log says what to fix.

import { isEcdockError, type ErrorCode, type ErrorKind } from '../errors';

/** The spec's well-known codes. */
export const CNI_CODE = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO_FAILURE: 5,
  DECODE_FAILED: 6,
  INVALID_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  /** STATUS: the plugin cannot serve ADDs now. */
  NOT_AVAILABLE: 50,
} as const;

/** ecdock's own codes: 100 + the kind of the EcdockError. */
export const ECDOCK_CODE: Record<ErrorKind, number> = {
  usage: 100,
  conflict: 101,
  'not-found': 102,
  unavailable: 103,
  protocol: 104,
  failed: 105,
  internal: 106,
};

export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    /** ecdock's stable code, when an EcdockError lies underneath (or the CNI check that failed). */
    readonly ecdockCode?: string,
    readonly detail?: unknown,
  ) {
    super(msg);
  }
}

/** Codes that mean "the network or the runtime is not ready": try again later. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set(['OVSDB_UNREACHABLE', 'OVSDB_CONNECTION_LOST', 'OVSDB_TIMEOUT', 'VSWITCHD_TIMEOUT']);
/** Codes that mean the configuration (not the call) is wrong. */
const CONFIG: ReadonlySet<ErrorCode> = new Set(['BAD_SUBNET', 'BAD_MTU', 'BAD_VLAN', 'BAD_NAME', 'BAD_URL', 'BAD_TLS_FILES', 'VSWITCH_PLAN_MISMATCH', 'NOT_OURS', 'SUBNET_IN_USE', 'KERNEL_DATAPATH_UNAVAILABLE']);

/** Any thrown value as a CNI error. */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (isEcdockError(e)) {
    let code = ECDOCK_CODE[e.kind] ?? ECDOCK_CODE.internal;
    if (TRANSIENT.has(e.code)) code = CNI_CODE.TRY_AGAIN_LATER;
    else if (CONFIG.has(e.code)) code = CNI_CODE.INVALID_CONFIG;
    else if (e.code === 'NETNS_GONE') code = CNI_CODE.UNKNOWN_CONTAINER;
    else if (e.code === 'NOT_A_NETNS') code = CNI_CODE.INVALID_ENV;
    return new CniError(code, e.message, e.code, e.detail);
  }
  const err = e as Error | undefined;
  return new CniError(ECDOCK_CODE.internal, `internal error: ${err?.message ?? String(e)}`, 'INTERNAL', err?.stack);
}

/** The spec's error object. `details` is a string: JSON with the ecdock code and detail. */
export function errorObject(e: CniError, cniVersion: string): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion, code: e.code, msg: e.message };
  if (e.ecdockCode !== undefined || e.detail !== undefined) {
    out.details = JSON.stringify({ ecdock: e.ecdockCode, ...(e.detail !== undefined ? { detail: e.detail } : {}) }, (_k, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v,
    );
  }
  return out;
}
