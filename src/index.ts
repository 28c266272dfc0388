// The public surface of ecdock. Everything users import comes from here; internals stay unexported.
export {
  EcdockError,
  UsageError,
  OvsdbError,
  NetlinkError,
  VSwitchError,
  RuntimeError,
  SandboxError,
  ERROR_CODES,
  isEcdockError,
} from './errors';
export type { ErrorCode, ErrorKind } from './errors';
export { OvsSandbox, OvsCluster } from './sandbox';
export type { OvsSandboxOptions, OvsClusterOptions } from './sandbox';
