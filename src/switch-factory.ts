// Which realisation backs a vswitch, picked from the options the user gave. The model
// (src/vswitch.ts) asks here and never names a concrete realisation; a new one is one line below.

import type { OvnOptions } from './ovn/ovn-switch';
import { localSwitches } from './ovs/local-switch';
import type { RealisationKind } from './realisation';

/** The options that choose a realisation (the rest of the options are for the model). */
export interface RealisationChoice {
  /** Back the vswitch by an OVN logical switch (the Northbound database's URL, or a client the caller owns). */
  ovn?: OvnOptions;
}

export function realisationFor(o: RealisationChoice = {}): RealisationKind {
  // Loaded only for OVN vswitches: a local one (and every one-shot `ec` call on it) does not pay for OVN.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (o.ovn) return (require('./ovn/ovn-switch') as typeof import('./ovn/ovn-switch')).ovnSwitches(o.ovn);
  return localSwitches;
}
