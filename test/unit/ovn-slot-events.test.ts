// The OVN slot events from Northbound row changes (pure: no server): which change of a logical port
// is attached, detached, up or down, and which changes are someone else's.
import { strict as assert } from 'node:assert';
import { OK } from '../../src/ovn/logical-ops';
import type { LogicalSwitchPortRow } from '../../src/ovn/nb-db';
import { eventOf } from '../../src/ovn/slot-events';
import type { SlotInfo } from '../../src/slot';

const lsp = (name: string, vswitch: string, up?: boolean): LogicalSwitchPortRow => ({
  _uuid: `u-${name}`,
  name,
  type: '',
  addresses: [],
  port_security: [],
  options: new Map(),
  up,
  external_ids: new Map([[OK.vswitch, vswitch]]),
});
const describeSlot = (n: number) => ({ index: n }) as unknown as SlotInfo;

describe('OVN slot events (pure)', () => {
  it('insert is attached, delete is detached, up turning true or false is up or down', () => {
    const p = lsp('ovn1-s03', 'ovn1');
    assert.deepEqual(eventOf('ovn1', describeSlot, undefined, p), { type: 'attached', slot: 3, info: { index: 3 } });
    assert.deepEqual(eventOf('ovn1', describeSlot, p, undefined), { type: 'detached', slot: 3, portName: 'ovn1-s03' });
    assert.deepEqual(eventOf('ovn1', describeSlot, p, lsp('ovn1-s03', 'ovn1', true)), { type: 'up', slot: 3, portName: 'ovn1-s03' });
    assert.deepEqual(eventOf('ovn1', describeSlot, lsp('ovn1-s03', 'ovn1', true), lsp('ovn1-s03', 'ovn1', false)), { type: 'down', slot: 3, portName: 'ovn1-s03' });
  });

  it("says nothing of other vswitches' ports, non-slot ports, or changes that leave up as it was", () => {
    assert.equal(eventOf('ovn1', describeSlot, undefined, lsp('ovn2-s03', 'ovn2')), undefined);
    assert.equal(eventOf('ovn1', describeSlot, undefined, lsp('ovn1-gw-ls', 'ovn1')), undefined);
    assert.equal(eventOf('ovn1', describeSlot, lsp('ovn1-s03', 'ovn1'), lsp('ovn1-s03', 'ovn1', false)), undefined);
    assert.equal(eventOf('ovn1', describeSlot, undefined, undefined), undefined);
  });
});
