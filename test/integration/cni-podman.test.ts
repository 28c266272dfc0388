// The ecdock CNI plugin under Podman 4.3's CNI backend (private config, isolated OVS): run with
// --network, --ip, HTTP and a TCP bulk transfer between two containers, stop/start/restart/rm
// freeing and retaking slots, and `podman inspect` showing the slot's address.
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireRoot, uniqueName } from '../support/env';
import { startCniFixture, type CniFixture } from '../support/cni';
import { havePodman, startPodman, type PodmanEnv } from '../support/cni-podman';
import { httpGet, pidNetns, tcpBulk } from '../support/traffic';

describe('CNI plugin under Podman (CNI backend, private config)', function () {
  this.timeout(300_000);
  let f: CniFixture;
  let p: PodmanEnv;
  const vswitch = uniqueName('cp');
  const net = uniqueName('ecpod');
  const names = { web: uniqueName('ecweb'), cli: uniqueName('eccli') };

  before(async function () {
    requireRoot(this);
    if (!havePodman()) {
      if (process.env.ECDOCK_REQUIRE_PODMAN === '1') throw new Error('podman, runc and busybox-static are needed (ECDOCK_REQUIRE_PODMAN=1)');
      this.skip();
    }
    f = await startCniFixture();
    f.forget(vswitch);
    p = await startPodman(f.dirs.path, net);
    f.cleanup.add(() => p.remove());
    writeFileSync(join(p.netDir, `${net}.conflist`), JSON.stringify({ cniVersion: '1.0.0', name: net, plugins: [f.pluginConf(vswitch, '10.67.0.254/24')] }));
  });
  after(async () => {
    await f?.cleanup.run();
  });

  const inspect = async (name: string, fmt: string) => (await p.podman(['inspect', '-f', fmt, name])).stdout.trim();
  const ipOf = (name: string) => inspect(name, `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`);
  const pidOf = async (name: string) => Number(await inspect(name, '{{.State.Pid}}'));
  const ports = async () => (await f.leftovers(vswitch)).ports;

  it('podman run --network takes the lowest free slot, --ip takes its slot, and podman inspect shows the slot addresses', async () => {
    await p.podman(['run', '-d', '--pull', 'never', '--name', names.web, '--network', net, p.image, 'httpd', '-f', '-p', '80', '-h', '/www']);
    await p.podman(['run', '-d', '--pull', 'never', '--name', names.cli, '--network', net, '--ip', '10.67.0.7', p.image, 'sleep', '600']);
    assert.equal(await ipOf(names.web), '10.67.0.1');
    assert.equal(await ipOf(names.cli), '10.67.0.7');
    assert.equal(await inspect(names.cli, `{{(index .NetworkSettings.Networks "${net}").MacAddress}}`), '52:00:0a:43:00:07');
    assert.deepEqual(await ports(), [`${vswitch}-s01`, `${vswitch}-s07`]);
    const inside = await p.podman(['exec', names.cli, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    assert.match(inside.stdout, /10\.67\.0\.7\/24/);
  });

  it('carries HTTP and a TCP bulk transfer between two podman containers', async () => {
    const web = pidNetns(await pidOf(names.web));
    const cli = pidNetns(await pidOf(names.cli));
    const page = await httpGet(cli, '10.67.0.1', 80, '/index.html');
    assert.match(page, /200 OK/);
    assert.match(page, /hello from an ecdock slot/);
    assert.equal(await tcpBulk(cli, web, '10.67.0.7', 2_000_000), 2_000_000);
  });

  it('podman stop frees the slot and podman start takes it again; restart keeps the slot', async () => {
    await p.podman(['stop', '-t', '1', names.cli]);
    assert.deepEqual(await ports(), [`${vswitch}-s01`]);
    await p.podman(['start', names.cli]);
    assert.deepEqual(await ports(), [`${vswitch}-s01`, `${vswitch}-s07`]);
    assert.equal(await ipOf(names.cli), '10.67.0.7');
    await p.podman(['restart', '-t', '1', names.web]);
    assert.equal(await ipOf(names.web), '10.67.0.1');
    assert.deepEqual(await ports(), [`${vswitch}-s01`, `${vswitch}-s07`]);
    assert.match(await httpGet(pidNetns(await pidOf(names.cli)), '10.67.0.1', 80, '/index.html'), /hello from an ecdock slot/);
  });

  it('podman rm frees every slot, and a new container takes the lowest free one', async () => {
    await p.podman(['rm', '-f', '-t', '0', names.web]);
    assert.deepEqual(await ports(), [`${vswitch}-s07`]);
    const third = uniqueName('ecthird');
    await p.podman(['run', '-d', '--pull', 'never', '--name', third, '--network', net, p.image, 'sleep', '600']);
    assert.equal(await ipOf(third), '10.67.0.1');
    await p.podman(['rm', '-f', '-t', '0', third, names.cli]);
    assert.deepEqual(await f.leftovers(vswitch), { ports: [], links: [] });
  });
});
