// Shared plumbing of the OVN suites: one OvnSandbox per file, a client per simulated host, and
// vswitches opened from each host.
import { OvnSandbox } from '../../src/sandbox';
import { OvsdbClient } from '../../src/ovsdb/client';
import { VSwitch } from '../../src/vswitch';
import { sh, uniqueName } from './env';

export interface OvnWorld {
  ovn: OvnSandbox;
  clients: OvsdbClient[];
}

export async function startOvnWorld(hosts = 3, o: { clustered?: boolean } = {}): Promise<OvnWorld> {
  const ovn = await OvnSandbox.start({ hosts, ...o });
  try {
    const clients = await Promise.all(ovn.hosts.map((h) => OvsdbClient.connect(h.dbUrl)));
    return { ovn, clients };
  } catch (e) {
    await ovn.stop();
    throw e;
  }
}

export async function stopOvnWorld(w: OvnWorld | undefined): Promise<void> {
  if (!w) return;
  for (const c of w.clients) c.close();
  await w.ovn.stop();
}

/** A fresh vswitch name and a /24 for it. */
export function ovnSwitchSpec(): { name: string; subnet: string } {
  const name = uniqueName('ov');
  return { name, subnet: `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}.254/24` };
}

/** The vswitch as seen from host i. */
export function openFrom(w: OvnWorld, i: number, name: string, timeoutMs?: number): Promise<VSwitch> {
  return VSwitch.open(w.clients[i], name, { ovn: { northbound: w.ovn.northbound }, netns: w.ovn.hosts[i].netns, ...(timeoutMs ? { timeoutMs } : {}) });
}

/** Ports, logical ports and veths of a vswitch anywhere in the sandbox (for "nothing left" checks). */
export async function ovnLeftovers(w: OvnWorld, vswitch: string): Promise<string[]> {
  const out: string[] = [];
  const lsps = await sh('ovn-nbctl', [`--db=${w.ovn.northbound}`, '--bare', '--columns=name', 'find', 'Logical_Switch_Port', `external_ids:"ecdock:vswitch"=${vswitch}`]);
  for (const l of lsps.stdout.split('\n').map((x) => x.trim()).filter((x) => x && !x.endsWith('-gw-ls'))) out.push(`lsp ${l}`);
  for (const [i, h] of w.ovn.hosts.entries()) {
    const ports = await sh('ovs-vsctl', [`--db=${h.dbUrl}`, '--bare', '--columns=name', 'find', 'Port', `external_ids:"ecdock:vswitch"=${vswitch}`]);
    for (const p of ports.stdout.split('\n').map((x) => x.trim()).filter(Boolean)) out.push(`host${i} port ${p}`);
    const links = await sh('ip', ['-n', w.ovn.netnsNames[i + 1], '-br', 'link']);
    for (const l of links.stdout.split('\n').filter((x) => x.startsWith(`${vswitch}-`))) out.push(`host${i} link ${l.split(/\s/)[0].split('@')[0]}`);
  }
  return out;
}
