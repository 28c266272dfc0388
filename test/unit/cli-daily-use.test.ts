// The pure pieces behind ec's daily-use fixes, without root: the command word found past global
// options (only that command is loaded), --json slots with one number and no empty mac2, slot
// ranges as usable, and IPv4 prefix overlap.
import { strict as assert } from 'node:assert';
import { AddressPlan } from '../../src/addressing';
import { toJson } from '../../src/cli/output';
import { buildProgram, commandWord } from '../../src/cli/program';
import { prefixesOverlap } from '../../src/subnet-overlap';

describe('ec daily use (no root)', () => {
  it('finds the command word past global options, with or without their values', () => {
    assert.equal(commandWord(['list']), 'list');
    assert.equal(commandWord(['--db', 'unix:/x', '--vswitch', 'a', '-q', 'stop', '3']), 'stop');
    assert.equal(commandWord(['--slot=1', 'start', 'img']), 'start');
    assert.equal(commandWord(['--json', '--netns', '/run/netns/x', 'ls']), 'ls');
    assert.equal(commandWord(['--help']), undefined);
    assert.equal(commandWord([]), undefined);
  });

  it('builds only the named command, and all of them for help or an unknown word', () => {
    assert.deepEqual(buildProgram('stop').commands.map((c) => c.name()), ['stop']);
    assert.deepEqual(buildProgram('ls').commands.map((c) => c.name()), ['list']);
    const all = buildProgram('frobnicate').commands.map((c) => c.name());
    assert.ok(all.includes('create-vswitch') && all.includes('demo') && all.length >= 15, all.join(' '));
    assert.deepEqual(buildProgram(undefined).commands.length, all.length);
  });

  it('prints a slot with one number (slot) and no mac2, at any depth', () => {
    const info = { slot: 2, index: 2, portName: 'ovs0-s02', mac: '52:00:0a:00:00:02', mac2: '52:80:0a:00:00:02', ipv4: '10.0.0.2' };
    assert.deepEqual(JSON.parse(toJson(info)), { slot: 2, portName: 'ovs0-s02', mac: '52:00:0a:00:00:02', ipv4: '10.0.0.2' });
    assert.deepEqual(JSON.parse(toJson({ slot: info, container: { id: 'x' } })), { slot: { slot: 2, portName: 'ovs0-s02', mac: '52:00:0a:00:00:02', ipv4: '10.0.0.2' }, container: { id: 'x' } });
    assert.deepEqual(JSON.parse(toJson([{ slot: 1, index: 9 }])), [{ slot: 1, index: 9 }], 'objects that are not slots are left alone');
  });

  it('describes slot ranges as usable', () => {
    assert.equal(AddressPlan.parse('ovs0', '10.0.0.254/24').slotRange, '1..253');
    assert.equal(AddressPlan.parse('ovs0', '10.0.0.1/24').slotRange, '2..254');
    assert.equal(AddressPlan.parse('ovs0', '10.0.0.100/24').slotRange, '1..254 except 100 (the gateway)');
    assert.throws(() => AddressPlan.parse('ovs0', '10.0.0.254/24').checkSlot(254), /slot 254 would be 10\.0\.0\.254, the gateway's address; vswitch ovs0 has slots 1\.\.253$/);
    assert.throws(() => AddressPlan.parse('ovs0', '10.0.0.254/24').checkSlot(0), /slot 0 is not a slot of 10\.0\.0\.0\/24; vswitch ovs0 has slots 1\.\.253$/);
  });

  it('tells overlapping IPv4 prefixes (one contains the other) from disjoint ones', () => {
    assert.equal(prefixesOverlap('10.126.0.0', 24, '10.126.0.1', 24), true);
    assert.equal(prefixesOverlap('10.126.5.0', 24, '10.126.0.0', 16), true);
    assert.equal(prefixesOverlap('10.0.0.0', 8, '10.200.1.1', 32), true);
    assert.equal(prefixesOverlap('10.126.0.0', 24, '10.126.1.0', 24), false);
    assert.equal(prefixesOverlap('192.168.0.0', 16, '192.169.0.0', 16), false);
  });
});
