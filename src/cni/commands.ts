// ADD, DEL, CHECK, GC and STATUS: one function each, run by main.ts in a fresh process. They use
// only the public model (VSwitch, Slot) plus one OVSDB select to find attachments.
//
// DEL must succeed whenever nothing of the attachment is left, so it tolerates a missing vswitch,
// a missing slot and a missing namespace. An ADD killed after its veth was made but before its
// port was committed leaves a veth whose container end is CNI_IFNAME in the netns and carries the
// slot MAC: DEL removes that too (deleting one end removes the pair).

import { UsageError, VSwitchError, isEcdockError } from '../errors';
import { getLink, deleteLink } from '../netlink/link';
import { listAddresses } from '../netlink/addr';
import { listRoutes } from '../netlink/route';
import { Netns } from '../netlink/netns';
import type { OvsdbClient } from '../ovsdb/client';
import type { VSwitch } from '../vswitch';
import { attachmentIds, findAttachments, findOwn, CNI_KEYS } from './attachment';
import { CNI_CODE, CniError, ECDOCK_CODE } from './cni-error';
import type { NetConf } from './config';
import type { CniEnv } from './env';
import { callSession, checkSupported, openVswitch } from './network';
import { prevResultAddresses, slotResult, type CniResult } from './result';

/** A slot MAC: 52:00 and the four bytes of the slot's IPv4 address. */
const SLOT_MAC_RE = /^52:00:([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/;

async function withOvs<T>(conf: NetConf, fn: (ovs: OvsdbClient) => Promise<T>): Promise<T> {
  const s = await callSession(conf);
  try {
    return await fn(s.ovs);
  } finally {
    s.done();
  }
}

/** Opens the namespace to prove it is one (NETNS_GONE → code 3, NOT_A_NETNS → code 4). */
function probeNetns(path: string): void {
  Netns.open({ path }).close();
}

/** The slot an ADD asks for: by IP (CNI_ARGS IP= or runtimeConfig.ips), else by MAC, else none (lowest free). */
export function requestedSlot(vs: Pick<VSwitch, 'plan' | 'name'>, env: CniEnv, conf: NetConf): number | undefined {
  const ip = env.args.ip ?? conf.runtimeConfig.ips?.map((a) => a.split('/')[0]).find((a) => !a.includes(':'));
  const mac = (conf.runtimeConfig.mac ?? env.args.mac)?.toLowerCase();
  let n: number | undefined;
  if (ip !== undefined) {
    n = vs.plan.slotOf(ip);
    if (n === undefined) {
      throw new UsageError('SLOT_OUT_OF_RANGE', `${ip} is not a slot address of vswitch ${vs.name} (${vs.plan.subnet}, gateway ${vs.plan.gateway}); ask for an address in that subnet`, {
        detail: { ip, subnet: vs.plan.subnet },
      });
    }
  }
  if (mac !== undefined) {
    const m = SLOT_MAC_RE.exec(mac);
    const fromMac = m ? vs.plan.slotOf(m.slice(1).map((h) => parseInt(h, 16)).join('.')) : undefined;
    if (fromMac === undefined || (n !== undefined && fromMac !== n)) {
      const want = n !== undefined ? `slot ${n}'s MAC is ${vs.plan.addressOf(n).mac}` : `slot MACs are 52:00 followed by the slot's IPv4 bytes`;
      throw new UsageError('BAD_MAC', `MAC ${mac} cannot be given to this attachment: ${want}; leave the MAC out or ask for the matching one`, { detail: { mac, slot: n } });
    }
    n = fromMac;
  }
  return n;
}

export async function add(env: CniEnv, conf: NetConf): Promise<CniResult> {
  checkSupported(conf);
  probeNetns(env.netns);
  return withOvs(conf, async (ovs) => {
    const vs = (await openVswitch(ovs, conf))!;
    const slot = requestedSlot(vs, env, conf);
    const attached = await vs.attach({
      ...(slot !== undefined ? { slot } : {}),
      target: { netns: env.netns },
      ifname: env.ifname,
      ...(conf.portType ? { portType: conf.portType } : {}),
      ...(conf.vlan !== undefined ? { vlan: conf.vlan } : {}),
      ...(conf.mtu !== undefined ? { mtu: conf.mtu } : {}),
      externalIds: attachmentIds(env, conf),
    });
    return slotResult(conf.cniVersion, attached.info, env.netns, attached.portType === 'veth' ? await hostEndMac(vs, attached.portName) : undefined);
  });
}

/** The MAC of a veth slot's host end, in the namespace of the vswitch's ovs-vswitchd; undefined if it cannot be read. */
async function hostEndMac(vs: VSwitch, portName: string): Promise<string | undefined> {
  try {
    const ns = vs.netns !== undefined ? Netns.open({ path: vs.netns }) : undefined;
    try {
      return (await getLink({ ...(ns ? { netns: ns } : {}), name: portName }))?.mac?.toLowerCase();
    } finally {
      ns?.close();
    }
  } catch {
    return undefined;
  }
}

export async function del(env: CniEnv, conf: NetConf): Promise<void> {
  checkSupported(conf);
  await withOvs(conf, async (ovs) => {
    const found = await findOwn(ovs, env, conf);
    if (!found.length) {
      if (env.netns) await removeHalfMadeLink(ovs, env, conf);
      return;
    }
    const vs = await openVswitch(ovs, conf, false);
    if (!vs) return;
    for (const a of found) {
      await vs.detach(a.slot).catch((e: unknown) => {
        if (!isEcdockError(e, 'NO_SUCH_SLOT')) throw e;
      });
    }
  });
}

/** The container end of a veth an interrupted ADD made (interface CNI_IFNAME with a slot MAC of this vswitch). */
async function removeHalfMadeLink(ovs: OvsdbClient, env: CniEnv, conf: NetConf): Promise<void> {
  let ns: Netns;
  try {
    ns = Netns.open({ path: env.netns });
  } catch {
    return; // the namespace is gone, and the veth with it
  }
  try {
    const link = await getLink({ netns: ns, name: env.ifname });
    const m = link?.kind === 'veth' ? SLOT_MAC_RE.exec(link.mac ?? '') : null;
    if (!m) return;
    // Only now is the vswitch worth opening: its plan says whether that MAC is one of its slots.
    const vs = await openVswitch(ovs, conf, false);
    if (vs && vs.plan.slotOf(m.slice(1).map((h) => parseInt(h, 16)).join('.')) !== undefined) await deleteLink({ netns: ns, name: env.ifname });
  } finally {
    ns.close();
  }
}

function broken(msg: string, detail?: unknown): CniError {
  return new CniError(ECDOCK_CODE.failed, msg, 'ATTACHMENT_BROKEN', detail);
}

export async function check(env: CniEnv, conf: NetConf): Promise<void> {
  checkSupported(conf);
  const prev = conf.prevResult;
  if (!prev) throw new CniError(CNI_CODE.INVALID_CONFIG, 'CHECK needs prevResult (the result of ADD) in the configuration', 'BAD_ARGUMENT');
  await withOvs(conf, async (ovs) => {
    const [own] = await findOwn(ovs, env, conf);
    if (!own) {
      throw new CniError(ECDOCK_CODE['not-found'], `no slot of vswitch ${conf.vswitch} belongs to container ${env.containerId} interface ${env.ifname} on network ${conf.name}`, 'NO_SUCH_SLOT');
    }
    const vs = await openVswitch(ovs, conf, false);
    if (!vs) throw new CniError(ECDOCK_CODE['not-found'], `vswitch ${conf.vswitch} no longer exists`, 'NO_SUCH_VSWITCH');
    const slot = await vs.slot(own.slot);
    if (!slot || slot.state !== 'up') throw broken(`slot ${own.slot} of ${vs.name} is ${slot?.state ?? 'gone'}, not up`, { slot: own.slot, state: slot?.state });
    if (!prevResultAddresses(prev).includes(slot.ipv4)) {
      throw broken(`prevResult does not name ${slot.ipv4}, the address of slot ${slot.index}`, { prevResult: prev.ips });
    }
    const ns = Netns.open({ path: env.netns });
    try {
      if (own.ids.get('ecdock:netns-id') !== ns.id) throw broken(`slot ${slot.index} is plugged into another network namespace than ${env.netns}`);
      const link = await getLink({ netns: ns, name: env.ifname });
      if (!link) throw broken(`interface ${env.ifname} is missing from ${env.netns}`);
      if (link.mac?.toLowerCase() !== slot.mac) throw broken(`interface ${env.ifname} has MAC ${link.mac}, not the slot's ${slot.mac}`, { mac: link.mac });
      if (!link.up) throw broken(`interface ${env.ifname} is down`);
      const addrs = (await listAddresses({ netns: ns, index: link.index })).map((a) => `${a.address}/${a.prefixLength}`);
      const want = [`${slot.ipv4}/${slot.prefixLength}`, ...(slot.ipv6 && slot.info.ipv6PrefixLength ? [`${slot.ipv6}/${slot.info.ipv6PrefixLength}`] : [])];
      for (const w of want) if (!addrs.includes(w)) throw broken(`interface ${env.ifname} lacks address ${w} (has ${addrs.join(', ') || 'none'})`, { addresses: addrs });
      const routes = await listRoutes({ netns: ns, family: 4 });
      if (!routes.some((r) => r.dst === 'default' && r.gateway === slot.gateway && r.oif === link.index)) {
        throw broken(`the default route via ${slot.gateway} on ${env.ifname} is missing`, { routes: routes.map((r) => `${r.dst} via ${r.gateway ?? '-'}`) });
      }
      const gw6 = slot.info.gateway6;
      if (gw6 !== undefined) {
        const routes6 = await listRoutes({ netns: ns, family: 6 });
        if (!routes6.some((r) => r.dst === 'default' && r.gateway === gw6 && r.oif === link.index)) {
          throw broken(`the IPv6 default route via ${gw6} on ${env.ifname} is missing`, { routes: routes6.map((r) => `${r.dst} via ${r.gateway ?? '-'}`) });
        }
      }
    } finally {
      ns.close();
    }
  });
}

/** Spec 1.1 GC: removes this network's slots whose attachment the runtime does not list as valid. */
export async function gc(conf: NetConf): Promise<void> {
  checkSupported(conf);
  if (!conf.validAttachments) throw new CniError(CNI_CODE.INVALID_CONFIG, 'GC needs "cni.dev/valid-attachments" in the configuration', 'BAD_ARGUMENT');
  const valid = new Set(conf.validAttachments.map((a) => `${a.containerID}\0${a.ifname}`));
  const isValid = (ids: { get(k: string): string | undefined }) => valid.has(`${ids.get(CNI_KEYS.containerId)}\0${ids.get(CNI_KEYS.ifname)}`);
  await withOvs(conf, async (ovs) => {
    const mine = await findAttachments(ovs, conf, { [CNI_KEYS.network]: conf.name });
    const stale = mine.filter((a) => !isValid(a.ids));
    const vs = await openVswitch(ovs, conf, false);
    if (!vs) return;
    for (const a of stale) {
      await vs.detach(a.slot).catch((e: unknown) => {
        if (!isEcdockError(e, 'NO_SUCH_SLOT')) throw e;
      });
    }
    // Then the library's cleanup: what killed calls left (claims and veths of dead processes) and
    // what a restarted ovs-vswitchd forgot. It judges only the slots found above as this network's
    // and not valid (on OVN: this host's): another network's slots, another host's, and anything
    // the runtime still lists are left alone.
    const staleSlots = new Set(stale.map((a) => a.slot));
    await vs.cleanup({ only: (s) => staleSlots.has(s.index) });
  });
}

/** Spec 1.1 STATUS: ready when OVSDB answers and the vswitch, if it exists, is ecdock's. */
export async function status(conf: NetConf): Promise<void> {
  checkSupported(conf);
  try {
    await withOvs(conf, async (ovs) => {
      await openVswitch(ovs, conf, false);
    });
  } catch (e) {
    if (isEcdockError(e) && e.kind === 'unavailable') {
      throw new CniError(CNI_CODE.NOT_AVAILABLE, `ecdock cannot serve ADD now: ${e.message}`, e.code, e.detail);
    }
    if (e instanceof VSwitchError) throw new CniError(CNI_CODE.INVALID_CONFIG, e.message, e.code, e.detail);
    throw e;
  }
}
