// Where a command runs: which OVSDB, which vswitch, which network namespace ovs-vswitchd runs in,
// and how it prints. Built from the global options (given before or after the command name) and
// the environment; connections are opened on first use and closed when the command ends.
import { Command, Option } from 'commander';
import { DEFAULT_OVSDB_URL, OVSDB_URL_ENV } from '../defaults';
import { UsageError, VSwitchError, isEcdockError, type ErrorCode } from '../errors';
import type { OvsdbClient } from '../ovsdb/client';
import type { DockerRuntime } from '../runtime/docker';
import type { VSwitch } from '../vswitch';
import { Output } from './output';

export const DEFAULT_VSWITCH = 'ovs0';

/** Options every command accepts, before or after its name. */
export interface GlobalOptions {
  db?: string;
  vswitch?: string;
  slot?: string;
  quiet?: boolean;
  json?: boolean;
  netns?: string;
  privateKey?: string;
  certificate?: string;
  caCert?: string;
  ovnNb?: string;
}

/**
 * Adds the global options to a command. Defaults are not set here but in Context, so that a value
 * given after the command name can override one given before it.
 */
export function addGlobalOptions(cmd: Command, o: { hidden?: boolean; except?: (keyof GlobalOptions)[] } = {}): Command {
  const opts = [
    new Option('--db <url>', 'OVSDB to use: unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT (default: $' + OVSDB_URL_ENV + ' or ' + DEFAULT_OVSDB_URL + ')'),
    new Option('--vswitch <name>', 'vswitch to operate on (default: $ECDOCK_VSWITCH or ' + DEFAULT_VSWITCH + ')'),
    new Option('--slot <n>', 'slot number (start, plug: picked automatically when omitted)'),
    new Option('-q, --quiet', 'print no progress notes, and no result line for commands that change things'),
    new Option('--json', 'print results (and errors) as JSON on stdout'),
    new Option('--netns <path>', "network namespace where ovs-vswitchd runs (create-vswitch records it in the bridge; default: $ECDOCK_NETNS, else this process's)"),
    // As ovs-vsctl names them, for ssl: databases.
    new Option('--private-key <file>', 'ssl: our private key, PEM (default: $ECDOCK_TLS_KEY)'),
    new Option('--certificate <file>', 'ssl: our certificate, PEM (default: $ECDOCK_TLS_CERT)'),
    new Option('--ovn-nb <url>', 'the vswitch is an OVN logical switch: OVN Northbound URL (comma-separated for a cluster; default: $ECDOCK_OVN_NB); --db is then this host\'s OVS'),
    new Option('--ca-cert <file>', "ssl: the CA certificate the server's must chain to, PEM (default: $ECDOCK_TLS_CA)"),
  ];
  for (const opt of opts) {
    if (o.except?.includes(opt.attributeName() as keyof GlobalOptions)) continue;
    cmd.addOption(o.hidden ? opt.hideHelp() : opt);
  }
  return cmd;
}

/** Parses a slot number as typed; range checks are the vswitch's (SLOT_OUT_OF_RANGE). */
export function parseSlot(s: string | number | undefined, what = 'slot'): number | undefined {
  if (s === undefined) return undefined;
  const t = String(s).trim();
  if (!/^\d+$/.test(t)) throw new UsageError('BAD_ARGUMENT', `${what} must be a number (1, 2, ...), got '${String(s)}'`, { detail: { [what]: s } });
  return Number(t);
}

/** The code a malformed value gets: the library's for the same thing given through the API. */
const INT_OPTION_CODES: Record<string, ErrorCode> = { '--mtu': 'BAD_MTU', '--vlan': 'BAD_VLAN', '--pid': 'BAD_TARGET' };

/** A positive integer option (--pid, --mtu, --vlan, --time). */
export function parseIntOption(s: string | undefined, what: string, min = 0): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(String(s).trim()) || Number(s) < min) {
    throw new UsageError(INT_OPTION_CODES[what] ?? 'BAD_ARGUMENT', `${what} must be an integer >= ${min}, got '${s}'`, { detail: { [what]: s } });
  }
  return Number(s);
}

export class Context {
  readonly out: Output;
  readonly dbUrl: string;
  readonly vswitchName: string;
  /** Was the vswitch named (--vswitch, $ECDOCK_VSWITCH)? If not, a lone vswitch stands in for ovs0. */
  readonly vswitchNamed: boolean;
  /** The command being run (`stop`), for hints that show how to call it. */
  readonly command: string;
  readonly netns?: string;
  readonly slotOption?: number;
  readonly tls?: { key?: string; cert?: string; ca?: string };
  private client?: Promise<OvsdbClient>;
  /** OVN Northbound URL: the vswitch is an OVN logical switch seen from this host. */
  readonly ovnNb?: string;
  private nbClient?: Promise<OvsdbClient>;

  constructor(readonly options: GlobalOptions, env: NodeJS.ProcessEnv = process.env, command = 'stop') {
    this.command = command;
    this.out = new Output({ json: !!options.json, quiet: !!options.quiet });
    // A value given on the command line is used as given, even empty (then refused as BAD_URL or
    // BAD_NAME): `--vswitch "$VS"` with VS unset must not quietly mean ovs0. An empty variable is unset.
    this.dbUrl = options.db ?? (env[OVSDB_URL_ENV] || DEFAULT_OVSDB_URL);
    this.vswitchName = options.vswitch ?? (env.ECDOCK_VSWITCH || DEFAULT_VSWITCH);
    this.vswitchNamed = options.vswitch !== undefined || !!env.ECDOCK_VSWITCH;
    if (!this.vswitchName) throw new UsageError('BAD_NAME', 'the vswitch name given with --vswitch is empty: give a name, or leave the option out for $ECDOCK_VSWITCH or ovs0');
    const netns = options.netns || env.ECDOCK_NETNS;
    if (netns) this.netns = netns;
    this.hostNetns = this.netns;
    const ovnNb = options.ovnNb ?? (env.ECDOCK_OVN_NB || undefined);
    if (ovnNb !== undefined) this.ovnNb = ovnNb;
    const slot = parseSlot(options.slot);
    if (slot !== undefined) this.slotOption = slot;
    const key = options.privateKey ?? (env.ECDOCK_TLS_KEY || undefined);
    const cert = options.certificate ?? (env.ECDOCK_TLS_CERT || undefined);
    const ca = options.caCert ?? (env.ECDOCK_TLS_CA || undefined);
    if (key !== undefined || cert !== undefined || ca !== undefined) {
      this.tls = { ...(key !== undefined ? { key } : {}), ...(cert !== undefined ? { cert } : {}), ...(ca !== undefined ? { ca } : {}) };
    }
  }

  /** The global options merged from the program and the command (the command's win). */
  static from(cmd: Command): Context {
    const ctx = new Context(cmd.optsWithGlobals<GlobalOptions>(), process.env, cmd.name());
    // `ec plug --netns` names the target, not where ovs-vswitchd runs: for an OVN vswitch, this
    // host's namespace then comes from before the command name or from $ECDOCK_NETNS.
    if (cmd.name() === 'plug') {
      const before = (cmd.parent?.opts<GlobalOptions>().netns || process.env.ECDOCK_NETNS) ?? undefined;
      ctx.hostNetns = before || undefined;
    }
    return ctx;
  }

  /** Where this host's ovs-vswitchd runs, for an OVN vswitch. */
  private hostNetns?: string | undefined;

  /**
   * Set by commands that only read and exit (list, list-vswitches): the local vswitches' tables are
   * then read with one transaction of selects rather than kept by a monitor (SwitchDb.readOnce).
   */
  readOnly = false;

  /** The OVSDB connection (opened once). One-shot commands do not reconnect: they fail fast. */
  ovs(o: { reconnect?: boolean } = {}): Promise<OvsdbClient> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { OvsdbClient } = require('../ovsdb/client') as typeof import('../ovsdb/client');
    this.client ??= OvsdbClient.connect(this.dbUrl, { reconnect: o.reconnect ?? false, ...(this.tls ? { tls: this.tls } : {}) }).then((client) => {
      // The select goes out now, beside whatever the command asks next; its failure reaches whoever opens a vswitch.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      if (this.readOnly && this.ovnNb === undefined) void (require('../ovs/switch-db') as typeof import('../ovs/switch-db')).SwitchDb.readOnce(client).catch(() => undefined);
      return client;
    });
    return this.client;
  }

  /** The Docker runtime: the library's default one (VSwitch uses the same when given none), made on first use. */
  docker(): DockerRuntime {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../targets') as typeof import('../targets')).dockerRuntime();
  }

  /**
   * The vswitch named by --vswitch or $ECDOCK_VSWITCH. Named by neither, it is ovs0, or else the
   * only vswitch on this OVS; with several, NO_SUCH_VSWITCH says which exist.
   */
  async vswitch(name?: string): Promise<VSwitch> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { VSwitch } = require('../vswitch') as typeof import('../vswitch');
    const ovs = await this.ovs();
    // No runtime given: VSwitch makes the default Docker one (this.docker()) only if a slot's container is asked about.
    const o = await this.ovnOptions();
    if (name !== undefined || this.vswitchNamed) return VSwitch.open(ovs, name ?? this.vswitchName, o);
    try {
      return await VSwitch.open(ovs, this.vswitchName, o);
    } catch (e) {
      if (!isEcdockError(e, 'NO_SUCH_VSWITCH')) throw e;
      const all = await VSwitch.list(ovs, o);
      if (all.length === 1) return all[0]!;
      const names = all.map((v) => v.name);
      throw new VSwitchError(
        'NO_SUCH_VSWITCH',
        names.length === 0
          ? `there is no vswitch on this OVS yet; create one: ec create-vswitch --usermode (or without --usermode for the kernel datapath)`
          : `there is no vswitch named ${this.vswitchName}, and this OVS has ${names.length}: ${names.join(', ')}; pick one with --vswitch NAME (or $ECDOCK_VSWITCH)`,
        { cause: e, detail: { name: this.vswitchName, vswitches: names } },
      );
    }
  }

  /** With --ovn-nb: the OVN options for VSwitch (Northbound opened once, closed with the command) and this host's netns. */
  async ovnOptions(): Promise<{ ovn?: { northbound: OvsdbClient }; netns?: string }> {
    if (this.ovnNb === undefined) return {};
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { OvsdbClient } = require('../ovsdb/client') as typeof import('../ovsdb/client');
    this.nbClient ??= OvsdbClient.connect(this.ovnNb, { reconnect: false, leaderOnly: this.ovnNb.includes(','), ...(this.tls ? { tls: this.tls } : {}) });
    const netns = this.hostNetns;
    return { ovn: { northbound: await this.nbClient }, ...(netns ? { netns } : {}) };
  }

  /** The slot from a positional argument, else --slot; `required` makes a missing one a usage error. */
  slot(positional: string | undefined, required: true): number;
  slot(positional: string | undefined, required?: false): number | undefined;
  slot(positional: string | undefined, required = false): number | undefined {
    const given = parseSlot(positional);
    if (given !== undefined && this.slotOption !== undefined && given !== this.slotOption) {
      throw new UsageError('BAD_ARGUMENT', `two different slots given: ${given} and --slot=${this.slotOption}`);
    }
    const n = given ?? this.slotOption;
    if (n === undefined && required) throw new UsageError('BAD_ARGUMENT', `which slot? give it as an argument (ec ${this.command} 1) or with --slot=N`);
    return n;
  }

  async close(): Promise<void> {
    const nb = this.nbClient;
    this.nbClient = undefined;
    if (nb) (await nb.catch(() => undefined))?.close();
    const c = this.client;
    this.client = undefined;
    if (c) {
      try {
        (await c).close();
      } catch {
        /* never connected */
      }
    }
  }
}
