// Putting back what a restarted ovs-vswitchd forgot or remade: the gateway address on the bridge's
// device (a restart makes that device anew, bare), the static MAC-table entries (a restart empties
// the table; read back with fdb/show, so they are re-pinned whenever missing, not guessed from the
// gateway), and internal-port slots (on a restart ovs-vswitchd makes each internal port's device
// anew in its own namespace, while the old one in the target stays without carrier): the new device
// is moved into the target with the slot's MAC, addresses and routes, as at attach.

import { slotFromPortName } from '../addressing';
import { isEcdockError } from '../errors';
import { deleteLink, getLink } from '../netlink/link';
import { listAddresses } from '../netlink/addr';
import type { Netns } from '../netlink/netns';
import type { PortRow } from '../ovsdb/schema/open-vswitch';
import type { Repair } from '../realisation';
import { teach } from './attach';
import { pinMacs, plugInternal, setGateway, staticMacs } from './plumbing';
import { nicsOf } from './slot-rows';
import { K } from './switch-db';
import type { SwitchScope } from './switch-scope';

/** Puts the gateway address back on the bridge's device if it is missing or the device is down. */
export async function repairGateway(vs: SwitchScope, sw: Netns): Promise<'ok' | 'repaired' | 'missing'> {
  const { plan, mtu } = vs.spec;
  const dev = await getLink({ netns: sw, name: vs.name });
  if (!dev) return 'missing';
  const have = (await listAddresses({ netns: sw, index: dev.index })).map((x) => x.address);
  const want = [plan.gateway, ...(plan.gateway6 ? [plan.gateway6] : [])];
  if (want.every((w) => have.includes(w)) && dev.up) return 'ok';
  await setGateway(sw, plan, mtu);
  // The neighbour entries went with the old device.
  await Promise.all(
    vs
      .ourPorts()
      .map((p) => slotFromPortName(vs.name, p.name))
      .filter((n): n is number => n !== undefined && plan.isValidSlot(n))
      .map((n) => teach(vs, plan.addressOf(n))),
  );
  return 'repaired';
}

/**
 * Pins the MACs of every slot port ovs-vswitchd has (ofport > 0) that its MAC table lacks as a
 * static entry. Returns how many were pinned; 0 when ovs-vswitchd cannot be asked.
 */
export async function repinMacs(vs: SwitchScope): Promise<number> {
  const url = vs.db.client.url;
  const have = await staticMacs(url, vs.name).catch(() => undefined);
  if (!have) return 0;
  const missing = vs.ourPorts().flatMap((p: PortRow) => {
    const iface = vs.db.ifaceOf(p);
    const mac = iface?.external_ids.get('attached-mac')?.toLowerCase();
    const vlan = p.tag ?? 0;
    if (!mac || iface?.ofport === undefined || iface.ofport <= 0 || p.external_ids.has(K.state) || have.has(`${vlan}/${mac}`)) return [];
    return [{ bridge: vs.name, port: p.name, vlan, mac }];
  });
  if (!missing.length) return 0;
  return (await pinMacs(url, missing).catch(() => false)) ? missing.length : 0;
}

/**
 * Plugs an internal-port slot's device, made anew by a restarted ovs-vswitchd in the switch's
 * namespace, back into the target: the stale interface of that name there goes first (only if it
 * carries the slot's MAC: anything else is not ours), then the device moves in and is configured
 * as at attach. Returns what was done, or undefined when there was nothing to do.
 */
export async function replugInternal(vs: SwitchScope, sw: Netns, n: number, port: PortRow, target: Netns): Promise<Repair | undefined> {
  const ids = port.external_ids;
  const mtu = ids.get(K.mtu) ? Number(ids.get(K.mtu)) : vs.spec.mtu;
  const dualNic = vs.portsOfSlot(n).length > 1;
  const nics = nicsOf(vs.spec.plan, n, { ifname: ids.get(K.ifname) ?? 'eth0', dualNic });
  const moved: string[] = [];
  for (const nic of nics) {
    if (!(await getLink({ netns: sw, name: nic.portName }))) continue;
    const stale = await getLink({ netns: target, name: nic.ifname });
    if (stale) {
      if (stale.mac?.toLowerCase() !== nic.mac) return { what: 'replugged', slot: n, portName: port.name, detail: `not done: ${nic.ifname} in the target is not this slot's (MAC ${stale.mac})` };
      try {
        await deleteLink({ netns: target, name: nic.ifname });
      } catch (e) {
        if (!isEcdockError(e, 'NO_SUCH_LINK')) throw e;
      }
    }
    await plugInternal({ switchNetns: sw, target, nic, usermode: vs.spec.usermode, vswitchdTso: vs.db.userspaceTso(), ...(mtu !== undefined ? { mtu } : {}) });
    moved.push(nic.ifname);
  }
  if (!moved.length) return undefined;
  const a = nics[0]?.addr;
  if (a) await teach(vs, a);
  return { what: 'replugged', slot: n, portName: port.name, detail: `${moved.join(', ')} made again in the target` };
}
