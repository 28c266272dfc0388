// Fixtures for VSwitch tests: a private isolated OVS, namespaces made by the test, and snapshots of
// OVSDB and the kernel's links to prove that a failed operation changed nothing.
import { OvsdbClient } from '../../src/ovsdb/client';
import { OvsSandbox } from '../../src/sandbox';
import { VSwitch, type VSwitchCreateOptions } from '../../src/vswitch';
import { Cleanup, TestNetns, requireRoot, sh, uniqueName } from './env';

export interface SwitchFixture {
  sb: OvsSandbox;
  ovs: OvsdbClient;
  /** Name of the sandbox's netns (for `ip -n`). */
  sbns: string;
  cleanup: Cleanup;
  netns(prefix?: string): Promise<TestNetns>;
  vswitch(o?: Partial<VSwitchCreateOptions>): Promise<VSwitch>;
  snapshot(nss?: TestNetns[]): Promise<string>;
}

export async function startSwitchFixture(): Promise<SwitchFixture> {
  const sb = await OvsSandbox.start({ isolated: true });
  const cleanup = new Cleanup();
  cleanup.add(() => sb.stop());
  const ovs = await OvsdbClient.connect(sb.dbUrl);
  cleanup.add(() => ovs.close());
  const sbns = sb.netns!.split('/').pop()!;
  const f: SwitchFixture = {
    sb,
    ovs,
    sbns,
    cleanup,
    async netns(prefix = 'ecv-') {
      const ns = await TestNetns.create(prefix);
      cleanup.add(() => ns.del());
      return ns;
    },
    async vswitch(o = {}) {
      const name = o.name ?? uniqueName('vs');
      const vs = await VSwitch.create(ovs, { name, subnet: '10.0.0.254/24', usermode: true, netns: sb.netns, ...o });
      cleanup.add(async () => {
        try {
          await (await VSwitch.open(ovs, name)).destroy();
        } catch {
          /* already gone */
        }
      });
      return vs;
    },
    async snapshot(nss = []) {
      const [res] = await ovs.transact('Open_vSwitch', [
        { op: 'select', table: 'Bridge', where: [], columns: ['name', 'ports', 'external_ids'] },
      ]);
      const [ports] = await ovs.transact('Open_vSwitch', [{ op: 'select', table: 'Port', where: [], columns: ['name', 'external_ids', 'tag'] }]);
      const [ifs] = await ovs.transact('Open_vSwitch', [{ op: 'select', table: 'Interface', where: [], columns: ['name', 'type', 'external_ids'] }]);
      const names = (r: unknown) =>
        ((r as { rows: Record<string, unknown>[] }).rows ?? [])
          .map((x) => JSON.stringify({ ...x, _uuid: undefined, ports: undefined }))
          .sort();
      const links = async (args: string[]) =>
        (JSON.parse((await sh('ip', [...args, '-j', 'link'])).stdout) as { ifname: string; address?: string }[]).map((l) => `${l.ifname}/${l.address}`).sort();
      const kernel: Record<string, string[]> = { sandbox: await links(['-n', sbns]), host: await links([]) };
      for (const ns of nss) kernel[ns.name] = await links(['-n', ns.name]);
      return JSON.stringify({ bridges: names(res), ports: names(ports), ifaces: names(ifs), kernel }, null, 1);
    },
  };
  return f;
}

/** Link names in the sandbox netns of the vswitch's group. */
export async function groupLinks(f: SwitchFixture, vs: VSwitch): Promise<string[]> {
  const out = JSON.parse((await sh('ip', ['-n', f.sbns, '-j', '-d', 'link'])).stdout) as { ifname: string; group?: string | number }[];
  return out.filter((l) => String(l.group) === String(vs.group)).map((l) => l.ifname).sort();
}

/**
 * The before/after pair of a suite on a private switch of its own: the fixture starts once (root
 * only; `ready` may set it up further) and is cleaned up after the suite, even when a test or
 * `ready` failed.
 */
export function useSwitchFixture(ready: (f: SwitchFixture) => void | Promise<void>): void {
  let f: SwitchFixture | undefined;
  before(async function () {
    requireRoot(this);
    f = await startSwitchFixture();
    await ready(f);
  });
  after(async () => {
    await f?.cleanup.run();
  });
}
