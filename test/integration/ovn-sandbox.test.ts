// OvnSandbox: a private OVN (central part + simulated hosts over a Geneve underlay) starts ready
// and leaves no process, namespace, link or file behind.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { OvnSandbox, pidAlive } from '../../src/sandbox';
import { requireRoot, sh } from '../support/env';

describe('OvnSandbox (real OVN: ovsdb-servers, ovn-northd, per-host ovs-vswitchd + ovn-controller)', function () {
  this.timeout(120_000);
  before(function () {
    requireRoot(this);
  });

  it('starts two hosts with their chassis and tunnels, and stop() leaves nothing', async () => {
    const ovn = await OvnSandbox.start({ hosts: 2 });
    let stopped = false;
    try {
      assert.equal(ovn.hosts.length, 2);
      const chassis = await sh('ovn-sbctl', [`--db=${ovn.southbound}`, '--bare', '--columns=name', 'list', 'Chassis']);
      for (const h of ovn.hosts) assert.match(chassis.stdout, new RegExp(h.name));
      for (const h of ovn.hosts) {
        assert.ok(existsSync(h.netns));
        const tun = await sh('ovs-vsctl', [`--db=${h.dbUrl}`, '--bare', '--columns=name', 'find', 'Interface', 'type=geneve']);
        assert.equal(tun.stdout.trim().split('\n').filter(Boolean).length, 1, `${h.name} has one tunnel`);
        const dp = await sh('ovs-vsctl', [`--db=${h.dbUrl}`, 'get', 'Bridge', 'br-int', 'datapath_type']);
        assert.equal(dp.stdout.trim(), 'netdev');
      }
      // the hosts reach each other over the underlay
      const ping = await sh('ip', ['netns', 'exec', ovn.netnsNames[1], 'ping', '-c1', '-W2', ovn.hosts[1].encapIp]);
      assert.equal(ping.code, 0);
      const pids = ovn.pids;
      assert.ok(pids.length >= 9 && pids.every(pidAlive), `pids ${pids.join(' ')}`);
      const { dir, netnsNames } = ovn;
      await ovn.stop();
      stopped = true;
      assert.deepEqual(pids.filter(pidAlive), []);
      assert.equal(existsSync(dir), false);
      const ns = await sh('ip', ['netns', 'list']);
      for (const n of netnsNames) assert.doesNotMatch(ns.stdout, new RegExp(`^${n}\\b`, 'm'));
      await ovn.stop(); // twice is fine
    } finally {
      if (!stopped) await ovn.stop();
    }
  });
});
