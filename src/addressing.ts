// The ecDock addressing plan, as pure functions. Slot N of a vswitch has IP = network + N for any
// prefix length, MAC = 52:00 followed by the four bytes of that IP, optional IPv6 = prefix + the
// IPv4 address in the low 32 bits, and an OVS port named <vswitch>-s<NN> asking for OpenFlow port N;
// its optional second NIC is named here too (NIC2).
// Nothing here touches the system; the VSwitch layer stores the plan in the bridge's external_ids.

import type { Address6 as Address6Class } from 'ip-address';

/** ip-address costs tens of ms to load: only plans with an IPv6 prefix need it. */
function Address6(): typeof Address6Class {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('ip-address') as typeof import('ip-address')).Address6;
}
import { UsageError } from './errors';

/** Linux interface names hold at most 15 bytes (IFNAMSIZ 16 with the NUL). */
export const IFNAME_MAX = 15;
/** OVS accepts ofport_request 1..65279 (65280 and up are reserved). */
export const OFPORT_REQUEST_MAX = 65279;
/** The shortest and longest IPv4 prefixes ecdock plans for. */
export const MIN_PREFIX = 8;
export const MAX_PREFIX = 30;

/** A slot's addresses as its plan gives them: number, IPv4 with prefix length, MAC (and second-NIC MAC), IPv6 when the plan has a prefix. */
export interface SlotAddress {
  slot: number;
  ipv4: string;
  prefixLength: number;
  mac: string;
  /** MAC of the optional second NIC (`dualNic`, see NIC2): 52:80 followed by the IPv4 bytes. */
  mac2: string;
  ipv6?: string;
  ipv6PrefixLength?: number;
  gateway: string;
  gateway6?: string;
  broadcast: string;
  portName: string;
  /** OpenFlow port asked for; undefined for slots above OVS's range (65279). */
  ofportRequest?: number;
}

const V4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, b) => acc * 256 + Number(b), 0);
}

function intToV4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** `52:00` + the four bytes of an IPv4 address (`prefix` NIC2.macPrefix for a slot's second NIC). */
export function macFromIpv4(ipv4: string, prefix = '52:00'): string {
  const n = v4ToInt(ipv4);
  return [prefix, hex2(n >>> 24), hex2((n >>> 16) & 255), hex2((n >>> 8) & 255), hex2(n & 255)].join(':');
}

/** The OVS port (and host-side link) name of slot N: `ovs0-s01`, `ovs0-s300`. */
export function slotPortName(vswitch: string, slot: number): string {
  return `${vswitch}-s${String(slot).padStart(2, '0')}`;
}

/** Slot number encoded in a port name made by slotPortName, or undefined. */
export function slotFromPortName(vswitch: string, portName: string): number | undefined {
  const prefix = `${vswitch}-s`;
  if (!portName.startsWith(prefix)) return undefined;
  const digits = portName.slice(prefix.length);
  if (!/^\d{2,}$/.test(digits)) return undefined;
  const n = Number(digits);
  return slotPortName(vswitch, n) === portName ? n : undefined;
}

// ---- the second NIC ------------------------------------------------------------------------

/**
 * A slot's optional second NIC (`dualNic`, ecDock's `--dual-nic`), named here and nowhere else:
 * interface eth1 in the target, port and host-side link `<vswitch>-oNN` (nic2PortName), MAC
 * `52:80` + the slot's IPv4 bytes (SlotAddress.mac2), no address, OpenFlow port 30000 + N
 * (nic2OfportRequest). These names are in the OVSDB rows and link names of existing installs.
 */
export const NIC2 = {
  /** Interface name inside the target. */
  ifname: 'eth1',
  /** First two bytes of its MAC; the IPv4 address's four follow. */
  macPrefix: '52:80',
  /** Slot N's second NIC asks for OpenFlow port ofportBase + N, as ecDock did. */
  ofportBase: 30000,
} as const;

/** The port (and host-side link) name of slot N's second NIC: `ovs0-o01`. */
export function nic2PortName(vswitch: string, slot: number): string {
  return `${vswitch}-o${String(slot).padStart(2, '0')}`;
}

/** Slot number encoded in a second NIC's port name made by nic2PortName, or undefined. */
export function slotFromNic2PortName(vswitch: string, portName: string): number | undefined {
  const prefix = `${vswitch}-o`;
  if (!portName.startsWith(prefix)) return undefined;
  const digits = portName.slice(prefix.length);
  if (!/^\d{2,}$/.test(digits)) return undefined;
  const n = Number(digits);
  return nic2PortName(vswitch, n) === portName ? n : undefined;
}

/** The OpenFlow port slot N's second NIC asks for; undefined above OVS's range (65279). */
export function nic2OfportRequest(slot: number): number | undefined {
  const ofp = slot + NIC2.ofportBase;
  return ofp <= OFPORT_REQUEST_MAX ? ofp : undefined;
}

/** Checks a vswitch (bridge) name: it names a network device, so it follows Linux's rules. */
export function checkVswitchName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new UsageError('BAD_NAME', 'a vswitch needs a name, e.g. "ovs0"', { detail: { name } });
  }
  if (Buffer.byteLength(name) > IFNAME_MAX - 4 || !NAME_RE.test(name)) {
    throw new UsageError(
      'BAD_NAME',
      `"${name}" cannot name a vswitch: use 1 to ${IFNAME_MAX - 4} letters, digits, "_", "-" or ".", starting with a letter or digit ` +
        `(the bridge is a network device and its ports are named <vswitch>-sNN, at most ${IFNAME_MAX} bytes)`,
      { detail: { name } },
    );
  }
}

/** An {@link AddressPlan} as it is stored in the bridge's external_ids and printed by `--json`. */
export interface AddressPlanJSON {
  subnet: string;
  gateway: string;
  ipv6Prefix?: string;
}

/** The addressing plan of one vswitch. Immutable; every method is pure. */
export class AddressPlan {
  readonly vswitch: string;
  /** Network address and prefix, e.g. `10.0.0.0/24`. */
  readonly subnet: string;
  readonly network: string;
  readonly prefixLength: number;
  /** The bridge's own address (given to `create`, e.g. 10.0.0.254); slots' default route. */
  readonly gateway: string;
  readonly broadcast: string;
  /** Highest slot number (network + maxSlot is the last host address). */
  readonly maxSlot: number;
  /** The slot number whose address is the gateway's: never handed out. */
  readonly gatewaySlot: number;
  readonly ipv6Prefix?: string;
  readonly ipv6PrefixLength?: number;
  private readonly networkInt: number;
  private readonly v6Base?: bigint;

  private constructor(vswitch: string, gateway: string, prefixLength: number, ipv6Prefix?: string) {
    this.vswitch = vswitch;
    this.prefixLength = prefixLength;
    this.gateway = gateway;
    const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
    this.networkInt = (v4ToInt(gateway) & mask) >>> 0;
    this.network = intToV4(this.networkInt);
    this.subnet = `${this.network}/${prefixLength}`;
    const size = 2 ** (32 - prefixLength);
    this.broadcast = intToV4(this.networkInt + size - 1);
    this.maxSlot = size - 2;
    this.gatewaySlot = v4ToInt(gateway) - this.networkInt;
    if (ipv6Prefix !== undefined) {
      const p = new (Address6())(ipv6Prefix);
      this.ipv6PrefixLength = p.subnetMask;
      this.v6Base = p.startAddress().bigInt();
      this.ipv6Prefix = `${Address6().fromBigInt(this.v6Base).correctForm()}/${p.subnetMask}`;
    }
  }

  /**
   * Builds a plan from the address given to `create` (the gateway, with its prefix length:
   * `10.0.0.254/24`) and an optional IPv6 prefix (`2001:db8::/64`). Throws BAD_SUBNET with a
   * sentence saying what is wrong.
   */
  static parse(vswitch: string, subnet: string, ipv6Prefix?: string): AddressPlan {
    checkVswitchName(vswitch);
    if (typeof subnet !== 'string') throw new UsageError('BAD_SUBNET', 'the subnet must be a string like "10.0.0.254/24"');
    const m = /^([^/]+)\/(\d{1,2})$/.exec(subnet.trim());
    if (!m || !V4_RE.test(m[1])) {
      throw new UsageError(
        'BAD_SUBNET',
        `"${subnet}" is not an IPv4 address with a prefix length; give the gateway address and the prefix, e.g. "10.0.0.254/24"`,
        { detail: { subnet } },
      );
    }
    const gateway = m[1];
    const prefixLength = Number(m[2]);
    if (prefixLength < MIN_PREFIX || prefixLength > MAX_PREFIX) {
      throw new UsageError(
        'BAD_SUBNET',
        `prefix length /${prefixLength} is not supported: use /${MIN_PREFIX} to /${MAX_PREFIX} (a slot subnet needs a network, a gateway, a broadcast address and at least one slot)`,
        { detail: { subnet } },
      );
    }
    const size = 2 ** (32 - prefixLength);
    const networkInt = v4ToInt(gateway) - (v4ToInt(gateway) % size);
    const network = intToV4(networkInt);
    if (v4ToInt(gateway) === networkInt) {
      throw new UsageError(
        'BAD_SUBNET',
        `${gateway} is the network address of ${network}/${prefixLength}; give the gateway's own address, e.g. "${intToV4(networkInt + size - 2)}/${prefixLength}"`,
        { detail: { subnet } },
      );
    }
    if (v4ToInt(gateway) === networkInt + size - 1) {
      throw new UsageError(
        'BAD_SUBNET',
        `${gateway} is the broadcast address of ${network}/${prefixLength}; give the gateway's own address, e.g. "${intToV4(v4ToInt(gateway) - 1)}/${prefixLength}"`,
        { detail: { subnet } },
      );
    }
    if (ipv6Prefix !== undefined) {
      let p: Address6Class;
      try {
        p = new (Address6())(ipv6Prefix);
      } catch (e) {
        throw new UsageError('BAD_SUBNET', `"${ipv6Prefix}" is not an IPv6 prefix; write it like "2001:db8::/64"`, { cause: e, detail: { ipv6Prefix } });
      }
      if (!ipv6Prefix.includes('/') || p.subnetMask > 96 || p.subnetMask < 8) {
        throw new UsageError(
          'BAD_SUBNET',
          `IPv6 prefix "${ipv6Prefix}" must have a length from /8 to /96, since slots put their IPv4 address in the low 32 bits`,
          { detail: { ipv6Prefix } },
        );
      }
      if (p.bigInt() !== p.startAddress().bigInt()) {
        // host bits set: slots would silently overwrite them, so ask for the clean prefix
        const clean = `${Address6().fromBigInt(p.startAddress().bigInt()).correctForm()}/${p.subnetMask}`;
        throw new UsageError('BAD_SUBNET', `IPv6 prefix "${ipv6Prefix}" has host bits set; did you mean "${clean}"?`, { detail: { ipv6Prefix } });
      }
    }
    const plan = new AddressPlan(vswitch, gateway, prefixLength, ipv6Prefix);
    const longest = slotPortName(vswitch, plan.maxSlot);
    if (Buffer.byteLength(longest) > IFNAME_MAX) {
      throw new UsageError(
        'BAD_NAME',
        `vswitch name "${vswitch}" is too long for a /${prefixLength}: its last slot's port "${longest}" would exceed ${IFNAME_MAX} bytes; use a shorter name or a smaller subnet`,
        { detail: { vswitch, subnet } },
      );
    }
    return plan;
  }

  /** Rebuilds a plan from what `toJSON` produced (the bridge's external_ids). */
  static fromJSON(vswitch: string, j: AddressPlanJSON): AddressPlan {
    const prefix = Number(j.subnet.split('/')[1]);
    return AddressPlan.parse(vswitch, `${j.gateway}/${prefix}`, j.ipv6Prefix);
  }

  /** The plan as {@link AddressPlanJSON} (what {@link AddressPlan.fromJSON} reads back). */
  toJSON(): AddressPlanJSON {
    return { subnet: this.subnet, gateway: this.gateway, ...(this.ipv6Prefix ? { ipv6Prefix: this.ipv6Prefix } : {}) };
  }

  /** The address the caller passed to create: gateway/prefix. */
  get cidr(): string {
    return `${this.gateway}/${this.prefixLength}`;
  }

  get gatewayMac(): string {
    return macFromIpv4(this.gateway);
  }

  get gateway6(): string | undefined {
    return this.v6Base === undefined ? undefined : this.v6(this.gateway);
  }

  /** Number of slots this plan can hand out. */
  get capacity(): number {
    return this.maxSlot - 1;
  }

  private v6(ipv4: string): string {
    return Address6().fromBigInt(this.v6Base! + BigInt(v4ToInt(ipv4))).correctForm();
  }

  /** Whether `n` is a slot number of this plan (an integer from 1 to the last host address, not the gateway's). */
  isValidSlot(n: unknown): n is number {
    return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= this.maxSlot && n !== this.gatewaySlot;
  }

  /** The usable slots as people read them: "1..253" (gateway .254 of a /24), "1..254 except 100". */
  get slotRange(): string {
    const g = this.gatewaySlot;
    if (g === this.maxSlot) return `1..${this.maxSlot - 1}`;
    if (g === 1) return `2..${this.maxSlot}`;
    return `1..${this.maxSlot} except ${g} (the gateway)`;
  }

  /** Throws SLOT_OUT_OF_RANGE unless n is a slot of this plan. */
  checkSlot(n: unknown): asserts n is number {
    if (this.isValidSlot(n)) return;
    const why =
      n === this.gatewaySlot
        ? `slot ${n} would be ${this.gateway}, the gateway's address`
        : `slot ${String(n)} is not a slot of ${this.subnet}`;
    throw new UsageError('SLOT_OUT_OF_RANGE', `${why}; vswitch ${this.vswitch} has slots ${this.slotRange}`, {
      detail: { slot: n, min: 1, max: this.maxSlot, gatewaySlot: this.gatewaySlot },
    });
  }

  /**
   * Slot `n`'s addresses (SLOT_OUT_OF_RANGE if it is not a slot of this plan).
   *
   * @example
   * ```ts
   * AddressPlan.parse('ovs0', '10.0.0.254/24').addressOf(1);   // { slot: 1, ipv4: '10.0.0.1', mac: '52:00:0a:00:00:01', ... }
   * ```
   */
  addressOf(n: number): SlotAddress {
    this.checkSlot(n);
    const ipv4 = intToV4(this.networkInt + n);
    return {
      slot: n,
      ipv4,
      prefixLength: this.prefixLength,
      mac: macFromIpv4(ipv4),
      mac2: macFromIpv4(ipv4, NIC2.macPrefix),
      ...(this.v6Base !== undefined ? { ipv6: this.v6(ipv4), ipv6PrefixLength: this.ipv6PrefixLength } : {}),
      gateway: this.gateway,
      ...(this.v6Base !== undefined ? { gateway6: this.v6(this.gateway) } : {}),
      broadcast: this.broadcast,
      portName: slotPortName(this.vswitch, n),
      ...(n <= OFPORT_REQUEST_MAX ? { ofportRequest: n } : {}),
    };
  }

  /** The slot whose IPv4 address is `ip`, or undefined. */
  slotOf(ip: string): number | undefined {
    if (!V4_RE.test(ip)) return undefined;
    const n = v4ToInt(ip) - this.networkInt;
    return this.isValidSlot(n) ? n : undefined;
  }

  /** Lowest slot not in `taken` (a set of slot numbers), or undefined when the plan is full. */
  lowestFree(taken: ReadonlySet<number>): number | undefined {
    for (let n = 1; n <= this.maxSlot; n++) if (n !== this.gatewaySlot && !taken.has(n)) return n;
    return undefined;
  }

  /** Whether two plans' IPv4 subnets share any address. */
  overlaps(other: AddressPlan): boolean {
    const end = this.networkInt + 2 ** (32 - this.prefixLength) - 1;
    const otherEnd = other.networkInt + 2 ** (32 - other.prefixLength) - 1;
    return this.networkInt <= otherEnd && other.networkInt <= end;
  }

  /** Whether both plans are the same vswitch, gateway, prefix and IPv6 prefix. */
  equals(other: AddressPlan): boolean {
    return this.vswitch === other.vswitch && this.cidr === other.cidr && this.ipv6Prefix === other.ipv6Prefix;
  }
}
