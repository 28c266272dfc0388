// VSwitch and Slot against a real private OVS (userspace datapath, isolated netns) and real
// network namespaces. Every failure case compares OVSDB and the kernel's links before and after.
// Concurrent and crashing attach processes: vswitch-crash.test.ts.
import { strict as assert } from 'node:assert';
import { EcdockError } from '../../src/errors';
import { VSwitch } from '../../src/vswitch';
import { sh, uniqueName, type TestNetns } from '../support/env';
import { groupLinks, startSwitchFixture, useSwitchFixture, type SwitchFixture } from '../support/switch';

async function rejectsCode(p: Promise<unknown>, code: string): Promise<EcdockError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof EcdockError, `expected EcdockError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    assert.ok(e.message.length > 25, 'the message should be a sentence a person can act on');
    return e;
  }
  assert.fail(`expected rejection with ${code}`);
}

describe('VSwitch (real OVS, userspace datapath, real namespaces)', function () {
  this.timeout(120_000);
  let f!: SwitchFixture;
  useSwitchFixture((x) => {
    f = x;
  });

  describe('create / open / list / destroy', () => {
    it('creates a usermode vswitch whose bridge carries the gateway, its MAC and the plan', async () => {
      const vs = await f.vswitch({ subnet: '10.1.0.254/24', ipv6Prefix: '2001:db8:1::/64' });
      assert.equal(vs.usermode, true);
      assert.equal(vs.plan.subnet, '10.1.0.0/24');
      const addrs = JSON.parse((await sh('ip', ['-n', f.sbns, '-j', 'addr', 'show', vs.name])).stdout) as { address: string; addr_info: { local: string; prefixlen: number }[] }[];
      assert.equal(addrs[0].address, '52:00:0a:01:00:fe');
      const locals = addrs[0].addr_info.map((a) => `${a.local}/${a.prefixlen}`);
      assert.ok(locals.includes('10.1.0.254/24'), locals.join());
      assert.ok(locals.includes('2001:db8:1::a01:fe/64'), locals.join());
      const ids = (await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, 'get', 'Bridge', vs.name, 'external_ids'])).stdout;
      assert.match(ids, /"ecdock:subnet"="10\.1\.0\.0\/24"/);
      assert.match(ids, /"ecdock:gateway"="10\.1\.0\.254"/);
      const again = await VSwitch.open(f.ovs, vs.name);
      assert.ok(again.plan.equals(vs.plan));
      assert.ok((await VSwitch.list(f.ovs)).some((v) => v.name === vs.name));
    });

    it('create with the same plan is a no-op; with another plan it is VSWITCH_PLAN_MISMATCH', async () => {
      const vs = await f.vswitch({ subnet: '10.2.0.254/24' });
      const before = await f.snapshot();
      const same = await VSwitch.create(f.ovs, { name: vs.name, subnet: '10.2.0.254/24', usermode: true, netns: f.sb.netns });
      assert.equal(same.group, vs.group);
      assert.equal(await f.snapshot(), before);
      await rejectsCode(VSwitch.create(f.ovs, { name: vs.name, subnet: '10.3.0.254/24', usermode: true, netns: f.sb.netns }), 'VSWITCH_PLAN_MISMATCH');
      await rejectsCode(VSwitch.create(f.ovs, { name: vs.name, subnet: '10.2.0.254/24', usermode: false, netns: f.sb.netns }), 'VSWITCH_PLAN_MISMATCH');
      assert.equal(await f.snapshot(), before);
    });

    it('refuses a subnet that overlaps another vswitch in the same namespace (SUBNET_IN_USE), changing nothing', async () => {
      await f.vswitch({ subnet: '10.6.0.254/16' });
      const before = await f.snapshot();
      await rejectsCode(VSwitch.create(f.ovs, { name: uniqueName('ov'), subnet: '10.6.7.254/24', usermode: true, netns: f.sb.netns }), 'SUBNET_IN_USE');
      assert.equal(await f.snapshot(), before);
    });

    it('without the openvswitch kernel module, a kernel-datapath vswitch fails KERNEL_DATAPATH_UNAVAILABLE and leaves no bridge', async function () {
      if ((await sh('sh', ['-c', 'test -d /sys/module/openvswitch'], { allowFail: true })).code === 0) this.skip();
      const before = await f.snapshot();
      const name = uniqueName('kd');
      const e = await rejectsCode(VSwitch.create(f.ovs, { name, subnet: '10.4.0.254/24', netns: f.sb.netns }), 'KERNEL_DATAPATH_UNAVAILABLE');
      assert.match(e.message, /usermode/);
      assert.equal(await f.snapshot(), before);
      await rejectsCode(VSwitch.open(f.ovs, name), 'NO_SUCH_VSWITCH');
    });

    it('refuses bad plans and bridges it did not make, changing nothing', async () => {
      const before = await f.snapshot();
      await rejectsCode(VSwitch.create(f.ovs, { name: 'bad/name', subnet: '10.0.0.254/24', usermode: true }), 'BAD_NAME');
      await rejectsCode(VSwitch.create(f.ovs, { name: 'okname', subnet: '10.0.0.0/24', usermode: true }), 'BAD_SUBNET');
      await rejectsCode(VSwitch.create(f.ovs, { name: 'okname', subnet: '10.0.0.1/31', usermode: true }), 'BAD_SUBNET');
      await rejectsCode(VSwitch.create(f.ovs, { name: 'okname', subnet: '10.0.0.254/24', usermode: true, mtu: 20 }), 'BAD_MTU');
      await rejectsCode(VSwitch.create(f.ovs, { name: 'okname', subnet: '10.0.0.254/24', usermode: true, netns: '/var/run/netns/does-not-exist' }), 'NETNS_GONE');
      await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, '--no-wait', 'add-br', 'foreign0', '--', 'set', 'bridge', 'foreign0', 'datapath_type=netdev']);
      f.cleanup.add(() => sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, '--no-wait', '--if-exists', 'del-br', 'foreign0']));
      const withForeign = await f.snapshot();
      await rejectsCode(VSwitch.open(f.ovs, 'foreign0'), 'NOT_OURS');
      await rejectsCode(VSwitch.create(f.ovs, { name: 'foreign0', subnet: '10.0.0.254/24', usermode: true, netns: f.sb.netns }), 'NOT_OURS');
      assert.equal(await f.snapshot(), withForeign);
      await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, '--no-wait', 'del-br', 'foreign0']);
      assert.equal(await f.snapshot(), before);
    });

    it('destroy removes the bridge, every slot port and every slot link', async () => {
      const vs = await f.vswitch({ subnet: '10.5.0.254/24' });
      const nss = await Promise.all([f.netns(), f.netns(), f.netns()]);
      await Promise.all(nss.map((ns) => vs.attach({ target: { netns: ns.path } })));
      assert.equal((await groupLinks(f, vs)).length, 3);
      await vs.destroy();
      assert.deepEqual(await groupLinks(f, vs), []);
      await rejectsCode(VSwitch.open(f.ovs, vs.name), 'NO_SUCH_VSWITCH');
      for (const ns of nss) assert.deepEqual((await ns.ipJson<{ ifname: string }[]>(['link'])).map((l) => l.ifname), ['lo']);
      const ports = (await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, 'list-ports', vs.name], { allowFail: true })).stdout.trim();
      assert.equal(ports, '');
    });
  });

  describe('attach', () => {
    it('slots ping each other and the gateway over IPv4 and IPv6, with fixed MACs and IPs', async () => {
      const vs = await f.vswitch({ subnet: '10.10.0.254/24', ipv6Prefix: '2001:db8:10::/64' });
      const [a, b] = await Promise.all([f.netns(), f.netns()]);
      const s1 = await vs.attach({ slot: 1, target: { netns: a.path } });
      const s2 = await vs.attach({ target: { netns: b.path } });
      assert.equal(s1.ipv4, '10.10.0.1');
      assert.equal(s1.mac, '52:00:0a:0a:00:01');
      assert.equal(s1.ofport, 1);
      assert.equal(s2.index, 2, 'lowest free slot');
      assert.equal(s2.ofport, 2);
      assert.equal(s2.ipv6, '2001:db8:10::a0a:2');
      const eth0 = (await a.ipJson<{ address: string; mtu: number; addr_info: { local: string; prefixlen: number; broadcast?: string; family: string }[] }[]>(['addr', 'show', 'eth0']))[0];
      assert.equal(eth0.address, '52:00:0a:0a:00:01');
      const v4 = eth0.addr_info.find((x) => x.family === 'inet')!;
      assert.equal(`${v4.local}/${v4.prefixlen}`, '10.10.0.1/24');
      assert.equal(v4.broadcast, '10.10.0.255');
      // MACs follow from addresses: slot and gateway know each other without ARP
      const neigh = await a.ipJson<{ dst: string; lladdr: string; state: string[] }[]>(['neigh']);
      assert.ok(neigh.some((x) => x.dst === '10.10.0.254' && x.lladdr === '52:00:0a:0a:00:fe' && x.state.includes('PERMANENT')), JSON.stringify(neigh));
      const gwNeigh = JSON.parse((await sh('ip', ['-n', f.sbns, '-j', 'neigh', 'show', 'dev', vs.name])).stdout) as { dst: string; lladdr: string; state: string[] }[];
      assert.ok(gwNeigh.some((x) => x.dst === '10.10.0.1' && x.lladdr === '52:00:0a:0a:00:01' && x.state.includes('PERMANENT')), JSON.stringify(gwNeigh));
      const routes = await a.ipJson<{ dst: string; gateway?: string }[]>(['route']);
      assert.ok(routes.some((r) => r.dst === 'default' && r.gateway === '10.10.0.254'));
      assert.ok(await a.ping('10.10.0.2'));
      assert.ok(await b.ping('10.10.0.1'));
      assert.ok(await a.ping('10.10.0.254'));
      assert.ok(await a.ping('2001:db8:10::a0a:2'));
      assert.ok(await b.ping('2001:db8:10::a0a:fe'));
      const listed = await vs.slots();
      assert.deepEqual(listed.map((s) => [s.index, s.state]), [[1, 'up'], [2, 'up']]);
      assert.equal((await vs.slot(1))?.target?.ref, a.path);
    });

    it('a slot without IPv6 comes up quiet: no link-local address on either end', async () => {
      const vs = await f.vswitch({ subnet: '10.11.0.254/24' });
      const ns = await f.netns();
      const s = await vs.attach({ target: { netns: ns.path } });
      const inner = await ns.ipJson<{ addr_info: { family: string }[] }[]>(['addr', 'show', 'eth0']);
      assert.deepEqual(inner[0].addr_info.map((x) => x.family), ['inet']);
      const host = JSON.parse((await sh('ip', ['-n', f.sbns, '-j', 'addr', 'show', s.portName])).stdout) as { addr_info: unknown[] }[];
      assert.deepEqual(host[0].addr_info, []);
    });

    it('a /16 gives slot 300 the address network + 300 and OpenFlow port 300', async () => {
      const vs = await f.vswitch({ subnet: '172.20.255.254/16' });
      const [a, b] = await Promise.all([f.netns(), f.netns()]);
      const s = await vs.attach({ slot: 300, target: { netns: a.path } });
      assert.equal(s.ipv4, '172.20.1.44');
      assert.equal(s.mac, '52:00:ac:14:01:2c');
      assert.equal(s.portName, `${vs.name}-s300`);
      assert.equal(s.ofport, 300);
      await vs.attach({ slot: 1, target: { netns: b.path } });
      assert.ok(await a.ping('172.20.0.1'));
      assert.ok(await b.ping('172.20.1.44'));
    });

    it('internal-port mode: the OVS port itself becomes eth0, and slots ping', async () => {
      const vs = await f.vswitch({ subnet: '10.12.0.254/24' });
      const [a, b] = await Promise.all([f.netns(), f.netns()]);
      const s1 = await vs.attach({ target: { netns: a.path }, portType: 'internal' });
      const s2 = await vs.attach({ target: { netns: b.path }, portType: 'internal' });
      assert.equal(s1.portType, 'internal');
      const eth0 = (await a.ipJson<{ address: string }[]>(['link', 'show', 'eth0']))[0];
      assert.equal(eth0.address, s1.mac);
      assert.deepEqual(await groupLinks(f, vs), [], 'no veth in internal mode');
      assert.ok(await a.ping(s2.ipv4));
      assert.ok(await b.ping('10.12.0.254'));
      assert.deepEqual((await vs.slots()).map((s) => [s.index, s.portType, s.state]), [[1, 'internal', 'up'], [2, 'internal', 'up']]);
      await vs.detach(1);
      assert.equal((await a.ipJson<{ ifname: string }[]>(['link'])).some((l) => l.ifname === 'eth0'), false, 'the tap leaves with its port');
    });

    it('VLAN tags isolate: different tags cannot ping, same tags can', async () => {
      const vs = await f.vswitch({ subnet: '10.13.0.254/24' });
      const [a, b, c] = await Promise.all([f.netns(), f.netns(), f.netns()]);
      await vs.attach({ slot: 1, target: { netns: a.path }, vlan: 10 });
      await vs.attach({ slot: 2, target: { netns: b.path }, vlan: 20 });
      await vs.attach({ slot: 3, target: { netns: c.path }, vlan: 10 });
      const tag = (await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, 'get', 'Port', `${vs.name}-s02`, 'tag'])).stdout.trim();
      assert.equal(tag, '20');
      // slots' MACs are static entries of the MAC table, on their VLAN: no flooding to find them
      const fdb = await f.sb.appctl('ovs-vswitchd', 'fdb/show', vs.name);
      assert.match(fdb, /\s2\s+20\s+52:00:0a:0d:00:02\s+static/);
      assert.match(fdb, /\s1\s+10\s+52:00:0a:0d:00:01\s+static/);
      assert.ok(await a.ping('10.13.0.3'));
      assert.equal(await a.ping('10.13.0.2', { timeoutS: 1 }), false);
      assert.equal(await b.ping('10.13.0.3', { timeoutS: 1 }), false);
    });

    it('sets the MTU on both ends', async () => {
      const vs = await f.vswitch({ subnet: '10.14.0.254/24' });
      const ns = await f.netns();
      const s = await vs.attach({ target: { netns: ns.path }, mtu: 1400 });
      assert.equal((await ns.ipJson<{ mtu: number }[]>(['link', 'show', 'eth0']))[0].mtu, 1400);
      const host = JSON.parse((await sh('ip', ['-n', f.sbns, '-j', 'link', 'show', s.portName])).stdout) as { mtu: number }[];
      assert.equal(host[0].mtu, 1400);
    });

    it('dual NIC: eth1 with MAC 52:80 + the IPv4 bytes on port <vs>-oNN', async () => {
      const vs = await f.vswitch({ subnet: '10.15.0.254/24' });
      const ns = await f.netns();
      const s = await vs.attach({ slot: 4, target: { netns: ns.path }, dualNic: true });
      assert.equal(s.info.nic2?.portName, `${vs.name}-o04`);
      assert.equal(s.info.nic2?.ofport, 30004);
      const eth1 = (await ns.ipJson<{ address: string; operstate: string }[]>(['link', 'show', 'eth1']))[0];
      assert.equal(eth1.address, '52:80:0a:0f:00:04');
      assert.equal(eth1.operstate, 'UP');
      await vs.detach(4);
      assert.deepEqual(await groupLinks(f, vs), []);
      assert.equal((await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, 'list-ports', vs.name])).stdout.trim(), '');
    });

    it('reattach plugs a slot into a new namespace with the same options', async () => {
      const vs = await f.vswitch({ subnet: '10.16.0.254/24' });
      const [a, b, c] = await Promise.all([f.netns(), f.netns(), f.netns()]);
      await vs.attach({ slot: 7, target: { netns: a.path }, vlan: 5, mtu: 1450, ifname: 'net0' });
      await vs.attach({ slot: 8, target: { netns: c.path }, vlan: 5 });
      const s = await vs.reattach(7, { target: { netns: b.path } });
      assert.equal(s.vlan, 5);
      assert.equal(s.ifname, 'net0');
      assert.equal((await b.ipJson<{ mtu: number }[]>(['link', 'show', 'net0']))[0].mtu, 1450);
      assert.equal((await a.ipJson<{ ifname: string }[]>(['link'])).length, 1, 'the old namespace lost its interface');
      assert.ok(await b.ping('10.16.0.8'));
    });

    it('watch() reports attach, link down and detach', async () => {
      const vs = await f.vswitch({ subnet: '10.17.0.254/24' });
      const ns = await f.netns();
      const it = vs.watch();
      const seen: string[] = [];
      const done = (async () => {
        for await (const ev of it) {
          seen.push(`${ev.type}:${ev.slot}`);
          if (ev.type === 'detached') break;
        }
      })();
      await vs.attach({ slot: 3, target: { netns: ns.path } });
      await ns.exec(['ip', 'link', 'set', 'eth0', 'down']);
      await new Promise((r) => setTimeout(r, 1500)); // ovs-vswitchd notices link changes itself
      await vs.detach(3);
      await done;
      assert.equal(seen[0], 'attached:3');
      assert.equal(seen[seen.length - 1], 'detached:3');
    });
  });

  describe('bad input: a typed error, and nothing changed', () => {
    let vs: VSwitch;
    let a: TestNetns;
    let b: TestNetns;
    before(async () => {
      vs = await f.vswitch({ subnet: '10.20.0.254/24' });
      [a, b] = await Promise.all([f.netns(), f.netns()]);
      await vs.attach({ slot: 1, target: { netns: a.path } });
    });

    const cases: [string, () => Promise<unknown>, string][] = [
      ['slot taken', () => vs.attach({ slot: 1, target: { netns: b.path } }), 'SLOT_TAKEN'],
      ['slot 0', () => vs.attach({ slot: 0, target: { netns: b.path } }), 'SLOT_OUT_OF_RANGE'],
      ['slot 255', () => vs.attach({ slot: 255, target: { netns: b.path } }), 'SLOT_OUT_OF_RANGE'],
      ['the gateway slot', () => vs.attach({ slot: 254, target: { netns: b.path } }), 'SLOT_OUT_OF_RANGE'],
      ['slot 1.5', () => vs.attach({ slot: 1.5, target: { netns: b.path } }), 'SLOT_OUT_OF_RANGE'],
      ['a dead pid', () => vs.attach({ target: { pid: 2 ** 22 - 7 } }), 'NETNS_GONE'],
      ['a missing netns path', () => vs.attach({ target: { netns: '/var/run/netns/ecdock-none' } }), 'NETNS_GONE'],
      ['a file that is not a netns', () => vs.attach({ target: { netns: '/etc/hostname' } }), 'NOT_A_NETNS'],
      ["the host's own namespace", () => vs.attach({ target: { pid: process.pid } }), 'HOST_NETNS_REFUSED'],
      ["the vswitch's own namespace", () => vs.attach({ target: { netns: f.sb.netns! } }), 'HOST_NETNS_REFUSED'],
      ['a target with two kinds', () => vs.attach({ target: { pid: 1, netns: '/x' } as never }), 'BAD_TARGET'],
      ['an interface name of 16 bytes', () => vs.attach({ target: { netns: b.path }, ifname: 'abcdefghijklmnop' }), 'BAD_IFNAME'],
      ['an interface name with a slash', () => vs.attach({ target: { netns: b.path }, ifname: 'a/b' }), 'BAD_IFNAME'],
      ['an interface name that exists in the target', () => vs.attach({ target: { netns: b.path }, ifname: 'lo' }), 'LINK_EXISTS'],
      ['VLAN 4096', () => vs.attach({ target: { netns: b.path }, vlan: 4096 }), 'BAD_VLAN'],
      ['MTU 67', () => vs.attach({ target: { netns: b.path }, mtu: 67 }), 'BAD_MTU'],
      ['an ecdock: external id', () => vs.attach({ target: { netns: b.path }, externalIds: { 'ecdock:slot': '9' } }), 'BAD_ARGUMENT'],
      ['detach of a free slot', () => vs.detach(9), 'NO_SUCH_SLOT'],
      ['open of a missing vswitch', () => VSwitch.open(f.ovs, 'nosuchvs'), 'NO_SUCH_VSWITCH'],
    ];
    for (const [what, fn, code] of cases) {
      it(`${what} → ${code}`, async () => {
        const before = await f.snapshot([a, b]);
        await rejectsCode(fn(), code);
        assert.equal(await f.snapshot([a, b]), before);
      });
    }

    it('attach on a vswitch deleted meanwhile → NO_SUCH_VSWITCH, nothing left', async () => {
      const gone = await f.vswitch({ subnet: '10.21.0.254/24' });
      await (await VSwitch.open(f.ovs, gone.name)).destroy();
      const before = await f.snapshot([b]);
      await rejectsCode(gone.attach({ target: { netns: b.path } }), 'NO_SUCH_VSWITCH');
      assert.equal(await f.snapshot([b]), before);
    });

    it('ovs-vswitchd down: attach with wait fails VSWITCHD_TIMEOUT and leaves nothing', async () => {
      const g = await startSwitchFixture();
      try {
        const v = await g.vswitch({ subnet: '10.22.0.254/24' });
        const ns = await g.netns();
        await g.sb.stopVswitchd();
        const before = await g.snapshot([ns]);
        await rejectsCode(v.attach({ target: { netns: ns.path }, timeoutMs: 1500 }), 'VSWITCHD_TIMEOUT');
        assert.equal(await g.snapshot([ns]), before);
        await g.sb.startVswitchd();
      } finally {
        await g.cleanup.run();
      }
    });
  });

  describe('ovs-vswitchd restart', () => {
    it('veth slots survive it; cleanup puts back the gateway address the new bridge device lacks', async () => {
      const g = await startSwitchFixture();
      try {
        const v = await g.vswitch({ subnet: '10.23.0.254/24' });
        const [a, b] = [await g.netns(), await g.netns()];
        await v.attach({ slot: 1, target: { netns: a.path } });
        await v.attach({ slot: 2, target: { netns: b.path } });
        await g.sb.stopVswitchd();
        await g.sb.startVswitchd();
        await new Promise((r) => setTimeout(r, 500));
        const report = await v.cleanup();
        assert.equal(report.gateway, 'repaired');
        assert.deepEqual(report.ports, []);
        assert.ok(await a.ping('10.23.0.2'));
        assert.ok(await a.ping('10.23.0.254'));
        assert.equal((await v.cleanup()).gateway, 'ok');
      } finally {
        await g.cleanup.run();
      }
    });
  });
});
