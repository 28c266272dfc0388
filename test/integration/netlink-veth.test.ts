import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { isEcdockError } from '../../src/errors';
import { Netns, createVeth, createVeths, deleteLink, deleteLinkGroup, getLink, listAddresses, listLinks, listRoutes, configureInterface } from '../../src/netlink';
import { newVethRequest } from '../../src/netlink/veth';
import { replyError } from '../../src/netlink/errors';
import { withSession } from '../../src/netlink/transport';
import { Cleanup, TestNetns, eventually, requireRoot, sh, uniqueName } from '../support/env';

interface IpLink {
  ifname: string;
  ifindex: number;
  mtu: number;
  address: string;
  flags: string[];
  group?: string;
  operstate: string;
  link_index?: number;
  linkinfo?: { info_kind: string };
  inet6_addr_gen_mode?: string;
}
interface IpAddr {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number; broadcast?: string; scope: string; tentative?: boolean; nodad?: boolean }[];
}

const code = (c: string, msg?: RegExp) => (e: unknown) => {
  assert.ok(isEcdockError(e), `not an EcdockError: ${String(e)}`);
  assert.equal(e.code, c, e.message);
  if (msg) assert.match(e.message, msg);
  return true;
};
const rnd = () => randomBytes(3).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const group = () => 0x4ec00000 + Math.floor(Math.random() * 0xfffff);

async function linkIn(ns: TestNetns, name: string): Promise<IpLink | undefined> {
  const links = await ns.ipJson<IpLink[]>(['-d', 'link', 'show']);
  return links.find((l) => l.ifname === name);
}
async function v6LinkLocals(ns: TestNetns): Promise<string[]> {
  const addrs = await ns.ipJson<IpAddr[]>(['-6', 'addr', 'show']);
  return addrs.flatMap((a) => a.addr_info.filter((i) => i.local.startsWith('fe80')).map((i) => `${a.ifname} ${i.local}`));
}

describe('netlink: veth pairs (root, real namespaces)', function () {
  const cleanup = new Cleanup();
  let vs: TestNetns; // plays the vswitch's namespace: host ends live here
  let c1: TestNetns; // a container
  let c2: TestNetns;
  let vsNs: Netns;
  let c1Ns: Netns;
  let c2Ns: Netns;

  before(async function () {
    requireRoot(this);
    vs = await TestNetns.create('ect-nl-vs-');
    cleanup.add(() => vs.del());
    c1 = await TestNetns.create('ect-nl-c-');
    cleanup.add(() => c1.del());
    c2 = await TestNetns.create('ect-nl-c-');
    cleanup.add(() => c2.del());
    vsNs = Netns.open({ name: vs.name });
    c1Ns = Netns.open({ name: c1.name });
    c2Ns = Netns.open({ name: c2.name });
    cleanup.add(() => [vsNs, c1Ns, c2Ns].forEach((n) => n.close()));
  });
  after(() => cleanup.run());

  it('creates a pair in final form: host end in one namespace, peer born in another as eth0', async () => {
    const g = group();
    const r = await createVeth({
      netns: vsNs,
      name: 'ovs0-s01',
      mac: '52:00:0a:00:00:fe',
      mtu: 1400,
      group: g,
      peer: { netns: c1Ns, name: 'eth0', mac: '52:00:0a:00:00:01', mtu: 1450 },
    });
    cleanup.add(() => deleteLink({ netns: vsNs, name: 'ovs0-s01' }));
    const host = (await linkIn(vs, 'ovs0-s01'))!;
    assert.equal(host.ifindex, r.index);
    assert.equal(host.mtu, 1400);
    assert.equal(host.address, '52:00:0a:00:00:fe');
    assert.equal(host.linkinfo?.info_kind, 'veth');
    assert.ok(host.flags.includes('UP'));
    assert.equal(host.link_index, r.peerIndex);
    assert.equal(host.inet6_addr_gen_mode, 'none');
    const peer = (await linkIn(c1, 'eth0'))!;
    assert.equal(peer.ifindex, r.peerIndex);
    assert.equal(peer.mtu, 1450);
    assert.equal(peer.address, '52:00:0a:00:00:01');
    assert.equal(peer.flags.includes('UP'), false, 'the peer stays down until configured');
    assert.equal(peer.inet6_addr_gen_mode, 'none');
    // the library's own view agrees
    const info = (await getLink({ netns: vsNs, index: r.index }))!;
    assert.equal(info.name, 'ovs0-s01');
    assert.equal(info.group, g);
    assert.equal(info.kind, 'veth');
    assert.equal(info.peerIndex, r.peerIndex);
    assert.equal(typeof info.linkNetnsId, 'number');
    assert.equal(info.ipv6AddrGenMode, 'none');
    const pinfo = (await getLink({ netns: c1Ns, name: 'eth0' }))!;
    assert.equal(pinfo.peerIndex, r.index);
    assert.equal(pinfo.up, false);
    assert.equal(await deleteLink({ netns: vsNs, index: r.index }), true);
    assert.equal(await linkIn(c1, 'eth0'), undefined, 'deleting the host end removes the peer');
  });

  it('comes up quiet: no fe80:: on either end once both are up; ipv6LinkLocal: true brings them back', async () => {
    const quiet = await createVeth({ netns: vsNs, name: `q${rnd()}`, peer: { netns: c2Ns, name: 'q0', configure: { addresses: [{ address: '10.61.0.1', prefixLength: 24 }] } } });
    cleanup.add(() => deleteLink({ netns: vsNs, index: quiet.index }));
    const loud = await createVeth({ netns: vsNs, name: `l${rnd()}`, ipv6LinkLocal: true, peer: { netns: c2Ns, name: 'l0', configure: {} } });
    cleanup.add(() => deleteLink({ netns: vsNs, index: loud.index }));
    // both pairs fully up (carrier on both ends)
    await eventually(async () => (await getLink({ netns: vsNs, index: quiet.index }))?.operState === 'up' && (await getLink({ netns: c2Ns, index: quiet.peerIndex }))?.operState === 'up');
    // the control pair must show link-locals on both ends: proves this test can see them
    await eventually(async () => {
      const [h, p] = [await v6LinkLocals(vs), await v6LinkLocals(c2)];
      return h.some((x) => x.startsWith('l')) && p.some((x) => x.startsWith('l0 '));
    });
    await sleep(300);
    const [h, p] = [await v6LinkLocals(vs), await v6LinkLocals(c2)];
    assert.deepEqual(h.filter((x) => x.startsWith('q')), []);
    assert.deepEqual(p.filter((x) => x.startsWith('q0 ')), []);
    assert.equal((await getLink({ netns: c2Ns, name: 'q0' }))!.ipv6AddrGenMode, 'none');
    assert.equal((await getLink({ netns: c2Ns, name: 'l0' }))!.ipv6AddrGenMode, 'eui64');
  });

  it('configures the peer in the same round trip (v4+brd, v6 without DAD, lo, default routes, extra routes) and traffic flows', async () => {
    const c3 = await TestNetns.create('ect-nl-c-');
    cleanup.add(() => c3.del());
    const c3Ns = Netns.open({ name: c3.name });
    cleanup.add(() => c3Ns.close());
    const name = `cfg${rnd()}`;
    const r = await createVeth({
      netns: vsNs,
      name,
      peer: {
        netns: c3Ns,
        name: 'eth0',
        mac: '52:00:0a:3e:00:01',
        configure: {
          addresses: [
            { address: '10.62.0.1', prefixLength: 24 },
            { address: '2001:db8:62::1', prefixLength: 64 },
          ],
          loopbackUp: true,
          defaultRoutes: ['10.62.0.254', '2001:db8:62::fe'],
          routes: [{ dst: '10.162.0.0/16', gateway: '10.62.0.253' }, { dst: '10.163.0.0/16' }],
        },
      },
    });
    cleanup.add(() => deleteLink({ netns: vsNs, index: r.index }));
    // the vswitch side plays the gateway
    await configureInterface({ netns: vsNs, ifindex: r.index, addresses: [{ address: '10.62.0.254', prefixLength: 24 }, { address: '2001:db8:62::fe', prefixLength: 64 }] });

    const addrs = await c3.ipJson<IpAddr[]>(['addr', 'show']);
    const eth0 = addrs.find((a) => a.ifname === 'eth0')!;
    const v4 = eth0.addr_info.find((i) => i.family === 'inet')!;
    assert.deepEqual([v4.local, v4.prefixlen, v4.broadcast], ['10.62.0.1', 24, '10.62.0.255']);
    const v6 = eth0.addr_info.find((i) => i.family === 'inet6' && i.scope === 'global')!;
    assert.equal(v6.local, '2001:db8:62::1');
    assert.equal(v6.tentative, undefined, 'no DAD wait');
    assert.equal(eth0.addr_info.some((i) => i.local.startsWith('fe80')), false);
    const lo = (await linkIn(c3, 'lo'))!;
    assert.ok(lo.flags.includes('UP'));
    const routes4 = await c3.ipJson<{ dst: string; gateway?: string; dev: string }[]>(['-4', 'route', 'show']);
    assert.ok(routes4.some((x) => x.dst === 'default' && x.gateway === '10.62.0.254' && x.dev === 'eth0'), JSON.stringify(routes4));
    assert.ok(routes4.some((x) => x.dst === '10.162.0.0/16' && x.gateway === '10.62.0.253'));
    assert.ok(routes4.some((x) => x.dst === '10.163.0.0/16' && !x.gateway));
    const routes6 = await c3.ipJson<{ dst: string; gateway?: string }[]>(['-6', 'route', 'show']);
    assert.ok(routes6.some((x) => x.dst === 'default' && x.gateway === '2001:db8:62::fe'), JSON.stringify(routes6));
    // the library reads the same back
    const mine = await listAddresses({ netns: c3Ns, index: r.peerIndex });
    assert.deepEqual(mine.map((a) => `${a.address}/${a.prefixLength}`).sort(), ['10.62.0.1/24', '2001:db8:62::1/64']);
    assert.ok((await listRoutes({ netns: c3Ns })).some((x) => x.dst === 'default' && x.gateway === '10.62.0.254' && x.oif === r.peerIndex));

    // Admin-up is immediate; the kernel marks the link operationally up (and activates its qdisc) a moment later.
    await eventually(async () => (await getLink({ netns: c3Ns, index: r.peerIndex }))?.operState === 'up' && (await getLink({ netns: vsNs, index: r.index }))?.operState === 'up');
    assert.ok(await c3.ping('10.62.0.254', { count: 3 }), 'IPv4 to the vswitch-side address');
    assert.ok(await c3.ping('2001:db8:62::fe', { count: 3 }), 'IPv6 to the vswitch-side address (no link-locals at all)');
    assert.ok(await c3.ping('127.0.0.1'), 'loopback is up');
  });

  it("puts the host end in the caller's namespace by default", async () => {
    const name = uniqueName('ectnl');
    const r = await createVeth({ name, group: group(), peer: { netns: c1Ns, name: `p${rnd()}` } });
    cleanup.add(() => deleteLink({ name }));
    const own = JSON.parse((await sh('ip', ['-j', 'link', 'show', name])).stdout) as IpLink[];
    assert.equal(own[0].ifindex, r.index);
    assert.equal(await linkIn(vs, name), undefined);
    assert.equal(await deleteLink({ name }), true);
  });

  it('refuses names of 16 characters and bad characters, on both ends, before sending anything', async () => {
    const sixteen = 'x'.repeat(16);
    await assert.rejects(createVeth({ netns: vsNs, name: sixteen, peer: { netns: c1Ns, name: 'eth9' } }), code('BAD_IFNAME', /16 bytes/));
    await assert.rejects(createVeth({ netns: vsNs, name: 'ok0', peer: { netns: c1Ns, name: sixteen } }), code('BAD_IFNAME', /peer name/));
    for (const bad of ['a/b', 'a:b', 'a b', '..'])
      await assert.rejects(createVeth({ netns: vsNs, name: bad, peer: { netns: c1Ns, name: 'eth9' } }), code('BAD_IFNAME'));
    await assert.rejects(createVeth({ netns: vsNs, name: 'ok0', peer: { netns: c1Ns, name: 'eth 9' } }), code('BAD_IFNAME'));
    const fifteen = `f${rnd()}`.padEnd(15, 'z');
    const r = await createVeth({ netns: vsNs, name: fifteen, peer: { netns: c1Ns, name: 'y'.repeat(15) } });
    assert.equal((await getLink({ netns: vsNs, index: r.index }))!.name, fifteen);
    assert.equal(await deleteLink({ netns: vsNs, index: r.index }), true);
    assert.equal(await linkIn(vs, fifteen), undefined);
  });

  it("surfaces the kernel's extended ack and offending attribute when it refuses a name (ERANGE)", async () => {
    const [r] = await withSession(vsNs, (sess) => {
      const req = newVethRequest({ name: 'ok0', up: false, peer: { name: 'z'.repeat(16), nsfd: sess.hold(c1Ns) } });
      return sess.transact([req]);
    });
    assert.equal(r.errno, 34);
    assert.match(r.extack ?? '', /policy/i);
    assert.equal(r.attribute, 'IFLA_LINKINFO/IFLA_INFO_DATA/VETH_INFO_PEER/IFLA_IFNAME');
    const err = replyError(r, { action: 'create veth ok0', ifname: 'z'.repeat(16), side: 'peer' });
    assert.equal(err.code, 'BAD_IFNAME');
    assert.match(err.message, /ERANGE/);
    assert.equal(await linkIn(vs, 'ok0'), undefined);
  });

  it('reports a name collision on each side, naming the interface and the namespace, and leaves nothing behind', async () => {
    const taken = `t${rnd()}`;
    const r = await createVeth({ netns: vsNs, name: taken, up: false, ipv6LinkLocal: true, peer: { netns: c2Ns, name: 'eth5' } });
    cleanup.add(() => deleteLink({ netns: vsNs, index: r.index }));
    // host side
    await assert.rejects(createVeth({ netns: vsNs, name: taken, peer: { netns: c2Ns, name: 'eth6' } }), (e: unknown) => {
      code('LINK_EXISTS', new RegExp(`cannot create veth ${taken}: an interface named ${taken} already exists in the host-end namespace`))(e);
      assert.equal((e as { detail: { side: string } }).detail.side, 'host');
      return true;
    });
    assert.equal(await linkIn(c2, 'eth6'), undefined);
    const untouched = (await getLink({ netns: vsNs, name: taken }))!;
    assert.deepEqual([untouched.index, untouched.up, untouched.ipv6AddrGenMode], [r.index, false, 'eui64'], 'the existing link is left alone');
    // peer side
    const fresh = `f${rnd()}`;
    await assert.rejects(createVeth({ netns: vsNs, name: fresh, peer: { netns: c2Ns, name: 'eth5' } }), (e: unknown) => {
      code('LINK_EXISTS', new RegExp(`an interface named eth5 already exists in the target namespace \\(${c2.path.replace(/^\/var/, '(/var)?')}|an interface named eth5 already exists in the target namespace`))(e);
      assert.equal((e as { detail: { side: string; ifname: string } }).detail.side, 'peer');
      assert.equal((e as { detail: { side: string; ifname: string } }).detail.ifname, 'eth5');
      return true;
    });
    assert.equal(await linkIn(vs, fresh), undefined);
  });

  it("refuses the host end's own namespace as the peer's", async () => {
    await assert.rejects(createVeth({ netns: vsNs, name: 'self0', peer: { netns: vsNs, name: 'self1' } }), code('HOST_NETNS_REFUSED'));
    const cur = Netns.current();
    try {
      await assert.rejects(createVeth({ name: 'self0', peer: { netns: cur, name: 'self1' } }), code('HOST_NETNS_REFUSED'));
    } finally {
      cur.close();
    }
  });

  it('refuses bad MACs and MTUs with stable codes', async () => {
    await assert.rejects(createVeth({ netns: vsNs, name: 'm0', mac: '01:00:5e:00:00:01', peer: { netns: c1Ns, name: 'm1' } }), code('BAD_MAC'));
    await assert.rejects(createVeth({ netns: vsNs, name: 'm0', peer: { netns: c1Ns, name: 'm1', mtu: 50 } }), code('BAD_MTU'));
    await assert.rejects(
      createVeth({ netns: vsNs, name: 'm0', peer: { netns: c1Ns, name: 'm1', configure: { addresses: [{ address: '10.0.0.300', prefixLength: 24 }] } } }),
      code('BAD_ADDRESS'),
    );
    assert.equal(await linkIn(vs, 'm0'), undefined);
  });

  it('removes the pair again when configuring the peer fails part way', async () => {
    const name = `rb${rnd()}`;
    await assert.rejects(
      createVeth({
        netns: vsNs,
        name,
        peer: { netns: c1Ns, name: 'rb0', configure: { addresses: [{ address: '10.63.0.1', prefixLength: 24 }], defaultRoutes: ['10.99.0.1'] } },
      }),
      (e: unknown) => {
        code('BAD_ADDRESS', /cannot set route default via 10\.99\.0\.1 on rb0/)(e);
        const d = (e as { detail: { side: string; extack?: string; ifname: string } }).detail;
        assert.equal(d.side, 'peer');
        assert.equal(d.ifname, 'rb0');
        assert.match(d.extack ?? '', /gateway/i);
        return true;
      },
    );
    assert.equal(await linkIn(vs, name), undefined);
    assert.equal(await linkIn(c1, 'rb0'), undefined);
  });

  it('refuses a dead namespace', async () => {
    const d = await TestNetns.create('ect-nl-c-');
    const dNs = Netns.open({ name: d.name });
    await d.del();
    dNs.close();
    await assert.rejects(createVeth({ netns: vsNs, name: 'dead0', peer: { netns: dNs, name: 'eth0' } }), code('BAD_ARGUMENT', /closed/));
    assert.throws(() => Netns.open({ name: d.name }), code('NETNS_GONE'));
    assert.equal(await linkIn(vs, 'dead0'), undefined);
  });

  it('the host end vanishes when the namespace of its peer dies', async () => {
    const d = await TestNetns.create('ect-nl-c-');
    cleanup.add(() => d.del());
    const dNs = Netns.open({ name: d.name });
    const name = `v${rnd()}`;
    await createVeth({ netns: vsNs, name, peer: { netns: dNs, name: 'eth0', configure: { addresses: [{ address: '10.64.0.1', prefixLength: 24 }] } } });
    assert.ok(await getLink({ netns: vsNs, name }));
    dNs.close(); // our handle would pin it
    await d.del();
    await eventually(async () => (await getLink({ netns: vsNs, name })) === undefined, 10_000);
  });

  it('createVeths: many pairs in few round trips, each settled on its own', async () => {
    const g = group();
    const taken = `k${rnd()}`;
    const blocker = await createVeth({ netns: vsNs, name: taken, peer: { netns: c2Ns, name: `b${rnd()}` } });
    cleanup.add(() => deleteLink({ netns: vsNs, index: blocker.index }));
    cleanup.add(() => deleteLinkGroup({ netns: vsNs, group: g }));
    const base = `m${rnd()}`;
    const list = Array.from({ length: 40 }, (_, i) => ({
      netns: vsNs,
      name: i === 17 ? taken : `${base}-${i}`,
      group: g,
      mac: `52:00:0a:41:00:${(i + 1).toString(16).padStart(2, '0')}`,
      peer: { netns: c2Ns, name: `${base}p${i}`, configure: { addresses: [{ address: `10.65.0.${i + 1}`, prefixLength: 24 }] } },
    }));
    const res = await createVeths(list, { chunk: 16 });
    assert.equal(res.length, 40);
    res.forEach((r, i) => {
      if (i === 17) assert.ok(!r.ok && r.error.code === 'LINK_EXISTS' && (r.error.detail as { side: string }).side === 'host');
      else assert.ok(r.ok, `pair ${i}: ${!r.ok ? r.error.message : ''}`);
    });
    const host = await listLinks({ netns: vsNs, kind: 'veth' });
    assert.equal(host.filter((l) => l.group === g).length, 39);
    const addrs = await listAddresses({ netns: c2Ns });
    assert.equal(addrs.filter((a) => a.address.startsWith('10.65.0.')).length, 39);
    assert.equal(addrs.some((a) => a.address === '10.65.0.18'), false);
    await deleteLinkGroup({ netns: vsNs, group: g });
    assert.equal((await listLinks({ netns: vsNs })).filter((l) => l.group === g).length, 0);
    assert.equal((await listLinks({ netns: c2Ns })).filter((l) => l.name.startsWith(`${base}p`)).length, 0);
  });
});
