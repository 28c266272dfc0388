// The labels a container in a slot carries are read back by the follower and by restart: the
// round trip must give back how the slot was plugged, and garbage must never name a slot.
import { strict as assert } from 'node:assert';
import { containerLabels, plugOptionsOfLabels, slotOfLabels } from '../../src/in-slot';
import type { VSwitch } from '../../src/vswitch';

describe('containers in slots: labels (no root)', () => {
  const vs = { name: 'ovs0', group: 4242 } as unknown as VSwitch;

  it('gives back the slot and how it was plugged', () => {
    for (const o of [{ portType: 'internal' as const, dualNic: true }, { portType: 'veth' as const, dualNic: false }]) {
      const labels = containerLabels(vs, 17, o);
      assert.equal(slotOfLabels(labels), 17);
      assert.deepEqual(plugOptionsOfLabels(labels), o);
    }
    assert.deepEqual(plugOptionsOfLabels(containerLabels(vs, 1)), { portType: 'veth', dualNic: false });
  });

  it('reads no slot from a missing or malformed label, and the defaults from missing plug labels', () => {
    for (const bad of ['', '-1', '1.5', ' 3', '3 ', '0x10', 'three']) assert.equal(slotOfLabels({ 'ecdock.slot': bad }), undefined, JSON.stringify(bad));
    assert.equal(slotOfLabels({}), undefined);
    assert.deepEqual(plugOptionsOfLabels({ 'ecdock.port-type': 'weird', 'ecdock.dual-nic': 'yes' }), { portType: 'veth', dualNic: false });
  });
});
