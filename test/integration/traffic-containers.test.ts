// Real traffic between Docker containers plugged by `ec` on a userspace vswitch: busybox httpd in
// one container answers an HTTP GET sent from another container's namespace, and TCP bulk (byte
// count) and UDP echo pass between them, IPv4 and IPv6 — after `ec start`, after `ec plug` of a
// container Docker started alone, and after `ec watch` re-plugged a restarted container.
import { strict as assert } from 'node:assert';
import { requireRoot, sh } from '../support/env';
import { BUSYBOX_IMAGE, TestContainers, ensureBusyboxImage, requireDocker } from '../support/docker';
import { CliFixture, EcProcess, ecOk } from '../support/cli';
import { httpGet, pidNetns, tcpBulk, udpEcho } from '../support/traffic';
import type { SlotInfo } from '../../src/slot';

interface Started {
  slot: SlotInfo;
  container: { id: string; name: string; pid: number };
}

const PAGE = 'hello-from-ecdock';
/** busybox httpd in the foreground, serving one page. */
const HTTPD = ['sh', '-c', `mkdir -p /www && echo ${PAGE} > /www/index.html && exec httpd -f -p 80 -h /www`];
const MB1 = 1_000_000;

/** An HTTP GET from `client`; httpd may need a moment after the container started. */
async function get(client: string, address: string): Promise<string> {
  let last = '';
  for (let i = 0; i < 10; i++) {
    last = await httpGet(client, address, 80, '/index.html');
    if (last.includes(PAGE)) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  return last;
}

describe('traffic between containers (Docker, ec, userspace datapath)', function () {
  this.timeout(180_000);
  let f: CliFixture;
  let name: string;
  let env: Record<string, string>;
  const own = new TestContainers(undefined, 'ectc-');

  before(async function () {
    requireRoot(this);
    await requireDocker(this);
    await ensureBusyboxImage();
    f = await CliFixture.start();
    name = f.vswitchName('tc');
    env = f.env(name);
    await ecOk(['create-vswitch', '--usermode', '--ipv6', '2001:db8:44::/64'], { env });
  });
  after(async () => {
    await own.cleanup();
    if (!f) return;
    await f.removeContainersOf(name);
    await f.stop();
  });

  const pidOf = async (id: string) => (await f.docker.inspect(id))!.pid;

  it('ec start: HTTP GET from one container to busybox httpd in another; 1 MB TCP and UDP both ways, IPv4 and IPv6', async () => {
    const web = await ecOk<Started>(['--json', '--slot=1', 'start', BUSYBOX_IMAGE, ...HTTPD], { env });
    const cli = await ecOk<Started>(['--json', '--slot=2', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    const w = pidNetns(web.container.pid);
    const c = pidNetns(cli.container.pid);
    assert.match(await get(c, web.slot.ipv4), new RegExp(`200 OK[\\s\\S]*${PAGE}`));
    assert.match(await get(c, web.slot.ipv6!), new RegExp(PAGE), 'HTTP over IPv6');
    assert.equal(await tcpBulk(w, c, web.slot.ipv4, MB1), MB1, 'TCP cli -> web');
    assert.equal(await tcpBulk(c, w, cli.slot.ipv4, MB1), MB1, 'TCP web -> cli');
    assert.equal(await tcpBulk(w, c, web.slot.ipv6!, MB1), MB1, 'TCP over IPv6');
    assert.equal(await udpEcho(w, c, web.slot.ipv4, 3), 3);
    assert.equal(await udpEcho(c, w, cli.slot.ipv6!, 3), 3, 'UDP over IPv6');
  });

  it('ec plug --container: a container Docker started alone carries HTTP and TCP once plugged', async () => {
    // Docker turns IPv6 off in a container unless told otherwise (ec start does this itself).
    const alone = await own.run({ image: BUSYBOX_IMAGE, args: HTTPD, sysctls: { 'net.ipv6.conf.all.disable_ipv6': '0' } });
    const slot = await ecOk<SlotInfo>(['--json', '--slot=3', 'plug', '--container', alone.id], { env });
    const cli = (await f.docker.list({ labels: { 'ecdock.vswitch': name, 'ecdock.slot': '2' } }))[0]!;
    const c = pidNetns(await pidOf(cli.id));
    assert.match(await get(c, slot.ipv4), new RegExp(PAGE));
    assert.equal(await tcpBulk(pidNetns(await pidOf(alone.id)), c, slot.ipv4, MB1), MB1);
    assert.equal(await udpEcho(pidNetns(await pidOf(alone.id)), c, slot.ipv6!, 3), 3);
  });

  it('after ec watch re-plugs a restarted container: HTTP GET, TCP bulk and UDP reach it again', async () => {
    const web = (await f.docker.list({ labels: { 'ecdock.vswitch': name, 'ecdock.slot': '1' } }))[0]!;
    const cli = (await f.docker.list({ labels: { 'ecdock.vswitch': name, 'ecdock.slot': '2' } }))[0]!;
    const watch = new EcProcess(['watch'], { env });
    try {
      await watch.waitFor('stderr', /watching/);
      const before = await pidOf(web.id);
      await sh('docker', ['restart', '-t', '0', web.id]);
      await watch.waitFor('stdout', new RegExp(`replugged ${name} slot 1 container ${web.name} \\(reattach\\)`), 30_000);
      const pid = await pidOf(web.id);
      assert.notEqual(pid, before, 'a new process and namespace');
      const w = pidNetns(pid);
      const c = pidNetns(await pidOf(cli.id));
      assert.match(await get(c, '10.0.0.1'), new RegExp(PAGE), 'httpd in the restarted container answers');
      assert.equal(await tcpBulk(w, c, '10.0.0.1', MB1), MB1);
      assert.equal(await udpEcho(w, c, '10.0.0.1', 3), 3);
      assert.equal(await tcpBulk(c, w, '10.0.0.2', MB1), MB1, 'and the other way');
    } finally {
      assert.equal(await watch.stop(), 0, `ec watch ends cleanly on SIGINT: ${watch.stderr}`);
    }
  });
});
