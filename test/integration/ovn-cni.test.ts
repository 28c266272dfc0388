// The CNI plugin on an OVN vswitch: two simulated hosts (the OVN sandbox's chassis), each with its
// own conflist (its own OVS, the shared Northbound), driven by the libcni client as a runtime on
// that host would. Containers on the two hosts get slots of one logical switch and pass TCP and UDP;
// CHECK, DEL and GC find attachments in the Northbound, and only the calling host's.
import { strict as assert } from 'node:assert';
import { Cleanup, TestNetns, requireRoot, uniqueName } from '../support/env';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CRASH_PRELOAD, buildCniClient, callPlugin, makeCniDirs, runClient, type CniDirs } from '../support/cni';
import { ovnLeftovers, startOvnWorld, stopOvnWorld, type OvnWorld } from '../support/ovn';
import { tcpBulk, udpEcho } from '../support/traffic';
import { OvsdbClient } from '../../src/ovsdb/client';
import { VSwitch } from '../../src/vswitch';

interface AddResult {
  interfaces: { name: string; mac?: string; sandbox?: string }[];
  ips: { address: string; gateway?: string }[];
}

describe('CNI plugin on an OVN vswitch across two hosts (libcni client, real OVN)', function () {
  this.timeout(180_000);
  let w: OvnWorld | undefined;
  let client: string;
  let dirs: CniDirs;
  const cleanup = new Cleanup();
  const vswitch = uniqueName('ovnh');
  const net = uniqueName('ovnhnet');
  const subnet = '10.67.3.254/24';
  /** The conflist of host i (one network name on both): its own OVS and vswitchd namespace, the cluster's Northbound. */
  const lists: string[] = [];
  const ipv6Prefix = 'fd6c:6f76:6e68:3::/64';
  const conf = (i: number) => ({ type: 'ecdock', vswitch, subnet, ipv6Prefix, db: w!.ovn.hosts[i].dbUrl, switchNetns: w!.ovn.hosts[i].netns, ovn: { northbound: w!.ovn.northbound } });

  before(async function () {
    requireRoot(this);
    client = await buildCniClient();
    w = await startOvnWorld(2);
    dirs = makeCniDirs();
    cleanup.add(() => dirs.remove());
    cleanup.add(async () => {
      try {
        await (await VSwitch.open(w!.clients[0], vswitch, { ovn: { northbound: w!.ovn.northbound }, netns: w!.ovn.hosts[0].netns })).destroy();
      } catch {
        /* never created, or gone */
      }
    });
    for (const i of [0, 1]) {
      lists.push(join(dirs.root, `host${i}.conflist`));
      writeFileSync(lists[i], JSON.stringify({ cniVersion: '1.0.0', name: net, plugins: [conf(i)] }));
    }
  });
  after(async () => {
    await cleanup.run();
    await stopOvnWorld(w);
  });

  const netns = async () => {
    const ns = await TestNetns.create('ovnhc-');
    cleanup.add(() => ns.del());
    return ns;
  };
  const run = (cmd: 'add' | 'check' | 'del', host: number, ns: TestNetns, id: string) => runClient(client, dirs, [cmd, lists[host], ns.path, id, 'eth0']);
  const lsp = async (name: string) => {
    const nb = await OvsdbClient.connect(w!.ovn.northbound);
    try {
      const [res] = await nb.transact('OVN_Northbound', [{ op: 'select', table: 'Logical_Switch_Port', where: [['name', '==', name]], columns: ['external_ids'] }]);
      const row = (res as { rows: { external_ids: [string, [string, string][]] }[] }).rows[0];
      return new Map(row ? row.external_ids[1] : []);
    } finally {
      nb.close();
    }
  };
  const gc = (host: number, valid: string[]) =>
    callPlugin(
      { CNI_COMMAND: 'GC', CNI_PATH: dirs.path },
      JSON.stringify({ cniVersion: '1.1.0', name: net, ...conf(host), 'cni.dev/valid-attachments': valid.map((containerID) => ({ containerID, ifname: 'eth0' })) }),
    );

  it('ADD on each host gives slots of one logical switch that pass TCP and UDP; CHECK good and broken; CHECK of another host\'s attachment; DEL twice', async () => {
    const a = await netns();
    const b = await netns();
    const ra = await run('add', 0, a, 'ovnh-a');
    assert.equal(ra.code, 0, ra.stdout + ra.stderr);
    const rb = await run('add', 1, b, 'ovnh-b');
    assert.equal(rb.code, 0, rb.stdout + rb.stderr);
    const v6 = (n: number) => `fd6c:6f76:6e68:3::a43:${(0x300 + n).toString(16)}`;
    assert.deepEqual((ra.json as unknown as AddResult).ips, [
      { address: '10.67.3.1/24', gateway: '10.67.3.254', interface: 1 },
      { address: `${v6(1)}/64`, gateway: v6(254), interface: 1 },
    ]);
    assert.deepEqual((rb.json as unknown as AddResult).ips[0], { address: '10.67.3.2/24', gateway: '10.67.3.254', interface: 1 });
    assert.equal((rb.json as unknown as AddResult).interfaces[1].mac, '52:00:0a:43:03:02');

    // the attachment is recorded in the Northbound with the host it is bound on
    const ids = await lsp(`${vswitch}-s02`);
    assert.equal(ids.get('cni:container-id'), 'ovnh-b');
    assert.equal(ids.get('cni:network'), net);
    assert.equal(ids.get('ecdock:host'), w!.ovn.hosts[1].name);

    assert.equal(await tcpBulk(b.path, a.path, '10.67.3.2', 1_000_000, { timeoutS: 20 }), 1_000_000, 'TCP host0 -> host1');
    assert.equal(await tcpBulk(a.path, b.path, '10.67.3.1', 1_000_000, { timeoutS: 20 }), 1_000_000, 'TCP host1 -> host0');
    assert.equal(await udpEcho(b.path, a.path, '10.67.3.2', 5, { timeoutS: 10 }), 5, 'UDP host0 -> host1');
    assert.equal(await tcpBulk(b.path, a.path, v6(2), 500_000, { timeoutS: 20 }), 500_000, 'TCP over IPv6 host0 -> host1');
    assert.equal(await udpEcho(a.path, b.path, v6(1), 5, { timeoutS: 10 }), 5, 'UDP over IPv6 host1 -> host0');

    assert.equal((await run('check', 0, a, 'ovnh-a')).code, 0);
    assert.equal((await run('check', 1, b, 'ovnh-b')).code, 0);
    // host0 knows nothing of host1's container: not found (and DEL there leaves host1's slot alone)
    const elsewhere = await callPlugin(
      { CNI_COMMAND: 'CHECK', CNI_CONTAINERID: 'ovnh-b', CNI_NETNS: b.path, CNI_IFNAME: 'eth0', CNI_PATH: dirs.path },
      JSON.stringify({ cniVersion: '1.0.0', name: net, ...conf(0), prevResult: rb.json }),
    );
    assert.equal(elsewhere.code, 1, elsewhere.stdout);
    assert.equal(elsewhere.out?.code, 102, elsewhere.stdout);
    const delElsewhere = await callPlugin({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'ovnh-b', CNI_NETNS: '', CNI_IFNAME: 'eth0', CNI_PATH: dirs.path }, JSON.stringify({ cniVersion: '1.0.0', name: net, ...conf(0) }));
    assert.equal(delElsewhere.code, 0, delElsewhere.stdout);
    assert.equal((await lsp(`${vswitch}-s02`)).get('cni:container-id'), 'ovnh-b', 'host1\'s slot is still there');

    await a.exec(['ip', '-6', 'route', 'del', 'default']);
    const noRoute6 = await run('check', 0, a, 'ovnh-a');
    assert.equal(noRoute6.json?.error?.code, 105, noRoute6.stdout);
    assert.match(noRoute6.json?.error?.msg ?? '', /IPv6 default route via fd6c:6f76:6e68:3::a43:3fe/);
    await a.exec(['ip', 'addr', 'flush', 'dev', 'eth0']);
    const bad = await run('check', 0, a, 'ovnh-a');
    assert.equal(bad.code, 1);
    assert.equal(bad.json?.error?.code, 105, bad.stdout);
    assert.match(bad.json?.error?.msg ?? '', /lacks address 10\.67\.3\.1\/24/);

    for (let k = 0; k < 2; k++) assert.equal((await run('del', 0, a, 'ovnh-a')).code, 0, `DEL ${k + 1} on host0`);
    for (let k = 0; k < 2; k++) assert.equal((await run('del', 1, b, 'ovnh-b')).code, 0, `DEL ${k + 1} on host1`);
    assert.deepEqual(await ovnLeftovers(w!, vswitch), []);
    assert.equal((await a.exec(['ip', 'link', 'show', 'eth0'], { allowFail: true })).code !== 0, true, 'eth0 gone');
  });

  it('GC on a host removes only its own stale attachments, not those of the other host; STATUS; DEL after the netns is gone', async () => {
    const keep = await netns();
    const stale = await netns();
    const other = await netns();
    assert.equal((await run('add', 0, keep, 'ovnh-keep')).code, 0);
    assert.equal((await run('add', 0, stale, 'ovnh-stale')).code, 0);
    assert.equal((await run('add', 1, other, 'ovnh-other')).code, 0);
    const r = await gc(0, ['ovnh-keep']);
    assert.equal(r.code, 0, r.stdout);
    const left = (await ovnLeftovers(w!, vswitch)).filter((x) => x.startsWith('lsp ')).sort();
    assert.deepEqual(left, [`lsp ${vswitch}-s01`, `lsp ${vswitch}-s03`], 'host0 keeps ovnh-keep, host1 keeps ovnh-other');
    assert.equal((await stale.exec(['ip', 'link', 'show', 'eth0'], { allowFail: true })).code !== 0, true, 'the stale attachment\'s eth0 is gone');
    assert.equal((await gc(1, ['ovnh-other'])).code, 0);
    const status = (nb: string) => callPlugin({ CNI_COMMAND: 'STATUS', CNI_PATH: dirs.path }, JSON.stringify({ cniVersion: '1.1.0', name: net, ...conf(0), ovn: { northbound: nb } }));
    const up = await status(w!.ovn.northbound);
    assert.equal(up.code, 0, up.stdout);
    const down = await status(`unix:${dirs.root}/no-such-nb.sock`);
    assert.equal(down.code, 1, down.stdout);
    assert.equal(down.out?.code, 50, down.stdout);
    // DEL after the namespace is gone still frees the slot
    await keep.del();
    assert.equal((await run('del', 0, keep, 'ovnh-keep')).code, 0);
    assert.equal((await run('del', 1, other, 'ovnh-other')).code, 0);
    assert.deepEqual(await ovnLeftovers(w!, vswitch), []);
  });

  it('DEL after an ADD killed once the slot was claimed in the Northbound (no br-int port yet) removes the claim', async () => {
    for (const point of ['ovn:claimed', 'ovn:veth-created']) {
      const ns = await netns();
      const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'ovnh-crash', CNI_NETNS: ns.path, CNI_IFNAME: 'eth0', CNI_PATH: dirs.path, ECDOCK_CRASH_AT: point };
      const killed = await callPlugin(env, JSON.stringify({ cniVersion: '1.0.0', name: net, ...conf(0) }), 60_000, CRASH_PRELOAD);
      assert.equal(killed.code, -1, `killed at ${point}: ${killed.stdout}`);
      assert.ok((await ovnLeftovers(w!, vswitch)).includes(`lsp ${vswitch}-s01`), 'the claim is in the Northbound');
      const r = await run('del', 0, ns, 'ovnh-crash');
      assert.equal(r.code, 0, r.stdout);
      assert.deepEqual(await ovnLeftovers(w!, vswitch), [], `nothing left after ${point}`);
    }
  });
});
