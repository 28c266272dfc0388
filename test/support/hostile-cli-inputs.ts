// The hostile-input table of issue 6, CLI part (src/cli/, `ec`).
//
// Each row runs the built `ec --json` as a child process against the fixture's sandbox
// (ctx.f.sb.dbUrl, ctx.vs.name, ECDOCK_NETNS = the sandbox's namespace) with one bad input, and
// turns the `{"error":{"code","message","kind"}}` it prints on stdout into an EcdockError with that
// code, so that the runner in test/integration/hardening-input.test.ts checks the code, the message
// and the unchanged OVSDB + kernel snapshot exactly as it does for the API rows. Beyond the code,
// `ecFails` requires what a script relies on: stdout is that one JSON line and nothing else, the
// exit code is the one docs/CLI.md gives for the error's kind (never 0, never 70), and no stack
// trace reaches stderr. Anything else (a success, no JSON, a wrong exit code) is thrown as a plain
// Error, which the runner reports as a failure.
//
// Docker rows (`start` with an unknown image, metacharacters in IMAGE/ARGS reaching Docker as data)
// live in test/integration/cli-docker.test.ts, which needs dockerd; none here does.
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EcdockError, type ErrorCode } from '../../src/errors';
import { EXIT } from '../../src/cli/exit-codes';
import { ec } from './cli';
import type { HostileContext, HostileRow } from './hostile-inputs';

interface RunOptions {
  /** --db (default: the sandbox's); false: none on the command line. */
  db?: string | false;
  /** --vswitch (default: the fixture's vswitch); false: none on the command line. */
  vswitch?: string | false;
  env?: Record<string, string | undefined>;
}

/**
 * `ec --json [--db URL] [--vswitch NAME] ARGS` that must fail: resolves only if it succeeded (with
 * its output, for the runner's message), else throws the EcdockError it reported.
 */
async function ecFails(c: HostileContext, args: string[], o: RunOptions = {}): Promise<unknown> {
  const db = o.db ?? c.f.sb.dbUrl;
  const vswitch = o.vswitch ?? c.vs.name;
  const argv = ['--json', ...(db === false ? [] : ['--db', db]), ...(vswitch === false ? [] : ['--vswitch', vswitch]), ...args];
  const r = await ec(argv, {
    timeoutMs: 20_000,
    // Only what the row gives: no ECDOCK_DB/ECDOCK_VSWITCH of the machine running the tests.
    env: { ECDOCK_DB: undefined, ECDOCK_VSWITCH: undefined, DOCKER_HOST: undefined, ECDOCK_NETNS: c.f.sb.netns!, ...o.env },
  });
  const shown = `ec ${JSON.stringify(argv)} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  if (r.code === 0) return { exit: 0, stdout: r.stdout.slice(0, 300) };
  const lines = r.stdout.split('\n').filter(Boolean);
  if (lines.length !== 1) throw new Error(`stdout should be one JSON error line: ${shown}`);
  let parsed: { error?: { code?: string; message?: string; kind?: string } };
  try {
    parsed = JSON.parse(lines[0]!);
  } catch {
    throw new Error(`stdout is not JSON: ${shown}`);
  }
  const e = parsed.error;
  if (!e || typeof e.code !== 'string' || typeof e.message !== 'string') throw new Error(`no {"error":{code,message}} on stdout: ${shown}`);
  const err = new EcdockError(e.code as ErrorCode, e.message, { detail: { argv, exit: r.code, stderr: r.stderr } });
  if (e.kind !== err.kind) throw new Error(`kind ${e.kind} does not match code ${e.code} (${err.kind}): ${shown}`);
  if (r.code !== EXIT[err.kind]) throw new Error(`exit code ${r.code}, docs/CLI.md says ${EXIT[err.kind]} for ${err.kind}: ${shown}`);
  if (/\n\s+at /.test(r.stderr)) throw new Error(`a stack trace on stderr: ${shown}`);
  throw err;
}

const cli = (kind: string, what: string, code: ErrorCode, run: HostileRow['run'], skip?: HostileRow['skip']): HostileRow => ({
  surface: 'cli',
  kind,
  what,
  code,
  run,
  ...(skip ? { skip } : {}),
});

/** `ec --vswitch NAME create-vswitch --usermode ARGS`, NAME a fresh one unless given. */
const create = (c: HostileContext, args: string[], o: RunOptions = {}) => ecFails(c, ['create-vswitch', '--usermode', ...args], { vswitch: 'hxc0', ...o });
/** `ec plug ARGS` into the fixture's vswitch (targets the free namespace unless ARGS name one). */
const plug = (c: HostileContext, args: string[], o: RunOptions = {}) =>
  ecFails(c, ['plug', ...(args.some((a) => /^--(pid|netns|container)\b/.test(a)) ? [] : ['--netns', c.free.path]), ...args], o);

/** A command that a shell would run if ec ever handed an argument to one; the row fails if it ran. */
function marker(): string {
  return join(tmpdir(), `ecdock-hostile-ran-${process.pid}`);
}
async function noShell(run: () => Promise<unknown>): Promise<unknown> {
  // A shell that ran is the worse failure, so it wins over whatever run() threw.
  const outcome = await run().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (existsSync(marker())) throw new Error(`a shell ran: ${marker()} exists`);
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}

/** The test runner shares ec's network namespace (the host's, as the library sees it). */
function sameNetns(pid: number | 'self'): boolean {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino === statSync('/proc/self/ns/net').ino;
  } catch {
    return false;
  }
}

export const CLI_ROWS: HostileRow[] = [
  // ---- create-vswitch: IP/MASK (only shapes that look like an address: others are a NAME) ----
  cli('address', 'create-vswitch 256.78.0.254/24 (an octet of 256)', 'BAD_SUBNET', (c) => create(c, ['256.78.0.254/24'])),
  cli('address', 'create-vswitch 10.78.0.254 (no prefix length)', 'BAD_SUBNET', (c) => create(c, ['10.78.0.254'])),
  cli('address', 'create-vswitch banana/24', 'BAD_SUBNET', (c) => create(c, ['banana/24'])),
  cli('prefix', 'create-vswitch 10.78.0.254/33', 'BAD_SUBNET', (c) => create(c, ['10.78.0.254/33'])),
  cli('prefix', 'create-vswitch 10.78.0.254/ (an empty prefix length)', 'BAD_SUBNET', (c) => create(c, ['10.78.0.254/'])),
  cli('prefix', 'create-vswitch --ipv6 2001:db8::1/64 (host bits set)', 'BAD_SUBNET', (c) => create(c, ['--ipv6', '2001:db8::1/64', '10.78.0.254/24'])),
  cli('prefix', 'create-vswitch --ipv6 fe80-zz::/64 (not IPv6)', 'BAD_SUBNET', (c) => create(c, ['--ipv6', 'fe80-zz::/64'])),
  // ---- create-vswitch: other options and arguments ----
  cli('mtu', 'create-vswitch --mtu 67', 'BAD_MTU', (c) => create(c, ['--mtu', '67', '10.78.0.254/24'])),
  cli('mtu', 'create-vswitch --mtu 1500abc', 'BAD_MTU', (c) => create(c, ['--mtu', '1500abc'])),
  cli('ifname', 'create-vswitch with a DEVICE of 16 bytes', 'BAD_IFNAME', (c) => create(c, ['10.78.0.254/24', 'abcdefghijklmnop'])),
  cli('argument', 'create-vswitch IP/MASK DEVICE EXTRA (too many arguments)', 'BAD_ARGUMENT', (c) => create(c, ['10.78.0.254/24', 'eth9', 'extra'])),
  cli('path', 'create-vswitch --netns of a regular file', 'NOT_A_NETNS', (c) => create(c, ['--netns', '/etc/hostname', '10.78.0.254/24'])),
  cli('state', 'create-vswitch over the bridge ecdock did not make', 'NOT_OURS', (c) => create(c, ['10.78.0.254/24'], { vswitch: c.foreign })),
  cli('state', 'create-vswitch over the fixture vswitch with another plan', 'VSWITCH_PLAN_MISMATCH', (c) => create(c, ['10.79.0.254/24'], { vswitch: c.vs.name })),
  cli('state', "create-vswitch on a subnet overlapping another vswitch's (same netns)", 'SUBNET_IN_USE', (c) => create(c, ['10.77.0.126/25'])),
  // ---- vswitch names ----
  cli('name', '--vswitch of 16 bytes (create-vswitch)', 'BAD_NAME', (c) => create(c, ['10.78.0.254/24'], { vswitch: 'abcdefghijklmnop' })),
  cli('name', '--vswitch of odd bytes (create-vswitch)', 'BAD_NAME', (c) => create(c, ['10.78.0.254/24'], { vswitch: 'sw\u00e9\u00ff\u0001' })),
  cli('name', '--vswitch= (empty, create-vswitch must not fall back to ovs0)', 'BAD_NAME', (c) => create(c, ['10.78.0.254/24'], { vswitch: '' })),
  cli('name', "--vswitch 'a;rm -rf /' (create-vswitch)", 'BAD_NAME', (c) => noShell(() => create(c, ['10.78.0.254/24'], { vswitch: 'a;rm -rf /' }))),
  cli('name', '--vswitch with $(touch ...) (plug)', 'BAD_NAME', (c) => noShell(() => plug(c, [], { vswitch: `$(touch ${marker()})` }))),
  cli('state', 'delete-vswitch of a vswitch that does not exist', 'NO_SUCH_VSWITCH', (c) => ecFails(c, ['delete-vswitch', 'nosuchvs'], { vswitch: false })),
  cli('state', 'delete-vswitch with slot 1 attached, without --force', 'SLOT_TAKEN', (c) => ecFails(c, ['delete-vswitch'])),
  // ---- slot numbers ----
  cli('slot', '--slot=0', 'SLOT_OUT_OF_RANGE', (c) => plug(c, ['--slot=0'])),
  cli('slot', '--slot=abc', 'BAD_ARGUMENT', (c) => plug(c, ['--slot=abc'])),
  cli('slot', '--slot=65536', 'SLOT_OUT_OF_RANGE', (c) => plug(c, ['--slot=65536'])),
  cli('slot', '--slot= (empty)', 'BAD_ARGUMENT', (c) => plug(c, ['--slot='])),
  cli('slot', '--slot=1.5', 'BAD_ARGUMENT', (c) => plug(c, ['--slot=1.5'])),
  cli('slot', '--slot=--help (an option as the value: no help, no exit 0)', 'BAD_ARGUMENT', (c) => plug(c, ['--slot=--help'])),
  cli('slot', '--slot=1, which is taken', 'SLOT_TAKEN', (c) => plug(c, ['--slot=1'])),
  cli('slot', 'unplug of a free slot', 'NO_SUCH_SLOT', (c) => ecFails(c, ['unplug', '9'])),
  cli('slot', 'unplug without a slot', 'BAD_ARGUMENT', (c) => ecFails(c, ['unplug'])),
  // ---- plug targets ----
  cli('target', 'plug without a target', 'BAD_TARGET', (c) => ecFails(c, ['plug'])),
  cli('target', 'plug with --pid and --netns', 'BAD_TARGET', (c) => plug(c, ['--pid', String(process.pid), '--netns', c.free.path])),
  cli('target', 'plug --pid of a dead process', 'NETNS_GONE', (c) => plug(c, ['--pid', String(c.deadPid)])),
  cli('target', 'plug --pid abc', 'BAD_TARGET', (c) => plug(c, ['--pid', 'abc'])),
  cli('path', "plug --pid of the test runner (the host's namespace)", 'HOST_NETNS_REFUSED', (c) => plug(c, ['--pid', String(process.pid)])),
  cli('path', 'plug --pid 1 (the host)', 'HOST_NETNS_REFUSED', (c) => plug(c, ['--pid', '1']), () => (sameNetns(1) ? undefined : "pid 1's namespace is not readable here or not ours")),
  cli('path', 'plug --netns /proc/self/ns/net (ec itself)', 'HOST_NETNS_REFUSED', (c) => plug(c, ['--netns', '/proc/self/ns/net'])),
  cli('path', 'plug --netns of a regular file', 'NOT_A_NETNS', (c) => plug(c, ['--netns', c.files.notPem])),
  cli('path', 'plug --netns of a directory', 'NOT_A_NETNS', (c) => plug(c, ['--netns', c.files.dir])),
  cli('path', 'plug --netns of a missing path', 'NETNS_GONE', (c) => plug(c, ['--netns', c.files.missing])),
  cli('path', 'plug --netns NAME that "ip netns" does not know', 'NETNS_GONE', (c) => plug(c, ['--netns', 'ecdock-no-such-ns'])),
  cli('path', "plug --netns 'x;touch ...' (a name with metacharacters)", 'NETNS_GONE', (c) => noShell(() => plug(c, ['--netns', `x;touch ${marker()}`]))),
  // ---- plug options ----
  cli('ifname', 'plug --ifname of 16 bytes', 'BAD_IFNAME', (c) => plug(c, ['--ifname', 'abcdefghijklmnop'])),
  cli('ifname', 'plug --ifname of 8 characters and 16 bytes', 'BAD_IFNAME', (c) => plug(c, ['--ifname', '\u00e9'.repeat(8)])),
  cli('ifname', 'plug --ifname= (empty, must not fall back to eth0)', 'BAD_IFNAME', (c) => plug(c, ['--ifname='])),
  cli('ifname', "plug --ifname 'eth 0' (a space; ';' and the like are legal in a Linux name)", 'BAD_IFNAME', (c) => plug(c, ['--ifname', 'eth 0'])),
  cli('ifname', 'plug --ifname lo (exists in the target)', 'LINK_EXISTS', (c) => plug(c, ['--ifname', 'lo'])),
  cli('vlan', 'plug --vlan 4096', 'BAD_VLAN', (c) => plug(c, ['--vlan', '4096'])),
  cli('vlan', 'plug --vlan ten', 'BAD_VLAN', (c) => plug(c, ['--vlan', 'ten'])),
  cli('mtu', 'plug --mtu 67', 'BAD_MTU', (c) => plug(c, ['--mtu', '67'])),
  // ---- OVSDB URLs ----
  cli('url', '--db http://127.0.0.1:6640/', 'BAD_URL', (c) => ecFails(c, ['list'], { db: 'http://127.0.0.1:6640/' })),
  cli('url', '--db unix: (no path)', 'BAD_URL', (c) => ecFails(c, ['list'], { db: 'unix:' })),
  cli('url', '--db= (empty, must not fall back to $ECDOCK_DB)', 'BAD_URL', (c) => ecFails(c, ['list'], { db: '', env: { ECDOCK_DB: c.f.sb.dbUrl } })),
  cli('url', 'a garbage $ECDOCK_DB', 'BAD_URL', (c) => ecFails(c, ['list'], { db: false, env: { ECDOCK_DB: 'carrier-pigeon:coop' } })),
  cli('url', '--db tcp: to a port where nothing listens', 'OVSDB_UNREACHABLE', (c) => ecFails(c, ['list'], { db: `tcp:127.0.0.1:${c.closedPort}` })),
  // ec has no options for TLS files: an ssl: remote has no CA to verify the server with.
  cli('tls', '--db ssl: (ec takes no CA)', 'BAD_TLS_FILES', (c) => ecFails(c, ['list'], { db: `ssl:127.0.0.1:${c.closedPort}` })),
  // ---- commander's own usage errors (JSON too, with the usage code) ----
  cli('usage', 'an unknown command', 'BAD_ARGUMENT', (c) => ecFails(c, ['frobnicate'])),
  cli('usage', 'an unknown option', 'BAD_ARGUMENT', (c) => ecFails(c, ['list', '--bogus'])),
  cli('usage', 'an option without its value (--db last)', 'BAD_ARGUMENT', (c) => ecFails(c, ['list', '--db'], { db: false })),
  cli('usage', 'unplug 1 2 (an extra argument)', 'BAD_ARGUMENT', (c) => ecFails(c, ['unplug', '1', '2'])),
  cli('usage', 'no command at all (--json still gets JSON)', 'BAD_ARGUMENT', (c) => ecFails(c, [])),
];
