import { strict as assert } from 'node:assert';
import type { SlotFacts } from '../../src/realisation';
import type { SlotTargetInfo } from '../../src/slot';
import { slotState } from '../../src/slot-state';

const netns: SlotTargetInfo = { kind: 'netns', ref: '/var/run/netns/a', netnsId: '4:1' };
const container: SlotTargetInfo = { kind: 'container', ref: 'abc', netnsId: '4:2' };
const veth = (over: Partial<SlotFacts> = {}): SlotFacts => ({ portType: 'veth', attaching: false, ofport: 3, hostLink: 'up', ...over });
const internal = (over: Partial<SlotFacts> = {}): SlotFacts => ({ portType: 'internal', attaching: false, ofport: 3, ...over });

describe('slotState: what a slot\'s facts mean (pure)', () => {
  it('an in-flight claim is attaching, whatever else holds', () => {
    assert.deepEqual(slotState(veth({ attaching: true, hostLink: 'absent' }), netns, 'gone'), { state: 'attaching' });
  });
  it('a gone target makes a ghost; a stopped container makes the slot down', () => {
    assert.equal(slotState(veth(), netns, 'gone').state, 'ghost');
    assert.equal(slotState(internal(), container, 'stopped').state, 'down');
  });
  it('a veth whose host end is gone: ghost for a namespace, down for a container (it waits to be re-plugged)', () => {
    assert.equal(slotState(veth({ hostLink: 'absent' }), netns, 'alive').state, 'ghost');
    assert.equal(slotState(veth({ hostLink: 'absent' }), container, 'alive').state, 'down');
  });
  it('a port the switch could not add is error, with the reason', () => {
    assert.deepEqual(slotState(veth({ ofport: -1, portError: 'no such device' }), netns, 'alive'), {
      state: 'error',
      error: 'no such device',
      reason: 'ovs-vswitchd could not add the port: no such device',
    });
    assert.equal(slotState(internal({ ofport: -1 }), netns, 'alive').state, 'error');
  });
  it('a veth is up with its host end up, down otherwise; an internal port is up', () => {
    assert.equal(slotState(veth(), netns, 'alive').state, 'up');
    assert.equal(slotState(veth({ hostLink: 'down' }), netns, 'alive').state, 'down');
    assert.equal(slotState(internal(), netns, 'alive').state, 'up');
  });
  it('unknown liveness (runtime unreachable) never makes a ghost', () => {
    assert.equal(slotState(veth(), container, 'unknown').state, 'up');
    assert.equal(slotState(veth({ hostLink: 'absent' }), container, 'unknown').state, 'down');
  });
  it('ovs-vswitchd not running: down, with that reason, whatever the rows still say', () => {
    assert.deepEqual(slotState(veth({ switchDaemon: 'stopped' }), netns, 'alive'), { state: 'down', reason: 'ovs-vswitchd is not running' });
    assert.deepEqual(slotState(internal({ switchDaemon: 'stopped' }), netns, 'alive'), { state: 'down', reason: 'ovs-vswitchd is not running' });
    assert.equal(slotState(veth({ switchDaemon: 'running' }), netns, 'alive').state, 'up');
    // a gone target is still a ghost: cleanup must be able to remove it while the switch is down
    assert.equal(slotState(veth({ switchDaemon: 'stopped' }), netns, 'gone').state, 'ghost');
  });
  it('up only once the switch has the port (ofport > 0)', () => {
    assert.equal(slotState(veth({ ofport: undefined }), netns, 'alive').state, 'down');
    assert.equal(slotState(internal({ ofport: 0 }), netns, 'alive').state, 'down');
  });
  it('a veth whose port the switch sees down is down', () => {
    assert.equal(slotState(veth({ portLink: 'down' }), netns, 'alive').state, 'down');
  });
  it('internal ports: the target\'s view decides (the switch reads their link down from afar)', () => {
    assert.equal(slotState(internal({ portLink: 'down' }), netns, 'alive').state, 'up');
    assert.match(slotState(internal({ deviceInSwitch: true }), netns, 'alive').reason ?? '', /ec cleanup/);
    assert.equal(slotState(internal({ deviceInSwitch: true }), netns, 'alive').state, 'down');
    assert.equal(slotState(internal({ targetLink: 'down' }), netns, 'alive').state, 'down');
    assert.equal(slotState(internal({ targetLink: 'absent' }), netns, 'alive').state, 'down');
    assert.equal(slotState(internal({ targetLink: 'up', deviceInSwitch: false }), netns, 'alive').state, 'up');
  });
  it('a slot on another host is judged by the cluster, never by a local target check', () => {
    const remote = (r: NonNullable<SlotFacts['remote']>) => veth({ hostLink: undefined, ofport: undefined, remote: r });
    assert.equal(slotState(remote({ host: 'b', up: true }), netns, 'gone').state, 'up');
    assert.equal(slotState(remote({ host: 'b', up: false }), netns, 'unknown').state, 'down');
    assert.equal(slotState(remote({ host: 'b', up: true, chassisGone: true }), netns, 'unknown').state, 'ghost');
    assert.equal(slotState({ ...remote({ host: 'b', up: true }), attaching: true }, netns, 'unknown').state, 'attaching');
  });

  it('a port the controller has not installed is down, not up', () => {
    assert.equal(slotState(veth({ installed: false }), netns, 'alive').state, 'down');
    assert.equal(slotState(veth({ installed: true }), netns, 'alive').state, 'up');
    assert.equal(slotState(internal({ installed: false }), netns, 'alive').state, 'down');
    // what makes a ghost still does
    assert.equal(slotState(veth({ installed: false, hostLink: 'absent' }), netns, 'alive').state, 'ghost');
    assert.equal(slotState(veth({ installed: false }), netns, 'gone').state, 'ghost');
  });
});
