// The OVSDB side of local vswitches: one monitored replica of the four tables ecdock reads, and
// one write batcher, shared by every VSwitch on the same OvsdbClient. Reads come from the replica
// (no round trip); writes from concurrent attaches fold into few transactions, each bumping
// next_cfg once so that ovs-vswitchd reconfigures once per batch and callers can wait for it.

import { OvsdbError, VSwitchError } from '../errors';
import type { OvsdbClient } from '../ovsdb/client';
import { Monitor, type MonitorHost } from '../ovsdb/monitor';
import { normalizeMonitorTables } from '../ovsdb/monitor-tables';
import { ops as typedOps, type Operation, type OperationResult, type TypedOps } from '../ovsdb/operations';
import { TransactionBatcher } from '../ovsdb/batcher';
import {
  openVswitchSchema,
  type BridgeRow,
  type InterfaceRow,
  type OpenVSwitchRow,
  type OpenVswitchTables,
  type PortRow,
} from '../ovsdb/schema/open-vswitch';

export const DB = 'Open_vSwitch';

/** external_ids keys ecdock writes. Everything of ours is marked with the `ecdock:` prefix. */
export const K = {
  version: 'ecdock:version',
  subnet: 'ecdock:subnet',
  gateway: 'ecdock:gateway',
  ipv6Prefix: 'ecdock:ipv6-prefix',
  group: 'ecdock:group',
  netns: 'ecdock:netns',
  mtu: 'ecdock:mtu',
  uplink: 'ecdock:uplink',
  vswitch: 'ecdock:vswitch',
  slot: 'ecdock:slot',
  target: 'ecdock:target',
  targetKind: 'ecdock:target-kind',
  targetRef: 'ecdock:target-ref',
  targetName: 'ecdock:target-name',
  netnsId: 'ecdock:netns-id',
  portType: 'ecdock:port-type',
  ifname: 'ecdock:ifname',
  state: 'ecdock:state',
  owner: 'ecdock:owner',
  nic: 'ecdock:nic',
} as const;

export const SCHEMA_VERSION = '1';

const MONITORED = {
  Open_vSwitch: ['bridges', 'next_cfg', 'cur_cfg', 'datapath_types', 'iface_types', 'ovs_version', 'other_config'],
  Bridge: ['name', 'ports', 'external_ids', 'datapath_type', 'other_config'],
  Port: ['name', 'interfaces', 'tag', 'external_ids'],
  Interface: ['name', 'type', 'ofport', 'ofport_request', 'error', 'external_ids', 'link_state', 'admin_state', 'mac_in_use', 'mtu', 'mtu_request'],
} as const;

export interface SubmitResult {
  results: OperationResult[];
  /** next_cfg after this batch: wait for cur_cfg to reach it to know ovs-vswitchd applied it. */
  nextCfg: number;
}

/** A change to a row of the tables ecdock watches for slot events, typed by table. */
export type SwitchRowChange =
  | { table: 'Port'; uuid: string; old?: PortRow; new?: PortRow }
  | { table: 'Interface'; uuid: string; old?: InterfaceRow; new?: InterfaceRow };

const shared = new WeakMap<OvsdbClient, Promise<SwitchDb>>();

/** The host of a snapshot: it never subscribes, so it is never asked for anything. */
const NO_HOST: MonitorHost = {
  closed: true,
  connected: false,
  call: () => Promise.reject(new VSwitchError('OVSDB_ERROR', 'a one-shot snapshot of the Open_vSwitch tables cannot be subscribed')),
  forget: () => undefined,
};

function noRootRow(client: OvsdbClient): VSwitchError {
  return new VSwitchError('OVSDB_ERROR', `the Open_vSwitch database at ${client.url} has no Open_vSwitch row; initialise it (ovs-vsctl init, or start OVS with ovs-ctl)`);
}

export class SwitchDb {
  readonly client: OvsdbClient;
  readonly mon: Monitor<OpenVswitchTables>;
  readonly o: TypedOps<OpenVswitchTables>;
  private readonly batcher: TransactionBatcher;
  /** Port names this process removed, with the next_cfg that removal rides in. */
  private readonly removals = new Map<string, number>();

  private constructor(client: OvsdbClient, mon: Monitor<OpenVswitchTables>) {
    this.client = client;
    this.mon = mon;
    this.o = typedOps(openVswitchSchema);
    this.batcher = new TransactionBatcher(client, DB, {
      perBatch: () => [
        { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['next_cfg', '+=', 1]] },
        { op: 'select', table: 'Open_vSwitch', where: [], columns: ['next_cfg'] },
      ],
    });
  }

  /** The shared instance for a client (monitor started on first use). */
  static for(client: OvsdbClient): Promise<SwitchDb> {
    let p = shared.get(client);
    if (!p) {
      p = (async () => {
        const mon = await client.monitor<OpenVswitchTables>(DB, MONITORED);
        if (!mon.rows('Open_vSwitch').size) {
          throw new VSwitchError(
            'OVSDB_ERROR',
            `the Open_vSwitch database at ${client.url} has no Open_vSwitch row; initialise it (ovs-vsctl init, or start OVS with ovs-ctl)`,
          );
        }
        return new SwitchDb(client, mon);
      })();
      shared.set(client, p);
      p.catch(() => shared.delete(client));
    }
    return p;
  }

  /**
   * For a one-shot reader (`ec list`): the four tables read once, by one transaction of selects
   * decoded with the built-in schema, instead of a monitor (which would first fetch the server's
   * schema, and then keep the rows up to date for nobody). The rows never change afterwards, so
   * only a process that reads and exits may use it: it becomes the client's shared instance, and
   * anything that waits for ovs-vswitchd (applied, settled) would wait in vain. Should the select
   * fail (a server whose schema lacks a column), the monitor is used instead.
   */
  static readOnce(client: OvsdbClient): Promise<SwitchDb> {
    let p = shared.get(client);
    if (!p) {
      const tables = Object.entries(MONITORED);
      p = client
        .transact(DB, tables.map(([table, columns]) => ({ op: 'select' as const, table, where: [], columns: ['_uuid', ...columns] })))
        .then(
          (results) => {
            const updates: Record<string, Record<string, { new: Record<string, unknown> }>> = {};
            tables.forEach(([table], i) => {
              const rows: Record<string, { new: Record<string, unknown> }> = (updates[table] = {});
              for (const { _uuid, ...row } of (results[i] as { rows?: Record<string, unknown>[] }).rows ?? []) rows[(_uuid as [string, string])[1]] = { new: row };
            });
            const mon = new Monitor<OpenVswitchTables>(NO_HOST, 'snapshot', DB, openVswitchSchema, normalizeMonitorTables(openVswitchSchema, MONITORED as unknown as Record<string, string[]>));
            mon.handleNotification('update', ['snapshot', updates]);
            if (!mon.rows('Open_vSwitch').size) throw noRootRow(client);
            return new SwitchDb(client, mon);
          },
          (e: unknown) => {
            if (!(e instanceof OvsdbError && e.code === 'OVSDB_TXN_FAILED')) throw e;
            shared.delete(client);
            return SwitchDb.for(client);
          },
        );
      shared.set(client, p);
      p.catch(() => shared.delete(client));
    }
    return p;
  }

  root(): OpenVSwitchRow {
    const r = this.mon.rows('Open_vSwitch').values().next().value;
    if (!r) throw new VSwitchError('OVSDB_ERROR', 'the Open_vSwitch row vanished from the database');
    return r;
  }

  /**
   * ovs-vswitchd carries TCP segmentation and partial checksums through its userspace datapath
   * (`other_config:userspace-tso-enable=true`; ovs-vswitchd takes it up at once for new ports, and
   * keeps it until it restarts): a userspace slot's target may then keep its offloads.
   */
  userspaceTso(): boolean {
    return this.root().other_config.get('userspace-tso-enable') === 'true';
  }

  bridge(name: string): BridgeRow | undefined {
    return this.mon.findBy('Bridge', 'name', name);
  }

  bridgeByUuid(uuid: string): BridgeRow | undefined {
    return this.mon.get('Bridge', uuid);
  }

  port(name: string): PortRow | undefined {
    return this.mon.findBy('Port', 'name', name);
  }

  portByUuid(uuid: string): PortRow | undefined {
    return this.mon.get('Port', uuid);
  }

  iface(name: string): InterfaceRow | undefined {
    return this.mon.findBy('Interface', 'name', name);
  }

  ifaceByUuid(uuid: string): InterfaceRow | undefined {
    return this.mon.get('Interface', uuid);
  }

  /** The first Interface of a port (ecdock ports have exactly one). */
  ifaceOf(port: PortRow): InterfaceRow | undefined {
    const u = port.interfaces[0];
    return u === undefined ? undefined : this.mon.get('Interface', u);
  }

  /** Ports on a bridge (those the replica knows). */
  portsOf(bridge: BridgeRow): PortRow[] {
    const out: PortRow[] = [];
    for (const u of bridge.ports) {
      const p = this.mon.get('Port', u);
      if (p) out.push(p);
    }
    return out;
  }

  /** Bridge that holds a port, if any. */
  bridgeOfPort(portUuid: string): BridgeRow | undefined {
    for (const b of this.mon.rows('Bridge').values()) if (b.ports.includes(portUuid)) return b;
    return undefined;
  }

  /**
   * Calls fn for every change to a Port or Interface row, typed (the replica decodes rows by the
   * schema, so the cast is made here once). Returns the function that stops it.
   */
  onPortChange(fn: (c: SwitchRowChange) => void): () => void {
    const listener = (c: { table: string }) => {
      if (c.table === 'Port' || c.table === 'Interface') fn(c as SwitchRowChange);
    };
    this.mon.on('change', listener);
    return () => this.mon.off('change', listener);
  }

  /**
   * The link groups of every ecdock bridge, read from the server now rather than the replica: a
   * slot link whose group is not among them belongs to a bridge that is gone (links are made only
   * after their bridge, and a bridge's group never changes, so list links first, then ask this).
   */
  async liveGroups(): Promise<Set<number>> {
    const [r] = await this.client.transact(DB, [{ op: 'select', table: 'Bridge', where: [], columns: ['external_ids'] }]);
    const out = new Set<number>();
    for (const row of (r as { rows?: { external_ids?: unknown }[] }).rows ?? []) {
      const ids = row.external_ids;
      const pairs = Array.isArray(ids) && ids[0] === 'map' && Array.isArray(ids[1]) ? (ids[1] as unknown[]) : [];
      for (const pair of pairs) {
        if (Array.isArray(pair) && pair[0] === K.group) {
          const g = Number(pair[1]);
          if (Number.isInteger(g) && g > 0) out.add(g);
        }
      }
    }
    return out;
  }

  /** Runs operations in the next shared transaction (which also bumps next_cfg once). */
  async submit(operations: Operation[]): Promise<SubmitResult> {
    const r = await this.batcher.submit(operations);
    const sel = r.batchResults?.[1] as { rows?: { next_cfg?: number }[] } | undefined;
    const nextCfg = sel?.rows?.[0]?.next_cfg;
    return { results: r, nextCfg: typeof nextCfg === 'number' ? nextCfg : Number(this.root().next_cfg) };
  }

  /** Notes that ports were removed in configuration `nextCfg`. */
  noteRemoved(names: string[], nextCfg: number): void {
    for (const n of names) this.removals.set(n, nextCfg);
  }

  /**
   * Waits until ovs-vswitchd has applied our removal of these port names, if it has not yet. It
   * keys ports by name: a name removed and re-added within one of its reconfigurations keeps the
   * old device handle, so a name must not come back before its removal was applied.
   */
  async settled(names: string[], timeoutMs: number): Promise<void> {
    let cfg = 0;
    const cur = this.root().cur_cfg;
    for (const n of names) {
      const c = this.removals.get(n);
      if (c === undefined) continue;
      if (c <= cur) this.removals.delete(n);
      else cfg = Math.max(cfg, c);
    }
    if (cfg) await this.applied(cfg, timeoutMs);
  }

  /** Resolves once ovs-vswitchd has applied configuration `nextCfg` (cur_cfg >= nextCfg). */
  async applied(nextCfg: number, timeoutMs: number): Promise<void> {
    try {
      await this.mon.waitFor(() => (this.root().cur_cfg >= nextCfg ? true : undefined), timeoutMs);
    } catch (e) {
      if (e instanceof OvsdbError && e.code === 'OVSDB_TIMEOUT') {
        throw new VSwitchError(
          'VSWITCHD_TIMEOUT',
          `ovs-vswitchd did not apply the change within ${timeoutMs} ms (cur_cfg ${this.root().cur_cfg} < ${nextCfg}); is ovs-vswitchd running and connected to ${this.client.url}?`,
          { cause: e, detail: { nextCfg, curCfg: this.root().cur_cfg } },
        );
      }
      throw e;
    }
  }
}

/** external_ids Map → plain object (for SlotInfo and JSON). */
export function idsToObject(m: Map<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (m) for (const [k, v] of m) out[k] = v;
  return out;
}
