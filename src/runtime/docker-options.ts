// The options of DockerRuntime and of its create, list and events calls.
import type { ContainerEventsOptions } from './container-events';
import type { ContainerEventAction } from './container-runtime';

/** Options of {@link DockerRuntime}. */
export interface DockerRuntimeOptions {
  /** The dockerd socket. Default: DOCKER_HOST when it is unix://PATH, else /var/run/docker.sock. */
  socketPath?: string;
  /** Deadline for each API request (ms), not counting the grace time of stop/restart. Default 30000. */
  timeoutMs?: number;
}

/** What a container is made with: image, command, name, hostname, labels, environment, sysctls, privileges; always with no network of Docker's (`--network none`). */
export interface CreateContainerOptions {
  name: string;
  image: string;
  /** The command; default: the image's. */
  args?: string[];
  labels?: Record<string, string>;
  hostname?: string;
  /** Give the container a pseudo-terminal (needed for an interactive `attach`). Default true. */
  tty?: boolean;
  /** Keep stdin open even when nothing is attached. Default true. */
  openStdin?: boolean;
  /** NAME=value entries. */
  env?: string[];
  privileged?: boolean;
  /** e.g. { 'net.ipv6.conf.all.disable_ipv6': '0' } */
  sysctls?: Record<string, string>;
}

/** Options of `DockerRuntime.list`. */
export interface ListContainersOptions {
  /** Only containers that carry all these labels with these values (filtered by dockerd). */
  labels?: Record<string, string>;
  /** Include containers that are not running. Default false, like `docker ps`. */
  all?: boolean;
}

/** Options of `DockerRuntime.events`: which containers and actions, and how to reconnect. */
export interface ContainerEventsFilter extends ContainerEventsOptions {
  /** Only containers that carry all these labels with these values (filtered by dockerd). */
  labels?: Record<string, string>;
  /** Which actions; default all of CONTAINER_EVENT_ACTIONS. */
  actions?: readonly ContainerEventAction[];
}
