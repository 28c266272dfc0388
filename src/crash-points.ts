// Named points between the steps of multi-step operations (attach, detach, create). Crash-safety
// tests install a hook that kills the process at one of them, then check that `cleanup` (or the
// next attach) repairs what was left. Without a hook this costs one function call per step.

export type CrashPoint =
  | 'create:bridge-committed'
  | 'create:gateway-set'
  | 'attach:veth-created'
  | 'attach:port-committed'
  | 'attach:vswitchd-applied'
  | 'attach:internal-claimed'
  | 'attach:internal-applied'
  | 'attach:internal-moved'
  | 'attach:internal-configured'
  | 'detach:link-deleted'
  | 'detach:port-removed'
  | 'destroy:links-deleted'
  | 'ovn:claimed'
  | 'ovn:veth-created'
  | 'ovn:port-bound'
  | 'ovn:installed'
  | 'ovn:released'
  | 'docker:endpoint-checked'
  | 'docker:join-replied';

export const ATTACH_VETH_POINTS: CrashPoint[] = ['attach:veth-created', 'attach:port-committed', 'attach:vswitchd-applied'];
export const ATTACH_INTERNAL_POINTS: CrashPoint[] = [
  'attach:internal-claimed',
  'attach:internal-applied',
  'attach:internal-moved',
  'attach:internal-configured',
];

/** The steps of an attach to an OVN vswitch: Northbound claim, veth, integration-bridge port, ovn-installed. */
export const ATTACH_OVN_POINTS: CrashPoint[] = ['ovn:claimed', 'ovn:veth-created', 'ovn:port-bound', 'ovn:installed'];

let hook: ((p: CrashPoint) => void) | undefined;

/** Installs (or removes, with undefined) the hook called at every crash point. For tests. */
export function setCrashHook(h: ((p: CrashPoint) => void) | undefined): void {
  hook = h;
}

export function crashPoint(p: CrashPoint): void {
  if (hook) hook(p);
}
