// What `docker network create -d ecdock` asks for, checked and turned into a vswitch plan. Pure:
// no OVSDB, no kernel, so every refusal can be unit-tested. Each error sentence names the docker
// flag that fixes it, since Docker shows it to the person who typed the command.

import { AddressPlan } from '../addressing';
import { UsageError } from '../errors';

/** The `-o` options the driver understands, as Docker passes them (strings). */
export const NETWORK_OPTIONS = ['ecdock.usermode', 'ecdock.vswitch', 'ecdock.mtu', 'ecdock.ovn.northbound'] as const;

/** Docker's CreateNetwork request (the parts the driver reads). */
export interface CreateNetworkRequest {
  NetworkID: string;
  Options?: Record<string, unknown>;
  IPv4Data?: { AddressSpace?: string; Pool?: string; Gateway?: string; AuxAddresses?: Record<string, string> }[];
  IPv6Data?: unknown[];
}

export interface NetworkPlan {
  networkId: string;
  vswitch: string;
  /** gateway/prefix, as VSwitch.create takes it. */
  subnet: string;
  usermode: boolean;
  mtu?: number;
  /** The OVN Northbound backing the network (a logical switch named `vswitch`, shared by every host). */
  ovnNorthbound?: string;
}

const GENERIC = 'com.docker.network.generic';

/** The vswitch name of a network created without `-o ecdock.vswitch`: short enough for any /16's port names. */
export function defaultVswitchName(networkId: string): string {
  return `dk${networkId.slice(0, 6)}`;
}

function parseBool(v: string, key: string): boolean {
  if (/^(true|1|yes|on)$/i.test(v)) return true;
  if (/^(false|0|no|off)$/i.test(v)) return false;
  throw new UsageError('BAD_ARGUMENT', `-o ${key}=${v}: give true or false`, { detail: { [key]: v } });
}

/** Turns a CreateNetwork request into the vswitch it needs; throws a UsageError naming the fix. */
export function networkPlan(req: CreateNetworkRequest): NetworkPlan {
  if (!req || typeof req.NetworkID !== 'string' || !/^[0-9a-f]{12,64}$/.test(req.NetworkID)) {
    throw new UsageError('BAD_ARGUMENT', 'CreateNetwork without a network id: this request did not come from dockerd');
  }
  const generic = (req.Options?.[GENERIC] ?? {}) as Record<string, unknown>;
  const opts: Record<string, string> = {};
  for (const [k, v] of Object.entries(generic)) {
    if (!(NETWORK_OPTIONS as readonly string[]).includes(k)) {
      throw new UsageError('BAD_ARGUMENT', `unknown option -o ${k}: the ecdock driver takes ${NETWORK_OPTIONS.map((o) => `-o ${o}=…`).join(', ')}`, { detail: { option: k } });
    }
    opts[k] = String(v);
  }
  if (req.IPv6Data && req.IPv6Data.length > 0) {
    throw new UsageError('BAD_SUBNET', 'the ecdock driver plans IPv4 slots only: create the network without --ipv6');
  }
  const v4 = req.IPv4Data ?? [];
  if (v4.length !== 1 || !v4[0].Pool) {
    throw new UsageError('BAD_SUBNET', `an ecdock network has exactly one IPv4 subnet (got ${v4.length}): give one --subnet and its --gateway`);
  }
  const { Pool: pool, Gateway: gw, AuxAddresses: aux } = v4[0];
  if (aux && Object.keys(aux).length > 0) {
    throw new UsageError('BAD_SUBNET', 'the ecdock driver gives every address of the subnet to a slot: create the network without --aux-address');
  }
  if (!gw) throw new UsageError('BAD_SUBNET', `no gateway for ${pool}: give --gateway, e.g. the last usable address of the subnet`);
  const prefix = pool.split('/')[1];
  const gwAddr = gw.split('/')[0];
  if (gw.includes('/') && gw.split('/')[1] !== prefix) {
    throw new UsageError('BAD_SUBNET', `gateway ${gw} and subnet ${pool} have different prefix lengths: give --gateway inside --subnet`);
  }

  const vswitch = opts['ecdock.vswitch'] ?? defaultVswitchName(req.NetworkID);
  let plan: AddressPlan;
  try {
    plan = AddressPlan.parse(vswitch, `${gwAddr}/${prefix}`);
  } catch (e) {
    const msg = (e as Error).message;
    // The library names its own API; say it in docker's words too.
    throw new UsageError((e as UsageError).code ?? 'BAD_SUBNET', `--subnet ${pool} --gateway ${gwAddr} does not fit a slot plan: ${msg}`, { cause: e });
  }
  if (plan.subnet !== pool) {
    throw new UsageError('BAD_SUBNET', `gateway ${gwAddr} is not in subnet ${pool}: give a --gateway inside --subnet`);
  }

  const out: NetworkPlan = { networkId: req.NetworkID, vswitch, subnet: plan.cidr, usermode: false };
  if (opts['ecdock.usermode'] !== undefined) out.usermode = parseBool(opts['ecdock.usermode'], 'ecdock.usermode');
  if (opts['ecdock.mtu'] !== undefined) {
    const m = opts['ecdock.mtu'];
    if (!/^\d+$/.test(m) || Number(m) < 68 || Number(m) > 65535) {
      throw new UsageError('BAD_MTU', `-o ecdock.mtu=${m}: give an integer from 68 to 65535`, { detail: { mtu: m } });
    }
    out.mtu = Number(m);
  }
  if (opts['ecdock.ovn.northbound'] !== undefined) {
    const nb = opts['ecdock.ovn.northbound'];
    if (!nb.split(',').every((u) => /^(tcp|ssl):[^,\s]+:\d+$|^unix:\/[^,\s]*$/.test(u))) {
      throw new UsageError('BAD_ARGUMENT', `-o ecdock.ovn.northbound=${nb}: give the Northbound's OVSDB URL, e.g. tcp:10.0.0.10:6641 (ssl:HOST:PORT, unix:/PATH; a cluster comma-separated)`, {
        detail: { northbound: nb },
      });
    }
    // Every host's Docker network has its own id: the logical switch they share is found by name.
    if (opts['ecdock.vswitch'] === undefined) {
      throw new UsageError('BAD_ARGUMENT', '-o ecdock.ovn.northbound needs -o ecdock.vswitch=NAME: the logical switch every host\'s network joins, the same NAME on each host');
    }
    if (opts['ecdock.usermode'] !== undefined) {
      throw new UsageError('BAD_ARGUMENT', "-o ecdock.usermode does not apply to an OVN network (its datapath is the host's integration bridge, made by ovn-controller): leave it out");
    }
    out.ovnNorthbound = nb;
  }
  return out;
}
