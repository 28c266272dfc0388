import { strict as assert } from 'node:assert';
import { existsSync, statSync } from 'node:fs';
import { OvsSandbox } from '../../src/sandbox';
import { pidAlive } from '../../src/sandbox';
import { requireRoot, sh } from '../support/env';

describe('OvsSandbox (real ovsdb-server + ovs-vswitchd)', function () {
  before(function () {
    requireRoot(this);
  });

  it('starts a private OVS, isolated, and leaves nothing behind when stopped', async function () {
    const sb = await OvsSandbox.start({ isolated: true });
    let stopped = false;
    try {
      assert.ok(sb.ovsdbPid && pidAlive(sb.ovsdbPid));
      assert.ok(sb.vswitchdPid && pidAlive(sb.vswitchdPid));
      assert.equal(statSync(sb.dir).mode & 0o777, 0o700);
      assert.match(sb.dbUrl, /^unix:.*db\.sock$/);
      assert.ok(sb.netns && existsSync(sb.netns));
      const out = await sh('ovs-vsctl', [`--db=${sb.dbUrl}`, '--timeout=10', 'add-br', 'sbt0', '--', 'set', 'bridge', 'sbt0', 'datapath_type=netdev']);
      assert.equal(out.code, 0);
      const ofport = await sh('ovs-vsctl', [`--db=${sb.dbUrl}`, 'get', 'Interface', 'sbt0', 'ofport']);
      assert.equal(ofport.stdout.trim(), '65534');
      // the bridge's tap lives in the sandbox netns, not in ours
      const links = await sh('ip', ['netns', 'exec', sb.netns!.split('/').pop()!, 'ip', '-br', 'link']);
      assert.match(links.stdout, /sbt0/);
      const own = await sh('ip', ['-br', 'link']);
      assert.doesNotMatch(own.stdout, /sbt0/);
      const { ovsdbPid, vswitchdPid, dir, netns } = sb;
      await sb.stop();
      stopped = true;
      assert.equal(pidAlive(ovsdbPid!), false);
      assert.equal(pidAlive(vswitchdPid!), false);
      assert.equal(existsSync(dir), false);
      assert.equal(existsSync(netns!), false);
    } finally {
      if (!stopped) await sb.stop();
    }
  });

  it('two isolated sandboxes run side by side', async function () {
    const a = await OvsSandbox.start({ isolated: true });
    try {
      const b = await OvsSandbox.start({ isolated: true });
      try {
        for (const sb of [a, b]) {
          await sh('ovs-vsctl', [`--db=${sb.dbUrl}`, '--timeout=10', 'add-br', 'twin0', '--', 'set', 'bridge', 'twin0', 'datapath_type=netdev']);
          const ofport = await sh('ovs-vsctl', [`--db=${sb.dbUrl}`, 'get', 'Interface', 'twin0', 'ofport']);
          assert.equal(ofport.stdout.trim(), '65534');
        }
      } finally {
        await b.stop();
      }
    } finally {
      await a.stop();
    }
  });

  it('restarts ovsdb-server on the same database after a crash', async function () {
    const sb = await OvsSandbox.start({ vswitchd: false });
    try {
      await sh('ovs-vsctl', [`--db=${sb.dbUrl}`, '--no-wait', 'add-br', 'keep0']);
      const before = sb.ovsdbPid!;
      await sb.killOvsdb();
      assert.equal(pidAlive(before), false);
      await sb.startOvsdb();
      assert.notEqual(sb.ovsdbPid, before);
      const r = await sh('ovs-vsctl', [`--db=${sb.dbUrl}`, 'br-exists', 'keep0'], { allowFail: true });
      assert.equal(r.code, 0);
    } finally {
      await sb.stop();
    }
  });
});
