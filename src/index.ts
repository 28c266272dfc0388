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

// The vswitch/slot model
export { VSwitch } from './vswitch';
export type { VSwitchCreateOptions, VSwitchOpenOptions, AttachOptions, SlotEvent, CleanupOptions, CleanupReport } from './vswitch';
export type { SwitchSpec } from './realisation';
export { Slot } from './slot';
export { ContainerFollower } from './follow';
export type { FollowerRuntime, ContainerFollowerOptions, FollowEvent } from './follow';
// Containers in slots: what ec start, stop and restart do
export {
  startInSlot,
  stopInSlot,
  restartInSlot,
  containerOfSlot,
  labelledContainers,
  slotHeldBy,
  CONTAINER_LABELS,
  containerLabels,
  labelsMatch,
  slotPluggedInto,
} from './in-slot';
export type { InSlotRuntime, StartInSlotOptions, Started, StopInSlotOptions, Stopped, RestartInSlotOptions } from './in-slot';
export type { SlotInfo, SlotState, SlotTarget, SlotTargetInfo, PortType } from './slot';
export { AddressPlan, macFromIpv4, slotPortName } from './addressing';
export type { SlotAddress } from './addressing';

// OVSDB
export {
  OvsdbClient,
  Monitor,
  TransactionBatcher,
  OvsdbTransactionError,
  op,
  ops,
  cond,
  mut,
  decodeRows,
  insertedUuid,
  checkSchema,
  openVswitchSchema,
  ovnNorthboundSchema,
  ovnSouthboundSchema,
  generateTypes,
} from './ovsdb';
export type {
  ConnectOptions,
  ReconnectOptions,
  TransactOptions,
  MonitorTables,
  MonitorTableSpec,
  RowChange,
  Operation,
  OperationResult,
  Condition,
  Mutation,
  Row,
  DatabaseSchema,
  TypedSchema,
  SchemaReport,
  TypedOps,
  BatcherOptions,
  BatchResult,
  TlsOptions,
} from './ovsdb';
export type * from './ovsdb/schema/open-vswitch';
export type { OvnNorthboundTables, OvnSouthboundTables, OvnNorthbound, OvnSouthbound, GenerateOptions, RowHandler, MonitorChange } from './ovsdb';

// Network namespaces and links
export {
  Netns,
  createVeth,
  createVeths,
  configureInterface,
  getLink,
  listLinks,
  setLink,
  moveLink,
  deleteLink,
  deleteLinks,
  deleteLinkGroup,
  listAddresses,
  listRoutes,
  setNeighbors,
} from './netlink';
export type {
  NetnsRef,
  NetnsProbe,
  LinkInfo,
  AddrInfo,
  RouteInfo,
  CreateVethOptions,
  CreateVethsOptions,
  VethCreated,
  VethSettled,
  VethPeerOptions,
  ConfigureOptions,
  InterfaceConfig,
  SetLinkOptions,
  MoveLinkOptions,
  AddressSpec,
  RouteSpec,
  NeighborSpec,
  NetlinkErrorDetail,
} from './netlink';

// Container runtimes
export { DockerRuntime, ContainerEvents } from './runtime';
export type { ContainerRuntime, RuntimeContainer, ContainerInfo, ContainerEvent, CreateContainerOptions, AttachResult } from './runtime';

// A private OVS for tests and demos
export { OvsSandbox, OvsCluster, ScratchNetns, OvnSandbox } from './sandbox';
export type { OvsSandboxOptions, OvsClusterOptions, OvnSandboxOptions, OvnHost } from './sandbox';
