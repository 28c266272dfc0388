// The invariants every fault, load and crash scenario ends with, checked from outside the library:
// OVSDB is read with plain `select`s (not the library's replica) and the kernel with `ip -j`, so a
// bug in ecdock's own bookkeeping cannot hide itself.
//
// After `vs.cleanup()`:
// - no ghost: every Port of this vswitch has its device (a veth host end in the switch's netns, or
//   for internal ports a live target);
// - no orphan: every veth in the vswitch's link group (or its doomed group) has a Port;
// - no stale claim: no Port is still marked `ecdock:state=attaching`;
// - every remaining slot is `up` in vs.slots() and pings the gateway from its namespace.
import type { VSwitch } from '../../src/vswitch';
import { sh } from './env';

export interface InvariantReport {
  /** Ports of this vswitch in OVSDB (primary and second NICs). */
  ports: number;
  /** Slots vs.slots() lists. */
  slots: number;
  ghosts: string[];
  orphans: string[];
  staleClaims: string[];
  /** Slots whose state is not 'up', as `N:state`. */
  notUp: string[];
  /** Slots whose namespace could not ping the gateway. */
  noPing: string[];
  /** Slot numbers listed, ascending. */
  indexes: number[];
}

interface RawRow {
  _uuid: [string, string];
  name: string;
  external_ids: ['map', [string, string][]];
  ports?: ['set', [string, string][]] | ['uuid', string];
  interfaces?: ['set', [string, string][]] | ['uuid', string];
  type?: string;
}

const uuids = (v: RawRow['ports']): string[] => (!v ? [] : v[0] === 'uuid' ? [v[1] as string] : (v[1] as [string, string][]).map((x) => x[1]));
const ids = (r: RawRow): Map<string, string> => new Map(r.external_ids[1]);

/** Runs `fn` over items with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Waits until ovs-vswitchd is connected to the database and has applied everything in it: bumps
 * next_cfg and waits for cur_cfg to follow. After a fault (an ovsdb-server restart makes
 * ovs-vswitchd reconnect with its own backoff, 1 s doubling to 8 s) this is when the fault has
 * healed and the datapath reflects the database again. Returns how long it took.
 */
export async function waitVswitchdSynced(vs: VSwitch, timeoutMs = 30_000): Promise<number> {
  const t0 = Date.now();
  const [, sel] = await vs.ovs.transact('Open_vSwitch', [
    { op: 'mutate', table: 'Open_vSwitch', where: [], mutations: [['next_cfg', '+=', 1]] },
    { op: 'select', table: 'Open_vSwitch', where: [], columns: ['next_cfg'] },
  ]);
  const want = (sel as unknown as { rows: { next_cfg: number }[] }).rows[0]!.next_cfg;
  for (;;) {
    const [cur] = await vs.ovs.transact('Open_vSwitch', [{ op: 'select', table: 'Open_vSwitch', where: [], columns: ['cur_cfg'] }]);
    if ((cur as unknown as { rows: { cur_cfg: number }[] }).rows[0]!.cur_cfg >= want) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`ovs-vswitchd did not catch up with the database within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Pings `address` from the network namespace at `nsPath` (nsenter, so any path works). */
export async function pingFrom(nsPath: string, address: string, timeoutS = 2): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await sh('nsenter', [`--net=${nsPath}`, 'ping', '-c', '1', '-W', String(timeoutS), address], { allowFail: true, timeoutMs: (timeoutS + 3) * 1000 });
    if (r.code === 0) return true;
  }
  return false;
}

/**
 * Checks the invariants for `vs` (call after `vs.cleanup()`). `sbns` is the `ip netns` name where
 * ovs-vswitchd runs (undefined: the caller's namespace). With `ping: false` the ping step is
 * skipped (e.g. for 1000 slots the load script pings a sample itself).
 */
export async function checkInvariants(vs: VSwitch, o: { sbns?: string; ping?: boolean | number; pingConcurrency?: number } = {}): Promise<InvariantReport> {
  const [bridges, ports, ifaces] = await vs.ovs.transact('Open_vSwitch', [
    { op: 'select', table: 'Bridge', where: [['name', '==', vs.name]], columns: ['_uuid', 'name', 'ports', 'external_ids'] },
    { op: 'select', table: 'Port', where: [], columns: ['_uuid', 'name', 'interfaces', 'external_ids'] },
    { op: 'select', table: 'Interface', where: [], columns: ['_uuid', 'name', 'type', 'external_ids'] },
  ]);
  const br = ((bridges as unknown as { rows: RawRow[] }).rows ?? [])[0];
  if (!br) throw new Error(`checkInvariants: bridge ${vs.name} is gone`);
  const onBridge = new Set(uuids(br.ports));
  const ours = ((ports as unknown as { rows: RawRow[] }).rows ?? []).filter((p) => onBridge.has(p._uuid[1]) && ids(p).get('ecdock:vswitch') === vs.name && ids(p).has('ecdock:slot'));
  const ifaceByUuid = new Map(((ifaces as unknown as { rows: RawRow[] }).rows ?? []).map((i) => [i._uuid[1], i]));
  // Ports of ours that sit in OVSDB but on no bridge would be leaks too.
  const offBridge = ((ports as unknown as { rows: RawRow[] }).rows ?? []).filter((p) => !onBridge.has(p._uuid[1]) && ids(p).get('ecdock:vswitch') === vs.name);

  const links = JSON.parse((await sh('ip', [...(o.sbns ? ['-n', o.sbns] : []), '-j', '-d', 'link'])).stdout) as { ifname: string; group?: string | number; linkinfo?: { info_kind?: string } }[];
  const doomed = ((vs.group ^ 0x80000000) >>> 0).toString();
  const groupLinks = links.filter((l) => String(l.group) === String(vs.group) || String(l.group) === doomed);
  const linkNames = new Set(links.map((l) => l.ifname));

  const report: InvariantReport = { ports: ours.length, slots: 0, ghosts: [], orphans: [], staleClaims: [], notUp: [], noPing: [], indexes: [] };
  const portNames = new Set(ours.map((p) => p.name));
  for (const p of ours) {
    const iface = ifaceByUuid.get(uuids(p.interfaces)[0] ?? '');
    const internal = iface?.type === 'internal';
    if (!internal && !linkNames.has(p.name)) report.ghosts.push(p.name);
    if (ids(p).get('ecdock:state') === 'attaching') report.staleClaims.push(p.name);
  }
  for (const p of offBridge) report.ghosts.push(`${p.name} (on no bridge)`);
  for (const l of groupLinks) if (!portNames.has(l.ifname)) report.orphans.push(l.ifname);

  const slots = await vs.slots();
  report.slots = slots.length;
  report.indexes = slots.map((s) => s.index);
  for (const s of slots) if (s.state !== 'up') report.notUp.push(`${s.index}:${s.state}`);
  if (o.ping !== false) {
    let pingable = slots.filter((s) => s.state === 'up' && s.target && (s.target.kind === 'netns' || s.target.kind === 'pid'));
    if (typeof o.ping === 'number' && pingable.length > o.ping) {
      // a spread sample: first, last and evenly in between
      const step = (pingable.length - 1) / (o.ping - 1);
      pingable = Array.from({ length: o.ping }, (_, i) => pingable[Math.round(i * step)]!);
    }
    await mapLimit(pingable, o.pingConcurrency ?? 8, async (s) => {
      const t = s.target!;
      const nsPath = t.kind === 'netns' ? t.ref : `/proc/${t.ref}/ns/net`;
      if (!(await pingFrom(nsPath, s.gateway))) report.noPing.push(`${s.index}`);
    });
  }
  return report;
}

/** The invariant violations in a report, as sentences (empty: all hold). */
export function violations(r: InvariantReport): string[] {
  const out: string[] = [];
  if (r.ghosts.length) out.push(`${r.ghosts.length} ghost port(s): ${r.ghosts.slice(0, 10).join(', ')}`);
  if (r.orphans.length) out.push(`${r.orphans.length} orphan veth(s): ${r.orphans.slice(0, 10).join(', ')}`);
  if (r.staleClaims.length) out.push(`${r.staleClaims.length} stale claim(s): ${r.staleClaims.slice(0, 10).join(', ')}`);
  if (r.notUp.length) out.push(`${r.notUp.length} slot(s) not up: ${r.notUp.slice(0, 10).join(', ')}`);
  if (r.noPing.length) out.push(`${r.noPing.length} slot(s) cannot ping the gateway: ${r.noPing.slice(0, 10).join(', ')}`);
  return out;
}
