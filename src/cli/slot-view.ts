// How slots look in `ec` output: the list table's columns and the one-line summary printed by
// start, plug and restart.
import { DOCKER_KEYS } from '../docker-plugin/keys';
import type { SlotInfo } from '../slot';
import type { Row } from './output';

export const SLOT_COLUMNS = ['SLOT', 'IP', 'MAC', 'PORT', 'TYPE', 'TARGET', 'STATE'] as const;
/** An OVN vswitch's slots are on several hosts: HOST says which (the chassis the slot is bound on). */
export const OVN_SLOT_COLUMNS = ['SLOT', 'IP', 'MAC', 'PORT', 'TYPE', 'HOST', 'TARGET', 'STATE'] as const;

/** The HOST cell: the slot's chassis, marked "(here)" when it is `here` (this host's). */
export function hostText(info: SlotInfo, here?: string): string {
  if (info.host === undefined) return '-';
  return info.host === here ? `${info.host} (here)` : info.host;
}

/** The TARGET cell: a container's name, a pid, or a namespace path. */
export function targetText(info: SlotInfo): string {
  // A slot made by the Docker driver: its target is the driver's staging namespace, the container is Docker's.
  const endpoint = info.externalIds[DOCKER_KEYS.endpoint];
  if (endpoint) return `docker endpoint ${endpoint.slice(0, 12)} (network ${(info.externalIds[DOCKER_KEYS.network] ?? '?').slice(0, 12)})`;
  const t = info.target;
  if (!t) return '-';
  switch (t.kind) {
    case 'container':
      return t.name || t.ref.slice(0, 12);
    case 'pid':
      return `pid ${t.ref}`;
    case 'netns':
      return t.ref;
  }
}

export function slotRow(info: SlotInfo, here?: string): Row {
  return {
    VSWITCH: info.vswitch,
    HOST: hostText(info, here),
    SLOT: info.index,
    IP: info.ipv6 ? `${info.ipv4} ${info.ipv6}` : info.ipv4,
    MAC: info.nic2 ? `${info.mac} ${info.nic2.mac}` : info.mac,
    PORT: info.nic2 ? `${info.portName} ${info.nic2.portName}` : info.portName,
    TYPE: info.portType + (info.nic2 ? '+nic2' : '') + (info.vlan !== undefined ? ` vlan ${info.vlan}` : ''),
    TARGET: targetText(info),
    STATE: info.state + (info.reason ? ` (${info.reason})` : info.error ? ` (${info.error})` : '') + (info.warning ? ` [${info.warning}]` : ''),
  };
}

/** "slot 1 of ovs0: 10.0.0.1/24 52:00:0a:00:00:01 port ovs0-s01 (veth) -> container ovs0-s01, up" */
export function slotLine(info: SlotInfo, verb = 'slot'): string {
  const v6 = info.ipv6 ? ` ${info.ipv6}/${info.ipv6PrefixLength ?? 64}` : '';
  const nic2 = info.nic2 ? `; ${info.nic2.ifname} ${info.nic2.mac} port ${info.nic2.portName}` : '';
  return (
    `${verb} ${info.index} of ${info.vswitch}: ${info.ifname} ${info.ipv4}/${info.prefixLength}${v6} ${info.mac} ` +
    `port ${info.portName} (${info.portType})${nic2}, gateway ${info.gateway} -> ${targetText(info)}, ${info.state}`
  );
}
