// Docker's remote network driver, on top of the public VSwitch model. A Docker network is a
// vswitch (a local bridge, or an OVN logical switch shared by several hosts' networks); a Docker
// endpoint is a slot. The plugin keeps no state of its own: OVSDB records which vswitch serves
// which Docker network (network-records), a slot's external_ids say which endpoint holds it, and
// Docker keeps the rest (network options, the address its IPAM gave each endpoint). A restarted
// plugin therefore finds everything again.
//
// Order of work, and why:
// - CreateEndpoint only checks (the address is a free slot, the MAC is the slot's) and writes
//   nothing: Docker does not yet know the container's namespace, and a slot is claimed together
//   with what it is plugged into.
// - Join claims the slot and prepares it in the plugin's staging namespace (a library attach: port,
//   veth, MAC; it leaves nothing behind if it fails), then moves the container end into the
//   plugin's own namespace and names it in the reply. dockerd moves it into the container when
//   the container's namespace exists (later than Join: the SandboxKey is bound by runc's prestart
//   hook), renames it ethN, and sets the address and the default route via the Gateway we return
//   (without a Gateway dockerd would add a second NIC on its own bridge for the default route).
//   The slot records the staging namespace as its target: it stays alive across plugin restarts,
//   and the slot's veth dies with the container's namespace, which makes the slot a ghost for cleanup.
// - Leave and DeleteEndpoint release the slot; both are idempotent.

import { UsageError, VSwitchError, isEcdockError } from '../errors';
import { getLink, moveLink } from '../netlink/link';
import { Netns } from '../netlink/netns';
import { OvsdbClient } from '../ovsdb/client';
import type { TlsOptions } from '../ovsdb';
import { VSwitch } from '../vswitch';
import type { Slot } from '../slot';
import { crashPoint } from '../crash-points';
import { DOCKER_KEYS } from './keys';
import { allNetworks, findNetwork, type NetworkRecord } from './network-records';
import { closeNorthbounds, createOvnNetwork, deleteOvnNetwork, explainNorthbound } from './ovn-network';
import { ensureStaging } from './staging';
import { networkPlan, type CreateNetworkRequest } from './network-options';

export interface NetworkDriverOptions {
  dbUrl: string;
  tls?: TlsOptions;
  /** Where ovs-vswitchd runs (ECDOCK_NETNS); recorded in vswitches this driver creates. */
  netns?: string;
  /** The plugin's staging namespace (a path), where slots are made before dockerd takes them. */
  staging: string;
  log: (line: string) => void;
}

export interface EndpointRequest {
  NetworkID: string;
  EndpointID: string;
  Interface?: { Address?: string; AddressIPv6?: string; MacAddress?: string };
  SandboxKey?: string;
  Options?: Record<string, unknown>;
}

const short = (id: string | undefined): string => (id ?? '?').slice(0, 12);

/**
 * How long after its Join a container end may wait in the plugin's namespaces before a restarted
 * plugin calls it abandoned: dockerd's plugin client resends a call for up to 30 s, then takes the
 * link within seconds once a call went through.
 */
export const STRANDED_GRACE_MS = 60_000;

export class NetworkDriver {
  private client?: Promise<OvsdbClient>;
  /** Endpoint id -> slot, from CreateEndpoint to Join (Join does not carry the address). */
  private readonly pending = new Map<string, number>();
  private stagingReady?: Promise<string>;
  /** The next look at container ends left waiting for dockerd by a predecessor. */
  private recheck?: NodeJS.Timeout;

  /** This process's namespace: dockerd takes the container end from here. */
  private readonly here = Netns.current();

  constructor(private readonly o: NetworkDriverOptions) {}

  /** The OVSDB session, opened on first use and again after a failed attempt. */
  private async ovs(): Promise<OvsdbClient> {
    this.client ??= OvsdbClient.connect(this.o.dbUrl, { reconnect: true, ...(this.o.tls ? { tls: this.o.tls } : {}) });
    try {
      return await this.client;
    } catch (e) {
      this.client = undefined;
      if (isEcdockError(e) && e.code === 'OVSDB_UNREACHABLE') {
        throw new VSwitchError('OVSDB_UNREACHABLE', `ecdock cannot reach OVSDB at ${this.o.dbUrl}: start ovsdb-server (systemctl start openvswitch-switch) or point ECDOCK_DB at it, then retry`, { cause: e });
      }
      throw e;
    }
  }

  /** Opens the vswitch a record names (an OVN one seen from this host). */
  private async openRecord(ovs: OvsdbClient, rec: NetworkRecord): Promise<VSwitch> {
    const nb = rec.northbound;
    if (nb === undefined) return VSwitch.open(ovs, rec.vswitch);
    return VSwitch.open(ovs, rec.vswitch, { ovn: { northbound: nb }, ...(this.o.netns !== undefined ? { netns: this.o.netns } : {}) }).catch((e: unknown) => {
      throw explainNorthbound(e, nb);
    });
  }

  private async vswitchOf(nid: string): Promise<VSwitch> {
    const ovs = await this.ovs();
    const rec = await findNetwork(ovs, nid);
    if (!rec) {
      throw new VSwitchError('NO_SUCH_VSWITCH', `no vswitch serves docker network ${short(nid)} (deleted by hand?): docker network rm it and create it again`, { detail: { network: nid } });
    }
    return this.openRecord(ovs, rec);
  }

  /** Slot of endpoint `eid` on `vs`, found by the ids the slot records. */
  private async slotOfEndpoint(vs: VSwitch, eid: string): Promise<Slot | undefined> {
    return (await vs.slots()).find((s) => s.info.externalIds[DOCKER_KEYS.endpoint] === eid);
  }

  async createNetwork(req: CreateNetworkRequest): Promise<object> {
    const plan = networkPlan(req);
    const ovs = await this.ovs();
    if (plan.ovnNorthbound !== undefined) {
      await createOvnNetwork({ ovs, log: this.o.log, ...(this.o.netns !== undefined ? { netns: this.o.netns } : {}) }, { ...plan, ovnNorthbound: plan.ovnNorthbound });
      return {};
    }
    const [res] = await ovs.transact('Open_vSwitch', [{ op: 'select', table: 'Bridge', where: [['name', '==', plan.vswitch]], columns: ['external_ids'] }]);
    const existing = res.rows?.[0] as { external_ids: ['map', [string, string][]] } | undefined;
    const holder = existing && new Map(existing.external_ids[1]).get(DOCKER_KEYS.network);
    if (holder === plan.networkId) return {}; // a repeated request
    if (holder) {
      throw new VSwitchError('NAME_TAKEN', `vswitch ${plan.vswitch} already serves docker network ${short(holder)}: give another -o ecdock.vswitch=NAME`, { detail: { vswitch: plan.vswitch, network: holder } });
    }
    const vs = await VSwitch.create(ovs, {
      name: plan.vswitch,
      subnet: plan.subnet,
      usermode: plan.usermode,
      ...(plan.mtu !== undefined ? { mtu: plan.mtu } : {}),
      ...(this.o.netns !== undefined ? { netns: this.o.netns } : {}),
    });
    await ovs.transact('Open_vSwitch', [
      {
        op: 'mutate',
        table: 'Bridge',
        where: [['name', '==', vs.name]],
        mutations: [['external_ids', 'insert', ['map', [[DOCKER_KEYS.network, plan.networkId], [DOCKER_KEYS.created, String(!existing)]]]]],
      },
    ]);
    this.o.log(`network ${short(plan.networkId)}: ${existing ? 'adopted' : 'created'} vswitch ${vs.name} ${vs.plan.cidr}${vs.usermode ? ' (userspace datapath)' : ''}`);
    return {};
  }

  async deleteNetwork(req: { NetworkID: string }): Promise<object> {
    const ovs = await this.ovs();
    const br = await findNetwork(ovs, req.NetworkID);
    if (!br) return {};
    if (br.northbound !== undefined) {
      await deleteOvnNetwork({ ovs, log: this.o.log, ...(this.o.netns !== undefined ? { netns: this.o.netns } : {}) }, { ...br, northbound: br.northbound });
    } else if (br.created) {
      await (await VSwitch.open(ovs, br.vswitch)).destroy();
      this.o.log(`network ${short(req.NetworkID)}: destroyed vswitch ${br.vswitch}`);
    } else {
      await ovs.transact('Open_vSwitch', [
        { op: 'mutate', table: 'Bridge', where: [['name', '==', br.vswitch]], mutations: [['external_ids', 'delete', ['set', [DOCKER_KEYS.network, DOCKER_KEYS.created]]]] },
      ]);
      this.o.log(`network ${short(req.NetworkID)}: released vswitch ${br.vswitch} (not ours to destroy)`);
    }
    return {};
  }

  async createEndpoint(req: EndpointRequest): Promise<object> {
    const vs = await this.vswitchOf(req.NetworkID);
    const cidr = req.Interface?.Address;
    if (!cidr) throw new UsageError('BAD_ADDRESS', 'the endpoint has no IPv4 address: use the default IPAM driver (leave out --ipam-driver)');
    if (req.Interface?.AddressIPv6) throw new UsageError('BAD_ADDRESS', 'the ecdock driver plans IPv4 slots only: leave out --ip6');
    const ip = cidr.split('/')[0];
    const n = vs.plan.slotOf(ip);
    if (n === undefined) {
      const why = ip === vs.plan.gateway ? `${ip} is the gateway of vswitch ${vs.name}` : `${ip} is not a slot address of vswitch ${vs.name} (${vs.plan.subnet})`;
      throw new UsageError('SLOT_OUT_OF_RANGE', `${why}: give --ip a slot address, or leave --ip out for the lowest free slot`, { detail: { ip } });
    }
    const taken = await vs.slot(n);
    if (taken && taken.info.externalIds[DOCKER_KEYS.endpoint] !== req.EndpointID) {
      const eid = taken.info.externalIds[DOCKER_KEYS.endpoint];
      const by = (eid ? `docker endpoint ${short(eid)}` : (taken.target?.ref ?? 'an attach in flight')) + (taken.host ? ` on host ${taken.host}` : '');
      throw new VSwitchError('SLOT_TAKEN', `slot ${n} (${ip}) of vswitch ${vs.name} is taken by ${by}: give --ip a free slot's address, or free it with ec unplug ${n} / ec cleanup`, { detail: { slot: n } });
    }
    const mac = vs.addressOf(n).mac;
    const asked = req.Interface?.MacAddress;
    if (asked && asked.toLowerCase() !== mac) {
      throw new UsageError('BAD_MAC', `slot ${n} has MAC ${mac}, ecdock slots keep their own: leave out --mac-address`, { detail: { mac: asked } });
    }
    crashPoint('docker:endpoint-checked');
    this.pending.set(req.EndpointID, n);
    this.o.log(`endpoint ${short(req.EndpointID)}: slot ${n} of ${vs.name} (${ip} ${mac})`);
    return asked ? {} : { Interface: { MacAddress: mac } };
  }

  async join(req: EndpointRequest): Promise<object> {
    const n = this.pending.get(req.EndpointID);
    if (n === undefined) {
      throw new VSwitchError('NO_SUCH_SLOT', `endpoint ${short(req.EndpointID)} was not created by this plugin process (it restarted in between): start the container again`);
    }
    const vs = await this.vswitchOf(req.NetworkID);
    this.stagingReady ??= ensureStaging(this.o.staging).catch((e: unknown) => {
      this.stagingReady = undefined;
      throw e;
    });
    await this.stagingReady;
    const link = stagingLinkName(req.EndpointID);
    const slot = await vs.attach({
      slot: n,
      target: { netns: this.o.staging },
      ifname: link,
      externalIds: { [DOCKER_KEYS.network]: req.NetworkID, [DOCKER_KEYS.endpoint]: req.EndpointID, [DOCKER_KEYS.joinedAt]: String(Date.now()) },
    });
    try {
      await withNetns(this.o.staging, (staging) => moveLink({ netns: staging, name: link, to: this.here }));
    } catch (e) {
      await vs.detach(n).catch(() => undefined);
      throw e;
    }
    this.pending.delete(req.EndpointID);
    this.o.log(`endpoint ${short(req.EndpointID)}: joined, slot ${n} on port ${slot.portName}, ${link} handed to dockerd`);
    return { InterfaceName: { SrcName: link, DstPrefix: 'eth' }, Gateway: vs.plan.gateway };
  }

  async leave(req: EndpointRequest): Promise<object> {
    await this.release(req, 'left');
    return {};
  }

  async deleteEndpoint(req: EndpointRequest): Promise<object> {
    this.pending.delete(req.EndpointID);
    await this.release(req, 'deleted');
    return {};
  }

  private async release(req: EndpointRequest, verb: string): Promise<void> {
    const ovs = await this.ovs();
    const rec = await findNetwork(ovs, req.NetworkID);
    if (!rec) return;
    const vs = await this.openRecord(ovs, rec);
    const slot = await this.slotOfEndpoint(vs, req.EndpointID);
    if (!slot) return;
    try {
      await vs.detach(slot.index);
    } catch (e) {
      if (!(isEcdockError(e) && e.code === 'NO_SUCH_SLOT')) throw e;
    }
    this.o.log(`endpoint ${short(req.EndpointID)}: ${verb}, slot ${slot.index} of ${vs.name} freed`);
  }

  async endpointOperInfo(req: EndpointRequest): Promise<object> {
    const vs = await this.vswitchOf(req.NetworkID);
    const slot = await this.slotOfEndpoint(vs, req.EndpointID);
    return { Value: slot ? { 'ecdock.vswitch': vs.name, 'ecdock.slot': String(slot.index), 'ecdock.port': slot.portName, 'ecdock.state': slot.state } : {} };
  }

  /**
   * Before serving: removes what a killed plugin (or vanished containers) left on the vswitches
   * that serve Docker networks. The library's cleanup takes claims of dead owners and ports whose
   * veth died with a container. A slot whose container end still lies in the staging namespace or
   * in ours was never taken by dockerd. One in the staging namespace goes now (the Join died before
   * naming it); one in ours dockerd may still take: after a Join it waits for the sandbox, and it
   * resends calls to a plugin that went away for up to 30 s. So that slot goes only once
   * STRANDED_GRACE_MS have passed since its Join (re-checked then, if not yet).
   */
  async reconcile(): Promise<void> {
    const ovs = await this.ovs();
    let next: number | undefined;
    for (const rec of await allNetworks(ovs)) {
      try {
        const vs = await this.openRecord(ovs, rec);
        const report = await vs.cleanup();
        const removed = report.ports.map((p) => `${p.portName} (${p.reason})`).concat(report.links);
        for (const slot of await vs.slots()) {
          const eid = slot.info.externalIds[DOCKER_KEYS.endpoint];
          if (!eid || slot.info.externalIds[DOCKER_KEYS.network] !== rec.networkId) continue;
          const name = stagingLinkName(eid);
          const handed = await getLink({ name });
          if (!handed && !(await withNetns(this.o.staging, (netns) => getLink({ netns, name })).catch(() => undefined))) continue;
          // Still in the staging namespace: the Join never named it to dockerd. In ours: it may have.
          const due = (Number(slot.info.externalIds[DOCKER_KEYS.joinedAt]) || 0) + STRANDED_GRACE_MS;
          if (handed && due > Date.now()) {
            next = Math.min(next ?? due, due);
            continue;
          }
          await vs.detach(slot.index).catch((e: unknown) => this.o.log(`slot ${slot.index} of ${vs.name}: ${(e as Error).message}`));
          removed.push(`${slot.portName} (join cut short)`);
        }
        if (removed.length) this.o.log(`vswitch ${rec.vswitch}: cleaned up ${removed.join(', ')}`);
      } catch (e) {
        this.o.log(`vswitch ${rec.vswitch}: cleanup failed: ${(e as Error).message}`);
      }
    }
    clearTimeout(this.recheck);
    if (next !== undefined) {
      this.o.log(`a container end from before the restart waits for dockerd; checked again in ${Math.ceil((next - Date.now()) / 1000)} s`);
      this.recheck = setTimeout(() => void this.reconcile().catch((e: unknown) => this.o.log(`cleanup failed: ${(e as Error).message}`)), next - Date.now() + 100);
      this.recheck.unref();
    }
  }

  close(): void {
    clearTimeout(this.recheck);
    closeNorthbounds();
    const c = this.client;
    this.client = undefined;
    c?.then((x) => x.close()).catch(() => undefined);
  }
}

/** The container end's name while it waits in the staging namespace and in ours for dockerd. */
export function stagingLinkName(endpointId: string): string {
  return `ed${endpointId.slice(0, 11)}`;
}

async function withNetns<T>(path: string, fn: (ns: Netns) => Promise<T>): Promise<T> {
  const ns = Netns.open({ path });
  try {
    return await fn(ns);
  } finally {
    ns.close();
  }
}

/** The reply Docker shows the user: the sentence, with the stable code for those who grep logs. */
export function dockerError(e: unknown): { Err: string } {
  if (isEcdockError(e)) return { Err: `ecdock ${e.code}: ${e.message}` };
  return { Err: `ecdock internal error: ${(e as Error)?.message ?? String(e)}` };
}
