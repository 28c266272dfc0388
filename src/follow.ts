// Following containers: a slotted container that restarts comes back in a new network namespace,
// so its slot must be plugged again; one that is removed no longer needs its slot. The follower
// listens to the runtime's events for containers labelled with a vswitch and a slot (as `ec start`
// makes them) and keeps their slots in step, with one reconcile pass at start for what happened
// while nobody was listening. It only reads events and calls the VSwitch API: no processes.
import { EventEmitter } from 'node:events';
import { VSwitchError, isEcdockError, type EcdockError } from './errors';
import { CONTAINER_LABELS, labelsMatch, plugOptionsOfLabels, slotHeldBy, slotOfLabels, slotPluggedInto } from './in-slot';
import type { OvsdbClient } from './ovsdb/client';
import type { ContainerEvents } from './runtime/container-events';
import type { ContainerEvent, ContainerEventAction, ContainerRuntime, RuntimeContainer } from './runtime/container-runtime';
import { dockerRuntime } from './targets';
import type { Repair } from './realisation';
import { VSwitch } from './vswitch';
import { watchVswitchdRestarts } from './vswitchd-restarts';

// The labels are the in-slot lifecycle's; exported from here too, where they were first.
export { CONTAINER_LABELS, containerLabels, labelsMatch, slotPluggedInto } from './in-slot';

/** What the follower needs from a runtime: DockerRuntime has it all. */
export interface FollowerRuntime extends ContainerRuntime {
  /** Resolves when the runtime answers (RUNTIME_UNREACHABLE otherwise). */
  ping(): Promise<void>;
  /** Containers with these labels (`all`: stopped ones too). */
  list(o: { all?: boolean; labels?: Record<string, string> }): Promise<RuntimeContainer[]>;
  /** A stream of container events, filtered by labels and actions. */
  events(o: { labels?: Record<string, string>; actions?: readonly ContainerEventAction[] }): ContainerEvents;
}

/** Options of {@link ContainerFollower}. */
export interface ContainerFollowerOptions {
  /** Default: a DockerRuntime on DOCKER_HOST or /var/run/docker.sock. */
  runtime?: FollowerRuntime;
  /** Follow only this vswitch. Default: every ecdock vswitch on this OVS. */
  vswitch?: string;
  /**
   * How long a container that starts with its slot free is given to be plugged by whoever started
   * it (ec start plugs right after starting) before the follower plugs it itself. Default 1500 ms.
   */
  adoptDelayMs?: number;
}

/** What happened to a slot. */
export interface FollowEvent {
  vswitch: string;
  slot: number;
  /** Container id. */
  container: string;
  /** Container name. */
  name: string;
  /** On 'down': the exit code, when the runtime said. */
  exitCode?: number;
  /** On 'replugged': 'reattach' (new namespace, same slot) or 'attach' (the slot was free). */
  how?: 'reattach' | 'attach';
  /** Whether it came from an event or from the reconcile pass at start. */
  source: 'event' | 'reconcile';
}

/** What the repair after an ovs-vswitchd restart put back on one vswitch (VSwitch.cleanup's report). */
export interface RepairEvent {
  vswitch: string;
  /** What was repaired: internal-port slots plugged into their target again, the gateway, static MACs. */
  repaired: Repair[];
  /** Slots the same cleanup removed (their target is gone), with why. */
  removed: { slot: number; portName: string; reason: string }[];
  source: 'vswitchd-restart';
}

export interface ContainerFollower {
  /** A slot's container came back and was plugged again (`replugged`), stopped (`down`), or was removed and its slot freed (`freed`). */
  on(event: 'replugged' | 'down' | 'freed', listener: (e: FollowEvent) => void): this;
  /** After an ovs-vswitchd restart, what the follower's cleanup put back. */
  on(event: 'repaired', listener: (e: RepairEvent) => void): this;
  /** Something the follower could not do (it goes on following). */
  on(event: 'error', listener: (e: EcdockError) => void): this;
  /** As `on('replugged' | 'down' | 'freed')`, once. */
  once(event: 'replugged' | 'down' | 'freed', listener: (e: FollowEvent) => void): this;
  /** As `on('repaired')`, once. */
  once(event: 'repaired', listener: (e: RepairEvent) => void): this;
  /** As `on('error')`, once. */
  once(event: 'error', listener: (e: EcdockError) => void): this;
}

const ACTIONS: readonly ContainerEventAction[] = ['start', 'restart', 'die', 'destroy'];
const GONE_MEANWHILE = ['CONTAINER_NOT_RUNNING', 'NO_SUCH_CONTAINER', 'NETNS_GONE'] as const;

/**
 * Keeps the slots of labelled containers in step with the containers:
 * - start/restart (a new namespace): the slot is plugged again (`reattach`), or plugged afresh
 *   when it is free (a container stopped with `ec stop --no-rm` and started again): 'replugged';
 * - die: 'down' (the slot stays, its state reads down until the container starts or goes);
 * - destroy: the slot is detached if it still points at that container: 'freed'.
 * And, for every followed vswitch: when ovs-vswitchd restarts (it makes internal ports' devices
 * anew, outside their targets), the vswitch's cleanup runs and what it repaired is 'repaired'.
 * Failures are emitted as 'error' (when someone listens) and the follower keeps going.
 */
export class ContainerFollower extends EventEmitter {
  private readonly ovs: OvsdbClient;
  private readonly runtime: FollowerRuntime;
  private readonly only?: string;
  private events?: ContainerEvents;
  private stopRestartWatch?: () => Promise<void>;
  /** Work per slot runs in order: a die and the start after it must not overlap. */
  private readonly chains = new Map<string, Promise<void>>();
  private stopped = false;
  private readonly adoptDelayMs: number;

  constructor(ovs: OvsdbClient, o: ContainerFollowerOptions = {}) {
    super();
    this.ovs = ovs;
    this.runtime = o.runtime ?? dockerRuntime();
    if (o.vswitch !== undefined) this.only = o.vswitch;
    this.adoptDelayMs = o.adoptDelayMs ?? 1500;
  }

  /**
   * Subscribes to the runtime's events, then reconciles once: running labelled containers whose
   * slot is not plugged into their current namespace are plugged; slots whose container is gone
   * are freed. Rejects (DOCKER_UNREACHABLE, NO_SUCH_VSWITCH...) if it cannot begin.
   */
  async start(): Promise<void> {
    if (this.events) return;
    this.stopped = false;
    if (this.only !== undefined) await VSwitch.open(this.ovs, this.only, { runtime: this.runtime });
    await this.runtime.ping();
    const events = this.runtime.events({ actions: ACTIONS, ...(this.only !== undefined ? { labels: { [CONTAINER_LABELS.vswitch]: this.only } } : {}) });
    this.events = events;
    events.on('event', (ev) => this.onEvent(ev));
    events.on('error', (e) => this.fail(e));
    try {
      await events.ready();
    } catch (e) {
      events.close();
      this.events = undefined;
      throw e;
    }
    try {
      this.stopRestartWatch = await watchVswitchdRestarts(this.ovs, () => void this.serialize('', 0, () => this.repairAfterRestart()));
    } catch (e) {
      events.close();
      this.events = undefined;
      throw e;
    }
    await this.reconcile();
  }

  /** Stops listening and waits for work in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.events?.close();
    this.events = undefined;
    await this.stopRestartWatch?.();
    this.stopRestartWatch = undefined;
    await Promise.all([...this.chains.values()]);
  }

  /** Waits until the work queued so far is done (for tests and orderly shutdown). */
  async idle(): Promise<void> {
    while (this.chains.size) await Promise.all([...this.chains.values()]);
  }

  /** One pass over containers and slots, as `start` does; safe to call any time. */
  async reconcile(): Promise<void> {
    const switches = await this.switches();
    if (!switches.length) return;
    const containers = await this.runtime.list({ all: true, ...(this.only !== undefined ? { labels: { [CONTAINER_LABELS.vswitch]: this.only } } : {}) });
    const work: Promise<void>[] = [];
    for (const vs of switches) {
      // Slots whose container has gone while nobody listened.
      for (const slot of await vs.slots()) {
        const t = slot.target;
        if (t?.kind !== 'container') continue;
        work.push(
          this.serialize(vs.name, slot.index, async () => {
            if ((await this.runtime.inspect(t.ref)) !== undefined) return;
            if (await this.detachIfHeldBy(vs.name, slot.index, t.ref)) {
              this.emitEvent('freed', { vswitch: vs.name, slot: slot.index, container: t.ref, name: t.name ?? '', source: 'reconcile' });
            }
          }),
        );
      }
      for (const c of containers) {
        if (!c.running || !labelsMatch(c.labels, vs)) continue;
        const n = slotOfLabels(c.labels);
        if (n === undefined) continue;
        work.push(this.serialize(vs.name, n, () => this.replug(vs.name, n, c.id, 'reconcile')));
      }
    }
    await Promise.all(work);
  }

  /** The vswitch's own repair (VSwitch.cleanup) on every followed vswitch, after ovs-vswitchd restarted. */
  private async repairAfterRestart(): Promise<void> {
    if (this.stopped) return;
    for (const vs of await this.switches()) {
      const report = await vs.cleanup();
      if (!report.repaired.length && !report.ports.length) continue;
      this.emit('repaired', {
        vswitch: vs.name,
        repaired: report.repaired,
        removed: report.ports.map((p) => ({ slot: p.slot, portName: p.portName, reason: p.reason })),
        source: 'vswitchd-restart',
      } satisfies RepairEvent);
    }
  }

  private async switches(): Promise<VSwitch[]> {
    if (this.only !== undefined) {
      try {
        return [await this.open(this.only)];
      } catch (e) {
        if (isEcdockError(e, 'NO_SUCH_VSWITCH')) return [];
        throw e;
      }
    }
    return VSwitch.list(this.ovs, { runtime: this.runtime });
  }

  private open(name: string): Promise<VSwitch> {
    // Opened afresh each time: a vswitch deleted and made again is another one.
    return VSwitch.open(this.ovs, name, { runtime: this.runtime });
  }

  private onEvent(ev: ContainerEvent): void {
    if (this.stopped) return;
    const name = ev.labels[CONTAINER_LABELS.vswitch];
    const n = slotOfLabels(ev.labels);
    if (!name || n === undefined || (this.only !== undefined && name !== this.only)) return;
    void this.serialize(name, n, async () => {
      const vs = await this.openIfOurs(name, ev.labels);
      if (!vs) return;
      switch (ev.action) {
        case 'start':
        case 'restart':
          await this.replug(name, n, ev.id, 'event');
          break;
        case 'die': {
          const slot = await vs.slot(n);
          if (slot?.target?.kind === 'container' && slot.target.ref === ev.id) {
            this.emitEvent('down', { vswitch: name, slot: n, container: ev.id, name: ev.name, ...(ev.exitCode !== undefined ? { exitCode: ev.exitCode } : {}), source: 'event' });
          }
          break;
        }
        case 'destroy':
          if (await this.detachIfHeldBy(name, n, ev.id)) this.emitEvent('freed', { vswitch: name, slot: n, container: ev.id, name: ev.name, source: 'event' });
          break;
        default:
          break;
      }
    });
  }

  /** The vswitch a labelled container belongs to on this OVS, or undefined (another OVS's, or gone). */
  private async openIfOurs(name: string, labels: Record<string, string>): Promise<VSwitch | undefined> {
    try {
      const vs = await this.open(name);
      return labelsMatch(labels, vs) ? vs : undefined;
    } catch (e) {
      if (isEcdockError(e, 'NO_SUCH_VSWITCH') || isEcdockError(e, 'NOT_OURS') || isEcdockError(e, 'BAD_NAME')) return undefined;
      throw e;
    }
  }

  /** Plugs slot n into the container's current namespace unless it is plugged there already. */
  private async replug(vsName: string, n: number, ref: string, source: FollowEvent['source']): Promise<void> {
    try {
      await this.replugOnce(vsName, n, ref, source);
    } catch (e) {
      // The container stopped or went while we plugged it: its own die/destroy events follow.
      // (dockerd may still call a container running whose process is already gone.)
      if (GONE_MEANWHILE.some((code) => isEcdockError(e, code))) return;
      throw e;
    }
  }

  private async replugOnce(vsName: string, n: number, ref: string, source: FollowEvent['source']): Promise<void> {
    const c = await this.runtime.inspect(ref);
    if (!c || !c.running || c.pid <= 0) return; // gone or stopped again meanwhile: its own events follow
    const vs = await this.openIfOurs(vsName, c.labels);
    if (!vs) return;
    let pid = c.pid;
    let slot = await vs.slot(n);
    if (!slot && this.adoptDelayMs > 0) {
      // Most likely `ec start` started it and is plugging it right now: give it that moment.
      await new Promise((r) => setTimeout(r, this.adoptDelayMs));
      if (this.stopped) return;
      const again = await this.runtime.inspect(c.id);
      if (!again || !again.running || again.pid <= 0) return;
      pid = again.pid;
      slot = await vs.slot(n);
    }
    if (slot) {
      const t = slot.target;
      if (t?.kind !== 'container' || t.ref !== c.id) {
        throw new VSwitchError('SLOT_TAKEN', `container ${c.name} belongs in slot ${n} of ${vsName}, but the slot is held by ${describeTarget(t)}; it was not plugged`, {
          detail: { vswitch: vsName, slot: n, container: c.id, holder: t },
        });
      }
      // Being plugged right now, or plugged into this very namespace already (ec start did it).
      if (slot.state === 'attaching' || (await slotPluggedInto(pid, slot.info))) return;
      await vs.reattach(n, { target: { container: c.id } });
      this.emitEvent('replugged', { vswitch: vsName, slot: n, container: c.id, name: c.name, how: 'reattach', source });
      return;
    }
    try {
      await vs.attach({ slot: n, target: { container: c.id }, ...plugOptionsOfLabels(c.labels) });
    } catch (e) {
      // Someone else (ec start, another follower) plugged it first: that is the outcome we wanted.
      if (isEcdockError(e, 'SLOT_TAKEN') && (await slotHeldBy(vs, n, c.id))) return;
      throw e;
    }
    this.emitEvent('replugged', { vswitch: vsName, slot: n, container: c.id, name: c.name, how: 'attach', source });
  }

  /** Detaches slot n if it still points at container `id`. */
  private async detachIfHeldBy(vsName: string, n: number, id: string): Promise<boolean> {
    let vs: VSwitch;
    try {
      vs = await this.open(vsName);
    } catch (e) {
      if (isEcdockError(e, 'NO_SUCH_VSWITCH')) return false;
      throw e;
    }
    const slot = await vs.slot(n);
    if (slot?.target?.kind !== 'container' || slot.target.ref !== id) return false;
    try {
      await vs.detach(n);
    } catch (e) {
      if (isEcdockError(e, 'NO_SUCH_SLOT')) return false; // detached meanwhile (ec stop)
      throw e;
    }
    return true;
  }

  private serialize(vsName: string, n: number, work: () => Promise<void>): Promise<void> {
    const key = `${vsName}/${n}`;
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(work).catch((e: unknown) => this.fail(e));
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return next;
  }

  private emitEvent(type: 'replugged' | 'down' | 'freed', e: FollowEvent): void {
    this.emit(type, e);
  }

  private fail(e: unknown): void {
    const err = isEcdockError(e) ? e : new VSwitchError('INTERNAL', `container follower: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}

function describeTarget(t: { kind: string; ref: string; name?: string } | undefined): string {
  if (!t) return 'a port of unknown origin';
  if (t.kind === 'container') return `container ${t.name ?? t.ref.slice(0, 12)}`;
  return `${t.kind} ${t.ref}`;
}
