// The hostile-input table of issue 6, API part: bad addresses, prefixes, slot numbers, names of 16
// bytes or odd bytes, paths that are not network namespaces, the host's own namespace, dead pids,
// wrong URLs, bad TLS files. Each row names the stable error code it must get; the runner
// (test/integration/hardening-input.test.ts) also checks that OVSDB and the kernel's links are
// unchanged after it. The CLI's rows live in hostile-cli-inputs.ts, run by the same runner.
import type { ErrorCode } from '../../src/errors';
import { OvsdbClient } from '../../src/ovsdb/client';
import { DockerRuntime } from '../../src/runtime/docker';
import { VSwitch } from '../../src/vswitch';
import type { TestNetns } from './env';
import type { SwitchFixture } from './switch';

export interface HostileContext {
  f: SwitchFixture;
  /** A vswitch (10.77.0.254/24) with slot 1 attached to `attached`. */
  vs: VSwitch;
  attached: TestNetns;
  /** A namespace with nothing in it but lo. */
  free: TestNetns;
  /** A bridge ecdock did not create. */
  foreign: string;
  /** A pid that was alive a moment ago and is not now. */
  deadPid: number;
  /** Files in a temp dir: a file that is not PEM, a directory, a PEM cert/key pair. */
  files: { notPem: string; dir: string; cert: string; key: string; missing: string };
  /** A TCP port on 127.0.0.1 where nothing listens. */
  closedPort: number;
}

export interface HostileRow {
  surface: 'api' | 'cli';
  /** What kind of input: address, prefix, slot, name, ifname, path, target, url, tls, ... */
  kind: string;
  what: string;
  code: ErrorCode;
  run(ctx: HostileContext): Promise<unknown>;
  /** A reason to skip the row on this machine (e.g. no dockerd), or undefined. */
  skip?(ctx: HostileContext): Promise<string | undefined> | string | undefined;
}

const api = (kind: string, what: string, code: ErrorCode, run: HostileRow['run'], skip?: HostileRow['skip']): HostileRow => ({
  surface: 'api',
  kind,
  what,
  code,
  run,
  ...(skip ? { skip } : {}),
});

/** VSwitch.create with `o` over sane defaults (a fresh name, a valid subnet, the sandbox netns). */
function create(ctx: HostileContext, o: Record<string, unknown>): Promise<VSwitch> {
  return VSwitch.create(ctx.f.ovs, { name: 'hx0', subnet: '10.78.0.254/24', usermode: true, netns: ctx.f.sb.netns, ...o } as never);
}

function attach(ctx: HostileContext, o: Record<string, unknown>): Promise<unknown> {
  return ctx.vs.attach({ target: { netns: ctx.free.path }, ...o } as never);
}

/** Connects and closes at once if it unexpectedly worked (so the row fails, but leaks nothing). */
async function connect(url: string | undefined, o: Parameters<typeof OvsdbClient.connect>[1] = {}): Promise<void> {
  const c = await OvsdbClient.connect(url, { reconnect: false, timeoutMs: 3000, ...o });
  c.close();
}

let docker: Promise<string | undefined> | undefined;
/** Rows that need dockerd skip without it (the CI starts one). */
function noDocker(): Promise<string | undefined> {
  docker ??= new DockerRuntime({ timeoutMs: 3000 }).ping().then(
    () => undefined,
    () => 'dockerd is not reachable',
  );
  return docker;
}

export const API_ROWS: HostileRow[] = [
  // ---- vswitch names (a bridge is a network device: 1..11 bytes so that <name>-sNN fits 15) ----
  api('name', 'a vswitch name of 16 characters', 'BAD_NAME', (c) => create(c, { name: 'abcdefghijklmnop' })),
  api('name', 'a vswitch name of 12 characters (its ports would exceed 15 bytes)', 'BAD_NAME', (c) => create(c, { name: 'abcdefghijkl' })),
  api('name', 'an empty vswitch name', 'BAD_NAME', (c) => create(c, { name: '' })),
  api('name', 'a vswitch name with a slash', 'BAD_NAME', (c) => create(c, { name: 'a/b' })),
  api('name', 'a vswitch name with a space', 'BAD_NAME', (c) => create(c, { name: 'a b' })),
  api('name', 'a vswitch name with a NUL byte', 'BAD_NAME', (c) => create(c, { name: 'ab\u0000c' })),
  api('name', 'a vswitch name with non-ASCII bytes', 'BAD_NAME', (c) => create(c, { name: 'sw\u00e9\u00ff' })),
  api('name', 'a vswitch name with a newline', 'BAD_NAME', (c) => create(c, { name: 'ab\ncd' })),
  api('name', 'the vswitch name ".."', 'BAD_NAME', (c) => create(c, { name: '..' })),
  api('name', 'a vswitch name that is a number', 'BAD_NAME', (c) => create(c, { name: 42 })),
  api('name', 'a vswitch name too long for a /16 (ports up to -s65533)', 'BAD_NAME', (c) => create(c, { name: 'abcdefghi', subnet: '10.78.255.254/16' })),
  api('name', 'open of a vswitch name with a slash', 'BAD_NAME', (c) => VSwitch.open(c.f.ovs, 'a/b')),
  // ---- addresses and prefixes ----
  api('address', 'a subnet that is not an address', 'BAD_SUBNET', (c) => create(c, { subnet: 'banana' })),
  api('address', 'a gateway without a prefix length', 'BAD_SUBNET', (c) => create(c, { subnet: '10.78.0.254' })),
  api('address', 'an octet of 256', 'BAD_SUBNET', (c) => create(c, { subnet: '256.78.0.254/24' })),
  api('address', 'an octet with a leading zero (octal to some parsers)', 'BAD_SUBNET', (c) => create(c, { subnet: '010.78.0.254/24' })),
  api('address', 'an IPv6 address as the IPv4 subnet', 'BAD_SUBNET', (c) => create(c, { subnet: '2001:db8::fe/64' })),
  api('address', 'the network address as gateway', 'BAD_SUBNET', (c) => create(c, { subnet: '10.78.0.0/24' })),
  api('address', 'the broadcast address as gateway', 'BAD_SUBNET', (c) => create(c, { subnet: '10.78.0.255/24' })),
  api('address', 'a subnet that is not a string', 'BAD_SUBNET', (c) => create(c, { subnet: 0x0a4e00fe })),
  api('prefix', 'prefix /33', 'BAD_SUBNET', (c) => create(c, { subnet: '10.78.0.254/33' })),
  api('prefix', 'prefix /31 (no room for a slot)', 'BAD_SUBNET', (c) => create(c, { subnet: '10.78.0.1/31' })),
  api('prefix', 'prefix /7', 'BAD_SUBNET', (c) => create(c, { subnet: '10.78.0.254/7' })),
  api('prefix', 'prefix /-1', 'BAD_SUBNET', (c) => create(c, { subnet: '10.78.0.254/-1' })),
  api('prefix', 'an IPv6 prefix that is not IPv6', 'BAD_SUBNET', (c) => create(c, { ipv6Prefix: 'fe80-zz::/64' })),
  api('prefix', 'an IPv6 prefix /120 (no room for the IPv4 bits)', 'BAD_SUBNET', (c) => create(c, { ipv6Prefix: '2001:db8::/120' })),
  api('prefix', 'an IPv6 prefix with host bits set', 'BAD_SUBNET', (c) => create(c, { ipv6Prefix: '2001:db8::1/64' })),
  api('prefix', 'an IPv6 prefix without a length', 'BAD_SUBNET', (c) => create(c, { ipv6Prefix: '2001:db8::' })),
  // ---- other create options ----
  api('mtu', 'vswitch MTU 67', 'BAD_MTU', (c) => create(c, { mtu: 67 })),
  api('mtu', 'vswitch MTU as a string', 'BAD_MTU', (c) => create(c, { mtu: '1500' })),
  api('ifname', 'an uplink name of 16 bytes', 'BAD_IFNAME', (c) => create(c, { uplink: 'abcdefghijklmnop' })),
  api('ifname', 'an uplink name with a slash', 'BAD_IFNAME', (c) => create(c, { uplink: 'eth0/1' })),
  api('path', 'a vswitch netns that does not exist', 'NETNS_GONE', (c) => create(c, { netns: '/var/run/netns/ecdock-no-such-ns' })),
  api('path', 'a vswitch netns that is a regular file', 'NOT_A_NETNS', (c) => create(c, { netns: '/etc/hostname' })),
  api('path', 'a vswitch netns that is a mount namespace', 'NOT_A_NETNS', (c) => create(c, { netns: '/proc/self/ns/mnt' })),
  api('state', 'create over an existing vswitch with another plan', 'VSWITCH_PLAN_MISMATCH', (c) => create(c, { name: c.vs.name, subnet: '10.79.0.254/24' })),
  api('state', "create over a bridge ecdock did not make", 'NOT_OURS', (c) => create(c, { name: c.foreign })),
  api('state', "a subnet overlapping another vswitch's in the same namespace", 'SUBNET_IN_USE', (c) => create(c, { subnet: '10.77.0.126/25' })),
  api('state', 'open of a vswitch that does not exist', 'NO_SUCH_VSWITCH', (c) => VSwitch.open(c.f.ovs, 'nosuchvs')),
  api('state', "open of a bridge ecdock did not make", 'NOT_OURS', (c) => VSwitch.open(c.f.ovs, c.foreign)),
  api('argument', 'create without options', 'BAD_ARGUMENT', (c) => VSwitch.create(c.f.ovs, undefined as never)),
  // ---- slot numbers ----
  api('slot', 'slot 0', 'SLOT_OUT_OF_RANGE', (c) => attach(c, { slot: 0 })),
  api('slot', 'slot -1', 'SLOT_OUT_OF_RANGE', (c) => attach(c, { slot: -1 })),
  api('slot', 'slot 255 (the broadcast address)', 'SLOT_OUT_OF_RANGE', (c) => attach(c, { slot: 255 })),
  api('slot', 'slot 254 (the gateway)', 'SLOT_OUT_OF_RANGE', (c) => attach(c, { slot: 254 })),
  api('slot', 'slot 1.5', 'SLOT_OUT_OF_RANGE', (c) => attach(c, { slot: 1.5 })),
  api('slot', 'slot NaN', 'SLOT_OUT_OF_RANGE', (c) => attach(c, { slot: NaN })),
  api('slot', 'slot Infinity', 'SLOT_OUT_OF_RANGE', (c) => attach(c, { slot: Infinity })),
  api('slot', 'slot "3" (a string)', 'SLOT_OUT_OF_RANGE', (c) => attach(c, { slot: '3' })),
  api('slot', 'slot 2^53', 'SLOT_OUT_OF_RANGE', (c) => attach(c, { slot: 2 ** 53 })),
  api('slot', 'a slot that is taken', 'SLOT_TAKEN', (c) => attach(c, { slot: 1 })),
  api('slot', 'detach of a free slot', 'NO_SUCH_SLOT', (c) => c.vs.detach(9)),
  api('slot', 'detach of slot 0', 'SLOT_OUT_OF_RANGE', (c) => c.vs.detach(0)),
  api('slot', 'reattach of a free slot', 'NO_SUCH_SLOT', (c) => c.vs.reattach(9, { target: { netns: c.free.path } })),
  api('slot', 'slot() of slot 300 on a /24', 'SLOT_OUT_OF_RANGE', (c) => c.vs.slot(300)),
  api('slot', 'addressOf(-3)', 'SLOT_OUT_OF_RANGE', async (c) => c.vs.addressOf(-3)),
  // ---- targets ----
  api('target', 'attach without options', 'BAD_ARGUMENT', (c) => c.vs.attach(undefined as never)),
  api('target', 'no target', 'BAD_TARGET', (c) => c.vs.attach({} as never)),
  api('target', 'an empty target', 'BAD_TARGET', (c) => c.vs.attach({ target: {} as never })),
  api('target', 'pid 0', 'BAD_TARGET', (c) => c.vs.attach({ target: { pid: 0 } })),
  api('target', 'pid -5', 'BAD_TARGET', (c) => c.vs.attach({ target: { pid: -5 } })),
  api('target', 'pid "1" (a string)', 'BAD_TARGET', (c) => c.vs.attach({ target: { pid: '1' } as never })),
  api('target', 'an empty netns path', 'BAD_TARGET', (c) => c.vs.attach({ target: { netns: '' } })),
  api('target', 'an empty container name', 'BAD_TARGET', (c) => c.vs.attach({ target: { container: '' } })),
  api('target', 'a target with two kinds', 'BAD_TARGET', (c) => c.vs.attach({ target: { pid: 1, netns: c.free.path } as never })),
  api('target', 'a dead pid', 'NETNS_GONE', (c) => c.vs.attach({ target: { pid: c.deadPid } })),
  api('target', 'a pid beyond pid_max', 'NETNS_GONE', (c) => c.vs.attach({ target: { pid: 2 ** 22 + 17 } })),
  api('path', 'a netns path that does not exist', 'NETNS_GONE', (c) => c.vs.attach({ target: { netns: '/var/run/netns/ecdock-no-such-ns' } })),
  api('path', 'a netns path of odd bytes', 'NETNS_GONE', (c) => c.vs.attach({ target: { netns: '/var/run/netns/\u00ff\u00fe\u0001' } })),
  api('path', 'a netns path of 5000 bytes', 'BAD_ARGUMENT', (c) => c.vs.attach({ target: { netns: '/var/run/netns/' + 'x'.repeat(5000) } })),
  api('path', 'a netns path through a regular file', 'NETNS_GONE', (c) => c.vs.attach({ target: { netns: '/etc/hostname/net' } })),
  api('path', 'a netns path with a NUL byte after a real namespace', 'BAD_ARGUMENT', (c) => c.vs.attach({ target: { netns: `${c.free.path}\u0000junk` } })),
  api('path', 'a regular file as netns', 'NOT_A_NETNS', (c) => c.vs.attach({ target: { netns: '/etc/hostname' } })),
  api('path', 'a directory as netns', 'NOT_A_NETNS', (c) => c.vs.attach({ target: { netns: '/var/run/netns' } })),
  api('path', '/dev/null as netns', 'NOT_A_NETNS', (c) => c.vs.attach({ target: { netns: '/dev/null' } })),
  api('path', 'a mount namespace as netns', 'NOT_A_NETNS', (c) => c.vs.attach({ target: { netns: '/proc/self/ns/mnt' } })),
  api('path', "the host's own namespace, by pid", 'HOST_NETNS_REFUSED', (c) => c.vs.attach({ target: { pid: process.pid } })),
  api('path', "the host's own namespace, by path", 'HOST_NETNS_REFUSED', (c) => c.vs.attach({ target: { netns: '/proc/self/ns/net' } })),
  api('path', "the vswitch's own namespace", 'HOST_NETNS_REFUSED', (c) => c.vs.attach({ target: { netns: c.f.sb.netns! } })),
  api('target', 'a container that does not exist', 'NO_SUCH_CONTAINER', (c) => c.vs.attach({ target: { container: 'ecdock-no-such-container-7f3a' } }), noDocker),
  api('target', 'a container name with a slash and dots', 'BAD_NAME', (c) => c.vs.attach({ target: { container: '../../containers/json' } }), noDocker),
  api('target', 'a container name with a NUL byte', 'BAD_NAME', (c) => c.vs.attach({ target: { container: 'ecdock\u0000x' } }), noDocker),
  api('target', 'reattach of slot 1 to a dead pid (must not lose slot 1)', 'NETNS_GONE', (c) => c.vs.reattach(1, { target: { pid: c.deadPid } })),
  api('target', "reattach of slot 1 to the host's own namespace", 'HOST_NETNS_REFUSED', (c) => c.vs.reattach(1, { target: { pid: process.pid } })),
  api('target', 'reattach of slot 1 to a file that is not a namespace', 'NOT_A_NETNS', (c) => c.vs.reattach(1, { target: { netns: '/etc/hostname' } })),
  // ---- interface names inside the target ----
  api('ifname', 'an interface name of 16 bytes', 'BAD_IFNAME', (c) => attach(c, { ifname: 'abcdefghijklmnop' })),
  api('ifname', 'an interface name of 8 characters and 16 bytes', 'BAD_IFNAME', (c) => attach(c, { ifname: '\u00e9'.repeat(8) })),
  api('ifname', 'an empty interface name', 'BAD_IFNAME', (c) => attach(c, { ifname: '' })),
  api('ifname', 'an interface name with a slash', 'BAD_IFNAME', (c) => attach(c, { ifname: 'a/b' })),
  api('ifname', 'an interface name with a colon', 'BAD_IFNAME', (c) => attach(c, { ifname: 'eth0:1' })),
  api('ifname', 'an interface name with a newline', 'BAD_IFNAME', (c) => attach(c, { ifname: 'eth\n0' })),
  api('ifname', 'the interface name "."', 'BAD_IFNAME', (c) => attach(c, { ifname: '.' })),
  api('ifname', 'an interface name that exists in the target (lo)', 'LINK_EXISTS', (c) => attach(c, { ifname: 'lo' })),
  api('ifname', 'dual NIC with the first NIC named eth1', 'BAD_IFNAME', (c) => attach(c, { ifname: 'eth1', dualNic: true })),
  // ---- other attach options ----
  api('vlan', 'VLAN -1', 'BAD_VLAN', (c) => attach(c, { vlan: -1 })),
  api('vlan', 'VLAN 4096', 'BAD_VLAN', (c) => attach(c, { vlan: 4096 })),
  api('vlan', 'VLAN "10" (a string)', 'BAD_VLAN', (c) => attach(c, { vlan: '10' })),
  api('mtu', 'slot MTU 65536', 'BAD_MTU', (c) => attach(c, { mtu: 65536 })),
  api('mtu', 'slot MTU NaN', 'BAD_MTU', (c) => attach(c, { mtu: NaN })),
  api('argument', 'port type "tap"', 'BAD_ARGUMENT', (c) => attach(c, { portType: 'tap' })),
  api('argument', 'an external id in the ecdock: namespace', 'BAD_ARGUMENT', (c) => attach(c, { externalIds: { 'ecdock:slot': '9' } })),
  api('argument', 'an external id with a number value', 'BAD_ARGUMENT', (c) => attach(c, { externalIds: { owner: 5 } })),
  api('argument', 'an external id value with a NUL byte', 'BAD_ARGUMENT', (c) => attach(c, { externalIds: { owner: 'a\u0000b' } })),
  api('argument', 'an external id key with a NUL byte', 'BAD_ARGUMENT', (c) => attach(c, { externalIds: { 'o\u0000k': 'v' } })),
  api('argument', 'external ids as an array', 'BAD_ARGUMENT', (c) => attach(c, { externalIds: ['a'] })),
  // ---- OVSDB URLs ----
  api('url', 'a passive remote (ptcp:)', 'BAD_URL', () => connect('ptcp:6640')),
  api('url', 'an http URL', 'BAD_URL', () => connect('http://127.0.0.1:6640/')),
  api('url', 'an empty URL', 'BAD_URL', () => connect('')),
  api('url', 'tcp: without a host', 'BAD_URL', () => connect('tcp:')),
  api('url', 'tcp port 99999', 'BAD_URL', () => connect('tcp:127.0.0.1:99999')),
  api('url', 'an unbracketed IPv6 host', 'BAD_URL', () => connect('tcp:::1:6640')),
  api('url', 'an unclosed IPv6 bracket', 'BAD_URL', () => connect('tcp:[::1:6640')),
  api('url', 'unix: without a path', 'BAD_URL', () => connect('unix:')),
  api('url', 'a unix socket path longer than the 107 bytes Linux allows', 'BAD_URL', () => connect(`unix:/tmp/${'s'.repeat(120)}/db.sock`)),
  api('url', 'a garbage $ECDOCK_DB', 'BAD_URL', async () => {
    const old = process.env.ECDOCK_DB;
    process.env.ECDOCK_DB = 'carrier-pigeon:coop';
    try {
      await connect(undefined);
    } finally {
      if (old === undefined) delete process.env.ECDOCK_DB;
      else process.env.ECDOCK_DB = old;
    }
  }),
  api('url', 'a unix socket that does not exist', 'OVSDB_UNREACHABLE', () => connect('unix:/var/run/ecdock-no-such-dir/db.sock')),
  api('url', 'a unix "socket" that is a regular file', 'OVSDB_UNREACHABLE', () => connect('unix:/etc/hostname')),
  api('url', 'a TCP port where nothing listens', 'OVSDB_UNREACHABLE', (c) => connect(`tcp:127.0.0.1:${c.closedPort}`)),
  api('ovsdb', 'a raw transact with a NUL in a string (the real ovsdb-server would drop the session)', 'OVSDB_TXN_FAILED', async (c) => {
    let dropped = false;
    const onDrop = () => (dropped = true);
    c.f.ovs.once('disconnect', onDrop);
    // A dropped session is the worse failure, so it wins over the transact's own error.
    const failure = await c.f.ovs
      .transact('Open_vSwitch', [{ op: 'select', table: 'Bridge', where: [['name', '==', 'x\u0000y']] }])
      .then(
        () => undefined,
        (e: unknown) => ({ e }),
      );
    c.f.ovs.off('disconnect', onDrop);
    if (dropped || !c.f.ovs.connected) throw new Error('the OVSDB session was dropped');
    if (failure) throw failure.e;
  }),
  // ---- TLS files ----
  api('tls', 'ssl: without a CA', 'BAD_TLS_FILES', (c) => connect(`ssl:127.0.0.1:${c.closedPort}`, { tls: { key: c.files.key, cert: c.files.cert } })),
  api('tls', 'a CA file that does not exist', 'BAD_TLS_FILES', (c) => connect(`ssl:127.0.0.1:${c.closedPort}`, { tls: { ca: c.files.missing } })),
  api('tls', 'a CA file that is not PEM', 'BAD_TLS_FILES', (c) => connect(`ssl:127.0.0.1:${c.closedPort}`, { tls: { ca: c.files.notPem } })),
  api('tls', 'a CA path that is a directory', 'BAD_TLS_FILES', (c) => connect(`ssl:127.0.0.1:${c.closedPort}`, { tls: { ca: c.files.dir } })),
  api('tls', 'a private key without a certificate', 'BAD_TLS_FILES', (c) => connect(`ssl:127.0.0.1:${c.closedPort}`, { tls: { ca: c.files.cert, key: c.files.key } })),
];
