// `ec` without Docker, run as a child process against a private OVS: usage errors and their exit
// codes, create-vswitch (ecDock's default plan, the kernel-datapath error), plug/unplug of plain
// namespaces, list --json, cleanup of a ghost, sandbox up/env/down and the demo.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestNetns, eventually, requireRoot, sh, uniqueName } from '../support/env';
import { CliFixture, ec, ecOk } from '../support/cli';
import type { SlotInfo } from '../../src/slot';

describe('ec (CLI) without Docker', function () {
  this.timeout(60_000);
  let f: CliFixture;
  const namespaces: TestNetns[] = [];

  before(async function () {
    requireRoot(this);
    f = await CliFixture.start();
  });
  after(async () => {
    for (const ns of namespaces) await ns.del();
    await f?.stop();
  });

  async function netns(): Promise<TestNetns> {
    const ns = await TestNetns.create('eccli-');
    namespaces.push(ns);
    return ns;
  }

  describe('usage errors: a clear message, exit code 2', () => {
    it('an unknown command', async () => {
      const r = await ec(['frobnicate'], { env: f.env() });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^ec: unknown command 'frobnicate'/);
      assert.equal(r.stdout, '');
    });

    it('an unknown option, before or after the command', async () => {
      for (const args of [['--bogus', 'list'], ['list', '--bogus']]) {
        const r = await ec(args, { env: f.env() });
        assert.equal(r.code, 2, args.join(' '));
        assert.match(r.stderr, /unknown option '--bogus'/);
      }
    });

    it('no command prints the usage; --help and --version exit 0', async () => {
      const none = await ec([]);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /Usage: ec/);
      const help = await ec(['--help']);
      assert.equal(help.code, 0);
      for (const cmd of ['create-vswitch', 'start', 'attach', 'stop', 'restart', 'plug', 'unplug', 'list', 'cleanup', 'watch', 'sandbox', 'demo']) {
        assert.match(help.stdout, new RegExp(`\\n  ${cmd}\\b`), `--help lists ${cmd}`);
      }
      assert.match(help.stdout, /Exit codes:/);
      const startHelp = await ec(['start', '--help']);
      assert.equal(startHelp.code, 0);
      assert.match(startHelp.stdout, /--dual-nic/);
      assert.match(startHelp.stdout, /--internal/);
      assert.match((await ec(['--version'])).stdout, /^\d+\.\d+\.\d+/);
    });

    it('--json turns a usage error into JSON on stdout', async () => {
      const r = await ec(['--json', 'frobnicate']);
      assert.equal(r.code, 2);
      assert.deepEqual(JSON.parse(r.stdout), { error: { code: 'BAD_ARGUMENT', message: "unknown command 'frobnicate'", kind: 'usage' } });
    });

    it('no ovsdb-server: exit 5 (unavailable)', async () => {
      const r = await ec(['--db', 'unix:/nonexistent/db.sock', 'list']);
      assert.equal(r.code, 5);
      assert.match(r.stderr, /\(code OVSDB_UNREACHABLE\)/);
    });
  });

  describe('create-vswitch', () => {
    it('without --usermode on a host without the openvswitch module: the library error, exit 5, nothing changed', async function () {
      const name = f.vswitchName();
      const before = await f.snapshot();
      const r = await ec(['create-vswitch'], { env: f.env(name) });
      if (r.code === 0) {
        // A host with the kernel module: the kernel datapath works; nothing to check here.
        await ecOk(['delete-vswitch'], { env: f.env(name) });
        this.skip();
      }
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /^ec: .*kernel datapath.*--usermode.*\(code KERNEL_DATAPATH_UNAVAILABLE\)$/m);
      assert.equal(await f.snapshot(), before);
    });

    it('with no arguments makes ecDock\'s plan: 10.0.0.254/24, slot 1 = 10.0.0.1 / 52:00:0a:00:00:01; again is a no-op', async () => {
      const name = f.vswitchName();
      const env = f.env(name);
      const made = await ecOk<Record<string, unknown>>(['--json', 'create-vswitch', '--usermode'], { env });
      assert.equal(made.name, name);
      assert.equal(made.gateway, '10.0.0.254');
      assert.equal(made.usermode, true);
      assert.equal(made.netns, f.sb.netns);
      const human = await ecOk(['create-vswitch', '--usermode', '10.0.0.254/24'], { env });
      assert.match(human, /slot 1: 10\.0\.0\.1 52:00:0a:00:00:01/);
      // A different plan for the same name is a conflict (3).
      const other = await ec(['create-vswitch', '--usermode', '10.9.0.254/24'], { env });
      assert.equal(other.code, 3);
      assert.match(other.stderr, /VSWITCH_PLAN_MISMATCH/);
      const list = await ecOk<unknown[]>(['list-vswitches', '--json'], { env });
      assert.ok(list.some((v) => (v as { name: string }).name === name));
      await ecOk(['delete-vswitch'], { env });
    });

    it('accepts the name first, as the original usage text showed it, and --ipv6 with ecDock\'s default prefix', async () => {
      const name = f.vswitchName();
      const made = await ecOk<Record<string, unknown>>(['--json', 'create-vswitch', '--usermode', '--ipv6', name, '172.16.5.1/16'], { env: f.env() });
      assert.equal(made.name, name);
      assert.equal(made.gateway, '172.16.5.1');
      assert.equal(made.ipv6Prefix, '2001:db8::/64');
      const bad = await ec(['create-vswitch', '--usermode', '10.0.0.300/24'], { env: f.env(f.vswitchName()) });
      assert.equal(bad.code, 2);
      await ecOk(['delete-vswitch', name], { env: f.env() });
    });
  });

  describe('plug, unplug, list, cleanup on plain namespaces', () => {
    let name: string;
    let env: Record<string, string>;
    before(async () => {
      name = f.vswitchName();
      env = f.env(name);
      await ecOk(['create-vswitch', '--usermode'], { env });
    });
    after(async () => {
      await ec(['delete-vswitch', '--force'], { env });
    });

    it('plug --netns NAME and --pid PID give slots 1 and 2 that ping each other and the gateway; list --json parses', async () => {
      const a = await netns();
      const b = await netns();
      const s1 = await ecOk<SlotInfo>(['--json', 'plug', '--netns', a.name], { env });
      assert.equal(s1.slot, 1);
      assert.equal(s1.ipv4, '10.0.0.1');
      assert.equal(s1.mac, '52:00:0a:00:00:01');
      // A process living in b: plugged by its pid.
      const sleeper = spawn('ip', ['netns', 'exec', b.name, 'sleep', '60'], { stdio: 'ignore' });
      try {
        await eventually(async () => (await sh('readlink', [`/proc/${sleeper.pid}/ns/net`])).stdout.trim() !== (await sh('readlink', ['/proc/self/ns/net'])).stdout.trim());
        const s2 = await ecOk<SlotInfo>(['--json', 'plug', '--pid', String(sleeper.pid)], { env });
        assert.equal(s2.slot, 2);
        assert.equal(s2.target?.kind, 'pid');
        assert.ok(await a.ping('10.0.0.2', { count: 1, timeoutS: 2 }) || (await a.ping('10.0.0.2')), 'slot 1 -> slot 2');
        assert.ok(await b.ping('10.0.0.1'), 'slot 2 -> slot 1');
        assert.ok(await a.ping('10.0.0.254'), 'slot 1 -> gateway');
        const list = await ecOk<SlotInfo[]>(['list', '--json'], { env });
        assert.deepEqual(
          list.map((s) => [s.slot, s.ipv4, s.mac, s.portName, s.state]),
          [
            [1, '10.0.0.1', '52:00:0a:00:00:01', `${name}-s01`, 'up'],
            [2, '10.0.0.2', '52:00:0a:00:00:02', `${name}-s02`, 'up'],
          ],
        );
        const table = await ecOk(['list'], { env });
        assert.match(table, /^SLOT\s+IP\s+MAC\s+PORT\s+TYPE\s+TARGET\s+STATE\n/);
        assert.match(table, new RegExp(`\\n1\\s+10\\.0\\.0\\.1\\s+52:00:0a:00:00:01\\s+${name}-s01\\s+veth\\s+/var/run/netns/${a.name}\\s+up`));
        assert.match(table, new RegExp(`\\n2\\s+10\\.0\\.0\\.2\\s+52:00:0a:00:00:02\\s+${name}-s02\\s+veth\\s+pid ${sleeper.pid}\\s+up`));
      } finally {
        sleeper.kill('SIGKILL');
      }
      await ecOk(['unplug', '2'], { env });
      await ecOk(['--slot=1', 'unplug'], { env });
      assert.deepEqual(await f.portsOf(name), []);
      assert.deepEqual((await f.sandboxLinks()).filter((l) => l.startsWith(name + '-')), []);
    });

    it('bad plugs change nothing: taken slot (3), no target (2), missing namespace (4), slot 0 (2), unplug of a free slot (4)', async () => {
      const a = await netns();
      const b = await netns();
      await ecOk(['--slot=1', 'plug', '--netns', a.path], { env });
      const before = await f.snapshot();
      const cases: [string[], number, RegExp][] = [
        [['--slot=1', 'plug', '--netns', b.path], 3, /slot 1 of .* is taken/],
        [['plug', '--slot', '1', '--netns', b.path], 3, /SLOT_TAKEN/],
        [['plug'], 2, /give exactly one of --pid/],
        [['plug', '--netns', b.path, '--pid', '1'], 2, /exactly one/],
        [['plug', '--netns', '/var/run/netns/does-not-exist-' + uniqueName('')], 4, /\(code NETNS_GONE\)|\(code NO_SUCH/],
        [['--slot=0', 'plug', '--netns', b.path], 2, /slot 0 is not a slot of .* has slots 1\.\.253/],
        [['--slot=x', 'plug', '--netns', b.path], 2, /slot must be a number/],
        [['unplug', '7'], 4, /NO_SUCH_SLOT/],
        [['unplug'], 2, /which slot/],
        [['--vswitch', 'nosuchvs', 'list'], 4, /NO_SUCH_VSWITCH/],
      ];
      for (const [args, code, re] of cases) {
        const r = await ec(args, { env });
        assert.equal(r.code, code, `ec ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, re, args.join(' '));
        assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
        assert.equal(await f.snapshot(), before, `ec ${args.join(' ')} changed nothing`);
      }
      const j = await ec(['--json', '--slot=1', 'plug', '--netns', b.path], { env });
      assert.equal(j.code, 3);
      assert.equal(JSON.parse(j.stdout).error.code, 'SLOT_TAKEN');
      await ecOk(['unplug', '1'], { env });
    });

    it('cleanup removes the port of a namespace that is gone, and only that', async () => {
      const a = await netns();
      const b = await netns();
      await ecOk(['--slot=3', 'plug', '--netns', a.path], { env });
      await ecOk(['--slot=4', 'plug', '--netns', b.path], { env });
      await a.del();
      await eventually(async () => (await ecOk<SlotInfo[]>(['list', '--json'], { env })).find((s) => s.slot === 3)?.state === 'ghost');
      const report = await ecOk<{ ports: { slot: number; portName: string }[] }>(['cleanup', '--json'], { env });
      assert.deepEqual(
        report.ports.map((p) => p.slot),
        [3],
      );
      assert.deepEqual(await f.portsOf(name), [`${name}-s04`]);
      assert.ok(!(await f.sandboxLinks()).includes(`${name}-s03`));
      assert.match(await ecOk(['cleanup'], { env }), /nothing to clean up/);
      await ecOk(['unplug', '4'], { env });
    });
  });

  describe('sandbox', () => {
    it('up prints eval-able exports, up again and env repeat them, down leaves nothing behind', async () => {
      const dir = join(tmpdir(), uniqueName('ecdock-cli-sb-'));
      try {
        const up = await ecOk(['sandbox', 'up', '--dir', dir]);
        assert.match(up, /^export ECDOCK_DB='unix:.*db\.sock'$/m);
        assert.match(up, /^export ECDOCK_NETNS='\/var\/run\/netns\/ecdock-sb-[0-9a-f]+'$/m);
        const env = Object.fromEntries([...up.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
        // The exports work: a vswitch made with them lands in the sandbox, in its netns.
        const name = uniqueName('sb');
        await ecOk(['create-vswitch', '--usermode'], { env: { ...env, ECDOCK_VSWITCH: name } });
        const shown = await sh('ovs-vsctl', [`--db=${env.ECDOCK_DB}`, 'br-exists', name], { allowFail: true });
        assert.equal(shown.code, 0);
        const again = await ec(['sandbox', 'up', '--dir', dir]);
        assert.equal(again.code, 0);
        assert.equal(again.stdout, up);
        assert.match(again.stderr, /already running/);
        assert.equal((await ecOk(['sandbox', 'env', '--dir', dir])), up);
        const j = await ecOk<{ env: Record<string, string> }>(['sandbox', 'env', '--dir', dir, '--json']);
        assert.equal(j.env.ECDOCK_DB, env.ECDOCK_DB);
        assert.match(await ecOk(['sandbox', 'down', '--dir', dir]), /stopped/);
        assert.ok(!existsSync(dir), 'run dir removed');
        assert.equal((await sh('ip', ['netns', 'list'])).stdout.includes(env.ECDOCK_NETNS!.split('/').pop()!), false, 'netns removed');
        const again2 = await ec(['sandbox', 'down', '--dir', dir]);
        assert.equal(again2.code, 0);
        assert.match(again2.stdout, /nothing to stop/);
        const gone = await ec(['sandbox', 'env', '--dir', dir]);
        assert.equal(gone.code, 5);
        assert.match(gone.stderr, /no sandbox is running/);
      } finally {
        await ec(['sandbox', 'down', '--dir', dir]);
      }
    });
  });

  describe('demo', () => {
    it('exits 0, prints a full ✓ ping matrix, and leaves no namespace behind', async () => {
      const before = (await sh('ip', ['netns', 'list'])).stdout;
      const r = await ec(['demo'], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /FROM \\ TO\s+10\.0\.0\.1\s+10\.0\.0\.2\s+10\.0\.0\.3\s+10\.0\.0\.254 \(gw\)\s+TCP 256K to slots/);
      for (const n of [1, 2, 3]) assert.match(r.stdout, new RegExp(`slot ${n} 10\\.0\\.0\\.${n}(\\s+[✓·]){4}\\s+✓ 2/2\\n`));
      assert.equal((r.stdout.match(/✓/g) ?? []).length, 12);
      assert.doesNotMatch(r.stdout, /✗/);
      assert.match(r.stdout, /all 9 pings answered; all 6 TCP transfers arrived whole/);
      assert.match(r.stderr, /nothing left behind/);
      const after = (await sh('ip', ['netns', 'list'])).stdout;
      const mine = (s: string) => s.split('\n').filter((l) => l.startsWith('ecdemo-'));
      assert.deepEqual(mine(after).filter((l) => !mine(before).includes(l)), []);
    });
  });
});
