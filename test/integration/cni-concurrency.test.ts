// Runtimes run plugin processes in parallel: 50 ADDs from 50 separate processes at once must get
// 50 different slots (each claimed by one OVSDB transaction), and 50 DELs must free them all.
import { strict as assert } from 'node:assert';
import { requireRoot, uniqueName, type TestNetns } from '../support/env';
import { callPlugin, startCniFixture, type CniFixture } from '../support/cni';

const N = 50;

for (const daemon of [false, true]) {
  describe(`CNI plugin: 50 concurrent ADDs from separate processes${daemon ? ' (forwarders and one daemon)' : ''}`, function () {
    this.timeout(600_000);
    let f: CniFixture;
    const vswitch = uniqueName('cc');

    before(async function () {
      requireRoot(this);
      f = await startCniFixture({ daemon });
      f.forget(vswitch);
    });
    after(async () => {
      await f?.cleanup.run();
    });

    it('gives every ADD its own slot, and every DEL frees its slot', async () => {
      const nss: TestNetns[] = [];
      const t0 = Date.now();
      for (let i = 0; i < N; i += 10) nss.push(...(await Promise.all(Array.from({ length: Math.min(10, N - i) }, () => f.netns()))));
      const t1 = Date.now();
      const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'ccnet', ...f.pluginConf(vswitch, '10.63.0.254/24') });
      const env = (cmd: string, i: number) => ({ CNI_COMMAND: cmd, CNI_CONTAINERID: `c${i}`, CNI_NETNS: nss[i].path, CNI_IFNAME: 'eth0', CNI_PATH: f.dirs.path, ...f.dirs.env });

      const adds = await Promise.all(nss.map((_, i) => callPlugin(env('ADD', i), stdin, 300_000)));
      const t2 = Date.now();
      const failed = adds.filter((r) => r.code !== 0);
      assert.equal(failed.length, 0, `failed ADDs: ${failed.map((r) => r.stdout || r.stderr).join('\n')}`);
      const addresses = adds.map((r) => (r.out as { ips: { address: string }[] }).ips[0].address);
      assert.equal(new Set(addresses).size, N, `an address was handed out twice: ${addresses.join(' ')}`);
      // The lowest free slots, 1..50, each once.
      assert.deepEqual(addresses.map((a) => Number(a.split('/')[0].split('.')[3])).sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 1));
      // Each namespace holds the address its result names.
      const links = await Promise.all(nss.map((ns) => ns.ipJson<{ addr_info: { local: string }[] }[]>(['addr', 'show', 'dev', 'eth0'])));
      links.forEach(([link], i) => assert.ok(link.addr_info.some((a) => `${a.local}/24` === addresses[i]), `namespace ${i} lacks ${addresses[i]}`));
      assert.equal((await f.leftovers(vswitch)).ports.length, N);

      const dels = await Promise.all(nss.map((_, i) => callPlugin(env('DEL', i), stdin, 300_000)));
      process.stderr.write(`netns ${t1 - t0} ms, ADDs ${t2 - t1} ms, DELs ${Date.now() - t2} ms\n`);
      assert.deepEqual(dels.filter((r) => r.code !== 0).map((r) => r.stdout), []);
      assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
    });
  });
}
