// Checks of what users pass to VSwitch: each bad value is a UsageError with a stable code and a
// sentence, thrown before anything is changed.

import { UsageError } from './errors';
import type { PortType } from './slot';

export function checkVlan(vlan: unknown): number | undefined {
  if (vlan === undefined) return undefined;
  if (typeof vlan !== 'number' || !Number.isInteger(vlan) || vlan < 0 || vlan > 4095) {
    const shown = typeof vlan === 'number' || typeof vlan === 'string' ? String(vlan) : `of type ${typeof vlan}`;
    throw new UsageError('BAD_VLAN', `VLAN ${shown} is out of range: use an integer from 0 to 4095`, { detail: { vlan } });
  }
  return vlan;
}

export function checkExternalIds(ids: unknown): Record<string, string> {
  if (ids === undefined) return {};
  if (typeof ids !== 'object' || ids === null || Array.isArray(ids)) throw new UsageError('BAD_ARGUMENT', 'externalIds must be an object of string values');
  for (const [k, v] of Object.entries(ids)) {
    if (k.startsWith('ecdock:')) throw new UsageError('BAD_ARGUMENT', `externalIds key "${k}": keys starting with "ecdock:" are ecdock's own`);
    if (typeof v !== 'string') throw new UsageError('BAD_ARGUMENT', `externalIds["${k}"] must be a string`);
    if (k.includes('\0') || v.includes('\0')) throw new UsageError('BAD_ARGUMENT', `externalIds ${JSON.stringify(k)}: OVSDB strings cannot hold a NUL byte`);
  }
  return ids as Record<string, string>;
}

export function checkPortType(t: unknown): PortType {
  if (t === undefined) return 'veth';
  if (t !== 'veth' && t !== 'internal') throw new UsageError('BAD_ARGUMENT', `portType must be "veth" or "internal", got ${JSON.stringify(t)}`);
  return t;
}
