// The truth after faults, on a real private OVS: slot state when ovs-vswitchd is stopped or
// restarted, cleanup's self-repair (internal slots plugged in again, static MAC entries, gateway)
// proven with TCP traffic, unplug with the switch dead, ports ecdock did not create (never
// renumbered, never deleted unasked), links left half-deleted by a killed detach, and slot links
// of a bridge deleted behind ecdock's back.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { VSwitch } from '../../src/vswitch';
import { VSwitch as VS } from '../../src/vswitch';
import { setLink } from '../../src/netlink/link';
import { Netns } from '../../src/netlink/netns';
import { ec } from '../support/cli';
import { eventually, sh } from '../support/env';
import { checkInvariants, violations } from '../support/invariants';
import { useSwitchFixture, type SwitchFixture } from '../support/switch';
import { tcpBulk } from '../support/traffic';

const MB = 1_000_000;

async function states(vs: VSwitch): Promise<Record<number, string>> {
  const out: Record<number, string> = {};
  for (const s of await vs.slots()) out[s.index] = s.state;
  return out;
}

async function staticMacs(f: SwitchFixture, bridge: string): Promise<string[]> {
  const out = await f.sb.appctl('ovs-vswitchd', 'fdb/show', bridge);
  return out
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((c) => c[3] === 'static')
    .map((c) => c[2]!)
    .sort();
}

async function linksIn(f: SwitchFixture): Promise<{ ifname: string; group?: string | number; address?: string }[]> {
  return JSON.parse((await sh('ip', ['-n', f.sbns, '-j', '-d', 'link'])).stdout) as { ifname: string; group?: string | number; address?: string }[];
}

describe('VSwitch: the truth after faults (real OVS, userspace datapath)', function () {
  this.timeout(240_000);
  let f!: SwitchFixture;
  useSwitchFixture((x) => {
    f = x;
  });

  it('ovs-vswitchd stopped: every slot reads down, "ovs-vswitchd is not running"; restarted: cleanup plugs the internal slot in again, re-pins the MACs, and TCP flows', async () => {
    const vs = await f.vswitch({ subnet: '10.71.0.254/24' });
    const [a, b] = await Promise.all([f.netns(), f.netns()]);
    await vs.attach({ slot: 1, target: { netns: a.path } });
    await vs.attach({ slot: 2, target: { netns: b.path }, portType: 'internal' });
    assert.deepEqual(await states(vs), { 1: 'up', 2: 'up' });
    const macs = [vs.addressOf(1).mac, vs.addressOf(2).mac].sort();
    assert.deepEqual(await staticMacs(f, vs.name), macs, 'attach pinned both MACs');

    await f.sb.stopVswitchd();
    try {
      const down = await vs.slots();
      assert.deepEqual(
        down.map((s) => [s.index, s.state, s.info.reason]),
        [
          [1, 'down', 'ovs-vswitchd is not running'],
          [2, 'down', 'ovs-vswitchd is not running'],
        ],
      );
    } finally {
      await f.sb.startVswitchd();
    }
    // The veth comes back by itself; the internal port's device was made anew outside the target.
    await eventually(async () => (await states(vs))[1] === 'up', 20_000);
    const s2 = (await vs.slot(2))!;
    assert.equal(s2.state, 'down', JSON.stringify(s2.info));
    assert.match(s2.info.reason ?? '', /ec cleanup/);

    const report = await vs.cleanup();
    assert.deepEqual(report.ports, [], 'nothing removed');
    const what = report.repaired.map((r) => `${r.what}${r.slot !== undefined ? `:${r.slot}` : ''}`).sort();
    assert.ok(what.includes('replugged:2'), JSON.stringify(report));
    assert.ok(what.includes('static-mac'), JSON.stringify(report));
    assert.equal(report.gateway, 'repaired');
    assert.ok(what.includes('gateway'), JSON.stringify(report));
    assert.deepEqual(await staticMacs(f, vs.name), macs, 'cleanup pinned both MACs again');
    assert.deepEqual(await states(vs), { 1: 'up', 2: 'up' });
    const eth0 = (await b.ipJson<{ address: string; addr_info: { local: string }[] }[]>(['addr', 'show', 'eth0']))[0]!;
    assert.equal(eth0.address, vs.addressOf(2).mac);
    assert.ok(eth0.addr_info.some((x) => x.local === '10.71.0.2'));
    await eventually(() => a.ping('10.71.0.2'), 10_000);
    assert.equal(await tcpBulk(b, a, '10.71.0.2', MB), MB, 'TCP internal <- veth after the repair');
    assert.equal(await tcpBulk(a, b, '10.71.0.1', MB), MB, 'TCP veth <- internal after the repair');
    // Nothing left to do: a second cleanup repairs nothing.
    const again = await vs.cleanup();
    assert.deepEqual(again.repaired, []);
  });

  it('ovs-vswitchd killed (SIGKILL) and restarted: the same repair, via ec cleanup --json, which reports it', async () => {
    const vs = await f.vswitch({ subnet: '10.72.0.254/24' });
    const [a, b] = await Promise.all([f.netns(), f.netns()]);
    await vs.attach({ slot: 1, target: { netns: a.path } });
    await vs.attach({ slot: 2, target: { netns: b.path }, portType: 'internal' });
    await f.sb.killVswitchd();
    try {
      const dead = await vs.slots();
      assert.deepEqual(
        dead.map((s) => [s.index, s.state, s.info.reason]),
        [
          [1, 'down', 'ovs-vswitchd is not running'],
          [2, 'down', 'ovs-vswitchd is not running'],
        ],
      );
    } finally {
      await f.sb.startVswitchd();
    }
    await eventually(async () => (await states(vs))[1] === 'up', 20_000);
    const env = { ECDOCK_DB: f.sb.dbUrl, ECDOCK_NETNS: f.sb.netns };
    const r = await ec(['--vswitch', vs.name, '--json', 'cleanup'], { env });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { repaired: { what: string; slot?: number }[]; gateways: { vswitch: string; gateway: string }[] };
    assert.ok(
      out.repaired.some((x) => x.what === 'replugged' && x.slot === 2),
      r.stdout,
    );
    // A killed ovs-vswitchd leaves the bridge's tap (with its address) behind; a clean exit does not.
    assert.deepEqual(out.gateways.map((g) => g.vswitch), [vs.name]);
    assert.ok(['ok', 'repaired'].includes(out.gateways[0]!.gateway), r.stdout);
    await eventually(() => a.ping('10.72.0.2'), 10_000);
    assert.equal(await tcpBulk(b, a, '10.72.0.2', MB), MB);
  });

  it('unplug with ovs-vswitchd stopped still removes the internal slot\'s interface from its target, and the slot plugs again', async () => {
    const vs = await f.vswitch({ subnet: '10.73.0.254/24' });
    const a = await f.netns();
    await vs.attach({ slot: 3, target: { netns: a.path }, portType: 'internal' });
    await f.sb.stopVswitchd();
    try {
      await vs.detach(3);
    } finally {
      await f.sb.startVswitchd();
    }
    const left = (await a.ipJson<{ ifname: string }[]>(['link'])).map((l) => l.ifname);
    assert.deepEqual(left, ['lo'], 'eth0 went with the slot');
    await vs.cleanup(); // the restarted ovs-vswitchd made the bridge's device anew, bare
    const s = await vs.attach({ slot: 3, target: { netns: a.path }, portType: 'internal' });
    assert.equal(s.state, 'up');
    assert.ok(await a.ping('10.73.0.254'));
  });

  it('a port ecdock did not create keeps its OpenFlow number: the slot attaches without asking for it, says why, and destroy refuses (FOREIGN_PORTS) unless forced', async () => {
    const vs = await f.vswitch({ subnet: '10.74.0.254/24' });
    const db = `--db=${f.sb.dbUrl}`;
    await sh('ovs-vsctl', [db, 'add-port', vs.name, 'frn0', '--', 'set', 'interface', 'frn0', 'type=internal']);
    const foreign = async () => {
      const out = (await sh('ovs-vsctl', [db, '--format=json', '--columns=ofport,mac_in_use', 'list', 'interface', 'frn0'])).stdout;
      return JSON.stringify((JSON.parse(out) as { data: unknown[][] }).data[0]);
    };
    await eventually(async () => !(await foreign()).includes('"set"') && !(await foreign()).startsWith('[-1') && !(await foreign()).startsWith('[0'), 10_000);
    const before = await foreign();
    const held = Number(JSON.parse(before)[0]);
    assert.ok(held > 0 && held < 254, `the foreign port got a slot's number (${before})`);
    const a = await f.netns();
    const s = await vs.attach({ slot: held, target: { netns: a.path } });
    assert.equal(s.state, 'up');
    assert.ok(s.ofport !== undefined && s.ofport !== held, `slot.ofport tells the truth: ${s.ofport}`);
    assert.match(s.info.warning ?? '', new RegExp(`OpenFlow port ${held}`));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await foreign(), before, 'the foreign port kept its number and MAC');
    assert.ok(await a.ping('10.74.0.254'));

    // OVSDB, the sandbox's links and the target's (not the host's: other suites change those meanwhile).
    const ours = async () => {
      const x = JSON.parse(await f.snapshot([a])) as { kernel: Record<string, unknown> };
      delete x.kernel.host;
      return JSON.stringify(x);
    };
    const snap = await ours();
    await assert.rejects(vs.destroy(), (e: { code?: string; message?: string; detail?: { ports?: string[] } }) => {
      assert.equal(e.code, 'FOREIGN_PORTS');
      assert.match(e.message ?? '', /frn0/);
      assert.deepEqual(e.detail?.ports, ['frn0']);
      return true;
    });
    assert.equal(await ours(), snap, 'a refused destroy changes nothing');
    const env = { ECDOCK_DB: f.sb.dbUrl, ECDOCK_NETNS: f.sb.netns };
    const refused = await ec(['--vswitch', vs.name, 'delete-vswitch', '--json'], { env });
    assert.equal(refused.code, 3, refused.stdout + refused.stderr);
    await vs.detach(held);
    const cli = await ec(['--vswitch', vs.name, 'delete-vswitch'], { env });
    assert.equal(cli.code, 3, 'still refused with no slot left: the foreign port');
    assert.match(cli.stdout + cli.stderr, /frn0/);
    assert.equal((await ec(['--vswitch', vs.name, 'delete-vswitch', '--force'], { env })).code, 0);
    assert.equal((await sh('ovs-vsctl', [db, 'br-exists', vs.name], { allowFail: true })).code, 2);
  });

  it('links a killed detach left half-deleted (retagged, not yet deleted) are removed by cleanup: no link without its port, no port without its link', async () => {
    const vs = await f.vswitch({ subnet: '10.75.0.254/24' });
    const nss = await Promise.all([f.netns(), f.netns(), f.netns()]);
    for (const [i, ns] of nss.entries()) await vs.attach({ slot: i + 1, target: { netns: ns.path } });
    // Exactly what a detach killed between its two netlink requests leaves: links in the doomed group, ports still there.
    const doomed = ((vs.group ^ 0x80000000) >>> 0).toString();
    // (ip(8) refuses groups this large: set it over rtnetlink)
    const sw = Netns.open({ path: f.sb.netns! });
    try {
      for (const n of [1, 2]) await setLink({ netns: sw, name: vs.addressOf(n).portName, group: Number(doomed) });
    } finally {
      sw.close();
    }
    const r = await vs.cleanup();
    assert.deepEqual(r.ports.map((p) => p.portName).sort(), [vs.addressOf(1).portName, vs.addressOf(2).portName]);
    const inv = await checkInvariants(vs, { sbns: f.sbns });
    assert.deepEqual(violations(inv), []);
    assert.deepEqual(
      (await linksIn(f)).filter((l) => String(l.group) === doomed).map((l) => l.ifname),
      [],
      'no link left in the doomed group',
    );
    assert.deepEqual(inv.indexes, [3]);
  });

  it('a process SIGKILLed at random moments while it attaches 40 slots (veth and internal) and detaches half in a loop: after each cleanup no slot link lacks its port and no port lacks its link', async function () {
    const rounds = Number(process.env.ECDOCK_CHURN_ROUNDS ?? 6);
    const vs = await f.vswitch({ subnet: '10.76.0.254/24' });
    const nss = await Promise.all(Array.from({ length: 40 }, () => f.netns('ekc-')));
    let seed = 11;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const problems: string[] = [];
    let killedMidWork = 0;
    for (let round = 0; round < rounds; round++) {
      const child = spawn(process.execPath, [join(__dirname, '..', 'support', 'churn-worker.js'), JSON.stringify({ db: f.sb.dbUrl, vswitch: vs.name, targets: nss.map((n) => n.path) })], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      // Let it get going (it prints "cycle N" as it churns), then kill it at a random moment.
      await eventually(() => out.includes('cycle'), 60_000).catch(() => undefined);
      await new Promise((r) => setTimeout(r, Math.round(rand() * 3000)));
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        killedMidWork++;
      }
      await exited;
      if (out.includes('"error"')) problems.push(`round ${round}: worker failed: ${out.slice(-300)}`);
      await vs.cleanup();
      const inv = await checkInvariants(vs, { sbns: f.sbns, ping: false });
      for (const v of violations({ ...inv, notUp: [] })) problems.push(`round ${round}: ${v}`);
      const slots = await vs.slots();
      for (const s of slots) if (s.state !== 'up') problems.push(`round ${round}: slot ${s.index} ${s.state} ${s.info.reason ?? ''}`);
    }
    assert.deepEqual(problems, []);
    assert.ok(killedMidWork >= Math.ceil(rounds / 2), `most rounds must really be killed mid-way (${killedMidWork} of ${rounds})`);
  });

  it('after ovs-vsctl del-br behind ecdock\'s back: the re-created vswitch\'s attach of that slot and its cleanup remove the old slot links, and cleanupOrphans finds those of a vswitch never re-created', async () => {
    const vs = await f.vswitch({ subnet: '10.77.0.254/24' });
    const nss = await Promise.all([f.netns(), f.netns(), f.netns()]);
    for (const [i, ns] of nss.entries()) await vs.attach({ slot: i + 1, target: { netns: ns.path } });
    const db = `--db=${f.sb.dbUrl}`;
    await sh('ovs-vsctl', [db, 'del-br', vs.name]);
    const slotLinks = async (name: string) => (await linksIn(f)).map((l) => l.ifname).filter((n) => n.startsWith(`${name}-`)).sort();
    assert.equal((await slotLinks(vs.name)).length, 3, 'the veths outlive their bridge');
    const again = await VS.create(f.ovs, { name: vs.name, subnet: '10.77.0.254/24', usermode: true, netns: f.sb.netns! });
    const fresh = await f.netns();
    const s = await again.attach({ slot: 1, target: { netns: fresh.path } });
    assert.equal(s.state, 'up');
    assert.ok(await fresh.ping('10.77.0.254'));
    const r = await again.cleanup();
    assert.deepEqual(r.links.sort(), [again.addressOf(2).portName, again.addressOf(3).portName]);
    assert.ok(r.repaired.some((x) => x.what === 'orphan-links' && /deleted behind/.test(x.detail ?? '')), JSON.stringify(r));
    assert.deepEqual(await slotLinks(vs.name), [again.addressOf(1).portName]);

    // A vswitch deleted behind ecdock's back and never created again: only a sweep finds its links.
    const gone = await f.vswitch({ subnet: '10.78.0.254/24' });
    const g = await f.netns();
    await gone.attach({ slot: 5, target: { netns: g.path } });
    await sh('ovs-vsctl', [db, 'del-br', gone.name]);
    const env = { ECDOCK_DB: f.sb.dbUrl, ECDOCK_NETNS: f.sb.netns };
    const cli = await ec(['--json', 'cleanup', '--all'], { env });
    assert.equal(cli.code, 0, cli.stderr);
    const out = JSON.parse(cli.stdout) as { links: { vswitch: string; name: string }[] };
    assert.ok(
      out.links.some((l) => l.name === gone.addressOf(5).portName),
      cli.stdout,
    );
    assert.deepEqual(await slotLinks(gone.name), []);
    assert.deepEqual(await slotLinks(vs.name), [again.addressOf(1).portName], 'the live vswitch keeps its slot');
  });
});
