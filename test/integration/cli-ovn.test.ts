// `ec` with --ovn-nb, run as a child process against the OVN sandbox: each simulated host is
// addressed by its own environment (its OVS, the namespace of its ovs-vswitchd, the shared
// Northbound), as `ec sandbox env --ovn --host N` prints it. create-vswitch, plug on two hosts,
// list (HOST column, --json), unplug (only where the slot is), delete-vswitch, with exit codes.
import { strict as assert } from 'node:assert';
import { Cleanup, TestNetns, requireRoot, uniqueName } from '../support/env';
import { ec, ecOk } from '../support/cli';
import { ovnLeftovers, startOvnWorld, stopOvnWorld, type OvnWorld } from '../support/ovn';
import { tcpBulk, udpEcho } from '../support/traffic';
import type { SlotInfo } from '../../src/slot';

describe('ec with --ovn-nb across two hosts (real OVN)', function () {
  this.timeout(120_000);
  let w: OvnWorld | undefined;
  const cleanup = new Cleanup();
  const vswitch = uniqueName('ovnh');
  const subnet = '10.67.5.254/24';

  before(async function () {
    requireRoot(this);
    w = await startOvnWorld(2);
    cleanup.add(async () => {
      await ec(['delete-vswitch', '--force', vswitch], { env: env(0) });
    });
  });
  after(async () => {
    await cleanup.run();
    await stopOvnWorld(w);
  });

  /** Host i's environment, with the Northbound given as --ovn-nb in the argument lists instead. */
  const env = (i: number): Record<string, string | undefined> => ({ ...w!.ovn.env(i), ECDOCK_OVN_NB: undefined, ECDOCK_VSWITCH: vswitch });
  const on = (i: number, args: string[]) => ec(['--ovn-nb', w!.ovn.northbound, ...args], { env: env(i) });
  const okOn = <T = string>(i: number, args: string[]) => ecOk<T>(['--ovn-nb', w!.ovn.northbound, ...args], { env: env(i) });
  const netns = async () => {
    const ns = await TestNetns.create('ovnhl-');
    cleanup.add(() => ns.del());
    return ns;
  };

  it('create-vswitch, plug on two hosts, list with HOST, unplug only where the slot is, delete-vswitch; exit codes and --json', async () => {
    const made = await okOn<{ name: string; subnet: string; ovn: { chassis: string } }>(0, ['create-vswitch', subnet, '--ipv6', 'fd6c:6f76:6e68:5::/64', '--json']);
    assert.equal(made.name, vswitch);
    assert.equal(made.ovn.chassis, w!.ovn.hosts[0].name);
    // again with the same plan, from the other host: a no-op; another plan: conflict (3)
    assert.equal((await on(1, ['create-vswitch', subnet, '--ipv6', 'fd6c:6f76:6e68:5::/64'])).code, 0);
    const other = await on(1, ['create-vswitch', '10.67.6.254/24']);
    assert.equal(other.code, 3, other.stderr);
    assert.match(other.stderr, /VSWITCH_PLAN_MISMATCH|already exists/);
    const listed = await okOn<{ name: string }[]>(1, ['list-vswitches', '--json']);
    assert.ok(listed.some((v) => v.name === vswitch), 'host 1 lists the vswitch');

    const a = await netns();
    const b = await netns();
    const pa = await okOn<SlotInfo>(0, ['plug', '--netns', a.name, '--json']);
    assert.equal(pa.ipv4, '10.67.5.1');
    assert.equal(pa.state, 'up');
    assert.equal(pa.host, w!.ovn.hosts[0].name);
    // slot 1 is taken cluster-wide: host 1 asking for it is a conflict, and it gets slot 2 without asking
    const taken = await on(1, ['plug', '--slot=1', '--netns', b.name]);
    assert.equal(taken.code, 3, taken.stderr);
    assert.match(taken.stderr, /SLOT_TAKEN|taken/);
    const pb = await okOn<SlotInfo>(1, ['plug', '--netns', b.name, '--json']);
    assert.equal(pb.ipv4, '10.67.5.2');
    assert.equal(pb.host, w!.ovn.hosts[1].name);
    assert.equal(await tcpBulk(b.path, a.path, pb.ipv4, 500_000, { timeoutS: 20 }), 500_000, 'TCP from host 0 to host 1');
    assert.equal(await udpEcho(a.path, b.path, pa.ipv6!, 5, { timeoutS: 10 }), 5, 'UDP over IPv6 from host 1 to host 0');

    // list: every host's slots, HOST naming the chassis, this host's marked
    const table = await okOn(0, ['list']);
    const [head, ...rows] = table.trim().split('\n');
    assert.deepEqual(head.trim().split(/\s+/), ['SLOT', 'IP', 'MAC', 'PORT', 'TYPE', 'HOST', 'TARGET', 'STATE']);
    assert.equal(rows.length, 2, table);
    assert.match(rows[0], new RegExp(`^1\\s.*\\s${w!.ovn.hosts[0].name} \\(here\\)\\s`));
    assert.match(rows[1], new RegExp(`^2\\s.*\\s${w!.ovn.hosts[1].name}\\s`));
    assert.doesNotMatch(rows[1], /\(here\)/);
    const json = await okOn<SlotInfo[]>(1, ['list', '--json']);
    assert.deepEqual(json.map((s) => [s.ipv4, s.host]), [['10.67.5.1', w!.ovn.hosts[0].name], ['10.67.5.2', w!.ovn.hosts[1].name]]);
    const all = await okOn(1, ['list', '--all']);
    assert.match(all.split('\n')[0], /^VSWITCH\s+SLOT\s+IP\s+MAC\s+PORT\s+TYPE\s+HOST\s+TARGET\s+STATE/);

    // unplug only from the host that holds the slot (conflict elsewhere, nothing changed)
    const elsewhere = await on(0, ['unplug', '2']);
    assert.equal(elsewhere.code, 3, elsewhere.stderr);
    assert.match(elsewhere.stderr, /SLOT_ON_OTHER_HOST|bound on/);
    assert.equal((await okOn<SlotInfo[]>(0, ['list', '--json'])).length, 2);
    // delete-vswitch refuses while slots exist
    assert.equal((await on(0, ['delete-vswitch', vswitch])).code, 3);

    const un = await okOn<{ slot: number; detached: boolean }>(1, ['unplug', '2', '--json']);
    assert.deepEqual([un.slot, un.detached], [2, true]);
    assert.equal((await on(0, ['unplug', '1'])).code, 0);
    assert.equal((await on(0, ['unplug', '1'])).code, 4, 'a free slot: not found');
    assert.deepEqual(await okOn<SlotInfo[]>(1, ['list', '--json']), []);

    const del = await okOn<{ deleted: string }>(1, ['delete-vswitch', vswitch, '--json']);
    assert.equal(del.deleted, vswitch);
    assert.equal((await on(0, ['list'])).code, 4, 'no such vswitch any more');
    assert.deepEqual(await ovnLeftovers(w!, vswitch), []);
  });

  it('a Northbound that does not answer: exit 5, and a local vswitch keeps its table without HOST', async () => {
    const r = await ec(['--ovn-nb', 'unix:/nonexistent/ovnh-nb.sock', 'list'], { env: env(0) });
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stdout, '');
    // the same host's OVS without --ovn-nb: a local vswitch, listed as before (no HOST column)
    const local = uniqueName('ovnl');
    const lenv = { ...env(0), ECDOCK_VSWITCH: local };
    cleanup.add(async () => {
      await ec(['delete-vswitch', '--force', local], { env: lenv });
    });
    await ecOk(['create-vswitch', '--usermode', '10.67.7.254/24'], { env: lenv });
    const ns = await netns();
    await ecOk(['plug', '--netns', ns.name], { env: lenv });
    const head = (await ecOk(['list'], { env: lenv })).split('\n')[0];
    assert.deepEqual(head.trim().split(/\s+/), ['SLOT', 'IP', 'MAC', 'PORT', 'TYPE', 'TARGET', 'STATE']);
    assert.equal((await ecOk<SlotInfo[]>(['list', '--json'], { env: lenv }))[0].host, undefined);
    await ecOk(['delete-vswitch', '--force', local], { env: lenv });
  });
});
