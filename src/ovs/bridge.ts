// A vswitch's bridge: created with its plan in external_ids (one transaction that also makes the
// bridge's internal port and, optionally, the uplink port), opened and listed from the replica,
// and destroyed (every slot link in one group delete, then the bridge, its ports going with it).

import { randomInt, randomUUID } from 'node:crypto';
import { AddressPlan } from '../addressing';
import { crashPoint } from '../crash-points';
import { VSwitchError } from '../errors';
import type { OvsdbClient } from '../ovsdb/client';
import type { Operation } from '../ovsdb/operations';
import { OvsdbTransactionError } from '../ovsdb/results';
import type { BridgeRow } from '../ovsdb/schema/open-vswitch';
import type { CreateSpec, OpenSpec, SwitchSpec } from '../realisation';
import { deleteSwitchLinks, openSwitchNetns, setGateway } from './plumbing';
import { rollback } from './rollback';
import { K, SCHEMA_VERSION, SwitchDb } from './switch-db';
import { isOurs } from './slot-rows';
import { SwitchScope } from './switch-scope';

export const DEFAULT_TIMEOUT_MS = 30_000;
const LOCAL_PORT = 65534;
const UPLINK_OFPORT = 65261; // 0xfeed, as ecDock

/** An OVSDB transaction failure as a VSwitchError that says what we were doing. */
export function wrapOvsdb(e: unknown, what: string): unknown {
  if (e instanceof OvsdbTransactionError) {
    return new VSwitchError('OVSDB_TXN_FAILED', `${what}: ${e.message}`, { cause: e, detail: e.detail });
  }
  return e;
}

function isEcdockBridge(br: BridgeRow): boolean {
  return br.external_ids.has(K.subnet) && br.external_ids.has(K.gateway);
}

/** The spec a bridge's external_ids record; a hand-edited plan is a typed error, not a NaN. */
export function specOf(br: BridgeRow, netnsOverride?: string): SwitchSpec {
  const ids = br.external_ids;
  const gateway = ids.get(K.gateway);
  const subnet = ids.get(K.subnet);
  const group = Number(ids.get(K.group));
  const prefix = subnet?.split('/')[1];
  const broken = (what: string): never => {
    throw new VSwitchError('NOT_OURS', `bridge ${br.name} has a damaged ecdock plan (${what}); it is left alone: delete it with ovs-vsctl del-br ${br.name} and create it again`, {
      detail: { name: br.name, external_ids: Object.fromEntries(ids) },
    });
  };
  if (!gateway || !subnet || prefix === undefined) return broken('no gateway or subnet');
  if (!Number.isInteger(group) || group <= 0) return broken(`${K.group} is ${JSON.stringify(ids.get(K.group) ?? null)}`);
  let plan: AddressPlan;
  try {
    plan = AddressPlan.parse(br.name, `${gateway}/${prefix}`, ids.get(K.ipv6Prefix));
  } catch (e) {
    return broken((e as Error).message);
  }
  const mtu = ids.get(K.mtu);
  const uplink = ids.get(K.uplink);
  const netns = netnsOverride ?? ids.get(K.netns);
  return {
    name: br.name,
    plan,
    usermode: br.datapath_type === 'netdev',
    ...(mtu ? { mtu: Number(mtu) } : {}),
    ...(uplink ? { uplink } : {}),
    ...(netns ? { netns } : {}),
    group,
  };
}

function scopeOf(db: SwitchDb, br: BridgeRow, o: OpenSpec): SwitchScope {
  return new SwitchScope(specOf(br, o.netns), db, o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

/** Opens an existing vswitch. NO_SUCH_VSWITCH if missing, NOT_OURS for a bridge ecdock did not create. */
export async function openBridge(ovs: OvsdbClient, name: string, o: OpenSpec): Promise<SwitchScope> {
  const db = await SwitchDb.for(ovs);
  const br = db.bridge(name);
  if (!br) {
    throw new VSwitchError('NO_SUCH_VSWITCH', `there is no vswitch named ${name}; create it first (ec create-vswitch, or VSwitch.create)`, { detail: { name } });
  }
  if (!isEcdockBridge(br)) {
    throw new VSwitchError('NOT_OURS', `bridge ${br.name} exists but was not created by ecdock; it is left alone`, { detail: { name: br.name } });
  }
  return scopeOf(db, br, o);
}

/** Every vswitch ecdock manages on this OVS (bridges with a damaged plan are left out). */
export async function listBridges(ovs: OvsdbClient, o: OpenSpec): Promise<SwitchScope[]> {
  const db = await SwitchDb.for(ovs);
  const out: SwitchScope[] = [];
  for (const b of [...db.mon.rows('Bridge').values()].filter(isEcdockBridge).sort((a, b) => a.name.localeCompare(b.name))) {
    try {
      out.push(scopeOf(db, b, o));
    } catch {
      /* damaged plan: not listable, and open() says why */
    }
  }
  return out;
}

/** A link group no other vswitch uses (1..2^31-1; the top bit marks links being deleted). */
function newGroup(db: SwitchDb): number {
  const used = new Set([...db.mon.rows('Bridge').values()].map((b) => Number(b.external_ids.get(K.group))));
  for (;;) {
    const g = randomInt(1 << 16, 0x7fffffff);
    if (!used.has(g)) return g;
  }
}

/**
 * Creates the bridge with its plan, or does nothing if it exists with the same plan (repairing
 * the gateway address if a crash left it out). A different plan is VSWITCH_PLAN_MISMATCH; a
 * bridge ecdock did not make is NOT_OURS; names OVS already has otherwise, VSWITCH_EXISTS.
 */
export async function createBridge(ovs: OvsdbClient, plan: AddressPlan, o: CreateSpec): Promise<SwitchScope> {
  const { mtu, usermode } = o;
  const name = plan.vswitch;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const db = await SwitchDb.for(ovs);

  if (db.bridge(name)) {
    const vs = await openBridge(ovs, name, o);
    const spec = vs.spec;
    if (!spec.plan.equals(plan) || spec.usermode !== usermode) {
      throw new VSwitchError(
        'VSWITCH_PLAN_MISMATCH',
        `vswitch ${name} already exists with ${spec.plan.cidr}${spec.plan.ipv6Prefix ? ` and ${spec.plan.ipv6Prefix}` : ''} (${spec.usermode ? 'userspace' : 'kernel'} datapath); ` +
          `delete it first or open it as it is`,
        { detail: { existing: spec.plan.toJSON(), requested: plan.toJSON() } },
      );
    }
    // Another process may have created it a moment ago: its device comes once ovs-vswitchd has
    // applied that (it reports the bridge's own port as LOCAL); a timeout leaves setGateway to say so.
    if (db.iface(name)?.ofport !== LOCAL_PORT) {
      await db.mon.waitFor(() => (db.iface(name)?.ofport === LOCAL_PORT ? true : undefined), timeoutMs).catch(() => undefined);
    }
    await vs.withNetns((ns) => setGateway(ns, spec.plan, spec.mtu));
    return vs;
  }

  // Refuse before writing anything if the switch's namespace cannot be opened.
  openSwitchNetns(o.netns).close();
  // Two bridges in one namespace with overlapping subnets would fight over the routes to them.
  for (const other of await listBridges(ovs, {})) {
    if ((other.spec.netns ?? '') === (o.netns ?? '') && other.spec.plan.overlaps(plan)) {
      throw new VSwitchError(
        'SUBNET_IN_USE',
        `vswitch ${other.name} already uses ${other.spec.plan.subnet}, which overlaps ${plan.subnet}, in the same network namespace; pick another subnet`,
        { detail: { other: other.name, subnet: other.spec.plan.subnet } },
      );
    }
  }
  const group = newGroup(db);
  const ifUuid = randomUUID();
  const portUuid = randomUUID();
  const brUuid = randomUUID();
  const ids = new Map<string, string>([
    [K.version, SCHEMA_VERSION],
    [K.subnet, plan.subnet],
    [K.gateway, plan.gateway],
    [K.group, String(group)],
    ...(plan.ipv6Prefix ? ([[K.ipv6Prefix, plan.ipv6Prefix]] as [string, string][]) : []),
    ...(o.netns ? ([[K.netns, o.netns]] as [string, string][]) : []),
    ...(mtu !== undefined ? ([[K.mtu, String(mtu)]] as [string, string][]) : []),
    ...(o.uplink ? ([[K.uplink, o.uplink]] as [string, string][]) : []),
  ]);
  const x = db.o;
  const ports = [portUuid];
  const operations: Operation[] = [
    x.wait({ table: 'Bridge', where: [['name', '==', name]], columns: ['name'], until: '==', rows: [], timeout: 0 }),
    x.insert('Interface', { name: name, type: 'internal', ...(mtu !== undefined ? { mtu_request: mtu } : {}) }, { uuid: ifUuid }),
    x.insert('Port', { name: name, interfaces: [ifUuid] }, { uuid: portUuid }),
  ];
  if (o.uplink) {
    const upIf = randomUUID();
    const upPort = randomUUID();
    operations.push(
      x.insert('Interface', { name: o.uplink, ofport_request: UPLINK_OFPORT }, { uuid: upIf }),
      x.insert('Port', { name: o.uplink, interfaces: [upIf] }, { uuid: upPort }),
    );
    ports.push(upPort);
  }
  operations.push(
    x.insert(
      'Bridge',
      { name: name, ports, datapath_type: usermode ? 'netdev' : '', other_config: new Map([['hwaddr', plan.gatewayMac]]), external_ids: ids },
      { uuid: brUuid },
    ),
    x.mutate('Open_vSwitch', [], [['bridges', 'insert', [brUuid]]]),
  );
  let nextCfg: number;
  try {
    ({ nextCfg } = await db.submit(operations));
  } catch (e) {
    if (e instanceof OvsdbTransactionError && (e.opIndex === 0 || e.tag === 'constraint violation')) {
      throw new VSwitchError('VSWITCH_EXISTS', `a bridge, port or interface named ${name}${o.uplink ? ` or ${o.uplink}` : ''} already exists in OVS`, { cause: e });
    }
    throw wrapOvsdb(e, `cannot create vswitch ${name}`);
  }
  crashPoint('create:bridge-committed');
  const br = db.bridgeByUuid(brUuid) ?? (await db.mon.waitFor(() => db.bridgeByUuid(brUuid), timeoutMs));
  const vs = scopeOf(db, br, o);
  try {
    await db.applied(nextCfg, timeoutMs);
    const iface = db.ifaceByUuid(ifUuid);
    if (!iface || iface.ofport !== LOCAL_PORT) {
      if (!usermode) {
        throw new VSwitchError(
          'KERNEL_DATAPATH_UNAVAILABLE',
          `ovs-vswitchd could not open the kernel datapath for ${name} (is the openvswitch kernel module loaded? try "modprobe openvswitch"); ` +
            `or create the vswitch in userspace: usermode: true (ec create-vswitch --usermode)`,
          { detail: { ofport: iface?.ofport, error: iface?.error } },
        );
      }
      throw new VSwitchError('PORT_FAILED', `ovs-vswitchd could not create bridge ${name}: ${iface?.error ?? 'no datapath port appeared'}`, {
        detail: { ofport: iface?.ofport, error: iface?.error },
      });
    }
    if (o.uplink) {
      const up = db.iface(o.uplink);
      if (!up || up.ofport === undefined || up.ofport < 0) {
        throw new VSwitchError('PORT_FAILED', `cannot add uplink ${o.uplink} to ${name}: ${up?.error ?? 'ovs-vswitchd did not open it'}`, {
          detail: { error: up?.error },
        });
      }
    }
    await vs.withNetns((ns) => setGateway(ns, plan, mtu));
    crashPoint('create:gateway-set');
    return vs;
  } catch (e) {
    await rollback(e, 'remove the bridge', () => removeBridge(vs));
    throw e;
  }
}

/** Takes the bridge out of OVS (its ports go with it) and waits, within limits, for ovs-vswitchd. */
export async function removeBridge(vs: SwitchScope): Promise<void> {
  const br = vs.db.bridge(vs.name);
  if (!br) return;
  const { nextCfg } = await vs.db.submit([vs.db.o.mutate('Open_vSwitch', [], [['bridges', 'delete', [br._uuid]]])]);
  // Gone from the database is what matters; ovs-vswitchd (maybe down) catches up when it can.
  await vs.db.applied(nextCfg, vs.timeoutMs).catch(() => undefined);
}

/**
 * Deletes the vswitch: every slot link at once, then the bridge (its ports go with it). Refuses
 * with FOREIGN_PORTS, changing nothing, while the bridge holds ports ecdock did not create (its
 * own internal port and the uplink it was created with are ecdock's), unless forced.
 */
export async function destroyBridge(vs: SwitchScope, o: { force?: boolean } = {}): Promise<void> {
  const br = vs.bridgeRow();
  const foreign = vs.db
    .portsOf(br)
    .filter((p) => !isOurs(p, vs.name) && p.name !== vs.name && p.name !== vs.spec.uplink)
    .map((p) => p.name)
    .sort();
  if (foreign.length && !o.force) {
    throw new VSwitchError(
      'FOREIGN_PORTS',
      `vswitch ${vs.name} holds port${foreign.length === 1 ? '' : 's'} ecdock did not create (${foreign.join(', ')}), which deleting it would delete too: ` +
        `remove ${foreign.length === 1 ? 'it' : 'them'} first (ovs-vsctl del-port), or force it (--force, { force: true })`,
      { detail: { vswitch: vs.name, ports: foreign } },
    );
  }
  await vs.withNetns((ns) => deleteSwitchLinks(ns, vs.spec.group));
  crashPoint('destroy:links-deleted');
  await removeBridge(vs);
}
