/**
 * ecdock plugs Linux containers and network namespaces into Open vSwitch: every container gets a
 * numbered slot with a fixed MAC (`52:00` + its IPv4 bytes) and a fixed IP (network + N). OVS is
 * driven over OVSDB JSON-RPC straight to ovsdb-server, links and addresses over rtnetlink; no
 * process is ever spawned (only {@link OvsSandbox} starts OVS daemons).
 *
 * @example
 * ```ts
 * import { OvsdbClient, VSwitch } from 'ecdock';
 * const ovs = await OvsdbClient.connect();   // $ECDOCK_DB, else unix:/var/run/openvswitch/db.sock
 * const vs = await VSwitch.create(ovs, { name: 'ovs0', subnet: '10.0.0.254/24' });
 * const slot = await vs.attach({ target: { netns: '/var/run/netns/blue' } });
 * console.log(slot.index, slot.ipv4, slot.mac);   // 1 10.0.0.1 52:00:0a:00:00:01
 * ovs.close();
 * ```
 * @packageDocumentation
 */
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
export type { FollowerRuntime, ContainerFollowerOptions, FollowEvent, RepairEvent } from './follow';
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

// Types that the signatures above use, exported so that callers can name them (and the API
// reference can show them).
export type {
  ConditionFunction,
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
  TablesOf,
  TypedCondition,
  InsertRow,
  TypedMutation,
  UpdateRow,
  InputValue,
  CondValue,
  MutValue,
} from './ovsdb/operations';
export type { WireDatum, WireRow, WireUuid, WireAtom, WireSet, WireMap, WireNamedUuid } from './ovsdb/datum';
export type { Remote } from './ovsdb/transport';
export type { TableSchema, ColumnSchema, ColumnTypeJson, BaseTypeJson, AtomicType } from './ovsdb/schema';
export type { MonitorSelect } from './ovsdb/monitor';
export type { OvsdbTransactionErrorInfo } from './ovsdb/results';
export type { Transactor } from './ovsdb/batcher';
export type { Side } from './netlink/errors';
export type { LinkRef } from './netlink/link';
export type { AddressPlanJSON } from './addressing';
export type { EventConnector, EventConnection, ContainerEventsOptions, ReconnectInfo } from './runtime/container-events';
export type { DockerRuntimeOptions, ContainerEventsFilter, ListContainersOptions } from './runtime/docker';
export type { AttachOptions as ContainerAttachOptions } from './runtime/attach';
export type { EcdockErrorOptions } from './errors';
export type { SlotHandle } from './slot';
export type { CleanupReason, Repair } from './realisation';
export type { OvnOptions } from './ovn/ovn-switch';
export type { DbRef } from './ovn/nb-db';
