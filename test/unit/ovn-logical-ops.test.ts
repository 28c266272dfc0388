// The OVN realisation's pure part: the Northbound rows of a vswitch (what a slot's facts mean: slot-state.test.ts).
import { strict as assert } from 'node:assert';
import { AddressPlan } from '../../src/addressing';
import { ops } from '../../src/ovsdb/operations';
import type { TypedSchema } from '../../src/ovsdb/schema';
import { readFileSync } from 'node:fs';
import { OK, claimOps, createSwitchOps, gatewayRouterPort, gatewaySwitchPort, isOurSwitch, lspAddress, planIds, planOf, CLAIM_GUARD_PORT, CLAIM_GUARD_SWITCH } from '../../src/ovn/logical-ops';
import type { LogicalSwitchRow, NbTables } from '../../src/ovn/nb-db';

const NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema';

describe('ovn logical-ops (pure)', () => {
  const plan = AddressPlan.parse('ov0', '10.1.2.254/24', '2001:db8::/64');

  it('a slot port carries "MAC IPv4 IPv6" as addresses and port security', () => {
    const a = plan.addressOf(3);
    assert.equal(lspAddress(a), `52:00:0a:01:02:03 10.1.2.3 ${a.ipv6}`);
    assert.equal(lspAddress(AddressPlan.parse('ov0', '10.1.2.254/24').addressOf(3)), '52:00:0a:01:02:03 10.1.2.3');
  });

  it('the plan survives a round trip through the logical switch external_ids', () => {
    const ls: LogicalSwitchRow = { _uuid: 'u', name: 'ov0', ports: [], external_ids: planIds(plan, 123456, 1400) };
    assert.ok(isOurSwitch(ls));
    const back = planOf(ls);
    assert.ok(back.plan.equals(plan));
    assert.equal(back.group, 123456);
    assert.equal(back.mtu, 1400);
    assert.equal(isOurSwitch({ ...ls, external_ids: new Map() }), false);
  });

  describe('transactions (against the installed Northbound schema)', function () {
    let x: ReturnType<typeof ops<NbTables>>;
    before(function () {
      let schema: TypedSchema<NbTables>;
      try {
        schema = JSON.parse(readFileSync(NB_SCHEMA, 'utf8')) as TypedSchema<NbTables>;
      } catch {
        this.skip();
      }
      x = ops(schema!) as unknown as ReturnType<typeof ops<NbTables>>;
    });

    it('create: guard on the name, then router port with the gateway MAC and networks, router, router-type switch port, switch', () => {
      const o = createSwitchOps(x, plan, 7, undefined, { ls: '11111111-1111-4111-8111-111111111111', lr: '22222222-2222-4222-8222-222222222222', lrp: '33333333-3333-4333-8333-333333333333', lsp: '44444444-4444-4444-8444-444444444444' }) as unknown as Record<string, unknown>[];
      assert.deepEqual(o.map((op) => [op.op, op.table]), [['wait', 'Logical_Switch'], ['insert', 'Logical_Router_Port'], ['insert', 'Logical_Router'], ['insert', 'Logical_Switch_Port'], ['insert', 'Logical_Switch']]);
      const lrp = (o[1].row as Record<string, unknown>);
      assert.equal(lrp.name, gatewayRouterPort('ov0'));
      assert.equal(lrp.mac, '52:00:0a:01:02:fe');
      assert.deepEqual(lrp.networks, ['set', ['10.1.2.254/24', `${plan.gateway6}/64`]]);
      const lsp = o[3].row as Record<string, unknown>;
      assert.equal(lsp.name, gatewaySwitchPort('ov0'));
      assert.equal(lsp.type, 'router');
    });

    it('claim: two guards (switch, port name), then the port with requested-chassis and its host, then the switch mutation', () => {
      const ls: LogicalSwitchRow = { _uuid: '55555555-5555-4555-8555-555555555555', name: 'ov0', ports: [], external_ids: planIds(plan, 7) };
      const o = claimOps(x, ls, plan.addressOf(4), { host: 'hostA', owner: 'b/1/2', ifname: 'eth0', mtu: 1442, target: { kind: 'netns', ref: '/var/run/netns/a', netnsId: '4:5' }, extra: { app: 'x' } }, '66666666-6666-4666-8666-666666666666') as unknown as Record<string, unknown>[];
      assert.equal(o[CLAIM_GUARD_SWITCH].op, 'wait');
      assert.equal(o[CLAIM_GUARD_PORT].op, 'wait');
      const row = o[2].row as Record<string, unknown>;
      assert.equal(row.name, 'ov0-s04');
      assert.deepEqual(row.options, ['map', [['requested-chassis', 'hostA']]]);
      const ids = new Map((row.external_ids as [string, [string, string][]])[1]);
      assert.equal(ids.get(OK.host), 'hostA');
      assert.equal(ids.get(OK.slot), '4');
      assert.equal(ids.get('app'), 'x');
      assert.equal(o[3].op, 'mutate');
    });
  });
});
