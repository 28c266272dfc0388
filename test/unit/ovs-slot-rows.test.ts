import { strict as assert } from 'node:assert';
import { AddressPlan } from '../../src/addressing';
import { ops } from '../../src/ovsdb/operations';
import { openVswitchSchema, type InterfaceRow, type PortRow } from '../../src/ovsdb/schema/open-vswitch';
import type { Netns } from '../../src/netlink/netns';
import type { LinkInfo } from '../../src/netlink/link';
import type { SlotRequest } from '../../src/realisation';
import { claimOps, describe as describeSlot, isOurs, nicsOf, portTypeOf, recordedOptions, slotFacts, slotIds, slotOfLinkName, targetOf } from '../../src/ovs/slot-rows';
import { K } from '../../src/ovs/switch-db';

const plan = AddressPlan.parse('ovs0', '10.0.0.254/24', '2001:db8::/64');
const x = ops(openVswitchSchema);

function request(over: Partial<SlotRequest> = {}): SlotRequest {
  return {
    target: { netns: {} as Netns, info: { kind: 'netns', ref: '/var/run/netns/a', netnsId: '4:1234' } },
    portType: 'veth',
    ifname: 'eth0',
    mtu: undefined,
    vlan: undefined,
    extra: { app: 'web' },
    dualNic: false,
    wait: true,
    timeoutMs: 1000,
    ...over,
  };
}

function port(name: string, ids: [string, string][], over: Partial<PortRow> = {}): PortRow {
  return { _uuid: `uuid-${name}`, name, interfaces: [`if-${name}`], external_ids: new Map(ids), ...over } as unknown as PortRow;
}

function iface(name: string, over: Partial<InterfaceRow> = {}): InterfaceRow {
  return { _uuid: `if-${name}`, name, type: '', external_ids: new Map(), ...over } as unknown as InterfaceRow;
}

function slotPort(n: number, extra: [string, string][] = []): PortRow {
  const nic = nicsOf(plan, n, request())[0]!;
  return port(nic.portName, [...slotIds('ovs0', n, nic, request()).port, ...extra]);
}

describe('src/ovs/slot-rows (pure)', () => {
  it('names the NICs of a slot: the primary with its addresses, and with dualNic eth1 asking for OpenFlow port 30000 + N', () => {
    const [one, two] = nicsOf(plan, 7, request({ dualNic: true }));
    assert.equal(one!.portName, 'ovs0-s07');
    assert.equal(one!.mac, '52:00:0a:00:00:07');
    assert.equal(one!.ofportRequest, 7);
    assert.equal(one!.addr?.ipv4, '10.0.0.7');
    assert.equal(two!.portName, 'ovs0-o07');
    assert.equal(two!.ifname, 'eth1');
    assert.equal(two!.ofportRequest, 30007);
    assert.equal(two!.addr, undefined);
    assert.equal(nicsOf(plan, 7, request()).length, 1);
  });

  it('writes the target, slot and port type into the ids; an owner marks the claim attaching; extra ids ride along but cannot override ours', () => {
    const nic = nicsOf(plan, 3, request())[0]!;
    const ids = slotIds('ovs0', 3, nic, request({ extra: { app: 'web', [K.slot]: '99' } }), 'boot/1/2');
    assert.equal(ids.port.get(K.slot), '3');
    assert.equal(ids.port.get(K.vswitch), 'ovs0');
    assert.equal(ids.port.get(K.target), '4:1234');
    assert.equal(ids.port.get(K.portType), 'veth');
    assert.equal(ids.port.get(K.state), 'attaching');
    assert.equal(ids.port.get(K.owner), 'boot/1/2');
    assert.equal(ids.port.get('app'), 'web');
    assert.equal(ids.iface.get('attached-mac'), '52:00:0a:00:00:03');
    assert.equal(ids.iface.get('iface-id'), 'ovs0-s03');
    assert.equal(slotIds('ovs0', 3, nic, request()).port.has(K.state), false);
    // a container target records its id, a namespace its identity
    const c = slotIds('ovs0', 3, nic, request({ target: { netns: {} as Netns, info: { kind: 'container', ref: 'abc', name: 'web', netnsId: '4:9' } } }));
    assert.equal(c.port.get(K.target), 'abc');
    assert.equal(c.port.get(K.targetName), 'web');
  });

  it('claimOps: guards first (the bridge, each port name free), then Interface and Port per NIC, then one mutate of the bridge', () => {
    const nics = nicsOf(plan, 5, request({ dualNic: true }));
    const uuids = [
      { port: '00000000-0000-4000-8000-000000000001', iface: '00000000-0000-4000-8000-000000000002' },
      { port: '00000000-0000-4000-8000-000000000003', iface: '00000000-0000-4000-8000-000000000004' },
    ];
    const { ops: o, guards } = claimOps(x, { _uuid: 'br', name: 'ovs0' }, { n: 5, nics, request: request({ dualNic: true, vlan: 12 }), uuids });
    assert.equal(guards, 3);
    assert.deepEqual(
      o.map((op) => `${op.op}:${'table' in op ? op.table : ''}`),
      ['wait:Bridge', 'wait:Port', 'wait:Port', 'insert:Interface', 'insert:Port', 'insert:Interface', 'insert:Port', 'mutate:Bridge'],
    );
    const ifRow = (o[3] as { row: Record<string, unknown> }).row;
    assert.equal(ifRow.ofport_request, 5);
    const portRow = (o[4] as { row: Record<string, unknown> }).row;
    assert.equal(portRow.tag, 12);
    // without the request (a foreign port holds the number)
    const bare = claimOps(x, { _uuid: 'br', name: 'ovs0' }, { n: 5, nics, request: request({ dualNic: true }), uuids, noOfportRequest: true });
    assert.equal((bare.ops[3] as { row: Record<string, unknown> }).row.ofport_request, undefined);
    // internal ports are OVS internal interfaces
    const int = claimOps(x, { _uuid: 'br', name: 'ovs0' }, { n: 5, nics: nics.slice(0, 1), request: request({ portType: 'internal' }), uuids: uuids.slice(0, 1) });
    assert.equal((int.ops[2] as { row: Record<string, unknown> }).row.type, 'internal');
  });

  it('claimOps refuses a claim with fewer row uuids than NICs (a typed error, not undefined)', () => {
    const nics = nicsOf(plan, 5, request({ dualNic: true }));
    assert.throws(() => claimOps(x, { _uuid: 'br', name: 'ovs0' }, { n: 5, nics, request: request(), uuids: [{ port: '00000000-0000-4000-8000-000000000001', iface: '00000000-0000-4000-8000-000000000002' }] }), { code: 'INTERNAL' });
  });

  it('tells ecdock ports from foreign ones, and reads the recorded target and port type back', () => {
    const p = slotPort(4);
    assert.equal(isOurs(p, 'ovs0'), true);
    assert.equal(isOurs(p, 'ovs1'), false);
    assert.equal(isOurs(port('eth9', []), 'ovs0'), false);
    assert.deepEqual(targetOf(p), { kind: 'netns', ref: '/var/run/netns/a', netnsId: '4:1234' });
    assert.equal(targetOf(port('x', [])), undefined);
    assert.equal(portTypeOf(p, iface(p.name)), 'veth');
    // rows from before the port type was recorded: the Interface type says
    assert.equal(portTypeOf(port('y', [[K.slot, '1']]), iface('y', { type: 'internal' })), 'internal');
  });

  it('maps link names of both NICs to their slot', () => {
    assert.equal(slotOfLinkName('ovs0', 'ovs0-s12'), 12);
    assert.equal(slotOfLinkName('ovs0', 'ovs0-o12'), 12);
    assert.equal(slotOfLinkName('ovs0', 'ovs1-s12'), undefined);
  });

  it('describes a slot from its rows: addresses, ofport only when positive, the second NIC, extra ids', () => {
    const p = slotPort(9);
    const info = describeSlot(plan, 9, { port: p, iface: iface(p.name, { ofport: 9, mtu: 1400 }) });
    assert.equal(info.ipv4, '10.0.0.9');
    assert.equal(info.ofport, 9);
    assert.equal(info.mtu, 1400);
    assert.equal(info.externalIds.app, 'web');
    assert.equal(info.nic2, undefined);
    assert.equal('state' in info, false);
    const failed = describeSlot(plan, 9, { port: p, iface: iface(p.name, { ofport: -1 }) });
    assert.equal(failed.ofport, undefined);
    const nic2 = port('ovs0-o09', [[K.ifname, 'eth1']]);
    const dual = describeSlot(plan, 9, { port: p, iface: iface(p.name), nic2Port: nic2, nic2Iface: iface('ovs0-o09', { ofport: 30009 }) });
    assert.deepEqual(dual.nic2, { portName: 'ovs0-o09', ifname: 'eth1', mac: plan.addressOf(9).mac2, ofport: 30009 });
  });

  it('states facts without judging: the claim mark, the port error and number, the veth host end', () => {
    const p = slotPort(2);
    const link = (operState: string) => ({ name: p.name, operState }) as unknown as LinkInfo;
    assert.deepEqual(slotFacts({ port: p, iface: iface(p.name, { ofport: 2 }) }, { link: link('up') }), { portType: 'veth', attaching: false, ofport: 2, hostLink: 'up' });
    assert.equal(slotFacts({ port: p, iface: iface(p.name) }, { link: link('unknown') }).hostLink, 'up');
    assert.equal(slotFacts({ port: p, iface: iface(p.name) }, { link: link('lowerlayerdown') }).hostLink, 'down');
    assert.equal(slotFacts({ port: p, iface: iface(p.name) }, { link: undefined }).hostLink, 'absent');
    assert.equal(slotFacts({ port: p, iface: iface(p.name) }, { link: 'just-made' }).hostLink, 'up');
    const bad = slotFacts({ port: p, iface: iface(p.name, { ofport: -1, error: 'could not open network device' }) }, { link: link('up') });
    assert.equal(bad.portError, 'could not open network device');
    assert.equal(bad.ofport, -1);
    const claim = slotPort(2, [[K.state, 'attaching']]);
    assert.equal(slotFacts({ port: claim, iface: undefined }, { link: undefined }).attaching, true);
    const internal = port('ovs0-s02', [[K.slot, '2'], [K.portType, 'internal']]);
    assert.equal(slotFacts({ port: internal, iface: iface('ovs0-s02', { type: 'internal' }) }, { link: undefined }).hostLink, undefined);
  });

  it('gives back the options a slot was attached with (for reattach), without ecdock keys', () => {
    const p = slotPort(6, [[K.mtu, '1400']]);
    p.tag = 33;
    assert.deepEqual(recordedOptions({ port: p, iface: iface(p.name) }, true), { portType: 'veth', ifname: 'eth0', mtu: 1400, vlan: 33, externalIds: { app: 'web' }, dualNic: true });
  });
});
