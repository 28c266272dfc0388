// The OVSDB client's public pieces. src/index.ts re-exports what users need from here.
export { OvsdbClient } from './client';
export type { ConnectOptions, ReconnectOptions, TransactOptions } from './client';
export { Monitor } from './monitor';
export type { MonitorTableSpec, MonitorTables, MonitorSelect, RowHandler, MonitorChange } from './monitor';
export type { RowChange } from './cache';
export { TransactionBatcher } from './batcher';
export type { BatcherOptions, BatchResult } from './batcher';
export { OvsdbTransactionError, checkTransactResult } from './results';
export { op, ops, cond, mut, decodeRows, encodeConditions, insertedUuid, renameUuidNames } from './operations';
export type {
  Operation,
  OperationResult,
  Condition,
  ConditionFunction,
  Mutation,
  Mutator,
  InsertOp,
  SelectOp,
  UpdateOp,
  MutateOp,
  DeleteOp,
  WaitOp,
  CommitOp,
  AbortOp,
  CommentOp,
  AssertOp,
  TypedOps,
  InsertRow,
  UpdateRow,
  TypedCondition,
  TypedMutation,
} from './operations';
export { encodeDatum, decodeDatum, encodeAtom, decodeAtom, defaultValue, decodeRow, encodeRow, isUuid, ZERO_UUID } from './datum';
export type { Atom, Value, Row, WireAtom, WireDatum, WireRow, WireUuid } from './datum';
export { checkSchema, normalizeSchema, normalizeColumnType } from './schema';
export type { DatabaseSchema, TableSchema, ColumnSchema, ColumnType, TypedSchema, SchemaReport } from './schema';
export { parseRemotes, formatRemote, DEFAULT_URL } from './transport';
export type { TlsOptions, Remote } from './transport';
export { JsonFramer, DEFAULT_MAX_MESSAGE_BYTES } from './framer';
export { openVswitchSchema } from './schema/open-vswitch';
export type * from './schema/open-vswitch';
export { ovnNorthboundSchema } from './schema/ovn-nb';
export type { OvnNorthboundTables, OvnNorthboundTableName } from './schema/ovn-nb';
export type * as OvnNorthbound from './schema/ovn-nb';
export { ovnSouthboundSchema } from './schema/ovn-sb';
export type { OvnSouthboundTables, OvnSouthboundTableName } from './schema/ovn-sb';
export type * as OvnSouthbound from './schema/ovn-sb';
export { generateTypes } from './gen/generate';
export type { GenerateOptions } from './gen/generate';
