// The ecdock CNI plugin driven by a real libcni client (Go, the library Podman's CNI backend,
// containerd and CRI-O use), against a private isolated OVS and real network namespaces: ADD,
// CHECK on a good and a broken attachment, DEL twice, DEL after the netns is gone, chaining with
// the reference tuning plugin, slot choice by IP= / runtimeConfig, result versions, GC and STATUS
// (spec 1.1, sent directly: libcni 1.1 has neither), bad input, and an ADD killed at each step.
import { strict as assert } from 'node:assert';
import { ATTACH_VETH_POINTS } from '../../src/crash-points';
import { requireRoot, sh, uniqueName, type TestNetns } from '../support/env';
import { CRASH_PRELOAD, buildCniClient, callPlugin, runClient, startCniFixture, writeConflist, type CniFixture } from '../support/cni';

interface AddResult {
  cniVersion: string;
  interfaces: { name: string; mac?: string; sandbox?: string }[];
  ips: { address: string; gateway?: string; interface?: number; version?: string }[];
  routes: { dst: string; gw?: string }[];
}

// Both ways a runtime can reach the plugin: the Node plugin per call, and the forwarder handing calls to `ecdock-cni serve`.
for (const daemon of [false, true]) {
  describe(`CNI plugin with a libcni client (real OVS, real namespaces)${daemon ? ', through the forwarder and the daemon' : ''}`, function () {
    this.timeout(180_000);
    let f: CniFixture;
    let client: string;
    const vswitch = uniqueName('cn');
    let conflist: string;
    const net = uniqueName('net');
    const conf = () => f.pluginConf(vswitch, '10.61.0.254/24', { capabilities: { ips: true, mac: true } });

    before(async function () {
      requireRoot(this);
      client = await buildCniClient();
      f = await startCniFixture({ daemon });
      f.forget(vswitch);
      conflist = writeConflist(f.dirs, net, [conf()]);
    });
    after(async () => {
      await f?.cleanup.run();
    });

    const add = (ns: TestNetns, id: string, env = {}) => runClient(client, f.dirs, ['add', conflist, ns.path, id, 'eth0'], env);
    const del = (nsPath: string, id: string, list = conflist) => runClient(client, f.dirs, ['del', list, nsPath, id, 'eth0']);
    const check = (ns: TestNetns, id: string, list = conflist) => runClient(client, f.dirs, ['check', list, ns.path, id, 'eth0']);
    const eth0 = async (ns: TestNetns) => ((await ns.ipJson<{ address: string; mtu: number; addr_info?: { local: string; prefixlen: number }[] }[]>(['addr', 'show', 'dev', 'eth0']))[0]);
    const pluginEnv = (command: string, ns: string, id: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: ns, CNI_IFNAME: 'eth0', CNI_PATH: f.dirs.path, ...f.dirs.env });

    it('ADD creates the vswitch, takes the lowest free slot and records the attachment; CHECK passes; a broken address fails CHECK; DEL twice succeeds', async () => {
      const ns = await f.netns();
      const r = await add(ns, 'ctr-a', { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web;K8S_POD_NAMESPACE=prod' });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const res = r.json as unknown as AddResult;
      assert.equal(res.cniVersion, '1.0.0');
      assert.deepEqual(res.ips, [{ address: '10.61.0.1/24', gateway: '10.61.0.254', interface: 1 }]);
      assert.deepEqual(res.routes, [{ dst: '0.0.0.0/0', gw: '10.61.0.254' }]);
      assert.deepEqual(res.interfaces[1], { name: 'eth0', mac: '52:00:0a:3d:00:01', sandbox: ns.path });
      assert.equal(res.interfaces[0].name, `${vswitch}-s01`);
      const hostEnd = JSON.parse((await sh('ip', ['-n', f.sbns, '-j', 'link', 'show', `${vswitch}-s01`])).stdout) as { address: string }[];
      assert.equal(res.interfaces[0].mac, hostEnd[0].address, "the host end's MAC");
      const link = await eth0(ns);
      assert.equal(link.address, '52:00:0a:3d:00:01');
      assert.ok(link.addr_info?.some((a) => a.local === '10.61.0.1' && a.prefixlen === 24));
      const [sel] = await f.ovs.transact('Open_vSwitch', [{ op: 'select', table: 'Port', where: [['name', '==', `${vswitch}-s01`]], columns: ['external_ids'] }]);
      const ids = new Map((sel as { rows: { external_ids: [string, [string, string][]] }[] }).rows[0].external_ids[1]);
      assert.equal(ids.get('cni:container-id'), 'ctr-a');
      assert.equal(ids.get('cni:ifname'), 'eth0');
      assert.equal(ids.get('cni:network'), net);
      assert.equal(ids.get('cni:pod-name'), 'web');
      assert.equal(ids.get('cni:pod-namespace'), 'prod');

      assert.equal((await check(ns, 'ctr-a')).code, 0);
      await ns.exec(['ip', 'addr', 'flush', 'dev', 'eth0']);
      const bad = await check(ns, 'ctr-a');
      assert.equal(bad.code, 1);
      assert.equal(bad.json?.error?.code, 105);
      assert.match(bad.json?.error?.msg ?? '', /lacks address 10\.61\.0\.1\/24/);
      assert.match(bad.json?.error?.details ?? '', /ATTACHMENT_BROKEN/);

      assert.equal((await del(ns.path, 'ctr-a')).code, 0);
      assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
      assert.equal((await ns.exec(['ip', 'link', 'show', 'eth0'], { allowFail: true })).code !== 0, true);
      const again = await del(ns.path, 'ctr-a');
      assert.equal(again.code, 0, again.stdout);
      // An attachment never seen, and one with no cached result.
      assert.equal((await del(ns.path, 'never-seen')).code, 0);
    });

    it('CHECK fails for a wrong MAC and a missing interface, and for an attachment it does not know', async () => {
      const ns = await f.netns();
      assert.equal((await add(ns, 'ctr-m')).code, 0);
      await ns.exec(['ip', 'link', 'set', 'eth0', 'address', '02:00:00:00:00:09']);
      const mac = await check(ns, 'ctr-m');
      assert.equal(mac.json?.error?.code, 105);
      assert.match(mac.json?.error?.msg ?? '', /MAC/);
      await ns.exec(['ip', 'link', 'del', 'eth0']);
      const gone = await check(ns, 'ctr-m');
      assert.equal(gone.code, 1);
      assert.ok([105].includes(gone.json?.error?.code ?? 0), gone.stdout);
      assert.equal((await del(ns.path, 'ctr-m')).code, 0);
      assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
    });

    it('DEL after the netns is gone succeeds and frees the slot', async () => {
      const ns = await f.netns();
      assert.equal((await add(ns, 'ctr-gone')).code, 0);
      await ns.del();
      const r = await del(ns.path, 'ctr-gone');
      assert.equal(r.code, 0, r.stdout);
      assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
    });

    it('chains with the reference tuning plugin (MTU 1400) for ADD, CHECK and DEL', async () => {
      const chained = writeConflist(f.dirs, `${net}-t`, [conf(), { type: 'tuning', mtu: 1400 }]);
      const ns = await f.netns();
      const r = await runClient(client, f.dirs, ['add', chained, ns.path, 'ctr-t', 'eth0']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal((await eth0(ns)).mtu, 1400);
      assert.equal((r.json as unknown as AddResult).ips[0].address, '10.61.0.1/24');
      assert.equal((await check(ns, 'ctr-t', chained)).code, 0);
      assert.equal((await del(ns.path, 'ctr-t', chained)).code, 0);
      assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
    });

    it('IP= in CNI_ARGS and runtimeConfig.ips pick the slot; a taken or foreign address and a wrong MAC fail and leave nothing', async () => {
      const a = await f.netns();
      const r = await add(a, 'ctr-ip', { CNI_ARGS: 'IgnoreUnknown=1;IP=10.61.0.7' });
      assert.equal(r.code, 0, r.stdout);
      assert.equal((r.json as unknown as AddResult).ips[0].address, '10.61.0.7/24');
      assert.equal((await eth0(a)).address, '52:00:0a:3d:00:07');

      const b = await f.netns();
      const before = await f.leftovers(vswitch);
      const taken = await add(b, 'ctr-ip2', { CNI_ARGS: 'IgnoreUnknown=1;IP=10.61.0.7' });
      assert.equal(taken.json?.error?.code, 101, taken.stdout);
      assert.match(taken.json?.error?.details ?? '', /SLOT_TAKEN/);
      const foreign = await add(b, 'ctr-ip2', { CNI_IPS: '192.168.9.9/24' });
      assert.equal(foreign.json?.error?.code, 100, foreign.stdout);
      assert.match(foreign.json?.error?.details ?? '', /SLOT_OUT_OF_RANGE/);
      const wrongMac = await add(b, 'ctr-ip2', { CNI_IPS: '10.61.0.9/24', CNI_MAC: '52:00:0a:3d:00:08' });
      assert.equal(wrongMac.json?.error?.code, 100, wrongMac.stdout);
      assert.match(wrongMac.json?.error?.details ?? '', /BAD_MAC/);
      assert.deepEqual(await f.leftovers(vswitch), before);
      assert.equal((await b.exec(['ip', 'link', 'show', 'eth0'], { allowFail: true })).code !== 0, true);

      const byCaps = await add(b, 'ctr-ip2', { CNI_IPS: '10.61.0.9/24', CNI_MAC: '52:00:0a:3d:00:09' });
      assert.equal(byCaps.code, 0, byCaps.stdout);
      assert.equal((byCaps.json as unknown as AddResult).ips[0].address, '10.61.0.9/24');
      assert.equal((await del(a.path, 'ctr-ip')).code, 0);
      assert.equal((await del(b.path, 'ctr-ip2')).code, 0);
      assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
    });

    it('passes portType internal and vlan through to the slot', async () => {
      const list = writeConflist(f.dirs, `${net}-i`, [{ ...conf(), portType: 'internal', vlan: 5 }]);
      const ns = await f.netns();
      const r = await runClient(client, f.dirs, ['add', list, ns.path, 'ctr-int', 'eth0']);
      assert.equal(r.code, 0, r.stdout);
      const res = r.json as unknown as AddResult;
      assert.deepEqual(res.interfaces, [{ name: 'eth0', mac: '52:00:0a:3d:00:01', sandbox: ns.path }]);
      assert.equal((await eth0(ns)).address, '52:00:0a:3d:00:01');
      const [sel] = await f.ovs.transact('Open_vSwitch', [{ op: 'select', table: 'Port', where: [['name', '==', `${vswitch}-s01`]], columns: ['tag'] }]);
      assert.equal((sel as { rows: { tag: unknown }[] }).rows[0].tag, 5);
      assert.equal((await runClient(client, f.dirs, ['check', list, ns.path, 'ctr-int', 'eth0'])).code, 0);
      assert.equal((await runClient(client, f.dirs, ['del', list, ns.path, 'ctr-int', 'eth0'])).code, 0);
      assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
    });

    it('writes results in the shape of 0.3.0, 0.3.1 and 0.4.0 when the config asks', async () => {
      for (const v of ['0.3.0', '0.3.1', '0.4.0']) {
        const list = writeConflist(f.dirs, `${net}-v`, [conf()], v);
        const ns = await f.netns();
        const r = await runClient(client, f.dirs, ['add', list, ns.path, 'ctr-v', 'eth0']);
        assert.equal(r.code, 0, r.stdout);
        const res = r.json as unknown as AddResult;
        assert.equal(res.cniVersion, v);
        assert.equal(res.ips[0].version, '4');
        assert.equal(res.ips[0].address, '10.61.0.1/24');
        if (v === '0.4.0') assert.equal((await runClient(client, f.dirs, ['check', list, ns.path, 'ctr-v', 'eth0'])).code, 0);
        assert.equal((await runClient(client, f.dirs, ['del', list, ns.path, 'ctr-v', 'eth0'])).code, 0);
      }
      assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
    });

    it('GC removes the slots of attachments not listed as valid; STATUS answers, and fails with 50 when OVSDB is unreachable', async () => {
      const keep = await f.netns();
      const drop = await f.netns();
      assert.equal((await add(keep, 'ctr-keep')).code, 0);
      assert.equal((await add(drop, 'ctr-drop')).code, 0);
      const gcConf = { cniVersion: '1.1.0', name: net, ...conf(), 'cni.dev/valid-attachments': [{ containerID: 'ctr-keep', ifname: 'eth0' }] };
      const gc = await callPlugin({ CNI_COMMAND: 'GC', CNI_PATH: f.dirs.path, ...f.dirs.env }, JSON.stringify(gcConf));
      assert.equal(gc.code, 0, gc.stdout);
      assert.deepEqual((await f.leftovers(vswitch)).ports, [`${vswitch}-s01`]);
      const st = await callPlugin({ CNI_COMMAND: 'STATUS', CNI_PATH: f.dirs.path, ...f.dirs.env }, JSON.stringify({ cniVersion: '1.1.0', name: net, ...conf() }));
      assert.equal(st.code, 0, st.stdout);
      assert.equal(st.stdout, '');
      const down = await callPlugin({ CNI_COMMAND: 'STATUS', CNI_PATH: f.dirs.path, ...f.dirs.env }, JSON.stringify({ cniVersion: '1.1.0', name: net, ...conf(), db: 'unix:/nonexistent/db.sock' }));
      assert.equal(down.code, 1);
      assert.equal(down.out?.code, 50);
      assert.equal((await del(keep.path, 'ctr-keep')).code, 0);
      assert.equal((await del(drop.path, 'ctr-drop')).code, 0);
      assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
    });

    it("GC also removes what killed calls left, but not another network's slots nor valid attachments, even ghost ones", async () => {
      const other = uniqueName('net');
      const otherList = writeConflist(f.dirs, other, [conf()]);
      const nsOther = await f.netns();
      const nsValid = await f.netns();
      const nsCrash = await f.netns();
      assert.equal((await runClient(client, f.dirs, ['add', otherList, nsOther.path, 'ctr-other', 'eth0'])).code, 0);
      assert.equal((await add(nsValid, 'ctr-valid')).code, 0);
      // Both namespaces go: their slots become ghosts (the veths went with them).
      await nsOther.del();
      await nsValid.del();
      const stdin = JSON.stringify({ cniVersion: '1.0.0', name: net, ...conf() });
      const killed = await callPlugin({ ...pluginEnv('ADD', nsCrash.path, 'ctr-gc-crash'), ECDOCK_CRASH_AT: 'attach:veth-created' }, stdin, 60_000, CRASH_PRELOAD);
      assert.equal(killed.code, -1, killed.stdout);
      assert.deepEqual(await f.leftovers(vswitch), { ports: [`${vswitch}-s01`, `${vswitch}-s02`], links: [`${vswitch}-s03`] }, 'before GC');
      const gcConf = { cniVersion: '1.1.0', name: net, ...conf(), 'cni.dev/valid-attachments': [{ containerID: 'ctr-valid', ifname: 'eth0' }] };
      const gc = await callPlugin({ CNI_COMMAND: 'GC', CNI_PATH: f.dirs.path, ...f.dirs.env }, JSON.stringify(gcConf));
      assert.equal(gc.code, 0, gc.stdout);
      assert.deepEqual(await f.leftovers(vswitch), { ports: [`${vswitch}-s01`, `${vswitch}-s02`], links: [] }, 'after GC');
      assert.equal((await runClient(client, f.dirs, ['del', otherList, nsOther.path, 'ctr-other', 'eth0'])).code, 0);
      assert.equal((await del(nsValid.path, 'ctr-valid')).code, 0);
      assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
    });

    it('VERSION lists the supported versions without touching OVS', async () => {
      const r = await callPlugin({ CNI_COMMAND: 'VERSION', CNI_CONTAINERID: '', CNI_NETNS: 'dummy', CNI_IFNAME: 'dummy', CNI_PATH: 'dummy', ...f.dirs.env }, '{"cniVersion":"1.0.0"}');
      assert.equal(r.code, 0);
      assert.deepEqual(r.out, { cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
    });

    describe('bad input: a CNI error object on stdout, exit status 1, nothing changed', () => {
      let ns: TestNetns;
      before(async () => {
        ns = await f.netns();
      });
      const cases: { name: string; code: number; env?: Record<string, string | undefined>; stdin?: () => string; ecdock?: RegExp }[] = [
        { name: 'undecodable stdin', code: 6, stdin: () => '{"cniVersion": "1.0.0", "name": ' },
        { name: 'binary garbage on stdin', code: 6, stdin: () => '\u0000\u00ff\u0001' },
        { name: 'a missing vswitch key', code: 7, stdin: () => JSON.stringify({ cniVersion: '1.0.0', name: net, type: 'ecdock', subnet: '10.61.0.254/24' }) },
        { name: 'a missing name', code: 7, stdin: () => JSON.stringify({ cniVersion: '1.0.0', ...conf() }) },
        { name: 'a bad subnet', code: 7, stdin: () => JSON.stringify({ cniVersion: '1.0.0', name: net, ...conf(), vswitch: uniqueName('cz'), subnet: '10.61.0.999/24' }), ecdock: /BAD_SUBNET/ },
        { name: 'a plan that does not match the existing vswitch', code: 7, stdin: () => JSON.stringify({ cniVersion: '1.0.0', name: net, ...conf(), subnet: '10.62.0.254/24' }), ecdock: /VSWITCH_PLAN_MISMATCH/ },
        { name: 'an OVN Northbound that does not answer', code: 11, stdin: () => JSON.stringify({ cniVersion: '1.0.0', name: net, ...conf(), ovn: { northbound: 'unix:/nonexistent/ovnnb_db.sock' } }), ecdock: /OVSDB_UNREACHABLE/ },
        { name: 'an unsupported cniVersion', code: 1, stdin: () => JSON.stringify({ cniVersion: '9.9.9', name: net, ...conf() }) },
        { name: 'a missing CNI_COMMAND', code: 4, env: { CNI_COMMAND: undefined } },
        { name: 'an unknown CNI_COMMAND', code: 4, env: { CNI_COMMAND: 'EXPLODE' } },
        { name: 'a missing CNI_CONTAINERID', code: 4, env: { CNI_CONTAINERID: undefined } },
        { name: 'a bad CNI_CONTAINERID', code: 4, env: { CNI_CONTAINERID: '../../etc' } },
        { name: 'a missing CNI_NETNS', code: 4, env: { CNI_NETNS: undefined } },
        { name: 'a bad CNI_IFNAME', code: 4, env: { CNI_IFNAME: 'this-name-is-far-too-long' } },
        { name: 'a missing CNI_PATH', code: 4, env: { CNI_PATH: undefined } },
        { name: 'a malformed CNI_ARGS', code: 4, env: { CNI_ARGS: 'IP' } },
        { name: 'unknown CNI_ARGS without IgnoreUnknown', code: 4, env: { CNI_ARGS: 'FOO=bar' } },
        { name: 'a netns that does not exist', code: 3, env: { CNI_NETNS: '/var/run/netns/ecdock-no-such-ns' } },
        { name: 'a CNI_NETNS that is not a namespace', code: 4, env: { CNI_NETNS: '/etc/hostname' } },
        { name: 'OVSDB unreachable', code: 11, stdin: () => JSON.stringify({ cniVersion: '1.0.0', name: net, ...conf(), db: 'unix:/nonexistent/db.sock' }), ecdock: /OVSDB_UNREACHABLE/ },
      ];
      for (const c of cases) {
        it(`${c.name} → code ${c.code}`, async () => {
          const before = await f.leftovers(vswitch);
          const stdin = c.stdin ? c.stdin() : JSON.stringify({ cniVersion: '1.0.0', name: net, ...conf() });
          const r = await callPlugin({ ...pluginEnv('ADD', ns.path, 'ctr-bad'), ...(c.env ?? {}) }, stdin);
          assert.equal(r.code, 1, `exit status: ${r.stdout}${r.stderr}`);
          assert.equal(r.out?.code, c.code, r.stdout);
          assert.equal(typeof r.out?.msg, 'string');
          assert.ok((r.out?.msg as string).length > 20, 'a sentence a person can act on');
          assert.ok(typeof r.out?.cniVersion === 'string');
          if (c.ecdock) assert.match(String(r.out?.details), c.ecdock);
          assert.deepEqual(await f.leftovers(vswitch), before);
          assert.equal((await ns.exec(['ip', 'link', 'show', 'eth0'], { allowFail: true })).code !== 0, true, 'no eth0 left in the netns');
        });
      }
    });

    describe('an ADD killed at each step, then DEL: nothing left', () => {
      for (const point of ATTACH_VETH_POINTS) {
        it(`killed at ${point}`, async () => {
          const ns = await f.netns();
          const stdin = JSON.stringify({ cniVersion: '1.0.0', name: net, ...conf() });
          const killed = await callPlugin({ ...pluginEnv('ADD', ns.path, 'ctr-crash'), ECDOCK_CRASH_AT: point }, stdin, 60_000, CRASH_PRELOAD);
          assert.equal(killed.code, -1, `the plugin should have been killed: ${killed.stdout}`);
          const r = await del(ns.path, 'ctr-crash');
          assert.equal(r.code, 0, r.stdout);
          assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
          assert.equal((await ns.exec(['ip', 'link', 'show', 'eth0'], { allowFail: true })).code !== 0, true, 'no eth0 left in the netns');
          // The slot is free again.
          const again = await add(ns, 'ctr-crash2');
          assert.equal((again.json as unknown as AddResult).ips?.[0]?.address, '10.61.0.1/24', again.stdout);
          assert.equal((await del(ns.path, 'ctr-crash2')).code, 0);
        });
      }
    });

    it('leaves no sandbox links named after the vswitch behind', async () => {
      const out = await sh('ip', ['-n', f.sbns, '-o', 'link']);
      assert.ok(!out.stdout.includes(`${vswitch}-s`), out.stdout);
    });
  });
}
