// Container runtimes: how a slot finds the network namespace of a container by name or id.
export type { ContainerRuntime, RuntimeContainer, ContainerInfo, ContainerEvent, ContainerEventAction } from './container-runtime';
export { CONTAINER_EVENT_ACTIONS } from './container-runtime';
export { DockerRuntime } from './docker';
export type { DockerRuntimeOptions, CreateContainerOptions, ListContainersOptions, ContainerEventsFilter } from './docker';
export { ContainerEvents } from './container-events';
export type { ContainerEventsOptions, ReconnectInfo } from './container-events';
export { parseDetachKeys, DEFAULT_DETACH_KEYS } from './attach';
export type { AttachOptions, AttachResult } from './attach';
export { ensureBusyboxImage, busyboxRootfsTar, DEFAULT_BUSYBOX_IMAGE } from './busybox-image';
export { TarWriter } from './tar';
