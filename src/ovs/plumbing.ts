// The kernel side of local vswitches: veth pairs and internal ports for slots, the gateway address
// and neighbour entries on the bridge, static MAC entries in ovs-vswitchd, and teardown. Work that
// arrives together is folded (TickBatch): concurrent veth creations go through few createVeths
// calls, and concurrent deletes are retagged into a per-vswitch "doomed" link group and removed
// with one group delete (one by one, each delete costs ~17 ms of synchronize_net; a group of
// hundreds goes in tens of ms).

import { createVeths, type CreateVethOptions, type VethCreated } from '../netlink/veth';
import { configureInterface } from '../netlink/configure';
import { deleteLinkGroup, deleteLinks, listLinks, moveLink, type LinkInfo } from '../netlink/link';
import { Netns } from '../netlink/netns';
import { macFromIpv4, type AddressPlan, type SlotAddress } from '../addressing';
import { setNeighbors, type NeighborSpec } from '../netlink/neigh';
import { TickBatch, together, type Settled } from './tick-batch';
import { findVswitchdCtl, unixctl } from './unixctl';
import { ownerAlias, ownerFromAlias } from '../owner';

/** Opens the namespace where a vswitch's ovs-vswitchd runs (the caller's when no path is given). */
export function openSwitchNetns(path: string | undefined): Netns {
  return path ? Netns.open({ path }) : Netns.current();
}

/** Group of links being deleted: a vswitch's group with the top bit flipped. */
export function doomedGroup(group: number): number {
  return (group ^ 0x80000000) >>> 0;
}

/** The owner a slot link's alias names (see ownerAlias), or undefined when it has none yet (its creator is mid-way, or died there). */
export function linkOwner(link: LinkInfo): string | undefined {
  return ownerFromAlias(link.alias);
}

/** Veths created per createVeths call. */
const VETH_CHUNK = 200;

/** Veth creations of one tick, in chunks one after another: the first slots' claims and
 *  ovs-vswitchd's work on them then overlap with the kernel creating the rest. */
const vethBatch = new TickBatch<CreateVethOptions, VethCreated>(async (_key, all) => {
  const out: Settled<VethCreated>[] = [];
  for (let i = 0; i < all.length; i += VETH_CHUNK) {
    const chunk = all.slice(i, i + VETH_CHUNK);
    try {
      for (const r of await createVeths(chunk)) out.push(r.ok ? { ok: true, value: { index: r.index, peerIndex: r.peerIndex } } : { ok: false, error: r.error });
    } catch (e) {
      out.push(...chunk.map((): Settled<VethCreated> => ({ ok: false, error: e })));
    }
  }
  return out;
});

/**
 * The offloads a slot's interface in its target needs, by datapath (pure: unit-tested).
 *
 * Userspace datapath (`datapath_type=netdev`): ovs-vswitchd reads frames from the host end of a
 * veth with a packet socket and writes them out of another port as they are. A frame the target
 * sent with TX checksum offload on carries a partial L4 checksum that "the device" was to fill in,
 * and no device ever does: the receiver drops every TCP segment and UDP datagram (ICMP has no
 * offload, so ping still works). So the target's end gets TX checksum offload off (TSO, which
 * needs it, goes with it; GSO then segments and checksums in software before the device).
 * Internal ports (a tap there) get the same, harmless when the tap offloads nothing.
 * The host end needs nothing: what ovs-vswitchd writes into it is complete, and what the kernel
 * hands it from the peer is already checksummed once the peer's offload is off.
 *
 * Kernel datapath: the kernel module forwards the socket buffer itself and completes partial
 * checksums where needed, so offloads stay on (TSO keeps bulk transfers cheap).
 *
 * Userspace datapath with ovs-vswitchd's userspace TSO on (`other_config:userspace-tso-enable=true`,
 * `vswitchdTso`): ovs-vswitchd reads and writes its packet sockets and taps with a virtio-net header,
 * so a partial checksum and a 64 KB TCP segment travel through it and are completed on the way out;
 * offloads stay on there too (about 6.6x the TCP throughput, bench/results/traffic.md).
 */
export function targetOffloads(usermode: boolean, vswitchdTso = false): { txChecksum?: boolean } {
  return usermode && !vswitchdTso ? { txChecksum: false } : {};
}

/** One NIC of a slot: the primary carries the slot's addresses and routes; a second NIC only its MAC. */
export interface Nic {
  /** Host-side link and OVS port name (ovs0-s01, ovs0-o01). */
  portName: string;
  /** Name inside the target (eth0, eth1). */
  ifname: string;
  mac: string;
  ofportRequest?: number;
  /** The slot's addressing, for the primary NIC only. */
  addr?: SlotAddress;
}

export interface PlugVethRequest {
  switchNetns: Netns;
  target: Netns;
  nic: Nic;
  mtu?: number;
  group: number;
  /** Marks the host end with its owner (IFLA_IFALIAS) so cleanup can tell in-flight from orphaned. */
  owner: string;
  /** The vswitch runs on the userspace datapath (decides the target end's offloads). */
  usermode: boolean;
  /** ovs-vswitchd has userspace TSO on (SwitchDb.userspaceTso): offloads stay on even in usermode. */
  vswitchdTso?: boolean;
}

/**
 * Creates a slot NIC's veth in final form: host end `<vswitch>-sNN` in the vswitch's namespace
 * (group tagged, up), the peer born in the target as `eth0` with the slot's MAC, addresses,
 * default routes, loopback up. Without IPv6 both ends stay quiet (no link-local generation).
 */
export function plugVeth(r: PlugVethRequest): Promise<VethCreated> {
  const v6 = r.nic.addr?.ipv6 !== undefined;
  const o: CreateVethOptions = {
    netns: r.switchNetns,
    name: r.nic.portName,
    ...(r.mtu !== undefined ? { mtu: r.mtu } : {}),
    group: r.group,
    up: true,
    alias: ownerAlias(r.owner),
    ipv6LinkLocal: v6,
    peer: {
      netns: r.target,
      name: r.nic.ifname,
      mac: r.nic.mac,
      ...(r.mtu !== undefined ? { mtu: r.mtu } : {}),
      configure: nicConfig(r.nic, r.usermode, r.vswitchdTso),
    },
  };
  return vethBatch.add('', o);
}

function nicConfig(nic: Nic, usermode: boolean, vswitchdTso?: boolean) {
  const a = nic.addr;
  if (!a) return { up: true, ipv6LinkLocal: false, ...targetOffloads(usermode, vswitchdTso) };
  return {
    ...targetOffloads(usermode, vswitchdTso),
    addresses: [
      { address: a.ipv4, prefixLength: a.prefixLength },
      ...(a.ipv6 !== undefined ? [{ address: a.ipv6, prefixLength: a.ipv6PrefixLength! }] : []),
    ],
    up: true,
    loopbackUp: true,
    ipv6LinkLocal: a.ipv6 !== undefined,
    defaultRoutes: [a.gateway, ...(a.gateway6 !== undefined ? [a.gateway6] : [])],
    // The gateway's MAC follows from its address: no ARP or ND needed to reach it.
    neighbors: [a.gateway, ...(a.gateway6 !== undefined ? [a.gateway6] : [])].map((address) => ({ address, mac: macFromIpv4(a.gateway) })),
  };
}

/**
 * Teaches the gateway (the bridge's device) the slots' MACs, which follow from their addresses,
 * so that traffic between slots and the gateway needs no ARP or ND broadcasts: on a userspace
 * datapath each broadcast is copied to every port. Entries stay correct for as long as the plan
 * lives, so detach leaves them; they go with the bridge. Concurrent calls share one batch.
 */
export function teachGateway(switchNetnsPath: string | undefined, plan: AddressPlan, a: SlotAddress): Promise<void> {
  const entries = [{ address: a.ipv4, mac: a.mac }, ...(a.ipv6 !== undefined ? [{ address: a.ipv6, mac: a.mac }] : [])];
  return gatewayBatch.add(JSON.stringify([switchNetnsPath ?? '', plan.vswitch]), entries);
}

const gatewayBatch = new TickBatch<NeighborSpec[], void>((key, lists) => {
  const [path, bridge] = JSON.parse(key) as [string, string];
  const ns = openSwitchNetns(path || undefined);
  return together(lists.length, () => setNeighbors({ netns: ns, ifname: bridge, neighbors: lists.flat() })).finally(() => ns.close());
});

/**
 * Moves an internal port's device from the vswitch's namespace into the target and configures it
 * there; `moved` runs in between (a crash point: the device is in the target, unconfigured).
 */
export async function plugInternal(r: { switchNetns: Netns; target: Netns; nic: Nic; mtu?: number; usermode: boolean; vswitchdTso?: boolean; moved?: () => void }): Promise<void> {
  const { index } = await moveLink({
    netns: r.switchNetns,
    name: r.nic.portName,
    to: r.target,
    newName: r.nic.ifname,
    mac: r.nic.mac,
    ...(r.mtu !== undefined ? { mtu: r.mtu } : {}),
    ipv6LinkLocal: r.nic.addr?.ipv6 !== undefined,
  });
  r.moved?.();
  await configureInterface({ netns: r.target, ifindex: index, ...nicConfig(r.nic, r.usermode, r.vswitchdTso) });
}

/** Puts the gateway address (and IPv6 gateway) on the bridge's own interface and brings it up. */
export async function setGateway(switchNetns: Netns, plan: AddressPlan, mtu?: number): Promise<void> {
  await configureInterface({
    netns: switchNetns,
    ifname: plan.vswitch,
    addresses: [
      { address: plan.gateway, prefixLength: plan.prefixLength },
      ...(plan.gateway6 !== undefined ? [{ address: plan.gateway6, prefixLength: plan.ipv6PrefixLength! }] : []),
    ],
    up: true,
    ipv6LinkLocal: plan.gateway6 !== undefined,
    ...(mtu !== undefined ? { mtu } : {}),
  });
}

const reapBatch = new TickBatch<string[], void>((key, lists) => {
  const [path, group] = JSON.parse(key) as [string, number];
  const ns = openSwitchNetns(path || undefined);
  return together(lists.length, async () => {
    await deleteLinks({ netns: ns, names: [...new Set(lists.flat())], viaGroup: doomedGroup(group) });
  }).finally(() => ns.close());
});

/** Deletes links in a vswitch's namespace (missing ones are fine), folding concurrent requests into one group delete. */
export function reapLinks(switchNetnsPath: string | undefined, group: number, names: string[]): Promise<void> {
  return names.length ? reapBatch.add(JSON.stringify([switchNetnsPath ?? '', group]), names) : Promise.resolve();
}

/** Links of a vswitch's group in its namespace, by name. */
export async function switchLinks(switchNetns: Netns, group: number): Promise<Map<string, LinkInfo>> {
  const out = new Map<string, LinkInfo>();
  for (const l of await listLinks({ netns: switchNetns })) if (l.group === group) out.set(l.name, l);
  return out;
}

/** Deletes every slot link of a vswitch at once. */
export function deleteSwitchLinks(switchNetns: Netns, group: number): Promise<void> {
  return deleteLinkGroup({ netns: switchNetns, group });
}

export interface FdbEntry {
  bridge: string;
  port: string;
  vlan: number;
  mac: string;
}

/**
 * Puts slots' MACs in the bridge's MAC table as static entries (ovs-vswitchd's `fdb/add`), so that
 * traffic to a slot that has not spoken yet is not flooded: on a userspace datapath the first
 * ping to each of 1000 fresh slots would otherwise be copied to every port (measured: 3 s until
 * 1000 slots answer, 0.35 s with the entries). Concurrent calls share one control connection.
 * Resolves false when no control socket of ovs-vswitchd can be found for that database.
 */
export function pinMacs(dbUrl: string, entries: FdbEntry[]): Promise<boolean> {
  return fdbBatch.add(dbUrl, entries);
}

const fdbBatch = new TickBatch<FdbEntry[], boolean>((dbUrl, lists) =>
  together(lists.length, async () => {
    const ctl = await findVswitchdCtl(dbUrl);
    if (!ctl) return false;
    const results = await unixctl(
      ctl,
      lists.flat().map((e) => ({ method: 'fdb/add', params: [e.bridge, e.port, String(e.vlan), e.mac] })),
    );
    const bad = results.find((r): r is { ok: false; error: string } => !r.ok);
    if (bad) throw new Error(`ovs-vswitchd refused fdb/add: ${bad.error}`);
    return true;
  }),
);

/**
 * The static entries of a bridge's MAC table as "VLAN/MAC" (ovs-vswitchd's `fdb/show`), or
 * undefined when no control socket can be found. A restarted ovs-vswitchd has none, which is how
 * cleanup knows to pin them again.
 */
export async function staticMacs(dbUrl: string, bridge: string): Promise<Set<string> | undefined> {
  const ctl = await findVswitchdCtl(dbUrl);
  if (!ctl) return undefined;
  const [r] = await unixctl(ctl, [{ method: 'fdb/show', params: [bridge] }]);
  if (!r || !r.ok) return undefined;
  const out = new Set<string>();
  for (const line of r.result.split('\n').slice(1)) {
    const [, vlan, mac, age] = line.trim().split(/\s+/);
    if (age === 'static' && vlan !== undefined && mac !== undefined) out.add(`${Number(vlan)}/${mac.toLowerCase()}`);
  }
  return out;
}
