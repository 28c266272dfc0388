// Slot events of an OVN vswitch, from every host: the Northbound replica's changes to the
// switch's logical ports. A port inserted is `attached`, deleted is `detached`, and its `up`
// column (bound and installed on its chassis, as ovn-northd reports it) turning true or false is
// `up` or `down`.

import { slotFromPortName } from '../addressing';
import { AsyncQueue } from '../async-queue';
import type { SlotEvent } from '../realisation';
import type { SlotInfo } from '../slot';
import { OK } from './logical-ops';
import type { LogicalSwitchPortRow, NbDb } from './nb-db';

type Describe = (n: number, p: LogicalSwitchPortRow) => SlotInfo;

/** The event a change to a logical port means for this vswitch's slots, if any. */
export function eventOf(vswitch: string, describe: Describe, before: LogicalSwitchPortRow | undefined, now: LogicalSwitchPortRow | undefined): SlotEvent | undefined {
  const row = now ?? before;
  if (!row || row.external_ids?.get(OK.vswitch) !== vswitch) return undefined;
  const n = slotFromPortName(vswitch, row.name);
  if (n === undefined) return undefined;
  if (now && !before) return { type: 'attached', slot: n, info: describe(n, now) };
  if (before && !now) return { type: 'detached', slot: n, portName: row.name };
  if (before && now && (before.up === true) !== (now.up === true)) return { type: now.up === true ? 'up' : 'down', slot: n, portName: row.name };
  return undefined;
}

/** Slot events as they happen, from the Northbound's typed row changes. End the loop (break/return) to stop listening. */
export function slotEvents(nb: NbDb, vswitch: string, describe: Describe): AsyncIterableIterator<SlotEvent> {
  let stop = (): void => undefined;
  const q = new AsyncQueue<SlotEvent>(() => stop());
  stop = nb.mon.onRow('Logical_Switch_Port', (before, now) => {
    const ev = eventOf(vswitch, describe, before, now);
    if (ev) q.push(ev);
  });
  return q;
}
