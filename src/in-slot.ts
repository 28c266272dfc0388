// Containers in slots, the lifecycle `ec start`, `stop` and `restart` are made of, for library users
// too. A container in slot N of vswitch V is named after the slot's port (`ovs0-s01`), carries labels
// naming V and N (so that a ContainerFollower plugs it again after a restart), runs with no network
// of its own, and is plugged into its slot once started. A failed start leaves nothing behind: the
// container is removed again.
//
// Whoever plugs a container may race a follower (`ec watch`) plugging the same container: the loser
// sees SLOT_TAKEN, and slotHeldBy is the one place that asks "taken by that very container?", in
// which case the loser got the outcome it wanted.
import { hostname } from 'node:os';
import { slotPortName } from './addressing';
import { RuntimeError, VSwitchError, isEcdockError } from './errors';
import { getLink } from './netlink/link';
import { Netns } from './netlink/netns';
import type { ContainerInfo, ContainerRuntime } from './runtime/container-runtime';
import type { CreateContainerOptions } from './runtime/docker';
import type { PortType, Slot, SlotInfo } from './slot';
import { dockerRuntime } from './targets';
import type { VSwitch } from './vswitch';

/** Labels that tie a container to its slot. */
export const CONTAINER_LABELS = {
  /** Name of the vswitch. */
  vswitch: 'ecdock.vswitch',
  /** Slot number. */
  slot: 'ecdock.slot',
  /** Identity of that vswitch (its link group): a same-named vswitch on another OVS is not it. */
  vswitchId: 'ecdock.vswitch-id',
  /** How the slot was plugged, so that it can be plugged again the same way once freed. */
  portType: 'ecdock.port-type',
  dualNic: 'ecdock.dual-nic',
} as const;

/** The labels startInSlot puts on a container it starts in slot `slot` of `vs`. */
export function containerLabels(vs: VSwitch, slot: number, o: { portType?: PortType; dualNic?: boolean } = {}): Record<string, string> {
  return {
    [CONTAINER_LABELS.vswitch]: vs.name,
    [CONTAINER_LABELS.slot]: String(slot),
    [CONTAINER_LABELS.vswitchId]: String(vs.group),
    [CONTAINER_LABELS.portType]: o.portType ?? 'veth',
    [CONTAINER_LABELS.dualNic]: o.dualNic ? 'true' : 'false',
  };
}

/** Whether a labelled container belongs to this vswitch (same name, and same identity when recorded). */
export function labelsMatch(labels: Record<string, string>, vs: VSwitch): boolean {
  if (labels[CONTAINER_LABELS.vswitch] !== vs.name) return false;
  const id = labels[CONTAINER_LABELS.vswitchId];
  return id === undefined || id === String(vs.group);
}

/** The slot number in a container's labels, or undefined when absent or malformed. */
export function slotOfLabels(labels: Record<string, string>): number | undefined {
  const s = labels[CONTAINER_LABELS.slot];
  return s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined;
}

/** How a labelled container's slot is plugged again once it was freed: as it was first plugged. */
export function plugOptionsOfLabels(labels: Record<string, string>): { portType: PortType; dualNic: boolean } {
  return { portType: labels[CONTAINER_LABELS.portType] === 'internal' ? 'internal' : 'veth', dualNic: labels[CONTAINER_LABELS.dualNic] === 'true' };
}

/**
 * Whether a slot's NIC is in the network namespace of process `pid` right now: its interface is
 * there with the slot's MAC. (A namespace's device and inode numbers are reused once it is freed,
 * so a restarted container's new namespace can carry the old one's identity; its devices cannot.)
 */
export async function slotPluggedInto(pid: number, info: SlotInfo): Promise<boolean> {
  let ns: Netns;
  try {
    ns = Netns.open({ pid });
  } catch {
    return false;
  }
  try {
    const link = await getLink({ netns: ns, name: info.ifname });
    return !!link && link.mac?.toLowerCase() === info.mac.toLowerCase();
  } finally {
    ns.close();
  }
}

/**
 * Slot n if it is plugged into container `id` now, else undefined (free, held by something else,
 * or unreadable). Asked after a plug failed with SLOT_TAKEN: a racing follower or `ec start` may
 * have plugged this very container first, which is the outcome the loser wanted.
 */
export async function slotHeldBy(vs: VSwitch, n: number, id: string): Promise<Slot | undefined> {
  const slot = await vs.slot(n).catch(() => undefined);
  return slot?.target?.kind === 'container' && slot.target.ref === id ? slot : undefined;
}

/** What the container-in-slot lifecycle needs from a runtime: DockerRuntime has it all. */
export interface InSlotRuntime extends ContainerRuntime {
  /** Resolves when the runtime answers (RUNTIME_UNREACHABLE otherwise). */
  ping(): Promise<void>;
  /** Whether the image is present locally (ecdock never pulls). */
  imageExists(image: string): Promise<boolean>;
  inspect(ref: string): Promise<ContainerInfo | undefined>;
  /** Containers with these labels (`all`: stopped ones too). */
  list(o: { all?: boolean; labels?: Record<string, string> }): Promise<ContainerInfo[]>;
  /** Creates and starts a container. */
  run(o: CreateContainerOptions): Promise<ContainerInfo>;
  /** Restarts a container, giving it `timeoutS` seconds to stop. */
  restart(ref: string, o?: { timeoutS?: number }): Promise<ContainerInfo>;
  /** Stops a container, giving it `timeoutS` seconds before it is killed. */
  stop(ref: string, o?: { timeoutS?: number }): Promise<void>;
  /** Removes a container; false if there was none. */
  remove(ref: string, o?: { force?: boolean }): Promise<boolean>;
}

interface RuntimeOption {
  /** Default: a DockerRuntime on DOCKER_HOST or /var/run/docker.sock. */
  runtime?: InSlotRuntime;
}

/** Options of {@link startInSlot}: the image and how the container and its slot are made. */
export interface StartInSlotOptions extends RuntimeOption {
  /** Default: the lowest slot with neither a port nor a container of its name. */
  slot?: number;
  /** A local image: it is never pulled (NO_SUCH_IMAGE). */
  image: string;
  /** The command and its arguments; default the image's. */
  args?: string[];
  portType?: PortType;
  dualNic?: boolean;
  mtu?: number;
  vlan?: number;
  privileged?: boolean;
  env?: string[];
  /** Default `<host>-<container name>`, as ecDock named its containers' hosts. */
  hostname?: string;
}

/** What {@link startInSlot} made: the slot and the container plugged into it. */
export interface Started {
  slot: Slot;
  container: ContainerInfo;
}

const AUTO_SLOT_ATTEMPTS = 64;

/** `<host>-<container name>` as ecDock named its containers' hosts, or just the name when too long. */
export function containerHostname(name: string): string {
  const host = hostname().split('.')[0] ?? '';
  const full = host ? `${host}-${name}` : name;
  return full.length <= 63 && /^[A-Za-z0-9][A-Za-z0-9-]*$/.test(full) ? full : name;
}

/** Checks that slot n is free, naming what holds it if not (SLOT_TAKEN). */
export async function checkSlotFree(vs: VSwitch, n: number): Promise<void> {
  vs.plan.checkSlot(n);
  const held = await vs.slot(n);
  if (held) {
    const t = held.target;
    const by = t ? (t.kind === 'container' ? `container ${t.name ?? t.ref.slice(0, 12)}` : `${t.kind} ${t.ref}`) : 'a port';
    throw new VSwitchError('SLOT_TAKEN', `slot ${n} of ${vs.name} is taken by ${by} (${held.state}); free it with "ec stop ${n}" or "ec unplug ${n}", or pick another slot`, {
      detail: { slot: n, target: t, state: held.state },
    });
  }
}

/** Containers labelled for this vswitch (any state). */
export async function labelledContainers(vs: VSwitch, o: RuntimeOption = {}): Promise<ContainerInfo[]> {
  const all = await (o.runtime ?? dockerRuntime()).list({ all: true, labels: { [CONTAINER_LABELS.vswitch]: vs.name } });
  return all.filter((c) => labelsMatch(c.labels, vs));
}

/**
 * Creates and starts a container in a slot and plugs the slot into it. Without a slot, the lowest
 * one that has neither a port nor a container of its name is used.
 */
export async function startInSlot(vs: VSwitch, o: StartInSlotOptions): Promise<Started> {
  const runtime = o.runtime ?? dockerRuntime();
  if (o.slot !== undefined) await checkSlotFree(vs, o.slot);
  await runtime.ping();
  if (!(await runtime.imageExists(o.image))) {
    throw new RuntimeError(
      'NO_SUCH_IMAGE',
      `image '${o.image}' is not in dockerd's image store, and ec does not pull images: load it first (docker pull, docker load or docker import)`,
      { detail: { image: o.image } },
    );
  }
  const portType = o.portType ?? 'veth';
  const tried = new Set<number>();
  for (let attempt = 0; attempt < AUTO_SLOT_ATTEMPTS; attempt++) {
    let n = o.slot;
    if (n === undefined) {
      const taken = new Set<number>([...tried, ...(await vs.slots()).map((s) => s.index)]);
      for (const c of await labelledContainers(vs, { runtime })) {
        const s = slotOfLabels(c.labels);
        if (s !== undefined) taken.add(s);
      }
      n = vs.plan.lowestFree(taken);
      if (n === undefined) throw new VSwitchError('NO_FREE_SLOT', `vswitch ${vs.name} has no free slot (${vs.plan.capacity} slots in ${vs.plan.subnet})`);
    }
    const name = slotPortName(vs.name, n);
    const existing = await runtime.inspect(name);
    if (existing) {
      if (o.slot === undefined) {
        tried.add(n);
        continue;
      }
      throw new RuntimeError(
        'NAME_TAKEN',
        `a container named ${name} already exists (${existing.state}); remove it first (ec cleanup removes exited ones, or docker rm ${name}) or pick another slot`,
        { detail: { name, id: existing.id, state: existing.state } },
      );
    }
    let container: ContainerInfo;
    try {
      container = await runtime.run({
        name,
        image: o.image,
        args: o.args ?? [],
        labels: containerLabels(vs, n, { portType, dualNic: !!o.dualNic }),
        hostname: o.hostname ?? containerHostname(name),
        tty: true,
        openStdin: true,
        ...(o.env?.length ? { env: o.env } : {}),
        ...(o.privileged ? { privileged: true } : {}),
        ...(vs.plan.ipv6Prefix ? { sysctls: { 'net.ipv6.conf.all.disable_ipv6': '0' } } : {}),
      });
    } catch (e) {
      // Another start took this name a moment ago: with automatic selection, try the next slot.
      if (o.slot === undefined && isEcdockError(e, 'NAME_TAKEN')) {
        tried.add(n);
        continue;
      }
      throw e;
    }
    try {
      const slot = await vs.attach({
        slot: n,
        target: { container: container.id },
        portType,
        ...(o.dualNic ? { dualNic: true } : {}),
        ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
        ...(o.vlan !== undefined ? { vlan: o.vlan } : {}),
      });
      // Read back: the attach's own view can predate the last update of its claim.
      const fresh = await slotHeldBy(vs, n, container.id);
      return { slot: fresh ?? slot, container: (await runtime.inspect(container.id)) ?? container };
    } catch (e) {
      const held = isEcdockError(e, 'SLOT_TAKEN') ? await slotHeldBy(vs, n, container.id) : undefined;
      if (held) return { slot: held, container };
      await runtime.remove(container.id, { force: true }).catch(() => undefined);
      if (isEcdockError(e, 'SLOT_TAKEN') && o.slot === undefined) {
        tried.add(n);
        continue;
      }
      throw e;
    }
  }
  throw new VSwitchError('NO_FREE_SLOT', `could not find a free slot on ${vs.name} after ${AUTO_SLOT_ATTEMPTS} attempts (others are starting containers too?)`);
}

/**
 * The container in slot n: the one the slot is plugged into, else the one named after the slot
 * and labelled for this vswitch (a stopped container whose slot was freed). Undefined if none.
 */
export async function containerOfSlot(vs: VSwitch, n: number, o: RuntimeOption & { slot?: Slot } = {}): Promise<ContainerInfo | undefined> {
  const runtime = o.runtime ?? dockerRuntime();
  const t = o.slot?.target;
  if (t?.kind === 'container') {
    const c = await runtime.inspect(t.ref);
    if (c) return c;
  }
  const byName = await runtime.inspect(slotPortName(vs.name, n));
  if (byName && labelsMatch(byName.labels, vs) && slotOfLabels(byName.labels) === n) return byName;
  return undefined;
}

/** Options of {@link stopInSlot}. */
export interface StopInSlotOptions extends RuntimeOption {
  /** Keep the stopped container (a later start, or a follower, plugs it again). Default: remove it. */
  keep?: boolean;
  /** Seconds the container is given to stop before it is killed (the runtime's default otherwise). */
  timeoutS?: number;
  /** Told when the container is about to be stopped, for progress notes. */
  onStopping?: (c: ContainerInfo) => void;
}

/** What {@link stopInSlot} did: whether a slot was detached, the container found, and whether it was removed. */
export interface Stopped {
  detached: boolean;
  container?: ContainerInfo;
  removed: boolean;
}

/** Detaches slot n and stops its container; removes the container unless `keep`. NO_SUCH_SLOT if neither exists. */
export async function stopInSlot(vs: VSwitch, n: number, o: StopInSlotOptions = {}): Promise<Stopped> {
  vs.plan.checkSlot(n);
  const slot = await vs.slot(n);
  const needsRuntime = !slot || slot.target?.kind === 'container';
  const runtime = needsRuntime ? (o.runtime ?? dockerRuntime()) : undefined;
  const container = runtime ? await containerOfSlot(vs, n, { runtime, ...(slot ? { slot } : {}) }) : undefined;
  if (!slot && !container) throw new VSwitchError('NO_SUCH_SLOT', `slot ${n} of ${vs.name} is not attached and holds no container`, { detail: { slot: n } });
  let detached = false;
  if (slot) {
    // The slot goes first: a follower seeing the container die and go then has nothing to do.
    try {
      await vs.detach(n);
      detached = true;
    } catch (e) {
      if (!isEcdockError(e, 'NO_SUCH_SLOT')) throw e;
    }
  }
  let removed = false;
  if (runtime && container) {
    o.onStopping?.(container);
    await runtime.stop(container.id, o.timeoutS !== undefined ? { timeoutS: o.timeoutS } : {});
    if (!o.keep) removed = await runtime.remove(container.id, { force: true });
  }
  return { detached, removed, ...(container ? { container } : {}) };
}

/** Options of {@link restartInSlot}. */
export interface RestartInSlotOptions extends RuntimeOption {
  /** Seconds the container is given to stop before it is killed. */
  timeoutS?: number;
  /** Told when the container is about to be restarted, for progress notes. */
  onRestarting?: (c: ContainerInfo) => void;
}

/**
 * Restarts the container in slot n and plugs the slot into its new network namespace at once
 * (plugged afresh, as first plugged, if the slot was freed meanwhile). NO_SUCH_CONTAINER when the
 * slot holds none; SLOT_TAKEN when something else took the slot while it restarted.
 */
export async function restartInSlot(vs: VSwitch, n: number, o: RestartInSlotOptions = {}): Promise<{ info: SlotInfo; container: ContainerInfo }> {
  const runtime = o.runtime ?? dockerRuntime();
  vs.addressOf(n); // SLOT_OUT_OF_RANGE before anything else
  const slot = await vs.slot(n);
  const old = await containerOfSlot(vs, n, { runtime, ...(slot ? { slot } : {}) });
  if (!old) throw new VSwitchError('NO_SUCH_CONTAINER', `slot ${n} of ${vs.name} holds no container to restart`, { detail: { slot: n } });
  o.onRestarting?.(old);
  const c = await runtime.restart(old.id, o.timeoutS !== undefined ? { timeoutS: o.timeoutS } : {});
  const now = await vs.slot(n);
  if (now && now.target?.kind === 'container' && now.target.ref === c.id) {
    // A follower (ec watch) may have plugged it into the new namespace already.
    try {
      const info = (await slotPluggedInto(c.pid, now.info)) ? now.info : (await vs.reattach(n, { target: { container: c.id } })).info;
      return { info, container: c };
    } catch (e) {
      // A follower re-plugging it at the same moment: fine if it ended plugged.
      if (!isEcdockError(e, 'NO_SUCH_SLOT') && !isEcdockError(e, 'SLOT_TAKEN')) throw e;
      await new Promise((r) => setTimeout(r, 500));
      const held = await slotHeldBy(vs, n, c.id);
      if (!held || !(await slotPluggedInto(c.pid, held.info))) throw e;
      return { info: held.info, container: c };
    }
  }
  if (!now) {
    try {
      return { info: (await vs.attach({ slot: n, target: { container: c.id }, ...plugOptionsOfLabels(c.labels) })).info, container: c };
    } catch (e) {
      const held = isEcdockError(e, 'SLOT_TAKEN') ? await slotHeldBy(vs, n, c.id) : undefined;
      if (!held) throw e;
      return { info: held.info, container: c };
    }
  }
  throw new VSwitchError('SLOT_TAKEN', `container ${c.name} restarted, but slot ${n} is now held by something else; it was not plugged`, { detail: { slot: n } });
}
