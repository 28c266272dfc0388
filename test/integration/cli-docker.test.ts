// `ec` with real Docker, as operators use it: the original README's commands verbatim, containers
// in slots pinging each other, --internal and --dual-nic, ec attach through a pseudo-terminal,
// docker restart under ec watch, docker kill then ec cleanup, and bad input that changes nothing.
import { strict as assert } from 'node:assert';
import { randomInt } from 'node:crypto';
import { eventually, requireRoot, sh } from '../support/env';
import { BUSYBOX_IMAGE, ensureBusyboxImage, requireDocker } from '../support/docker';
import { CliFixture, EcProcess, ec, ecOk, ecUnderPty, linksOf, pingsFrom } from '../support/cli';
import type { SlotInfo } from '../../src/slot';

interface Started {
  slot: SlotInfo;
  container: { id: string; name: string; pid: number };
}

describe('ec (CLI) with Docker', function () {
  this.timeout(90_000);
  let f: CliFixture;
  const switches: string[] = [];

  before(async function () {
    requireRoot(this);
    await requireDocker(this);
    await ensureBusyboxImage();
    f = await CliFixture.start();
  });
  after(async () => {
    if (!f) return;
    for (const name of switches) await f.removeContainersOf(name);
    await f.stop();
  });

  // Gateways of vswitches sharing a sandbox share its netns: one 10.0.0.254/24 at a time. Each
  // test deletes its vswitch (and containers) when it ends.
  let made: string[] = [];
  afterEach(async () => {
    for (const name of made) {
      await f.removeContainersOf(name);
      await ec(['delete-vswitch', '--force'], { env: f.env(name) });
    }
    made = [];
  });

  /** A fresh usermode vswitch on 10.0.0.254/24 in the sandbox. */
  async function vswitch(o: { keep?: boolean } = {}): Promise<Record<string, string>> {
    const name = f.vswitchName();
    switches.push(name);
    if (!o.keep) made.push(name);
    const env = f.env(name);
    await ecOk(['create-vswitch', '--usermode'], { env });
    return env;
  }

  const pidOf = async (id: string) => (await f.docker.inspect(id))!.pid;

  describe("the original README's commands, verbatim", () => {
    let env: Record<string, string | undefined>;
    before(async function () {
      // The README's default vswitch, ovs0: its containers are ovs0-sNN in dockerd's global namespace.
      // Another run of this suite on the same dockerd holds it for a few seconds: wait for that.
      await eventually(async () => (await f.docker.inspect('ovs0-s01')) === undefined, 60_000, 250).catch(async () => {
        throw new Error(`a container named ovs0-s01 exists already (${(await f.docker.inspect('ovs0-s01'))?.id}); remove it to run this test`);
      });
      env = { ...f.env(), ECDOCK_VSWITCH: undefined };
      switches.push('ovs0');
    });
    after(async () => {
      await f.removeContainersOf('ovs0');
      await ec(['delete-vswitch', '--force'], { env });
    });

    it('ec create-vswitch / ec create-vswitch 10.0.0.254/24: ovs0 on 10.0.0.254/24 (--usermode on a host without the kernel module)', async () => {
      const plain = await ec(['create-vswitch'], { env });
      if (plain.code !== 0) {
        // No openvswitch kernel module here: the message says what to do instead.
        assert.equal(plain.code, 5);
        assert.match(plain.stderr, /--usermode/);
        await ecOk(['create-vswitch', '--usermode'], { env });
      }
      const again = await ecOk<Record<string, unknown>>(['create-vswitch', '--usermode', '10.0.0.254/24', '--json'], { env });
      assert.equal(again.name, 'ovs0');
      assert.equal(again.gateway, '10.0.0.254');
    });

    it('ec --slot=1 start IMAGE ARGS: container ovs0-s01 with 10.0.0.1 and MAC 52:00:0a:00:00:01, ARGS passed verbatim', async () => {
      const out = await ecOk(['--slot=1', 'start', BUSYBOX_IMAGE, 'sh', '-c', 'echo "two  words" -x --json; exec sh'], { env });
      assert.match(out, /started container ovs0-s01 .*10\.0\.0\.1\/24 52:00:0a:00:00:01/);
      const c = (await f.docker.inspect('ovs0-s01'))!;
      assert.ok(c.running);
      assert.equal(c.labels['ecdock.vswitch'], 'ovs0');
      assert.equal(c.labels['ecdock.slot'], '1');
      const cmd = JSON.parse((await sh('docker', ['inspect', '-f', '{{json .Config.Cmd}}', c.id])).stdout);
      assert.deepEqual(cmd, ['sh', '-c', 'echo "two  words" -x --json; exec sh']);
      const eth0 = (await linksOf(c.pid)).find((l) => l.ifname === 'eth0')!;
      assert.equal(eth0.address, '52:00:0a:00:00:01');
      assert.deepEqual(eth0.addr_info!.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`), ['10.0.0.1/24']);
      assert.ok(await pingsFrom(c.pid, '10.0.0.254'), 'the container reaches the gateway');
    });

    it('ec attach 1: typed input reaches the shell, its output comes back, ctrl-p ctrl-q detaches and the container runs on', async () => {
      const before = (await f.docker.inspect('ovs0-s01'))!;
      const pty = ecUnderPty(['attach', '1'], env);
      try {
        await pty.waitFor(/attached to ovs0-s01/);
        const a = randomInt(1000, 9999);
        // Only the shell's arithmetic can print the sum: the echoed input shows just the expression.
        pty.type(`echo mark-$((${a}+1))\r`);
        await pty.waitFor(new RegExp(`mark-${a + 1}`));
        pty.type('hostname\r');
        await pty.waitFor(/\bovs0-s01\r*\n/);
        pty.type('\x10\x11');
        await pty.waitFor(/detached from ovs0-s01/);
        assert.equal(await pty.exited, 0);
      } finally {
        if (pty.proc.exitCode === null) pty.proc.kill('SIGKILL');
      }
      const after = (await f.docker.inspect('ovs0-s01'))!;
      assert.ok(after.running, 'still running after detach');
      assert.equal(after.pid, before.pid);
    });

    it('ec stop 1 removes the container and frees the slot', async () => {
      const r = await ecOk<{ detached: boolean; container: { removed: boolean } }>(['stop', '-t', '0', '1', '--json'], { env });
      assert.equal(r.detached, true);
      assert.equal(r.container.removed, true);
      assert.equal(await f.docker.inspect('ovs0-s01'), undefined);
      assert.deepEqual(await f.portsOf('ovs0'), []);
    });
  });

  it('get-test-images imports the busybox image from the host, and does nothing when it is there', async () => {
    const tag = `ecdock-cli-probe:${f.vswitchName('t')}`;
    try {
      assert.deepEqual(await ecOk(['get-test-images', '--tag', tag, '--json']), { image: tag, imported: true });
      assert.deepEqual(await ecOk(['get-test-images', '--tag', tag, '--json']), { image: tag, imported: false });
    } finally {
      await sh('docker', ['rmi', '-f', tag], { allowFail: true });
    }
  });

  it('three containers started in slots ping each other by slot IP; the slot is picked when --slot is left out', async () => {
    const env = await vswitch();
    const s1 = await ecOk<Started>(['--json', '--slot=1', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    const s2 = await ecOk<Started>(['--json', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    const s3 = await ecOk<Started>(['start', '--json', '--slot=3', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    const started = [s1, s2, s3];
    assert.deepEqual(started.map((s) => s.slot.slot), [1, 2, 3]);
    assert.deepEqual(started.map((s) => s.slot.mac), ['52:00:0a:00:00:01', '52:00:0a:00:00:02', '52:00:0a:00:00:03']);
    for (const from of started) {
      for (const to of started) {
        if (from === to) continue;
        assert.ok(await pingsFrom(from.container.pid, to.slot.ipv4), `${from.container.name} -> ${to.slot.ipv4}`);
      }
    }
    const list = await ecOk<SlotInfo[]>(['list', '--json'], { env });
    assert.deepEqual(
      list.map((s) => [s.slot, s.target?.kind, s.target?.name, s.state]),
      started.map((s) => [s.slot.slot, 'container', s.container.name, 'up']),
    );
  });

  it('--internal and --dual-nic: an internal port; a second NIC eth1 with MAC 52:80 + the IPv4 bytes and no address', async () => {
    const env = await vswitch();
    const name = env.ECDOCK_VSWITCH!;
    const internal = await ecOk<Started>(['--json', '--slot=1', 'start', '--internal', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    assert.equal(internal.slot.portType, 'internal');
    const dual = await ecOk<Started>(['--json', '--slot=2', 'start', '--dual-nic', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    assert.deepEqual(dual.slot.nic2 && { portName: dual.slot.nic2.portName, ifname: dual.slot.nic2.ifname, mac: dual.slot.nic2.mac }, {
      portName: `${name}-o02`,
      ifname: 'eth1',
      mac: '52:80:0a:00:00:02',
    });
    assert.deepEqual(await f.portsOf(name), [`${name}-o02`, `${name}-s01`, `${name}-s02`]);
    const links = await linksOf(dual.container.pid);
    const eth1 = links.find((l) => l.ifname === 'eth1')!;
    assert.equal(eth1.address, '52:80:0a:00:00:02');
    assert.deepEqual((eth1.addr_info ?? []).filter((a) => a.family === 'inet'), []);
    assert.equal(links.find((l) => l.ifname === 'eth0')!.address, '52:00:0a:00:00:02');
    assert.ok(await pingsFrom(dual.container.pid, '10.0.0.1'), 'dual-NIC container -> internal-port container');
    assert.ok(await pingsFrom(internal.container.pid, '10.0.0.2'), 'internal-port container -> dual-NIC container');
    const table = await ecOk(['list'], { env });
    assert.match(table, /\n1\s+10\.0\.0\.1\s+52:00:0a:00:00:01\s+\S+-s01\s+internal\s/);
    assert.match(table, /\n2\s+10\.0\.0\.2\s+52:00:0a:00:00:02 52:80:0a:00:00:02\s+\S+-s02 \S+-o02\s+veth\+nic2\s/);
    await ecOk(['stop', '-t', '0', '2'], { env });
    assert.deepEqual(await f.portsOf(name), [`${name}-s01`]);
  });

  it('docker restart under ec watch: the container pings again with no command; docker rm frees its slot; docker start after stop --no-rm plugs it again', async () => {
    const env = await vswitch();
    const name = env.ECDOCK_VSWITCH!;
    const a = await ecOk<Started>(['--json', '--slot=1', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    const b = await ecOk<Started>(['--json', '--slot=2', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    const watch = new EcProcess(['watch'], { env });
    try {
      await watch.waitFor('stderr', /watching/);
      await sh('docker', ['restart', '-t', '0', a.container.id]);
      await watch.waitFor('stdout', new RegExp(`replugged ${name} slot 1 container ${a.container.name} \\(reattach\\)`));
      assert.match(watch.stdout, new RegExp(`down ${name} slot 1 container ${a.container.name}`));
      const pid = await pidOf(a.container.id);
      assert.notEqual(pid, a.container.pid, 'a new process (and namespace)');
      assert.ok(await pingsFrom(pid, '10.0.0.2'), 'the restarted container reaches slot 2');
      assert.ok(await pingsFrom(b.container.pid, '10.0.0.1'), 'slot 2 reaches the restarted container');
      assert.equal((await linksOf(pid)).find((l) => l.ifname === 'eth0')!.address, '52:00:0a:00:00:01');

      // Removed behind ec's back: the slot is freed.
      await sh('docker', ['rm', '-f', b.container.id]);
      await watch.waitFor('stdout', new RegExp(`freed ${name} slot 2 container ${b.container.name}`));
      await eventually(async () => !(await f.portsOf(name)).includes(`${name}-s02`));

      // Stopped but kept, then started again by hand: plugged afresh, same slot and MAC.
      await ecOk(['stop', '-t', '0', '--no-rm', '1'], { env });
      assert.deepEqual(await f.portsOf(name), []);
      await sh('docker', ['start', a.container.id]);
      await watch.waitFor('stdout', new RegExp(`replugged ${name} slot 1 container ${a.container.name} \\(attach\\)`), 20_000);
      const pid2 = await pidOf(a.container.id);
      assert.ok(await pingsFrom(pid2, '10.0.0.254'), 'plugged again after docker start');
    } finally {
      assert.equal(await watch.stop(), 0, `ec watch ends cleanly on SIGINT: ${watch.stderr}`);
    }
  });

  it('ec restart SLOT plugs the new namespace itself (no watch), and restart SLOT IMAGE replaces the container', async () => {
    const env = await vswitch();
    const a = await ecOk<Started>(['--json', '--slot=1', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    await ecOk<Started>(['--json', '--slot=2', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    const r = await ecOk<Started>(['--json', 'restart', '-t', '0', '1'], { env });
    assert.equal(r.container.id, a.container.id);
    assert.notEqual(r.container.pid, a.container.pid);
    assert.ok(await pingsFrom(r.container.pid, '10.0.0.2'));
    const n = await ecOk<Started>(['--json', '--slot=1', 'restart', '-t', '0', BUSYBOX_IMAGE, 'sleep', '3601'], { env });
    assert.notEqual(n.container.id, a.container.id);
    assert.equal(await f.docker.inspect(a.container.id), undefined, 'the old container is gone');
    assert.ok(await pingsFrom(n.container.pid, '10.0.0.2'));
  });

  it('ctrl-c during ec start undoes it: no container, no port left (or, if it came too late, a complete slot)', async () => {
    const env = await vswitch();
    const name = env.ECDOCK_VSWITCH!;
    const p = new EcProcess(['--slot=1', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    // Interrupt as soon as the container exists: between docker run and the end of plugging.
    await eventually(async () => (await f.docker.inspect(`${name}-s01`)) !== undefined || p.child.exitCode !== null, 20_000, 10);
    p.child.kill('SIGINT');
    const code = await p.exited;
    if (code === 0) {
      assert.deepEqual(await f.portsOf(name), [`${name}-s01`], 'finished before the signal: a complete slot');
      return;
    }
    assert.equal(code, 6, p.stderr);
    assert.match(p.stderr, /interrupted by SIGINT: container \S+-s01 was removed and slot 1 freed \(code INTERRUPTED\)/);
    assert.deepEqual(await f.portsOf(name), []);
    assert.deepEqual(await f.containersOf(name), []);
    assert.ok(!(await f.sandboxLinks()).some((l) => l.startsWith(`${name}-`)));
  });

  it('docker kill, then ec cleanup: no port, no veth, no container left', async () => {
    const env = await vswitch();
    const name = env.ECDOCK_VSWITCH!;
    const a = await ecOk<Started>(['--json', '--slot=1', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    const b = await ecOk<Started>(['--json', '--slot=2', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    await sh('docker', ['kill', a.container.id]);
    const report = await ecOk<{ ports: { slot: number; portName: string }[]; containers: { id: string }[] }>(['cleanup', '--json'], { env });
    assert.deepEqual(report.ports.map((p) => p.portName), [`${name}-s01`]);
    assert.deepEqual(report.containers.map((c) => c.id), [a.container.id]);
    assert.deepEqual(await f.portsOf(name), [`${name}-s02`]);
    assert.ok(!(await f.sandboxLinks()).includes(`${name}-s01`), 'no veth left');
    assert.equal(await f.docker.inspect(a.container.id), undefined, 'no container left');
    assert.ok((await f.docker.inspect(b.container.id))!.running, 'the live one is untouched');
    assert.ok(await pingsFrom(b.container.pid, '10.0.0.254'));
  });

  describe('bad input: a clear message, a distinct exit code, nothing changed', () => {
    let env: Record<string, string>;
    let name: string;
    before(async () => {
      env = await vswitch({ keep: true });
      name = env.ECDOCK_VSWITCH!;
      await ecOk(['--slot=1', 'start', BUSYBOX_IMAGE, 'sleep', '3600'], { env });
    });
    after(async () => {
      await f.removeContainersOf(name);
      await ec(['delete-vswitch', '--force'], { env });
    });

    const cases: [string, string[], Record<string, string>, number, RegExp][] = [
      ['unknown command', ['begin', BUSYBOX_IMAGE], {}, 2, /^ec: unknown command 'begin'/],
      ['unknown option', ['start', '--bogus', BUSYBOX_IMAGE, 'sh'], {}, 2, /unknown option '--bogus'/],
      ['slot 0', ['--slot=0', 'start', BUSYBOX_IMAGE, 'sh'], {}, 2, /slot 0 is not a slot of .* has slots 1\.\.253 .*\(code SLOT_OUT_OF_RANGE\)/],
      ['the gateway slot', ['--slot=254', 'start', BUSYBOX_IMAGE, 'sh'], {}, 2, /gateway.*SLOT_OUT_OF_RANGE/],
      ['slot taken', ['--slot=1', 'start', BUSYBOX_IMAGE, 'sh'], {}, 3, /slot 1 of \S+ is taken by container \S+-s01.*\(code SLOT_TAKEN\)/],
      ['unknown image', ['--slot=5', 'start', 'ecdock-no-such-image:nope', 'sh'], {}, 4, /image 'ecdock-no-such-image:nope' is not in dockerd's image store.*\(code NO_SUCH_IMAGE\)/],
      ['no dockerd', ['--slot=5', 'start', BUSYBOX_IMAGE, 'sh'], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, 5, /cannot reach dockerd.*\(code DOCKER_UNREACHABLE\)/],
      ['no such vswitch', ['--vswitch=nosuchvs', '--slot=5', 'start', BUSYBOX_IMAGE, 'sh'], {}, 4, /NO_SUCH_VSWITCH/],
      ['attach to a free slot', ['attach', '9'], {}, 4, /slot 9 of \S+ holds no container/],
      ['stop of a free slot', ['stop', '9'], {}, 4, /NO_SUCH_SLOT/],
    ];
    for (const [what, args, extraEnv, code, re] of cases) {
      it(`${what}: exit ${code}`, async () => {
        const snap = () => f.snapshot(() => f.containersOf(name));
        const before = await snap();
        const r = await ec(args, { env: { ...env, ...extraEnv } });
        assert.equal(r.code, code, `ec ${args.join(' ')}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
        assert.match(r.stderr, re);
        assert.equal(r.stdout, '');
        assert.equal(await snap(), before, 'nothing changed');
        const j = await ec(['--json', ...args], { env: { ...env, ...extraEnv } });
        assert.equal(j.code, code);
        assert.ok(JSON.parse(j.stdout).error.code, `JSON error: ${j.stdout}`);
      });
    }
  });
});
