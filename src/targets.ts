// What a slot plugs into: a process's network namespace, a namespace file, or a container. Resolves
// a target to an open Netns plus what the slot records about it, and tells later whether that
// target is still there (its namespace, with the same identity, or its container, running).

import { UsageError, VSwitchError, isEcdockError } from './errors';
import { Netns } from './netlink/netns';
import type { ContainerRuntime } from './runtime/container-runtime';
import type { DockerRuntime } from './runtime/docker';
import type { SlotTarget, SlotTargetInfo } from './slot';

export interface ResolvedTarget {
  netns: Netns;
  info: SlotTargetInfo;
}

/** Lazily constructed Docker runtime, so that users without Docker never load dockerode. */
let defaultRuntime: DockerRuntime | undefined;
export function dockerRuntime(): DockerRuntime {
  if (!defaultRuntime) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DockerRuntime } = require('./runtime/docker') as typeof import('./runtime/docker');
    defaultRuntime = new DockerRuntime();
  }
  return defaultRuntime;
}

export function checkTarget(t: unknown): asserts t is SlotTarget {
  const ok =
    typeof t === 'object' &&
    t !== null &&
    Object.keys(t).length === 1 &&
    (('pid' in t && Number.isInteger((t as { pid: unknown }).pid) && (t as { pid: number }).pid > 0) ||
      ('netns' in t && typeof (t as { netns: unknown }).netns === 'string' && (t as { netns: string }).netns.length > 0) ||
      ('container' in t && typeof (t as { container: unknown }).container === 'string' && (t as { container: string }).container.length > 0));
  if (!ok) {
    throw new UsageError(
      'BAD_TARGET',
      `a slot target is exactly one of { pid: <positive integer> }, { netns: "/var/run/netns/NAME" } or { container: "name-or-id" }, got ${JSON.stringify(t)}`,
      { detail: { target: t } },
    );
  }
}

/** Opens the target's namespace. The caller closes `netns`. */
export async function resolveTarget(t: SlotTarget, runtime: () => ContainerRuntime): Promise<ResolvedTarget> {
  checkTarget(t);
  if ('pid' in t) {
    const netns = Netns.open({ pid: t.pid });
    return { netns, info: { kind: 'pid', ref: String(t.pid), netnsId: netns.id } };
  }
  if ('netns' in t) {
    const netns = Netns.open({ path: t.netns });
    return { netns, info: { kind: 'netns', ref: t.netns, netnsId: netns.id } };
  }
  const c = await runtime().resolve(t.container);
  let netns: Netns;
  try {
    netns = Netns.open({ pid: c.pid });
  } catch (e) {
    if (isEcdockError(e, 'NETNS_GONE')) {
      throw new VSwitchError('CONTAINER_NOT_RUNNING', `container ${c.name} stopped while it was being plugged`, { cause: e });
    }
    throw e;
  }
  return { netns, info: { kind: 'container', ref: c.id, name: c.name, netnsId: netns.id } };
}

export type Liveness = 'alive' | 'stopped' | 'gone' | 'unknown';

/**
 * Whether a recorded target is still there. A pid whose namespace has another identity (pid
 * reused) or a path that no longer leads to a namespace is `gone`. A container that exists but is
 * not running is `stopped`; a container that runs is `alive` even if it restarted into a new
 * namespace (the slot then needs re-plugging: its veth died with the old one). Namespace inode
 * numbers are reused by the kernel, so identity can only prove "gone", never "the same".
 * `unknown` when the runtime cannot be asked (dockerd down): callers must then keep the slot.
 */
export async function targetLiveness(info: SlotTargetInfo, runtime: () => ContainerRuntime): Promise<Liveness> {
  switch (info.kind) {
    case 'pid':
      return Netns.probe({ pid: Number(info.ref) }, info.netnsId).alive ? 'alive' : 'gone';
    case 'netns':
      return Netns.probe({ path: info.ref }, info.netnsId).alive ? 'alive' : 'gone';
    case 'container': {
      try {
        const c = await runtime().inspect(info.ref);
        if (!c) return 'gone';
        return c.running && c.pid > 0 ? 'alive' : 'stopped';
      } catch {
        return 'unknown';
      }
    }
  }
}

/**
 * Opens the namespace a recorded target is in now, or undefined when it is gone (or the runtime
 * cannot be asked). A pid or path must still lead to the recorded namespace; a container's is
 * wherever it runs now. The caller closes it.
 */
export async function openRecordedTarget(info: SlotTargetInfo, runtime: () => ContainerRuntime): Promise<Netns | undefined> {
  const open = (ref: { pid: number } | { path: string }, expect?: string): Netns | undefined => {
    let ns: Netns;
    try {
      ns = Netns.open(ref);
    } catch {
      return undefined;
    }
    if (expect !== undefined && ns.id !== expect) {
      ns.close();
      return undefined;
    }
    return ns;
  };
  switch (info.kind) {
    case 'pid':
      return open({ pid: Number(info.ref) }, info.netnsId);
    case 'netns':
      return open({ path: info.ref }, info.netnsId);
    case 'container': {
      try {
        const c = await runtime().inspect(info.ref);
        return c?.running && c.pid > 0 ? open({ pid: c.pid }) : undefined;
      } catch {
        return undefined;
      }
    }
  }
}
