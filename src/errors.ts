// Every failure ecdock reports is an EcdockError with a stable `code`. The code is the contract:
// messages may be reworded, codes may not. `detail` carries what lies underneath (the OVSDB error
// object, the netlink errno and extended ack, the Docker API status) for people who debug.

/** Broad kinds of failure; the CLI maps each kind to its own exit code. */
export type ErrorKind =
  | 'usage' // the caller asked for something malformed: fix the input
  | 'conflict' // the request is well formed but collides with existing state (slot taken, name exists)
  | 'not-found' // the thing named does not exist (vswitch, slot, container, namespace)
  | 'unavailable' // a service or facility is missing or unreachable (ovsdb-server, dockerd, kernel datapath)
  | 'protocol' // a peer broke its protocol (garbage from ovsdb-server, malformed netlink reply)
  | 'failed' // the operation was attempted and the system refused it
  | 'internal'; // a bug in ecdock

/** Stable error codes, with their kind. Add new codes here; never rename one. */
export const ERROR_CODES = {
  // input
  BAD_ARGUMENT: 'usage',
  BAD_SUBNET: 'usage',
  BAD_ADDRESS: 'usage',
  BAD_MAC: 'usage',
  BAD_MTU: 'usage',
  BAD_VLAN: 'usage',
  BAD_IFNAME: 'usage',
  BAD_NAME: 'usage',
  BAD_URL: 'usage',
  BAD_TLS_FILES: 'usage',
  BAD_TARGET: 'usage',
  SLOT_OUT_OF_RANGE: 'usage',
  HOST_NETNS_REFUSED: 'usage',
  NOT_A_NETNS: 'usage',
  // state conflicts
  SLOT_TAKEN: 'conflict',
  NO_FREE_SLOT: 'conflict',
  VSWITCH_EXISTS: 'conflict',
  VSWITCH_PLAN_MISMATCH: 'conflict',
  SUBNET_IN_USE: 'conflict',
  LINK_EXISTS: 'conflict',
  NAME_TAKEN: 'conflict',
  NOT_OURS: 'conflict',
  SLOT_ON_OTHER_HOST: 'conflict',
  FOREIGN_PORTS: 'conflict',
  LOCK_NOT_HELD: 'conflict',
  // missing things
  NO_SUCH_VSWITCH: 'not-found',
  NO_SUCH_SLOT: 'not-found',
  NO_SUCH_LINK: 'not-found',
  NO_SUCH_CONTAINER: 'not-found',
  NO_SUCH_IMAGE: 'not-found',
  NETNS_GONE: 'not-found',
  CONTAINER_NOT_RUNNING: 'conflict',
  // services
  OVSDB_UNREACHABLE: 'unavailable',
  OVSDB_CONNECTION_LOST: 'unavailable',
  OVSDB_TIMEOUT: 'unavailable',
  VSWITCHD_TIMEOUT: 'unavailable',
  // ovs-vswitchd's control socket (unixctl), which is not OVSDB
  UNIXCTL_UNREACHABLE: 'unavailable',
  UNIXCTL_TIMEOUT: 'unavailable',
  UNIXCTL_CONNECTION_LOST: 'unavailable',
  UNIXCTL_PROTOCOL: 'protocol',
  KERNEL_DATAPATH_UNAVAILABLE: 'unavailable',
  DOCKER_UNREACHABLE: 'unavailable',
  NATIVE_UNAVAILABLE: 'unavailable',
  PERMISSION_DENIED: 'unavailable',
  TLS_FAILED: 'unavailable',
  SANDBOX_FAILED: 'unavailable',
  OVN_HOST_NOT_CONFIGURED: 'unavailable',
  OVN_TIMEOUT: 'unavailable',
  // protocol
  OVSDB_PROTOCOL: 'protocol',
  OVSDB_MESSAGE_TOO_LARGE: 'protocol',
  OVSDB_SCHEMA_MISMATCH: 'protocol',
  NETLINK_PROTOCOL: 'protocol',
  // refused operations
  OVSDB_ERROR: 'failed',
  OVSDB_TXN_FAILED: 'failed',
  OVSDB_CANCELED: 'failed',
  NETLINK_ERROR: 'failed',
  PORT_FAILED: 'failed',
  DOCKER_ERROR: 'failed',
  INTERRUPTED: 'failed',
  INTERNAL: 'internal',
} as const satisfies Record<string, ErrorKind>;

/** Every stable error code ecdock throws: the keys of {@link ERROR_CODES}. Branch on `e.code`, never on the message. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** What an {@link EcdockError} carries besides its code and message. */
export interface EcdockErrorOptions {
  /** What lies underneath: an OVSDB error object, a netlink errno, a Docker status... */
  detail?: unknown;
  /** The error that caused this one. */
  cause?: unknown;
}

/**
 * The base of every error ecdock throws: a stable `code` (see {@link ERROR_CODES}), a sentence a
 * person can act on as `message`, and what lies underneath as `detail`. The subclasses only group
 * codes by subsystem; test with {@link isEcdockError} or `e.code`.
 *
 * @example
 * ```ts
 * try {
 *   await vs.attach({ slot: 1, target: { netns: '/var/run/netns/blue' } });
 * } catch (e) {
 *   if (isEcdockError(e, 'SLOT_TAKEN')) console.log('slot 1 is in use:', e.message);
 *   else throw e;
 * }
 * ```
 */
export class EcdockError extends Error {
  readonly code: ErrorCode;
  readonly detail?: unknown;

  constructor(code: ErrorCode, message: string, options: EcdockErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.detail !== undefined) this.detail = options.detail;
  }

  override get name(): string {
    return this.constructor.name;
  }

  get kind(): ErrorKind {
    return ERROR_CODES[this.code] ?? 'internal';
  }

  /** The error as plain JSON (name, code, message, detail), as `ec --json` prints it. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, detail: this.detail };
  }
}

/** Bad input: nothing was changed. */
export class UsageError extends EcdockError {}
/** OVSDB: unreachable server, protocol violations, failed transactions. */
export class OvsdbError extends EcdockError {}
/** rtnetlink and network namespaces. */
export class NetlinkError extends EcdockError {}
/** VSwitch and slot semantics: taken slots, missing vswitches, datapath trouble. */
export class VSwitchError extends EcdockError {}
/** Container runtimes (Docker). */
export class RuntimeError extends EcdockError {}
/** The private OVS sandbox. */
export class SandboxError extends EcdockError {}

/**
 * Whether `e` is an ecdock error, and, given `code`, one with that code. Narrows `e` for TypeScript.
 *
 * @example
 * ```ts
 * if (isEcdockError(e, 'NO_SUCH_VSWITCH')) await VSwitch.create(ovs, { name: 'ovs0', subnet: '10.0.0.254/24' });
 * ```
 */
export function isEcdockError(e: unknown, code?: ErrorCode): e is EcdockError {
  return e instanceof EcdockError && (code === undefined || e.code === code);
}
