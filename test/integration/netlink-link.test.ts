import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { isEcdockError } from '../../src/errors';
import { Netns, configureInterface, createVeth, createVeths, deleteLink, deleteLinkGroup, getLink, listAddresses, listLinks, listRoutes, moveLink, setLink } from '../../src/netlink';
import { Cleanup, TestNetns, requireRoot } from '../support/env';

const code = (c: string, msg?: RegExp) => (e: unknown) => {
  assert.ok(isEcdockError(e), `not an EcdockError: ${String(e)}`);
  assert.equal(e.code, c, e.message);
  if (msg) assert.match(e.message, msg);
  return true;
};
const rnd = () => randomBytes(3).toString('hex');
const group = () => 0x4ed00000 + Math.floor(Math.random() * 0xfffff);

describe('netlink: links, addresses, routes (root, real namespaces)', function () {
  const cleanup = new Cleanup();
  let vs: TestNetns;
  let c1: TestNetns;
  let vsNs: Netns;
  let c1Ns: Netns;

  before(async function () {
    requireRoot(this);
    vs = await TestNetns.create('ect-nl-vs-');
    cleanup.add(() => vs.del());
    c1 = await TestNetns.create('ect-nl-c-');
    cleanup.add(() => c1.del());
    vsNs = Netns.open({ name: vs.name });
    c1Ns = Netns.open({ name: c1.name });
    cleanup.add(() => [vsNs, c1Ns].forEach((n) => n.close()));
  });
  after(() => cleanup.run());

  it('moves an existing link (a tap, as OVS userspace internal ports are) into a namespace under a new name, MAC and MTU, quiet', async () => {
    const port = `int${rnd()}`;
    await vs.exec(['ip', 'tuntap', 'add', port, 'mode', 'tap']); // what an OVS userspace internal port is
    const { index } = await moveLink({ netns: vsNs, name: port, to: c1Ns, newName: 'eth1', mac: '52:00:0a:00:01:07', mtu: 1300 });
    const moved = (await getLink({ netns: c1Ns, name: 'eth1' }))!;
    assert.equal(moved.index, index);
    assert.equal(moved.mac, '52:00:0a:00:01:07');
    assert.equal(moved.mtu, 1300);
    assert.equal(moved.kind, 'tun');
    assert.equal(moved.ipv6AddrGenMode, 'none');
    assert.equal(await getLink({ netns: vsNs, name: port }), undefined);
    // and it can be configured there by name
    await configureInterface({ netns: c1Ns, ifname: 'eth1', addresses: [{ address: '10.70.0.7', prefixLength: 24 }], loopbackUp: true });
    assert.ok(await c1.ping('10.70.0.7', { count: 3 }));
    assert.deepEqual((await listAddresses({ netns: c1Ns, index })).map((a) => a.address), ['10.70.0.7']);
  });

  it('refuses to move onto a taken name, a missing link, or into the namespace it is in', async () => {
    const port = `int${rnd()}`;
    await vs.exec(['ip', 'tuntap', 'add', port, 'mode', 'tap']); // what an OVS userspace internal port is
    cleanup.add(() => deleteLink({ netns: vsNs, name: port }));
    await c1.exec(['ip', 'tuntap', 'add', 'eth2', 'mode', 'tap']);
    await assert.rejects(moveLink({ netns: vsNs, name: port, to: c1Ns, newName: 'eth2' }), (e: unknown) => {
      code('LINK_EXISTS', /an interface named eth2 already exists in the target namespace/)(e);
      assert.equal((e as { detail: { side: string } }).detail.side, 'peer');
      return true;
    });
    assert.ok(await getLink({ netns: vsNs, name: port }), 'still where it was');
    await assert.rejects(moveLink({ netns: vsNs, name: `nope${rnd()}`, to: c1Ns }), code('NO_SUCH_LINK', /no such interface/));
    // fails after the move (a tap's MTU tops out at 65521): moved back, under its old name
    await assert.rejects(moveLink({ netns: vsNs, name: port, to: c1Ns, newName: 'eth3', mtu: 65535 }), (e: unknown) => {
      code('BAD_MTU')(e);
      assert.equal((e as { detail: { side: string; rollback?: unknown } }).detail.rollback, undefined);
      return true;
    });
    assert.ok(await getLink({ netns: vsNs, name: port }), 'moved back home');
    assert.equal(await getLink({ netns: c1Ns, name: 'eth3' }), undefined);
    await assert.rejects(moveLink({ netns: vsNs, name: port, to: vsNs }), code('HOST_NETNS_REFUSED'));
  });

  it('changes a link in place: down/up, MTU, MAC, IPv6 mode; NO_SUCH_LINK for a missing one', async () => {
    const name = `set${rnd()}`;
    const r = await createVeth({ netns: vsNs, name, peer: { netns: c1Ns, name: `sp${rnd()}` } });
    cleanup.add(() => deleteLink({ netns: vsNs, index: r.index }));
    await setLink({ netns: vsNs, name, up: false, mtu: 9000, mac: '52:00:0a:00:02:02' });
    let l = (await getLink({ netns: vsNs, name }))!;
    assert.deepEqual([l.up, l.mtu, l.mac], [false, 9000, '52:00:0a:00:02:02']);
    await setLink({ netns: vsNs, index: r.index, up: true, ipv6LinkLocal: true });
    l = (await getLink({ netns: vsNs, index: r.index }))!;
    assert.deepEqual([l.up, l.ipv6AddrGenMode], [true, 'eui64']);
    await assert.rejects(setLink({ netns: vsNs, name: `gone${rnd()}`, up: true }), code('NO_SUCH_LINK'));
    await assert.rejects(setLink({ netns: vsNs, index: 999999, mtu: 1500 }), code('NO_SUCH_LINK'));
    await assert.rejects(setLink({ netns: vsNs, name, mtu: 70000 }), code('BAD_MTU'));
  });

  it('deletes by name or index, and reports false for what is not there', async () => {
    const a = await createVeth({ netns: vsNs, name: `da${rnd()}`, peer: { netns: c1Ns, name: `dpa${rnd()}` } });
    const bName = `db${rnd()}`;
    await createVeth({ netns: vsNs, name: bName, peer: { netns: c1Ns, name: `dpb${rnd()}` } });
    assert.equal(await deleteLink({ netns: vsNs, index: a.index }), true);
    assert.equal(await deleteLink({ netns: vsNs, name: bName }), true);
    assert.equal(await deleteLink({ netns: vsNs, name: bName }), false);
    assert.equal(await deleteLink({ netns: vsNs, index: a.index }), false);
    await assert.rejects(deleteLink({ netns: vsNs }), code('BAD_ARGUMENT'));
  });

  it('deletes a whole group in one request and nothing else', async () => {
    const g = group();
    const other = group();
    const base = `g${rnd()}`;
    const mk = (i: number, grp: number) => ({ netns: vsNs, name: `${base}-${i}`, group: grp, peer: { netns: c1Ns, name: `${base}p${i}` } });
    const res = await createVeths([...Array.from({ length: 30 }, (_, i) => mk(i, g)), mk(30, other), mk(31, other)]);
    assert.ok(res.every((r) => r.ok));
    cleanup.add(() => deleteLinkGroup({ netns: vsNs, group: other }));
    await deleteLinkGroup({ netns: vsNs, group: g });
    const left = (await listLinks({ netns: vsNs, kind: 'veth' })).filter((l) => l.name.startsWith(base));
    assert.deepEqual(left.map((l) => l.name).sort(), [`${base}-30`, `${base}-31`]);
    const peers = (await listLinks({ netns: c1Ns })).filter((l) => l.name.startsWith(`${base}p`));
    assert.equal(peers.length, 2);
    await deleteLinkGroup({ netns: vsNs, group: g }); // an empty group is fine
    await assert.rejects(deleteLinkGroup({ netns: vsNs, group: 0 }), code('BAD_ARGUMENT'));
  });

  it('lists links with kind and name filters, and looks one up by index', async () => {
    const dummy = `dm${rnd()}`;
    await vs.exec(['ip', 'tuntap', 'add', dummy, 'mode', 'tap']);
    cleanup.add(() => deleteLink({ netns: vsNs, name: dummy }));
    const r = await createVeth({ netns: vsNs, name: `ls${rnd()}`, peer: { netns: c1Ns, name: `lp${rnd()}` } });
    cleanup.add(() => deleteLink({ netns: vsNs, index: r.index }));
    const all = await listLinks({ netns: vsNs });
    assert.ok(all.some((l) => l.name === 'lo' && l.kind === undefined && l.index === 1));
    assert.ok(all.some((l) => l.name === dummy && l.kind === 'tun'));
    const veths = await listLinks({ netns: vsNs, kind: 'veth' });
    assert.ok(veths.length >= 1 && veths.every((l) => l.kind === 'veth' && typeof l.peerIndex === 'number'));
    assert.ok(!veths.some((l) => l.name === dummy));
    assert.deepEqual((await listLinks({ netns: vsNs, name: dummy })).map((l) => l.kind), ['tun']);
    assert.deepEqual(await listLinks({ netns: vsNs, name: dummy, kind: 'veth' }), []);
    assert.equal((await getLink({ netns: vsNs, index: r.index }))!.peerIndex, r.peerIndex);
    assert.equal(await getLink({ netns: vsNs, name: `none${rnd()}` }), undefined);
    assert.equal(await getLink({ netns: vsNs, index: 987654 }), undefined);
  });

  it('configureInterface replaces default routes, tolerates present addresses, and undoes what it added when it fails', async () => {
    const r = await createVeth({ netns: vsNs, name: `cf${rnd()}`, peer: { netns: c1Ns, name: 'cf0' } });
    cleanup.add(() => deleteLink({ netns: vsNs, index: r.index }));
    const base = { netns: c1Ns, ifindex: r.peerIndex, addresses: [{ address: '10.71.0.1', prefixLength: 24 }, { address: '2001:db8:71::1', prefixLength: 64 }] };
    await configureInterface({ ...base, defaultRoutes: ['10.71.0.254', '2001:db8:71::fe'] });
    await configureInterface({ ...base, defaultRoutes: ['10.71.0.253', '2001:db8:71::fd'] }); // same addresses again: fine
    const defaults = (await listRoutes({ netns: c1Ns })).filter((x) => x.dst === 'default');
    assert.deepEqual(defaults.map((x) => x.gateway).sort(), ['10.71.0.253', '2001:db8:71::fd']);
    // a failing route: the new address it added is removed again, the ones that were there stay
    await assert.rejects(
      configureInterface({ netns: c1Ns, ifname: 'cf0', addresses: [{ address: '10.71.0.1', prefixLength: 24 }, { address: '10.72.0.1', prefixLength: 24 }], routes: [{ dst: '10.80.0.0/16', gateway: '10.99.9.9' }] }),
      code('BAD_ADDRESS', /cannot set route 10\.80\.0\.0\/16 via 10\.99\.9\.9 on cf0/),
    );
    const addrs = (await listAddresses({ netns: c1Ns, index: r.peerIndex })).map((a) => a.address);
    assert.ok(addrs.includes('10.71.0.1'));
    assert.ok(!addrs.includes('10.72.0.1'), `rolled back: ${addrs.join(' ')}`);
    await assert.rejects(configureInterface({ netns: c1Ns, ifname: `no${rnd()}`, up: true }), code('NO_SUCH_LINK'));
    await assert.rejects(configureInterface({ netns: c1Ns, ifindex: 999999, up: true }), code('NO_SUCH_LINK'));
  });
});
