// Containers in slots, as `ec start`, `stop`, `restart` and `attach` handle them: a container is
// named after its slot's port (`ovs0-s01`), carries labels naming its vswitch and slot, runs with
// no network of its own, and is plugged into its slot once started. If plugging fails, the
// container is removed again: a failed start leaves nothing behind.
import { hostname } from 'node:os';
import { slotPortName } from '../addressing';
import { RuntimeError, VSwitchError, isEcdockError } from '../errors';
import { CONTAINER_LABELS, containerLabels, labelsMatch } from '../follow';
import type { ContainerInfo } from '../runtime/container-runtime';
import type { DockerRuntime } from '../runtime/docker';
import type { PortType, Slot } from '../slot';
import type { VSwitch } from '../vswitch';

export interface StartInSlotOptions {
  slot?: number;
  image: string;
  args: string[];
  portType?: PortType;
  dualNic?: boolean;
  mtu?: number;
  vlan?: number;
  privileged?: boolean;
  env?: string[];
  hostname?: string;
}

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
export async function labelledContainers(docker: DockerRuntime, vs: VSwitch): Promise<ContainerInfo[]> {
  const all = await docker.list({ all: true, labels: { [CONTAINER_LABELS.vswitch]: vs.name } });
  return all.filter((c) => labelsMatch(c.labels, vs));
}

/**
 * Creates and starts a container in a slot and plugs the slot into it. Without a slot, the lowest
 * one that has neither a port nor a container of its name is used.
 */
export async function startInSlot(vs: VSwitch, docker: DockerRuntime, o: StartInSlotOptions): Promise<Started> {
  if (o.slot !== undefined) await checkSlotFree(vs, o.slot);
  await docker.ping();
  if (!(await docker.imageExists(o.image))) {
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
      for (const c of await labelledContainers(docker, vs)) {
        const s = Number(c.labels[CONTAINER_LABELS.slot]);
        if (Number.isInteger(s)) taken.add(s);
      }
      n = vs.plan.lowestFree(taken);
      if (n === undefined) throw new VSwitchError('NO_FREE_SLOT', `vswitch ${vs.name} has no free slot (${vs.plan.capacity} slots in ${vs.plan.subnet})`);
    }
    const name = slotPortName(vs.name, n);
    const existing = await docker.inspect(name);
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
      container = await docker.run({
        name,
        image: o.image,
        args: o.args,
        labels: containerLabels(vs, n, { portType, dualNic: !!o.dualNic }),
        hostname: o.hostname ?? containerHostname(name),
        tty: true,
        openStdin: true,
        ...(o.env?.length ? { env: o.env } : {}),
        ...(o.privileged ? { privileged: true } : {}),
        ...(vs.plan.ipv6Prefix ? { sysctls: { 'net.ipv6.conf.all.disable_ipv6': '0' } } : {}),
      });
    } catch (e) {
      // Another `ec start` took this name a moment ago: with automatic selection, try the next slot.
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
      const fresh = await vs.slot(n).catch(() => undefined);
      return { slot: fresh?.target?.ref === container.id ? fresh : slot, container: (await docker.inspect(container.id)) ?? container };
    } catch (e) {
      // A follower (ec watch) saw the start and plugged the slot first: that is the same outcome.
      if (isEcdockError(e, 'SLOT_TAKEN')) {
        const held = await vs.slot(n).catch(() => undefined);
        if (held?.target?.kind === 'container' && held.target.ref === container.id) return { slot: held, container };
      }
      await docker.remove(container.id, { force: true }).catch(() => undefined);
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
export async function containerOfSlot(vs: VSwitch, docker: DockerRuntime, n: number, slot?: Slot): Promise<ContainerInfo | undefined> {
  const t = slot?.target;
  if (t?.kind === 'container') {
    const c = await docker.inspect(t.ref);
    if (c) return c;
  }
  const byName = await docker.inspect(slotPortName(vs.name, n));
  if (byName && labelsMatch(byName.labels, vs) && byName.labels[CONTAINER_LABELS.slot] === String(n)) return byName;
  return undefined;
}
