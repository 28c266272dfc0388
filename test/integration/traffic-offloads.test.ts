// The addon's "ethtool set" request against the real kernel: it acts in the batch's namespace,
// in order with the batch's rtnetlink requests, and fails like any other request.
import { strict as assert } from 'node:assert';
import { isEcdockError } from '../../src/errors';
import { configureInterface } from '../../src/netlink/configure';
import { Netns } from '../../src/netlink/netns';
import { Cleanup, TestNetns, requireRoot, sh } from '../support/env';

async function txCsum(ns: TestNetns, ifname: string): Promise<string> {
  const r = await sh('ip', ['netns', 'exec', ns.name, 'ethtool', '-k', ifname]);
  return /^tx-checksumming: (\w+)/m.exec(r.stdout)?.[1] ?? '?';
}

describe('TX checksum offload over the addon (real kernel, no process)', function () {
  this.timeout(60_000);
  const cleanup = new Cleanup();
  let ns: TestNetns;
  let netns: Netns;

  before(async function () {
    requireRoot(this);
    ns = await TestNetns.create('ecto-');
    cleanup.add(() => ns.del());
    await ns.exec(['ip', 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb']);
    netns = Netns.open({ path: ns.path });
    cleanup.add(() => netns.close());
  });
  after(() => cleanup.run());

  it('turns it off and on again in the target namespace, by name, leaving the peer alone', async () => {
    assert.equal(await txCsum(ns, 'va'), 'on');
    await configureInterface({ netns, ifname: 'va', txChecksum: false, up: false });
    assert.equal(await txCsum(ns, 'va'), 'off');
    assert.equal(await txCsum(ns, 'vb'), 'on', 'the other end is untouched');
    await configureInterface({ netns, ifname: 'va', txChecksum: true, up: false });
    assert.equal(await txCsum(ns, 'va'), 'on');
  });

  it('acts in the namespace of the batch, not the caller: the host has no such link', async () => {
    const host = await sh('ip', ['link', 'show', 'va'], { allowFail: true });
    assert.notEqual(host.code, 0, 'precondition: no "va" in the caller namespace');
    await configureInterface({ netns, ifname: 'va', txChecksum: false, up: false });
    assert.equal(await txCsum(ns, 'va'), 'off');
  });

  it('a missing link fails with NO_SUCH_LINK and the rest of the batch is rolled back', async () => {
    await assert.rejects(
      configureInterface({ netns, ifindex: 9999, txChecksum: false, up: false }),
      (e: unknown) => isEcdockError(e, 'NO_SUCH_LINK') && /TX checksum offload/.test((e as Error).message),
    );
  });
});
