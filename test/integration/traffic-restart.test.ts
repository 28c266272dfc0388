// Traffic after ovs-vswitchd goes away and comes back (a clean stop, and a crash): veth slots keep
// their links and their targets' offload settings, ovs-vswitchd re-adds their ports from the
// database, and TCP bulk (byte count) and UDP echo pass again, IPv4 and IPv6.
import { strict as assert } from 'node:assert';
import { eventually, requireRoot, sh, type TestNetns } from '../support/env';
import { startSwitchFixture, type SwitchFixture } from '../support/switch';
import { tcpBulk, udpEcho } from '../support/traffic';
import type { VSwitch } from '../../src/vswitch';

const MB1 = 1_000_000;

describe('traffic after an ovs-vswitchd restart (userspace datapath, real OVS)', function () {
  this.timeout(120_000);
  let f: SwitchFixture;
  let vs: VSwitch;
  let a: TestNetns;
  let b: TestNetns;

  before(async function () {
    requireRoot(this);
    f = await startSwitchFixture();
    vs = await f.vswitch({ subnet: '10.41.0.254/24', ipv6Prefix: '2001:db8:41::/64' });
    [a, b] = await Promise.all([f.netns('ectr-'), f.netns('ectr-')]);
    await vs.attach({ slot: 1, target: { netns: a.path } });
    await vs.attach({ slot: 2, target: { netns: b.path } });
    assert.equal(await tcpBulk(b, a, '10.41.0.2', MB1), MB1, 'before the restart');
  });
  after(async () => f?.cleanup.run());

  /** Both slot ports have an OpenFlow port again (ovs-vswitchd re-added them). */
  async function portsBack(): Promise<void> {
    await eventually(async () => {
      for (const p of [`${vs.name}-s01`, `${vs.name}-s02`]) {
        const r = await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, '--timeout=5', 'get', 'Interface', p, 'ofport'], { allowFail: true });
        if (!(Number(r.stdout.trim()) > 0)) return false;
      }
      return true;
    }, 30_000, 200);
  }

  async function carries(): Promise<void> {
    assert.equal(await tcpBulk(b, a, '10.41.0.2', MB1), MB1, 'TCP IPv4');
    assert.equal(await tcpBulk(a, b, '2001:db8:41::a29:1', MB1), MB1, 'TCP IPv6');
    assert.equal(await udpEcho(b, a, '10.41.0.2', 3), 3, 'UDP IPv4');
    assert.equal(await udpEcho(a, b, '2001:db8:41::a29:1', 3), 3, 'UDP IPv6');
  }

  it('after a clean stop and start', async () => {
    await f.sb.stopVswitchd();
    await f.sb.startVswitchd();
    await portsBack();
    await carries();
  });

  it('after a crash (SIGKILL) and start', async () => {
    await f.sb.killVswitchd();
    await f.sb.startVswitchd();
    await portsBack();
    await carries();
  });
});
