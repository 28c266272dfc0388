// Slot events of an OVN vswitch, from every host: the Northbound replica's changes to the
// switch's logical ports. A port inserted is `attached`, deleted is `detached`, and its `up`
// column (bound and installed on its chassis, as ovn-northd reports it) turning true or false is
// `up` or `down`.

import { slotFromPortName } from '../addressing';
import type { SlotEvent } from '../realisation';
import type { SlotInfo } from '../slot';
import { OK } from './logical-ops';
import type { LogicalSwitchPortRow, NbDb } from './nb-db';

export function slotEvents(nb: NbDb, vswitch: string, describe: (n: number, p: LogicalSwitchPortRow) => SlotInfo): AsyncIterableIterator<SlotEvent> {
  const queue: SlotEvent[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  const push = (e: SlotEvent) => {
    queue.push(e);
    wake?.();
  };
  const onChange = (c: { table: string; old?: Record<string, unknown>; new?: Record<string, unknown> }) => {
    if (c.table !== 'Logical_Switch_Port') return;
    const before = c.old as unknown as LogicalSwitchPortRow | undefined;
    const now = c.new as unknown as LogicalSwitchPortRow | undefined;
    const row = now ?? before!;
    if (row.external_ids?.get(OK.vswitch) !== vswitch) return;
    const n = slotFromPortName(vswitch, row.name);
    if (n === undefined) return;
    if (now && !before) push({ type: 'attached', slot: n, info: describe(n, now) });
    else if (before && !now) push({ type: 'detached', slot: n, portName: row.name });
    else if (before && now && (before.up === true) !== (now.up === true)) push({ type: now.up === true ? 'up' : 'down', slot: n, portName: row.name });
  };
  nb.mon.on('change', onChange);
  const stop = () => {
    done = true;
    nb.mon.off('change', onChange);
    wake?.();
  };
  const it: AsyncIterableIterator<SlotEvent> = {
    next: async () => {
      for (;;) {
        if (queue.length) return { value: queue.shift()!, done: false };
        if (done) return { value: undefined, done: true };
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    },
    return: () => {
      stop();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}
