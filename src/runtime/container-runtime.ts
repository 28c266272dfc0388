// What the rest of ecdock needs from a container runtime: find a container by name or id and learn
// the pid whose network namespace a slot plugs into. Docker implements it today; Podman (its
// Docker-compatible socket or libpod API) can implement the same shape later.

/** The runtime-neutral view of a container: enough to plug it into a slot. */
export interface RuntimeContainer {
  /** Full container id. */
  id: string;
  /** Name without Docker's leading '/'. */
  name: string;
  /** Pid of the container's init process in the host pid namespace; 0 when not running. */
  pid: number;
  running: boolean;
  labels: Record<string, string>;
}

/** A container as Docker reports it. */
export interface ContainerInfo extends RuntimeContainer {
  /** The image the container was created from, as it was named at create time. */
  image: string;
  /** Docker's state: created | running | paused | restarting | removing | exited | dead. */
  state: string;
  /** Whether the container was created with a pseudo-terminal. */
  tty: boolean;
  /** ISO time of the last start; absent if never started. */
  startedAt?: string;
  /** Exit code of the last run; absent while running or if never started. */
  exitCode?: number;
  restartCount?: number;
}

/** What ecdock needs from a container runtime to plug containers: find one by name or id, and its pid. {@link DockerRuntime} is one. */
export interface ContainerRuntime {
  /** Short name of the runtime, e.g. 'docker'. */
  readonly kind: string;
  /** The container, or undefined when no container has that name or id. */
  inspect(ref: string): Promise<RuntimeContainer | undefined>;
  /**
   * A running container by name or id. Rejects NO_SUCH_CONTAINER when missing and
   * CONTAINER_NOT_RUNNING when it has no process (pid 0).
   */
  resolve(ref: string): Promise<RuntimeContainer>;
}

/** Container lifecycle events ecdock follows. */
export const CONTAINER_EVENT_ACTIONS = ['create', 'start', 'restart', 'die', 'kill', 'stop', 'destroy', 'pause', 'unpause'] as const;
export type ContainerEventAction = (typeof CONTAINER_EVENT_ACTIONS)[number];

/** A container started, stopped, died, was destroyed...: its id, name, action, labels and time. */
export interface ContainerEvent {
  action: ContainerEventAction;
  id: string;
  /** Name without the leading '/'; empty if the runtime did not say. */
  name: string;
  labels: Record<string, string>;
  /** When the runtime says it happened. */
  time: Date;
  /** Nanoseconds since the epoch as a decimal string: exact, orders events within a second. */
  timeNano: string;
  image?: string;
  /** On 'die'. */
  exitCode?: number;
  /** On 'kill'. */
  signal?: string;
}
