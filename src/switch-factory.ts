// Which realisation backs a vswitch, picked from the options the user gave. The model
// (src/vswitch.ts) asks here and never names a concrete realisation; a new one is one line below.

import { ovnSwitches, type OvnOptions } from './ovn/ovn-switch';
import { localSwitches } from './ovs/local-switch';
import type { RealisationKind } from './realisation';

/** The options that choose a realisation (the rest of the options are for the model). */
export interface RealisationChoice {
  /** Back the vswitch by an OVN logical switch (the Northbound database's URL, or a client the caller owns). */
  ovn?: OvnOptions;
}

export function realisationFor(o: RealisationChoice = {}): RealisationKind {
  if (o.ovn) return ovnSwitches(o.ovn);
  return localSwitches;
}
