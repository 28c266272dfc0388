// The OVN side of cross-host vswitches: one monitored replica of the Northbound tables ecdock
// reads (logical switches and their ports), one write batcher, and the Southbound's chassis list,
// shared by every vswitch on the same connection. Concurrent claims from one process fold into
// few Northbound transactions; each claim is guarded, so one taken slot fails only its own claim.

import { OvsdbError, VSwitchError } from '../errors';
import { OvsdbClient } from '../ovsdb/client';
import type { Monitor } from '../ovsdb/monitor';
import { ops as typedOps, type Operation, type OperationResult, type TypedOps } from '../ovsdb/operations';
import { TransactionBatcher } from '../ovsdb/batcher';
import { OvsdbTransactionError } from '../ovsdb/results';
import type { TypedSchema } from '../ovsdb/schema';

export const NB = 'OVN_Northbound';
export const SB = 'OVN_Southbound';

export type Uuid = string;

/** The Northbound columns ecdock reads. */
export interface LogicalSwitchRow {
  _uuid: Uuid;
  name: string;
  ports: Uuid[];
  external_ids: Map<string, string>;
}

export interface LogicalSwitchPortRow {
  _uuid: Uuid;
  name: string;
  type: string;
  addresses: string[];
  port_security: string[];
  options: Map<string, string>;
  up: boolean | undefined;
  external_ids: Map<string, string>;
}

export interface LogicalRouterRow {
  _uuid: Uuid;
  name: string;
  ports: Uuid[];
  external_ids: Map<string, string>;
}

export interface LogicalRouterPortRow {
  _uuid: Uuid;
  name: string;
  mac: string;
  networks: string[];
  external_ids: Map<string, string>;
}

export interface NbTables {
  Logical_Switch: LogicalSwitchRow;
  Logical_Switch_Port: LogicalSwitchPortRow;
  Logical_Router: LogicalRouterRow;
  Logical_Router_Port: LogicalRouterPortRow;
}

export interface ChassisRow {
  _uuid: Uuid;
  name: string;
}

export interface SbTables {
  Chassis: ChassisRow;
}

const NB_MONITORED = {
  Logical_Switch: ['name', 'ports', 'external_ids'],
  Logical_Switch_Port: ['name', 'type', 'addresses', 'port_security', 'options', 'up', 'external_ids'],
} as const;

/** A Northbound reached by URL (opened here, kept for the process) or a client the caller owns. */
export type DbRef = string | OvsdbClient;

const CONNECT_TIMEOUT_MS = 10_000;
const byUrl = new Map<string, Promise<OvsdbClient>>();
const nbShared = new WeakMap<OvsdbClient, Promise<NbDb>>();
const sbShared = new WeakMap<OvsdbClient, Promise<Monitor<SbTables>>>();

/** Opens (once per URL) a client for an OVN database; OVSDB_UNREACHABLE when it cannot be reached. */
export function connectDb(ref: DbRef): Promise<OvsdbClient> {
  if (typeof ref !== 'string') return Promise.resolve(ref);
  let p = byUrl.get(ref);
  if (!p) {
    // A clustered database takes writes only through its leader: follow it.
    p = OvsdbClient.connect(ref, { timeoutMs: CONNECT_TIMEOUT_MS, leaderOnly: ref.includes(','), reconnect: { minMs: 100, maxMs: 1000 } });
    byUrl.set(ref, p);
    p.catch(() => byUrl.delete(ref));
  }
  return p;
}

/** Closes the connections opened by URL (the CLI calls this when a command ends). */
export async function closeOvnConnections(): Promise<void> {
  const all = [...byUrl.values()];
  byUrl.clear();
  for (const p of all) (await p.catch(() => undefined))?.close();
}

export class NbDb {
  readonly client: OvsdbClient;
  readonly mon: Monitor<NbTables>;
  readonly o: TypedOps<NbTables>;
  private readonly batcher: TransactionBatcher;

  private constructor(client: OvsdbClient, mon: Monitor<NbTables>, schema: TypedSchema<NbTables>) {
    this.client = client;
    this.mon = mon;
    this.o = typedOps(schema) as unknown as TypedOps<NbTables>;
    this.batcher = new TransactionBatcher(client, NB);
  }

  /** The shared instance for a Northbound (monitor started on first use). */
  static async for(ref: DbRef): Promise<NbDb> {
    const client = await connectDb(ref);
    let p = nbShared.get(client);
    if (!p) {
      p = (async () => {
        const dbs = await client.listDbs();
        if (!dbs.includes(NB)) {
          throw new VSwitchError('OVSDB_ERROR', `${client.url} serves no ${NB} database (it serves ${dbs.join(', ') || 'none'}); give the OVN Northbound's URL`, { detail: { dbs } });
        }
        const schema = (await client.getSchema(NB)) as TypedSchema<NbTables>;
        const mon = await client.monitor<NbTables>(NB, NB_MONITORED);
        return new NbDb(client, mon, schema);
      })();
      nbShared.set(client, p);
      p.catch(() => nbShared.delete(client));
    }
    return p;
  }

  switchByName(name: string): LogicalSwitchRow | undefined {
    return this.mon.findBy('Logical_Switch', 'name', name);
  }

  switchByUuid(uuid: Uuid): LogicalSwitchRow | undefined {
    return this.mon.get('Logical_Switch', uuid);
  }

  port(name: string): LogicalSwitchPortRow | undefined {
    return this.mon.findBy('Logical_Switch_Port', 'name', name);
  }

  portByUuid(uuid: Uuid): LogicalSwitchPortRow | undefined {
    return this.mon.get('Logical_Switch_Port', uuid);
  }

  portsOf(ls: LogicalSwitchRow): LogicalSwitchPortRow[] {
    const out: LogicalSwitchPortRow[] = [];
    for (const u of ls.ports) {
      const p = this.mon.get('Logical_Switch_Port', u);
      if (p) out.push(p);
    }
    return out;
  }

  /** Runs operations in the next shared Northbound transaction. */
  submit(operations: Operation[]): Promise<OperationResult[]> {
    return this.batcher.submit(operations);
  }

  /** One transaction of its own (reads, and changes that must not ride with others). */
  transact(operations: Operation[]): Promise<OperationResult[]> {
    return this.client.transact(NB, operations);
  }

  /**
   * Resolves true once the client has a session again with the monitor resubscribed (the replica
   * then holds what the server has), false after timeoutMs. Polled: a quiet database sends no
   * update that would wake a monitor waiter.
   */
  async reconnected(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!(this.client.connected && this.mon.established)) {
      if (this.client.closed || Date.now() > end) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return true;
  }

  /** Waits for a state of the replica; OVSDB_TIMEOUT becomes `onTimeout()`. */
  async waitFor<R>(predicate: () => R | undefined | false | null, timeoutMs: number, onTimeout: () => Error): Promise<R> {
    try {
      return await this.mon.waitFor(predicate, timeoutMs);
    } catch (e) {
      if (e instanceof OvsdbError && e.code === 'OVSDB_TIMEOUT') throw onTimeout();
      throw e;
    }
  }
}

/** The Southbound's chassis, monitored (shared per connection). */
export async function chassisMonitor(ref: DbRef): Promise<Monitor<SbTables>> {
  const client = await connectDb(ref);
  let p = sbShared.get(client);
  if (!p) {
    p = client.monitor<SbTables>(SB, { Chassis: ['name'] });
    sbShared.set(client, p);
    p.catch(() => sbShared.delete(client));
  }
  return p;
}

/** One-off Southbound read: the Port_Binding of a logical port (chassis name, up), for diagnostics. */
export async function portBinding(ref: DbRef, logicalPort: string): Promise<{ exists: boolean; chassis?: string; up?: boolean }> {
  const client = await connectDb(ref);
  const [pb] = (await client.transact(SB, [{ op: 'select', table: 'Port_Binding', where: [['logical_port', '==', logicalPort]], columns: ['chassis', 'up'] }])) as {
    rows?: { chassis?: unknown; up?: unknown }[];
  }[];
  const row = pb?.rows?.[0];
  if (!row) return { exists: false };
  const uuidOf = (d: unknown): string | undefined => (Array.isArray(d) && d[0] === 'uuid' ? (d[1] as string) : undefined);
  const chassisUuid = uuidOf(row.chassis);
  let chassis: string | undefined;
  if (chassisUuid) {
    const [ch] = (await client.transact(SB, [{ op: 'select', table: 'Chassis', where: [['_uuid', '==', ['uuid', chassisUuid]]], columns: ['name'] }])) as { rows?: { name?: string }[] }[];
    chassis = ch?.rows?.[0]?.name;
  }
  return { exists: true, ...(chassis ? { chassis } : {}), ...(row.up === true ? { up: true } : {}) };
}

/** A failed Northbound transaction as OVSDB_TXN_FAILED, saying what was being done; anything else as it is. */
export function wrapNb(e: unknown, what: string): unknown {
  if (e instanceof OvsdbTransactionError) return new VSwitchError('OVSDB_TXN_FAILED', `${what}: ${e.message}`, { cause: e, detail: e.detail });
  return e;
}
