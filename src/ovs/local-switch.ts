// The local realisation of slots: a bridge of this host's Open vSwitch. The plan lives in the
// bridge's external_ids; each slot is a Port and Interface (claimed in one transaction, the port
// name being unique) plus a veth pair or an OVS internal port plumbed over rtnetlink. All state is
// in OVSDB; nothing is kept in files, so any process can open a vswitch another one created.
//
// Ordering is chosen so that a crash at any point leaves only what `cleanup` (or the next attach
// of that slot) repairs:
// - veth slots: the veth is made first (its host-end name is a reservation nobody else can take,
//   and it carries its owner), then one transaction claims the slot and inserts its Port. A crash
//   in between leaves a veth without a port whose owner is dead: cleanup deletes it.
// - internal slots: ovs-vswitchd makes the device, so the claim comes first, marked "attaching"
//   with its owner, and is cleared when the device is in the target. A crash in between leaves a
//   claim whose owner is dead: cleanup removes it.
// - detach deletes the link first and the port second, so a crash leaves a ghost port (no link)
//   that cleanup removes.

import { randomUUID, randomInt } from 'node:crypto';
import { AddressPlan, OFPORT_REQUEST_MAX, slotFromPortName, slotPort2Name, slotPortName, type SlotAddress } from '../addressing';
import { crashPoint } from '../crash-points';
import { VSwitchError, isEcdockError } from '../errors';
import { Netns } from '../netlink/netns';
import { getLink, type LinkInfo } from '../netlink/link';
import { listAddresses } from '../netlink/addr';
import type { OvsdbClient } from '../ovsdb/client';
import type { Operation } from '../ovsdb/operations';
import { OvsdbTransactionError } from '../ovsdb/results';
import type { BridgeRow, InterfaceRow, PortRow } from '../ovsdb/schema/open-vswitch';
import { ownerAlive, selfOwner } from '../owner';
import { deleteSwitchLinks, doomedGroup, openSwitchNetns, pinMacs, plugInternal, plugVeth, reapLinks, setGateway, switchLinks, teachGateway, type Nic } from './plumbing';
import { K, SCHEMA_VERSION, SwitchDb, idsToObject } from './switch-db';
import type { ContainerRuntime } from '../runtime/container-runtime';
import type { PortType, SlotInfo, SlotState, SlotTargetInfo } from '../slot';
import { targetLiveness, type Liveness } from '../targets';
import { SlotBusy, type CleanupOptions, type CleanupReport, type RecordedOptions, type SlotEvent, type SlotRequest, type SwitchRealisation } from '../realisation';

/** How to open an existing bridge: where its ovs-vswitchd runs (overriding what it recorded), and the container runtime for targets. */
export interface OpenOptions {
  netns?: string;
  timeoutMs?: number;
  runtime: () => ContainerRuntime;
}

export interface LocalSwitchOptions {
  usermode: boolean;
  uplink?: string;
  mtu?: number;
  netns?: string;
  timeoutMs?: number;
  runtime: () => ContainerRuntime;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const LOCAL_PORT = 65534;
const UPLINK_OFPORT = 65261; // 0xfeed, as ecDock
/** The second NIC of slot N asks for OpenFlow port 30000 + N, as ecDock did. */
const NIC2_OFPORT_BASE = 30000;
/** How long cleanup waits before it calls a veth with no owner and no port an orphan. */
const ORPHAN_GRACE_MS = 1000;
/** How long removing ports waits for ovs-vswitchd to let go of them (it may be down). */
const REMOVE_WAIT_MS = 5000;
/** A claim lost with the connection, and known not to have committed, is sent again this often. */
const CLAIM_RETRIES = 2;

/** The owner written into a slot veth's alias at creation (see plugVeth). */
function linkOwner(link: LinkInfo): string | undefined {
  return link.alias?.startsWith('ecdock ') ? link.alias.slice(7) : undefined;
}

function isOurs(port: PortRow, vswitch: string): boolean {
  return port.external_ids.get(K.vswitch) === vswitch && port.external_ids.has(K.slot);
}

function wrapOvsdb(e: unknown, what: string): unknown {
  if (e instanceof OvsdbTransactionError) {
    return new VSwitchError('OVSDB_TXN_FAILED', `${what}: ${e.message}`, { cause: e, detail: e.detail });
  }
  return e;
}

export class LocalSwitch implements SwitchRealisation {
  readonly name: string;
  readonly plan: AddressPlan;
  readonly usermode: boolean;
  readonly mtu?: number;
  readonly uplink?: string;
  /** Path of the namespace where ovs-vswitchd runs, or undefined for the caller's. */
  readonly netns?: string;
  /** Link group of this vswitch's slot links. */
  readonly group: number;
  readonly ovs: OvsdbClient;
  private readonly db: SwitchDb;
  private readonly timeoutMs: number;
  private readonly runtime: () => ContainerRuntime;
  /** Slots this process is attaching right now. */
  private readonly inflight = new Set<number>();

  private constructor(ovs: OvsdbClient, db: SwitchDb, bridge: BridgeRow, o: OpenOptions) {
    const ids = bridge.external_ids;
    this.ovs = ovs;
    this.db = db;
    this.name = bridge.name;
    const gateway = ids.get(K.gateway)!;
    const prefix = ids.get(K.subnet)!.split('/')[1];
    this.plan = AddressPlan.parse(bridge.name, `${gateway}/${prefix}`, ids.get(K.ipv6Prefix));
    this.usermode = bridge.datapath_type === 'netdev';
    const mtu = ids.get(K.mtu);
    if (mtu) this.mtu = Number(mtu);
    const uplink = ids.get(K.uplink);
    if (uplink) this.uplink = uplink;
    const netns = o.netns ?? ids.get(K.netns);
    if (netns) this.netns = netns;
    this.group = Number(ids.get(K.group));
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.runtime = o.runtime;
  }

  // ---- vswitches ---------------------------------------------------------------------------

  /**
   * Creates the bridge with its plan, or does nothing if it exists with the same plan (repairing
   * the gateway address if a crash left it out). A different plan is VSWITCH_PLAN_MISMATCH; a
   * bridge ecdock did not make is NOT_OURS; names OVS already has otherwise, VSWITCH_EXISTS.
   */
  static async create(ovs: OvsdbClient, plan: AddressPlan, o: LocalSwitchOptions): Promise<LocalSwitch> {
    const mtu = o.mtu;
    const usermode = o.usermode;
    const name = plan.vswitch;
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const db = await SwitchDb.for(ovs);

    const existing = db.bridge(name);
    if (existing) {
      const vs = LocalSwitch.adopt(ovs, db, existing, o);
      if (!vs.plan.equals(plan) || vs.usermode !== usermode) {
        throw new VSwitchError(
          'VSWITCH_PLAN_MISMATCH',
          `vswitch ${name} already exists with ${vs.plan.cidr}${vs.plan.ipv6Prefix ? ` and ${vs.plan.ipv6Prefix}` : ''} (${vs.usermode ? 'userspace' : 'kernel'} datapath); ` +
            `delete it first or open it as it is`,
          { detail: { existing: vs.plan.toJSON(), requested: plan.toJSON() } },
        );
      }
      const ns = openSwitchNetns(vs.netns);
      try {
        await setGateway(ns, vs.plan, vs.mtu);
      } finally {
        ns.close();
      }
      return vs;
    }

    // Refuse before writing anything if the switch's namespace cannot be opened.
    openSwitchNetns(o.netns).close();
    // Two bridges in one namespace with overlapping subnets would fight over the routes to them.
    for (const other of await LocalSwitch.list(ovs, { runtime: o.runtime })) {
      if ((other.netns ?? '') === (o.netns ?? '') && other.plan.overlaps(plan)) {
        throw new VSwitchError(
          'SUBNET_IN_USE',
          `vswitch ${other.name} already uses ${other.plan.subnet}, which overlaps ${plan.subnet}, in the same network namespace; pick another subnet`,
          { detail: { other: other.name, subnet: other.plan.subnet } },
        );
      }
    }
    const group = LocalSwitch.newGroup(db);
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
        {
          name: name,
          ports,
          datapath_type: usermode ? 'netdev' : '',
          other_config: new Map([['hwaddr', plan.gatewayMac]]),
          external_ids: ids,
        },
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
    const vs = new LocalSwitch(ovs, db, db.bridgeByUuid(brUuid) ?? (await db.mon.waitFor(() => db.bridgeByUuid(brUuid), timeoutMs)), o);
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
      const ns = openSwitchNetns(vs.netns);
      try {
        await setGateway(ns, plan, mtu);
      } finally {
        ns.close();
      }
      crashPoint('create:gateway-set');
      return vs;
    } catch (e) {
      await vs.removeBridge().catch(() => undefined);
      throw e;
    }
  }

  /** Opens an existing vswitch. NO_SUCH_VSWITCH if missing, NOT_OURS for a bridge ecdock did not create. */
  static async open(ovs: OvsdbClient, name: string, o: OpenOptions): Promise<LocalSwitch> {
    const db = await SwitchDb.for(ovs);
    const br = db.bridge(name);
    if (!br) {
      throw new VSwitchError('NO_SUCH_VSWITCH', `there is no vswitch named ${name}; create it first (ec create-vswitch, or VSwitch.create)`, { detail: { name } });
    }
    return LocalSwitch.adopt(ovs, db, br, o);
  }

  /** Every vswitch ecdock manages on this OVS. */
  static async list(ovs: OvsdbClient, o: OpenOptions): Promise<LocalSwitch[]> {
    const db = await SwitchDb.for(ovs);
    return [...db.mon.rows('Bridge').values()]
      .filter((b) => b.external_ids.has(K.subnet) && b.external_ids.has(K.gateway))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((b) => new LocalSwitch(ovs, db, b, o));
  }

  private static adopt(ovs: OvsdbClient, db: SwitchDb, br: BridgeRow, o: OpenOptions): LocalSwitch {
    if (!br.external_ids.has(K.subnet) || !br.external_ids.has(K.gateway)) {
      throw new VSwitchError('NOT_OURS', `bridge ${br.name} exists but was not created by ecdock; it is left alone`, { detail: { name: br.name } });
    }
    return new LocalSwitch(ovs, db, br, o);
  }

  /** A link group no other vswitch uses (1..2^31-1; the top bit marks links being deleted). */
  private static newGroup(db: SwitchDb): number {
    const used = new Set([...db.mon.rows('Bridge').values()].map((b) => Number(b.external_ids.get(K.group))));
    for (;;) {
      const g = randomInt(1 << 16, 0x7fffffff);
      if (!used.has(g)) return g;
    }
  }

  private bridgeRow(): BridgeRow {
    const br = this.db.bridge(this.name);
    if (!br || br.external_ids.get(K.group) !== String(this.group)) {
      throw new VSwitchError('NO_SUCH_VSWITCH', `vswitch ${this.name} no longer exists`, { detail: { name: this.name } });
    }
    return br;
  }

  private async removeBridge(): Promise<void> {
    const br = this.db.bridge(this.name);
    if (!br) return;
    const { nextCfg } = await this.db.submit([this.db.o.mutate('Open_vSwitch', [], [['bridges', 'delete', [br._uuid]]])]);
    await this.db.applied(nextCfg, this.timeoutMs).catch(() => undefined);
  }

  /** Deletes the vswitch: every slot link at once, then the bridge (its ports go with it). */
  async destroy(): Promise<void> {
    this.bridgeRow();
    const ns = openSwitchNetns(this.netns);
    try {
      await deleteSwitchLinks(ns, this.group);
    } finally {
      ns.close();
    }
    crashPoint('destroy:links-deleted');
    await this.removeBridge();
  }

  // ---- slots -------------------------------------------------------------------------------

  assertExists(): void {
    this.bridgeRow();
  }

  isOwnNamespace(ns: Netns): boolean {
    const sw = openSwitchNetns(this.netns);
    try {
      return ns.isSameAs(sw);
    } finally {
      sw.close();
    }
  }

  recordedOptions(n: number): RecordedOptions | undefined {
    const port = this.slotPort(n);
    if (!port) return undefined;
    const ids = port.external_ids;
    const externalIds: Record<string, string> = {};
    for (const [k, v] of ids) if (!k.startsWith('ecdock:')) externalIds[k] = v;
    const mtu = ids.get(K.mtu);
    return {
      portType: this.portTypeOf(port),
      ifname: ids.get(K.ifname) ?? 'eth0',
      ...(mtu ? { mtu: Number(mtu) } : {}),
      ...(port.tag !== undefined ? { vlan: port.tag } : {}),
      externalIds,
      dualNic: this.db.port(slotPort2Name(this.name, n)) !== undefined,
    };
  }

  /** Slot numbers held by ports on this bridge (any state), and those this process is claiming. */
  takenSlots(): number[] {
    const out: number[] = [...this.inflight];
    for (const p of this.db.portsOf(this.bridgeRow())) {
      const n = slotFromPortName(this.name, p.name);
      if (n !== undefined) out.push(n);
    }
    return out;
  }

  async claim(n: number, r: SlotRequest): Promise<SlotInfo> {
    if (this.inflight.has(n)) throw new SlotBusy('this process is attaching it right now');
    this.inflight.add(n);
    const sw = openSwitchNetns(this.netns);
    try {
      return r.portType === 'veth' ? await this.attachVeth(n, r, sw) : await this.attachInternal(n, r, sw);
    } finally {
      sw.close();
      this.inflight.delete(n);
    }
  }

  /** The NICs of slot n: the primary (addresses, routes) and, with dualNic, eth1. */
  private nicsOf(n: number, r: SlotRequest): Nic[] {
    const a = this.plan.addressOf(n);
    const nics: Nic[] = [{ portName: a.portName, ifname: r.ifname, mac: a.mac, ofportRequest: a.ofportRequest, addr: a }];
    if (r.dualNic) {
      const ofp = n + NIC2_OFPORT_BASE;
      nics.push({ portName: slotPort2Name(this.name, n), ifname: 'eth1', mac: a.mac2, ofportRequest: ofp <= OFPORT_REQUEST_MAX ? ofp : undefined });
    }
    return nics;
  }

  private slotIds(n: number, nic: Nic, r: SlotRequest, owner?: string): { port: Map<string, string>; iface: Map<string, string> } {
    const t = r.target.info;
    const common: [string, string][] = [
      [K.vswitch, this.name],
      [K.slot, String(n)],
      [K.target, t.kind === 'container' ? t.ref : t.netnsId],
      [K.targetKind, t.kind],
      [K.targetRef, t.ref],
      [K.netnsId, t.netnsId],
      ...(t.name ? ([[K.targetName, t.name]] as [string, string][]) : []),
      ...(nic.addr ? [] : ([[K.nic, '2']] as [string, string][])),
    ];
    const port = new Map<string, string>([
      ...Object.entries(r.extra),
      ...common,
      [K.portType, r.portType],
      [K.ifname, nic.ifname],
      ...(r.mtu !== undefined ? ([[K.mtu, String(r.mtu)]] as [string, string][]) : []),
      ...(owner ? ([[K.state, 'attaching'], [K.owner, owner]] as [string, string][]) : []),
    ]);
    const iface = new Map<string, string>([
      ...Object.entries(r.extra),
      ...common,
      ['attached-mac', nic.mac],
      ['iface-id', nic.portName],
      ['iface-status', 'active'],
    ]);
    return { port, iface };
  }

  /**
   * The claim transaction: guards (the bridge is the one we know; each port name is free), then
   * each NIC's Interface and Port, then one mutate
   * adding them all to the bridge. Returns the ops and how many leading ops are guards.
   */
  private claimOps(n: number, nics: Nic[], r: SlotRequest, uuids: { port: string; iface: string }[], owner?: string): { ops: Operation[]; guards: number } {
    const x = this.db.o;
    const br = this.bridgeRow();
    const ops: Operation[] = [
      x.wait({ table: 'Bridge', where: [['_uuid', '==', br._uuid]], columns: ['name'], until: '==', rows: [{ name: this.name }], timeout: 0 }),
    ];
    for (const nic of nics) ops.push(x.wait({ table: 'Port', where: [['name', '==', nic.portName]], columns: ['name'], until: '==', rows: [], timeout: 0 }));
    const guards = ops.length;
    nics.forEach((nic, i) => {
      const ids = this.slotIds(n, nic, r, owner);
      ops.push(
        x.insert(
          'Interface',
          {
            name: nic.portName,
            type: r.portType === 'internal' ? 'internal' : '',
            ...(nic.ofportRequest !== undefined ? { ofport_request: nic.ofportRequest } : {}),
            external_ids: ids.iface,
          },
          { uuid: uuids[i].iface },
        ),
        x.insert('Port', { name: nic.portName, interfaces: [uuids[i].iface], ...(r.vlan !== undefined ? { tag: r.vlan } : {}), external_ids: ids.port }, { uuid: uuids[i].port }),
      );
    });
    ops.push(x.mutate('Bridge', [['_uuid', '==', br._uuid]], [['ports', 'insert', uuids.map((u) => u.port)]]));
    return { ops, guards };
  }

  /**
   * Commits a claim. A failed guard means the slot is taken (SlotBusy); a lost connection is
   * ambiguous, so we look for our own port (client-chosen uuid) once the replica is back.
   */
  private async commitClaim(n: number, claim: { ops: Operation[]; guards: number }, portUuid: string, timeoutMs: number, retries = CLAIM_RETRIES): Promise<number> {
    try {
      const { nextCfg } = await this.db.submit(claim.ops);
      return nextCfg;
    } catch (e) {
      if (e instanceof OvsdbTransactionError) {
        if (e.opIndex === 0) throw new VSwitchError('NO_SUCH_VSWITCH', `vswitch ${this.name} was deleted while slot ${n} was being attached`, { cause: e });
        if (e.opIndex > 0 && e.opIndex < claim.guards) throw new SlotBusy('another port holds its name');
        if (e.tag === 'constraint violation') throw new SlotBusy(`OVS refused the port: ${e.details ?? e.tag}`);
        throw wrapOvsdb(e, `cannot claim slot ${n} of ${this.name}`);
      }
      if (isEcdockError(e) && (e.code === 'OVSDB_CONNECTION_LOST' || e.code === 'OVSDB_TIMEOUT')) {
        // Did it commit before the connection dropped? Our port's uuid answers that.
        const seen = await this.db.mon
          .waitFor(() => (this.db.client.connected && this.db.mon.established ? (this.db.portByUuid(portUuid) ? 'yes' : 'no') : undefined), timeoutMs)
          .catch(() => undefined);
        if (seen === 'yes') return Number(this.db.root().next_cfg);
        // It did not commit, and the claim is guarded and uses its own uuids: sending it again is safe.
        if (seen === 'no' && retries > 0) return this.commitClaim(n, claim, portUuid, timeoutMs, retries - 1);
      }
      throw e;
    }
  }

  private async attachVeth(n: number, r: SlotRequest, sw: Netns): Promise<SlotInfo> {
    const nics = this.nicsOf(n, r);
    // A port already holding one of our names is in use if its link lives, and a ghost if its link
    // died with its namespace: the ghost goes first, and ovs-vswitchd must have dropped it (and
    // any port of that name we removed lately) before a new device of that name appears: it keys
    // ports by name and would otherwise keep the old device handle.
    const ghosts: PortRow[] = [];
    for (const nic of nics) {
      const existing = this.db.port(nic.portName);
      if (!existing) continue;
      const ifc = this.db.ifaceOf(existing);
      const ghostable = isOurs(existing, this.name) && !existing.external_ids.has(K.state) && ifc?.type === '' && this.db.bridgeOfPort(existing._uuid)?.name === this.name;
      if (!ghostable) throw new SlotBusy(`port ${nic.portName} exists${isOurs(existing, this.name) ? '' : ' and is not an ecdock slot port'}`);
      if (await getLink({ netns: sw, name: nic.portName })) throw new SlotBusy(`slot ${n} is attached (port ${nic.portName} and its link exist)`);
      ghosts.push(existing);
    }
    await this.removePorts(ghosts, true);
    await this.db.settled(
      nics.map((x) => x.portName),
      r.timeoutMs,
    );
    const owner = selfOwner();
    const made: string[] = [];
    try {
      const settled = await Promise.allSettled(
        nics.map((nic) => plugVeth({ switchNetns: sw, target: r.target.netns, nic, mtu: r.mtu, group: this.group, owner, usermode: this.usermode }).then(() => made.push(nic.portName))),
      );
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (e) {
      await reapLinks(this.netns, this.group, made).catch(() => undefined);
      // EEXIST does not say which end clashed; the netlink layer asks, but a clashing host end
      // can vanish before it looks (another attach rolling back), so check the target too.
      const peerClash = isEcdockError(e, 'LINK_EXISTS') && (e.detail as { side?: string } | undefined)?.side === 'peer' && !!(await getLink({ netns: r.target.netns, name: r.ifname }).catch(() => undefined));
      if (isEcdockError(e, 'LINK_EXISTS') && !peerClash) {
        const clashed = (e.detail as { ifname?: string } | undefined)?.ifname;
        const name = nics.some((x) => x.portName === clashed) ? clashed! : nics[0].portName;
        if (await this.reclaimOrphan(sw, name)) return this.attachVeth(n, r, sw);
        throw new SlotBusy(`link ${name} exists (another attach is in flight)`);
      }
      throw e;
    }
    crashPoint('attach:veth-created');
    const uuids = nics.map(() => ({ port: randomUUID(), iface: randomUUID() }));
    let nextCfg: number;
    const taught = this.teach(nics[0].addr!);
    try {
      nextCfg = await this.commitClaim(n, this.claimOps(n, nics, r, uuids), uuids[0].port, r.timeoutMs);
    } catch (e) {
      await reapLinks(this.netns, this.group, made).catch(() => undefined);
      throw e;
    }
    crashPoint('attach:port-committed');
    await taught;
    if (r.wait) {
      try {
        for (const u of uuids) await this.waitPort(n, u.iface, nextCfg, r.timeoutMs);
      } catch (e) {
        await this.detachSlot(n).catch(() => undefined);
        throw e;
      }
      crashPoint('attach:vswitchd-applied');
      await this.pin(nics, r.vlan);
    }
    return this.infoFromCache(n) ?? this.describe(n, this.db.portByUuid(uuids[0].port)!, 'up');
  }

  /** A veth of ours whose port was never committed and whose owner is dead: delete it. */
  private async reclaimOrphan(sw: Netns, name: string): Promise<boolean> {
    if (this.db.port(name)) return false;
    const link = await getLink({ netns: sw, name });
    if (!link) return true; // vanished meanwhile: just retry
    if (link.group !== this.group && link.group !== doomedGroup(this.group)) return false;
    // No owner yet: its creator has not finished setting it up (or died right then: cleanup decides).
    const owner = linkOwner(link);
    if (owner === undefined || ownerAlive(owner)) return false;
    await reapLinks(this.netns, this.group, [name]);
    return true;
  }

  private async attachInternal(n: number, r: SlotRequest, sw: Netns, attempt = 0): Promise<SlotInfo> {
    const nics = this.nicsOf(n, r);
    for (const nic of nics) if (this.db.port(nic.portName)) throw new SlotBusy(`port ${nic.portName} exists`);
    await this.db.settled(
      nics.map((x) => x.portName),
      r.timeoutMs,
    );
    const uuids = nics.map(() => ({ port: randomUUID(), iface: randomUUID() }));
    const owner = selfOwner();
    const nextCfg = await this.commitClaim(n, this.claimOps(n, nics, r, uuids, owner), uuids[0].port, r.timeoutMs);
    crashPoint('attach:internal-claimed');
    try {
      for (const u of uuids) await this.waitPort(n, u.iface, nextCfg, r.timeoutMs);
      crashPoint('attach:internal-applied');
      await this.pin(nics, r.vlan);
      for (const nic of nics) await plugInternal({ switchNetns: sw, target: r.target.netns, nic, mtu: r.mtu, usermode: this.usermode });
      await this.teach(nics[0].addr!);
      crashPoint('attach:internal-moved');
      crashPoint('attach:internal-configured');
      const { results } = await this.db.submit(
        uuids.map((u) => this.db.o.mutate('Port', [['_uuid', '==', u.port]], [['external_ids', 'delete', [K.state, K.owner] as unknown as Map<string, string>]])),
      );
      if (results.some((x) => (x as { count?: number }).count !== 1)) throw new VSwitchError('NO_SUCH_SLOT', `slot ${n} was removed while it was being attached`);
      // The replica has the update before the reply on this connection; wait anyway, cheaply, so
      // the returned slot can never read as still attaching.
      await this.db.mon.waitFor(() => (uuids.every((u) => !this.db.portByUuid(u.port)?.external_ids.has(K.state)) ? true : undefined), r.timeoutMs);
    } catch (e) {
      await this.detachSlot(n).catch(() => undefined);
      // Another client's veth attach of this slot made its link first, and ovs-vswitchd could not
      // create our device under that name: the slot is taken (auto selection tries the next one).
      if (isEcdockError(e, 'PORT_FAILED')) {
        const clash = (await Promise.all(nics.map((nic) => getLink({ netns: sw, name: nic.portName }).catch(() => undefined)))).find((l) => l?.kind === 'veth');
        if (clash) throw new SlotBusy(`a veth named ${clash.name} exists (another attach of this slot)`);
        // The name was taken only for a moment (that attach lost the claim to us and rolled back;
        // under contention another may grab it again): try the same slot up to twice more.
        if (attempt < 2) return this.attachInternal(n, r, sw, attempt + 1);
      }
      throw e;
    }
    return this.infoFromCache(n) ?? this.describe(n, this.db.portByUuid(uuids[0].port)!, 'up');
  }

  /** Waits until ovs-vswitchd applied the claim and reports the port; Interface.error → PORT_FAILED. */
  private async waitPort(n: number, ifaceUuid: string, nextCfg: number, timeoutMs: number): Promise<InterfaceRow> {
    await this.db.applied(nextCfg, timeoutMs);
    const iface = this.db.ifaceByUuid(ifaceUuid);
    if (!iface) throw new VSwitchError('NO_SUCH_SLOT', `slot ${n}'s port vanished before ovs-vswitchd added it`);
    if (iface.ofport === undefined || iface.ofport <= 0) {
      throw new VSwitchError(
        'PORT_FAILED',
        `ovs-vswitchd could not add ${iface.name} to ${this.name}: ${iface.error ?? 'it reported no OpenFlow port'}`,
        { detail: { ofport: iface.ofport, error: iface.error } },
      );
    }
    return iface;
  }

  /** Removes a slot. NO_SUCH_SLOT if it is not attached. */
  async release(n: number): Promise<void> {
    this.plan.checkSlot(n);
    if (!this.slotPort(n)) throw new VSwitchError('NO_SUCH_SLOT', `slot ${n} of ${this.name} is not attached`, { detail: { slot: n } });
    await this.detachSlot(n);
  }

  private portTypeOf(port: PortRow): PortType {
    const t = port.external_ids.get(K.portType);
    if (t === 'internal' || t === 'veth') return t;
    return this.db.ifaceOf(port)?.type === 'internal' ? 'internal' : 'veth';
  }

  /** The ports of slot n on this bridge: the primary and the second NIC's, when present. */
  private portsOfSlot(n: number): PortRow[] {
    const br = this.db.bridge(this.name);
    if (!br) return [];
    const names = [slotPortName(this.name, n), slotPort2Name(this.name, n)];
    return names.map((name) => this.db.port(name)).filter((p): p is PortRow => !!p && isOurs(p, this.name) && br.ports.includes(p._uuid));
  }

  /** Links first (veth), then the ports: a crash in between leaves a ghost port for cleanup. */
  private async detachSlot(n: number): Promise<void> {
    const ports = this.portsOfSlot(n);
    const veths = ports.filter((p) => this.portTypeOf(p) === 'veth').map((p) => p.name);
    if (veths.length) {
      await reapLinks(this.netns, this.group, veths);
      crashPoint('detach:link-deleted');
    }
    await this.removePorts(ports, ports.some((p) => this.portTypeOf(p) === 'internal'));
    crashPoint('detach:port-removed');
  }

  /**
   * Takes ports off the bridge. With `wait`, returns once ovs-vswitchd has dropped them (an
   * internal port's device goes only then). Either way the removal is noted, so that re-adding one
   * of these names waits for it first (see SwitchDb.settled). ovs-vswitchd's userspace datapath
   * removes ports one by one (1000 take it ~14 s), so bulk detach does not wait.
   */
  private async removePorts(ports: PortRow[], wait = false): Promise<void> {
    if (!ports.length) return;
    const br = this.db.bridge(this.name);
    if (!br) return;
    const { nextCfg } = await this.db.submit([this.db.o.mutate('Bridge', [['_uuid', '==', br._uuid]], [['ports', 'delete', ports.map((p) => p._uuid)]])]);
    this.db.noteRemoved(
      ports.map((p) => p.name),
      nextCfg,
    );
    if (wait) {
      await this.db.applied(nextCfg, Math.min(this.timeoutMs, REMOVE_WAIT_MS)).catch((e) => {
        if (!isEcdockError(e, 'VSWITCHD_TIMEOUT')) throw e;
      });
    }
  }

  /** Slot number of a slot link or port name (<vs>-sNN or <vs>-oNN). */
  private slotOfLinkName(name: string): number | undefined {
    return slotFromPortName(this.name, name) ?? slotFromPortName(this.name, name.replace(/-o(\d+)$/, '-s$1'));
  }

  private slotPort(n: number): PortRow | undefined {
    const p = this.db.port(this.plan.addressOf(n).portName);
    return p && isOurs(p, this.name) && this.bridgeRow().ports.includes(p._uuid) ? p : undefined;
  }

  private ourPorts(): PortRow[] {
    return this.db.portsOf(this.bridgeRow()).filter((p) => isOurs(p, this.name));
  }

  private targetOf(port: PortRow): SlotTargetInfo | undefined {
    const ids = port.external_ids;
    const kind = ids.get(K.targetKind) as SlotTargetInfo['kind'] | undefined;
    const ref = ids.get(K.targetRef);
    const target = ids.get(K.target);
    if (!kind || !ref || !target) return undefined;
    const name = ids.get(K.targetName);
    return { kind, ref, ...(name ? { name } : {}), netnsId: ids.get(K.netnsId) ?? (kind === 'container' ? '' : target) };
  }

  private describe(n: number, port: PortRow, state: SlotState, error?: string): SlotInfo {
    const a = this.plan.addressOf(n);
    const iface = this.db.ifaceOf(port);
    const ids = idsToObject(port.external_ids);
    const target = this.targetOf(port);
    const owner = port.external_ids.get(K.owner);
    const p2 = this.db.port(slotPort2Name(this.name, n));
    const i2 = p2 && isOurs(p2, this.name) ? this.db.ifaceOf(p2) : undefined;
    return {
      ...a,
      vswitch: this.name,
      index: n,
      portType: this.portTypeOf(port),
      ifname: port.external_ids.get(K.ifname) ?? 'eth0',
      ...(port.tag !== undefined ? { vlan: port.tag } : {}),
      ...(iface?.mtu !== undefined ? { mtu: Number(iface.mtu) } : {}),
      ...(iface?.ofport !== undefined && iface.ofport > 0 ? { ofport: Number(iface.ofport) } : {}),
      state,
      ...(error ? { error } : {}),
      ...(target ? { target } : {}),
      ...(i2 ? { nic2: { portName: i2.name, ifname: p2!.external_ids.get(K.ifname) ?? 'eth1', mac: a.mac2, ...(i2.ofport !== undefined && i2.ofport > 0 ? { ofport: Number(i2.ofport) } : {}) } } : {}),
      ...(owner ? { owner } : {}),
      externalIds: ids,
    };
  }

  /** A quick state from the replica alone (used right after attach). */
  private infoFromCache(n: number): SlotInfo | undefined {
    const p = this.slotPort(n);
    if (!p) return undefined;
    const iface = this.db.ifaceOf(p);
    const state: SlotState = p.external_ids.has(K.state) ? 'attaching' : iface?.error || iface?.ofport === -1 ? 'error' : 'up';
    return this.describe(n, p, state, iface?.error);
  }

  /** Every slot with its state, joined from OVSDB, the kernel and the targets. */
  async slots(): Promise<SlotInfo[]> {
    const ports = this.ourPorts();
    const sw = openSwitchNetns(this.netns);
    let links: Map<string, LinkInfo>;
    try {
      links = await switchLinks(sw, this.group);
    } finally {
      sw.close();
    }
    const out = await Promise.all(
      ports.map(async (p) => {
        const n = slotFromPortName(this.name, p.name);
        if (n === undefined || !this.plan.isValidSlot(n)) return undefined;
        const { state, error } = await this.stateOf(p, links);
        return this.describe(n, p, state, error);
      }),
    );
    return out.filter((s): s is SlotInfo => s !== undefined).sort((a, b) => a.index - b.index);
  }

  async slot(n: number): Promise<SlotInfo | undefined> {
    const p = this.slotPort(n);
    if (!p) return undefined;
    const sw = openSwitchNetns(this.netns);
    try {
      const link = await getLink({ netns: sw, name: p.name });
      const links = new Map(link ? [[p.name, link]] : []);
      const { state, error } = await this.stateOf(p, links);
      return this.describe(n, p, state, error);
    } finally {
      sw.close();
    }
  }

  /**
   * A slot's state from its port, its link and its target:
   * - veth: the link dies with the target's namespace (lazily: the kernel tears namespaces down
   *   asynchronously, so a pid or path target that is gone makes a ghost even while it lingers);
   * - a container that is stopped, or that restarted into a new namespace, keeps its slot `down`
   *   (a follower re-plugs it); only a container that no longer exists makes a ghost;
   * - when the runtime cannot be asked, nothing is called a ghost.
   */
  private async stateOf(p: PortRow, links: Map<string, LinkInfo>): Promise<{ state: SlotState; error?: string; liveness?: Liveness }> {
    const iface = this.db.ifaceOf(p);
    if (p.external_ids.get(K.state) === 'attaching') return { state: 'attaching' };
    const target = this.targetOf(p);
    const liveness: Liveness = target ? await targetLiveness(target, this.runtime) : 'gone';
    if (liveness === 'gone') return { state: 'ghost', liveness };
    if (liveness === 'stopped') return { state: 'down', liveness };
    const failed = iface?.error || iface?.ofport === -1;
    if (this.portTypeOf(p) === 'veth') {
      const link = links.get(p.name);
      if (!link) return { state: target?.kind === 'container' ? 'down' : 'ghost', liveness };
      if (failed) return { state: 'error', liveness, ...(iface?.error ? { error: iface.error } : {}) };
      return { state: link.operState === 'up' || link.operState === 'unknown' ? 'up' : 'down', liveness };
    }
    if (failed) return { state: 'error', liveness, ...(iface?.error ? { error: iface.error } : {}) };
    return { state: 'up', liveness };
  }

  /**
   * Removes what crashed or vanished work left behind, and only ecdock's own: ports whose target
   * is gone, claims whose owner died, and veths of this vswitch that no port uses.
   */
  async cleanup(o: CleanupOptions): Promise<CleanupReport> {
    const report: CleanupReport = { ports: [], links: [], gateway: 'ok' };
    const sw = openSwitchNetns(this.netns);
    try {
      report.gateway = await this.repairGateway(sw);
      const links = await switchLinks(sw, this.group);
      const doomed: string[] = [];
      const remove: PortRow[] = [];
      // A slot's ports (primary and second NIC) go together.
      const bySlot = new Map<number, PortRow[]>();
      for (const p of this.ourPorts()) {
        const n = Number(p.external_ids.get(K.slot));
        if (!this.plan.isValidSlot(n) || this.inflight.has(n)) continue;
        bySlot.set(n, [...(bySlot.get(n) ?? []), p]);
      }
      const drop = (ports: PortRow[], reason: CleanupReport['ports'][number]['reason']) => {
        for (const p of ports) {
          remove.push(p);
          if (links.has(p.name)) doomed.push(p.name);
          report.ports.push({ slot: Number(p.external_ids.get(K.slot)), portName: p.name, reason });
        }
      };
      for (const [n, ports] of bySlot) {
        const p = ports.find((x) => x.name === slotPortName(this.name, n));
        if (!p) {
          drop(ports, 'link-gone'); // a second NIC whose slot is gone
          continue;
        }
        if (p.external_ids.get(K.state) === 'attaching') {
          if (!ownerAlive(p.external_ids.get(K.owner))) drop(ports, 'stale-claim');
          continue;
        }
        const { state, liveness } = await this.stateOf(p, links);
        if (state === 'ghost') drop(ports, liveness === 'gone' ? 'target-gone' : 'link-gone');
        else if (liveness === 'stopped' && o.stoppedContainers) drop(ports, 'container-stopped');
      }
      // veths of ours without a port: a crashed attach, once its owner is dead. A veth with no
      // owner yet is being set up right now by its creator, or its creator died in between: look
      // again after a moment.
      const portless = (ls: Map<string, LinkInfo>) => {
        const portNames = new Set(this.ourPorts().map((p) => p.name));
        return [...ls].filter(([name, link]) => {
          const n = this.slotOfLinkName(name);
          return !portNames.has(name) && !(n !== undefined && this.inflight.has(n)) && (link.kind === undefined || link.kind === 'veth');
        });
      };
      let unowned: string[] = [];
      for (const [name, link] of portless(links)) {
        const owner = linkOwner(link);
        if (owner === undefined) unowned.push(name);
        else if (!ownerAlive(owner)) doomed.push(name);
      }
      if (unowned.length) {
        await new Promise((r) => setTimeout(r, ORPHAN_GRACE_MS));
        const again = new Map(portless(await switchLinks(sw, this.group)));
        unowned = unowned.filter((name) => again.has(name) && linkOwner(again.get(name)!) === undefined);
        doomed.push(...unowned);
      }
      report.links.push(...doomed.filter((name) => !report.ports.some((p) => p.portName === name)));
      await reapLinks(this.netns, this.group, doomed);
      await this.removePorts(remove, remove.some((p) => this.portTypeOf(p) === 'internal'));
    } finally {
      sw.close();
    }
    return report;
  }

  /** Best effort: the slot's MACs become static MAC-table entries (see pinMacs); a failure only costs floods. */
  private async pin(nics: Nic[], vlan: number | undefined): Promise<void> {
    await pinMacs(
      this.ovs.url,
      nics.map((nic) => ({ bridge: this.name, port: nic.portName, vlan: vlan ?? 0, mac: nic.mac })),
    ).catch(() => false);
  }

  /** Best effort: the gateway learns the slot's MAC without ARP (see teachGateway); a failure only costs broadcasts. */
  private teach(a: SlotAddress): Promise<void> {
    return teachGateway(this.netns, this.plan, a).catch(() => undefined);
  }

  /** Puts the gateway address back on the bridge's device if it is missing (ovs-vswitchd recreates
   *  that device, without addresses, when it restarts). */
  private async repairGateway(sw: Netns): Promise<CleanupReport['gateway']> {
    const dev = await getLink({ netns: sw, name: this.name });
    if (!dev) return 'missing';
    const have = (await listAddresses({ netns: sw, index: dev.index })).map((x) => x.address);
    const want = [this.plan.gateway, ...(this.plan.gateway6 ? [this.plan.gateway6] : [])];
    if (want.every((w) => have.includes(w)) && dev.up) return 'ok';
    await setGateway(sw, this.plan, this.mtu);
    // A restarted ovs-vswitchd also forgot the static MAC entries.
    const ports = this.ourPorts();
    await Promise.all([
      ...ports
        .map((p) => slotFromPortName(this.name, p.name))
        .filter((n): n is number => n !== undefined && this.plan.isValidSlot(n))
        .map((n) => this.teach(this.plan.addressOf(n))),
      pinMacs(
        this.ovs.url,
        ports.flatMap((p) => {
          const mac = this.db.ifaceOf(p)?.external_ids.get('attached-mac');
          return mac ? [{ bridge: this.name, port: p.name, vlan: p.tag ?? 0, mac }] : [];
        }),
      ).catch(() => false),
    ]);
    return 'repaired';
  }

  /**
   * Slot events as they happen (attached, detached, link up/down, port error), fed by the OVSDB
   * monitor. End the loop (break/return) to stop listening.
   */
  events(): AsyncIterableIterator<SlotEvent> {
    const queue: SlotEvent[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    const push = (e: SlotEvent) => {
      queue.push(e);
      wake?.();
    };
    const onChange = (c: { table: string; uuid: string; old?: Record<string, unknown>; new?: Record<string, unknown> }) => {
      if (c.table === 'Port') {
        const row = (c.new ?? c.old) as unknown as PortRow;
        if (!isOurs(row, this.name)) return;
        const n = Number(row.external_ids.get(K.slot));
        if (c.new && !c.old) {
          const p = c.new as unknown as PortRow;
          if (!p.external_ids.has(K.state)) push({ type: 'attached', slot: n, info: this.describe(n, p, 'up') });
        } else if (c.old && !c.new) push({ type: 'detached', slot: n, portName: row.name });
        else if (c.old && c.new && (c.old as unknown as PortRow).external_ids?.has(K.state) && !(c.new as unknown as PortRow).external_ids.has(K.state)) {
          push({ type: 'attached', slot: n, info: this.describe(n, c.new as unknown as PortRow, 'up') });
        }
      } else if (c.table === 'Interface' && c.old && c.new) {
        const now = c.new as unknown as InterfaceRow;
        const before = c.old as unknown as InterfaceRow;
        if (now.external_ids.get(K.vswitch) !== this.name) return;
        const n = Number(now.external_ids.get(K.slot));
        if (now.link_state !== before.link_state && now.link_state) push({ type: now.link_state, slot: n, portName: now.name });
        if (now.error && now.error !== before.error) push({ type: 'error', slot: n, portName: now.name, error: now.error });
      }
    };
    this.db.mon.on('change', onChange);
    const stop = () => {
      done = true;
      this.db.mon.off('change', onChange);
      wake?.();
    };
    const it: AsyncIterableIterator<SlotEvent> = {
      next: async () => {
        for (;;) {
          if (queue.length) return { value: queue.shift()!, done: false };
          if (done) return { value: undefined, done: true };
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
      },
      return: async () => {
        stop();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      subnet: this.plan.subnet,
      gateway: this.plan.gateway,
      ...(this.plan.ipv6Prefix ? { ipv6Prefix: this.plan.ipv6Prefix } : {}),
      usermode: this.usermode,
      ...(this.mtu !== undefined ? { mtu: this.mtu } : {}),
      ...(this.uplink ? { uplink: this.uplink } : {}),
      ...(this.netns ? { netns: this.netns } : {}),
    };
  }
}
