// How ec reads its command line, without root or OVS: global options before or after the command,
// ARGS after IMAGE passed verbatim, defaults from the environment, and usage errors as exit 2.
import { strict as assert } from 'node:assert';
import { Command } from 'commander';
import { Context, addGlobalOptions, parseSlot } from '../../src/cli/context';
import { buildProgram, run } from '../../src/cli/program';
import { containerLabels, labelsMatch } from '../../src/follow';
import type { VSwitch } from '../../src/vswitch';

/** Runs `run(argv)` with stderr and stdout captured. */
async function capture(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  let stdout = '';
  let stderr = '';
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  try {
    const code = await run(argv);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** The start command's parse of argv, with its action replaced by a recorder. */
function parseStart(argv: string[]): { image: string; args: string[]; opts: Record<string, unknown>; ctx: Context } {
  const program = buildProgram();
  let seen: { image: string; args: string[]; opts: Record<string, unknown>; ctx: Context } | undefined;
  const start = program.commands.find((c) => c.name() === 'start')!;
  start.action((image: string, args: string[], opts: Record<string, unknown>, cmd: Command) => {
    seen = { image, args, opts, ctx: new Context(cmd.optsWithGlobals(), {}) };
  });
  program.parse(argv, { from: 'user' });
  return seen!;
}

describe('ec command line', () => {
  it("takes ecDock's --slot=N before the command, and after it", () => {
    for (const argv of [
      ['--slot=1', 'start', 'busybox', 'sh'],
      ['start', '--slot=1', 'busybox', 'sh'],
      ['start', '--slot', '1', 'busybox', 'sh'],
    ]) {
      const s = parseStart(argv);
      assert.equal(s.ctx.slotOption, 1, argv.join(' '));
      assert.equal(s.image, 'busybox');
      assert.deepEqual(s.args, ['sh']);
    }
  });

  it('passes everything after IMAGE to the container verbatim, options included', () => {
    const s = parseStart(['--vswitch=ovs1', '--slot=2', 'start', '--internal', '--dual-nic', 'busybox', 'sh', '-c', "echo 'a  b' --json -q", '--slot=9']);
    assert.equal(s.image, 'busybox');
    assert.deepEqual(s.args, ['sh', '-c', "echo 'a  b' --json -q", '--slot=9']);
    assert.equal(s.opts.internal, true);
    assert.equal(s.opts.dualNic, true);
    assert.equal(s.ctx.slotOption, 2);
    assert.equal(s.ctx.vswitchName, 'ovs1');
    assert.equal(s.ctx.out.json, false);
  });

  it('defaults: ECDOCK_DB, ECDOCK_VSWITCH and ECDOCK_NETNS, else the standard socket and ovs0; options win', () => {
    const none = new Context({}, {});
    assert.equal(none.dbUrl, 'unix:/var/run/openvswitch/db.sock');
    assert.equal(none.vswitchName, 'ovs0');
    assert.equal(none.netns, undefined);
    const env = new Context({}, { ECDOCK_DB: 'tcp:127.0.0.1:6640', ECDOCK_VSWITCH: 'br9', ECDOCK_NETNS: '/var/run/netns/x' });
    assert.deepEqual([env.dbUrl, env.vswitchName, env.netns], ['tcp:127.0.0.1:6640', 'br9', '/var/run/netns/x']);
    const opt = new Context({ db: 'unix:/x', vswitch: 'v', netns: '/n' }, { ECDOCK_DB: 'tcp:1.2.3.4:1', ECDOCK_VSWITCH: 'br9' });
    assert.deepEqual([opt.dbUrl, opt.vswitchName, opt.netns], ['unix:/x', 'v', '/n']);
  });

  it('reads slots as numbers and refuses anything else as a usage error', () => {
    assert.equal(parseSlot('7'), 7);
    assert.equal(parseSlot(undefined), undefined);
    for (const bad of ['x', '-1', '1.5', '']) assert.throws(() => parseSlot(bad), { code: 'BAD_ARGUMENT' });
    const ctx = new Context({ slot: '3' }, {});
    assert.equal(ctx.slot(undefined, true), 3);
    assert.equal(ctx.slot('3', true), 3);
    assert.throws(() => ctx.slot('4', true), { code: 'BAD_ARGUMENT' });
    assert.throws(() => new Context({}, {}).slot(undefined, true), { code: 'BAD_ARGUMENT' });
  });

  it('every command has help, and the global options', () => {
    const program = buildProgram();
    const names = program.commands.map((c) => c.name());
    for (const n of ['create-vswitch', 'delete-vswitch', 'start', 'attach', 'stop', 'restart', 'plug', 'unplug', 'list', 'cleanup', 'watch', 'sandbox', 'demo']) {
      assert.ok(names.includes(n), n);
      const c = program.commands.find((x) => x.name() === n)!;
      assert.ok(c.summary() || c.description(), `${n} has a description`);
    }
    const probe = addGlobalOptions(new Command('x'));
    assert.deepEqual(probe.options.map((o) => o.long), ['--db', '--vswitch', '--slot', '--quiet', '--json', '--netns', '--private-key', '--certificate', '--ovn-nb', '--ca-cert']);
  });

  it('unknown commands and options, and no command at all, exit 2 with one line on stderr', async () => {
    const a = await capture(['frobnicate']);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /^ec: unknown command 'frobnicate' \(code BAD_ARGUMENT\)\n/);
    const b = await capture(['list', '--nope']);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /unknown option '--nope'/);
    const c = await capture(['stop', '--slot']);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /argument missing/);
    const d = await capture([]);
    assert.equal(d.code, 2);
    assert.match(d.stderr, /Usage: ec/);
    const h = await capture(['stop', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /--no-rm/);
    assert.match(h.stdout, /Exit codes:/);
  });

  it('labels tie a container to its vswitch by name and identity', () => {
    const vs = { name: 'ovs0', group: 123456 } as unknown as VSwitch;
    const labels = containerLabels(vs, 3, { portType: 'internal', dualNic: true });
    assert.deepEqual(labels, {
      'ecdock.vswitch': 'ovs0',
      'ecdock.slot': '3',
      'ecdock.vswitch-id': '123456',
      'ecdock.port-type': 'internal',
      'ecdock.dual-nic': 'true',
    });
    assert.ok(labelsMatch(labels, vs));
    assert.ok(!labelsMatch(labels, { name: 'ovs0', group: 99 } as unknown as VSwitch), 'a same-named vswitch on another OVS');
    assert.ok(labelsMatch({ 'ecdock.vswitch': 'ovs0', 'ecdock.slot': '1' }, vs), 'no identity recorded: the name decides');
  });
});
