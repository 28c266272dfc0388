// Which offloads a slot's interface gets, by datapath, and how the request is encoded (no root).
import { strict as assert } from 'node:assert';
import { constants as osc } from 'node:os';
import { isEcdockError } from '../../src/errors';
import { checkConfig, planSteps } from '../../src/netlink/configure';
import { txChecksumRequest } from '../../src/netlink/ethtool';
import { ECDOCK_ETHTOOL_SET, ETHTOOL_STXCSUM, NLM_F_ACK, NLM_F_REQUEST } from '../../src/netlink/nl/constants';
import { targetOffloads } from '../../src/ovs/plumbing';

describe('slot offloads by datapath (no root)', () => {
  it('userspace datapath: TX checksum offload off in the target', () => {
    assert.deepEqual(targetOffloads(true), { txChecksum: false });
  });

  it('userspace datapath with ovs-vswitchd userspace TSO on: offloads left alone', () => {
    assert.deepEqual(targetOffloads(true, true), {});
    assert.deepEqual(targetOffloads(true, false), { txChecksum: false });
    assert.deepEqual(targetOffloads(false, true), {});
  });

  it('kernel datapath: offloads left alone (no ethtool request at all)', () => {
    assert.deepEqual(targetOffloads(false), {});
    const steps = planSteps(7, 'eth0', checkConfig({ up: true, ...targetOffloads(false) }));
    assert.ok(!steps.some((s) => s.req.type === ECDOCK_ETHTOOL_SET));
  });

  it('the ethtool step comes before the link goes up and tolerates a device with nothing to turn off', () => {
    const steps = planSteps(7, 'eth0', checkConfig({ up: true, addresses: [{ address: '10.0.0.2', prefixLength: 24 }], ...targetOffloads(true) }));
    const at = steps.findIndex((s) => s.req.type === ECDOCK_ETHTOOL_SET);
    const up = steps.findIndex((s) => s.action === 'bring up eth0');
    assert.ok(at >= 0 && up > at, `ethtool step ${at} before up ${up}`);
    assert.deepEqual(steps[at].tolerate, [osc.errno.EOPNOTSUPP]);
    assert.equal(steps[at].undo, undefined);
    assert.match(steps[at].action, /turn off TX checksum offload of eth0/);
  });

  it('encodes "set TX checksum" for the addon: header, ifindex, ETHTOOL_STXCSUM, value', () => {
    for (const on of [false, true]) {
      const r = txChecksumRequest(42, on);
      assert.equal(r.bytes.length, 28);
      assert.equal(r.bytes.readUInt32LE(0), 28);
      assert.equal(r.bytes.readUInt16LE(4), ECDOCK_ETHTOOL_SET);
      assert.equal(r.bytes.readUInt16LE(6), NLM_F_REQUEST | NLM_F_ACK);
      assert.equal(r.bytes.readUInt32LE(16), 42);
      assert.equal(r.bytes.readUInt32LE(20), ETHTOOL_STXCSUM);
      assert.equal(r.bytes.readUInt32LE(24), on ? 1 : 0);
    }
  });

  it('refuses a txChecksum that is not a boolean', () => {
    assert.throws(() => checkConfig({ txChecksum: 'off' as unknown as boolean }), (e: unknown) => isEcdockError(e, 'BAD_ARGUMENT'));
  });
});
