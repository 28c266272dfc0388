// Noticing that ovs-vswitchd restarted, from the database alone: a restarted ovs-vswitchd makes
// every internal port's device anew (the bridge's own, and internal-port slots, which then sit
// in the switch's namespace instead of their target), and writes the new device's ifindex into
// its Interface row. A stopped daemon writes nothing, so the change arrives when it is back and
// has set its ports up again, which is the moment a repair can work.
import type { Monitor } from './ovsdb/monitor';
import type { OvsdbClient } from './ovsdb/client';

interface IfaceRow {
  type: string;
  ifindex: number | bigint | (number | bigint)[] | { set?: unknown };
}

/** The ifindex of an Interface row, or 0 when unset (an optional column reads as an empty set). */
function ifindexOf(r: IfaceRow | undefined): number {
  const v = r?.ifindex;
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v);
  if (Array.isArray(v) && v.length === 1) return Number(v[0]);
  return 0;
}

/**
 * Calls `onRestart` (once per burst: after `settleMs` without another change) whenever an internal
 * Interface gets a new device (its ifindex changes to another non-zero value). A new port (an
 * insert) is not a restart. Resolves with a function that stops watching.
 */
export async function watchVswitchdRestarts(ovs: OvsdbClient, onRestart: () => void, settleMs = 1000): Promise<() => Promise<void>> {
  const mon: Monitor<{ Interface: IfaceRow }> = await ovs.monitor<{ Interface: IfaceRow }>('Open_vSwitch', { Interface: ['type', 'ifindex'] });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  mon.onRow('Interface', (old, now) => {
    if (stopped || !old || !now || now.type !== 'internal') return;
    const before = ifindexOf(old);
    const after = ifindexOf(now);
    if (after === 0 || before === after) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (!stopped) onRestart();
    }, settleMs);
  });
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await mon.cancel().catch(() => undefined);
  };
}
