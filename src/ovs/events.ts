// Slot events of a local bridge, translated from the OVSDB monitor's row changes: a Port of ours
// inserted (or its "attaching" mark cleared) is `attached`, deleted is `detached`; an Interface's
// link_state change is `up`/`down`, a new Interface.error is `error`.

import { AsyncQueue } from '../async-queue';
import type { SlotEvent } from '../realisation';
import { describe, isOurs, slotOfPort } from './slot-rows';
import { K, type SwitchRowChange } from './switch-db';
import type { SwitchScope } from './switch-scope';

/** The events a row change means for this vswitch's slots (none, one, or link and error together). */
export function eventsOf(vs: SwitchScope, c: SwitchRowChange): SlotEvent[] {
  if (c.table === 'Port') {
    const row = c.new ?? c.old;
    if (!row || !isOurs(row, vs.name)) return [];
    const n = slotOfPort(row);
    const { old, new: now } = c;
    const attached = (p: typeof row): SlotEvent[] => [{ type: 'attached', slot: n, info: { ...describe(vs.spec.plan, n, vs.rowsOf(n, p)), state: 'up' } }];
    if (now && !old) return now.external_ids.has(K.state) ? [] : attached(now);
    if (old && !now) return [{ type: 'detached', slot: n, portName: row.name }];
    if (old && now && old.external_ids.has(K.state) && !now.external_ids.has(K.state)) return attached(now);
    return [];
  }
  const { old: before, new: now } = c;
  if (!before || !now || now.external_ids.get(K.vswitch) !== vs.name) return [];
  const n = Number(now.external_ids.get(K.slot));
  const out: SlotEvent[] = [];
  if (now.link_state !== before.link_state && now.link_state) out.push({ type: now.link_state, slot: n, portName: now.name });
  if (now.error && now.error !== before.error) out.push({ type: 'error', slot: n, portName: now.name, error: now.error });
  return out;
}

/** Slot events as they happen. End the loop (break/return) to stop listening. */
export function slotEvents(vs: SwitchScope): AsyncIterableIterator<SlotEvent> {
  let stop = (): void => undefined;
  const q = new AsyncQueue<SlotEvent>(() => stop());
  stop = vs.db.onPortChange((c) => {
    for (const ev of eventsOf(vs, c)) q.push(ev);
  });
  return q;
}
