// The network configuration a runtime passes on stdin, decoded and checked (pure). The keys are
// ecdock's vswitch options; the runtime adds cniVersion, name, runtimeConfig, prevResult and, for
// GC, cni.dev/valid-attachments.

import { CNI_CODE, CniError } from './cni-error';

/** Spec versions this plugin speaks. Results are written in the shape of the config's version. */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';

export interface NetConf {
  cniVersion: string;
  /** The network's name: part of every attachment's identity. */
  name: string;
  vswitch: string;
  /** Gateway address and prefix length (`10.0.0.254/24`); absent: the vswitch must exist. */
  subnet?: string;
  usermode?: boolean;
  ipv6Prefix?: string;
  mtu?: number;
  /** OVSDB URL; default ECDOCK_DB, else the system's socket. */
  db?: string;
  tls?: { key?: string; cert?: string; ca?: string };
  ovn?: { northbound: string };
  portType?: 'veth' | 'internal';
  vlan?: number;
  /** Namespace where this OVS's ovs-vswitchd runs, used when the plugin creates the vswitch. */
  switchNetns?: string;
  runtimeConfig: { ips?: string[]; mac?: string };
  prevResult?: Record<string, unknown>;
  validAttachments?: { containerID: string; ifname: string }[];
}

function bad(msg: string, detail?: unknown): CniError {
  return new CniError(CNI_CODE.INVALID_CONFIG, msg, 'BAD_ARGUMENT', detail);
}

/** Decodes stdin. Undecodable input is code 6; a config that is JSON but wrong is 7; an unknown version is 1. */
export function decodeJson(stdin: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(CNI_CODE.DECODE_FAILED, `the network configuration on stdin is not JSON: ${(e as Error).message}`, 'BAD_ARGUMENT');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CniError(CNI_CODE.DECODE_FAILED, 'the network configuration on stdin must be a JSON object', 'BAD_ARGUMENT');
  return v as Record<string, unknown>;
}

export function checkVersion(raw: Record<string, unknown>): string {
  const v = raw.cniVersion;
  if (v === undefined || v === '') throw bad('the network configuration has no cniVersion; set it, e.g. "cniVersion": "1.0.0"');
  if (typeof v !== 'string' || !(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    throw new CniError(CNI_CODE.INCOMPATIBLE_VERSION, `cniVersion ${JSON.stringify(v)} is not supported; use one of ${SUPPORTED_VERSIONS.join(', ')}`, 'BAD_ARGUMENT', {
      supportedVersions: SUPPORTED_VERSIONS,
    });
  }
  return v;
}

const str = (raw: Record<string, unknown>, k: string, required = false): string | undefined => {
  const v = raw[k];
  if (v === undefined || v === null) {
    if (required) throw bad(`the network configuration has no "${k}"; it is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v === '') throw bad(`"${k}" must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
};

const int = (raw: Record<string, unknown>, k: string): number | undefined => {
  const v = raw[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(`"${k}" must be an integer, got ${JSON.stringify(v)}`);
  return v;
};

export function parseConf(raw: Record<string, unknown>): NetConf {
  const cniVersion = checkVersion(raw);
  const name = str(raw, 'name', true)!;
  const conf: NetConf = { cniVersion, name, vswitch: str(raw, 'vswitch', true)!, runtimeConfig: {} };
  const subnet = str(raw, 'subnet');
  if (subnet) conf.subnet = subnet;
  if (raw.usermode !== undefined) {
    if (typeof raw.usermode !== 'boolean') throw bad(`"usermode" must be true or false, got ${JSON.stringify(raw.usermode)}`);
    conf.usermode = raw.usermode;
  }
  const ipv6Prefix = str(raw, 'ipv6Prefix');
  if (ipv6Prefix) conf.ipv6Prefix = ipv6Prefix;
  const mtu = int(raw, 'mtu');
  if (mtu !== undefined) conf.mtu = mtu;
  const vlan = int(raw, 'vlan');
  if (vlan !== undefined) conf.vlan = vlan;
  const db = str(raw, 'db');
  if (db) conf.db = db;
  const switchNetns = str(raw, 'switchNetns');
  if (switchNetns) conf.switchNetns = switchNetns;
  if (raw.portType !== undefined) {
    if (raw.portType !== 'veth' && raw.portType !== 'internal') throw bad(`"portType" must be "veth" or "internal", got ${JSON.stringify(raw.portType)}`);
    conf.portType = raw.portType;
  }
  if (raw.tls !== undefined) {
    const t = raw.tls as Record<string, unknown>;
    if (typeof t !== 'object' || t === null || Array.isArray(t)) throw bad('"tls" must be an object { "key": FILE, "cert": FILE, "ca": FILE }');
    conf.tls = {};
    for (const k of ['key', 'cert', 'ca'] as const) {
      const v = str(t, k);
      if (v) conf.tls[k] = v;
    }
  }
  if (raw.ovn !== undefined) {
    const o = raw.ovn as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('"ovn" must be an object { "northbound": URL }');
    conf.ovn = { northbound: str(o, 'northbound', true)! };
  }
  const rc = raw.runtimeConfig as Record<string, unknown> | undefined;
  if (rc !== undefined && rc !== null) {
    if (typeof rc !== 'object' || Array.isArray(rc)) throw bad('"runtimeConfig" must be an object');
    if (rc.ips !== undefined) {
      if (!Array.isArray(rc.ips) || rc.ips.some((x) => typeof x !== 'string')) throw bad('"runtimeConfig.ips" must be a list of addresses');
      conf.runtimeConfig.ips = rc.ips as string[];
    }
    if (rc.mac !== undefined) {
      if (typeof rc.mac !== 'string') throw bad('"runtimeConfig.mac" must be a string');
      conf.runtimeConfig.mac = rc.mac;
    }
  }
  if (raw.prevResult !== undefined && raw.prevResult !== null) {
    if (typeof raw.prevResult !== 'object' || Array.isArray(raw.prevResult)) throw bad('"prevResult" must be an object');
    conf.prevResult = raw.prevResult as Record<string, unknown>;
  }
  const valid = raw['cni.dev/valid-attachments'];
  if (valid !== undefined) {
    const ok =
      Array.isArray(valid) &&
      (valid as unknown[]).every((a) => {
        const att = a as { containerID?: unknown; ifname?: unknown } | null;
        return typeof att === 'object' && att !== null && typeof att.containerID === 'string' && typeof att.ifname === 'string';
      });
    if (!ok) throw bad('"cni.dev/valid-attachments" must be a list of { "containerID": ..., "ifname": ... }');
    conf.validAttachments = valid as { containerID: string; ifname: string }[];
  }
  return conf;
}
