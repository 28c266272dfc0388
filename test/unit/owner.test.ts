// The owner string marks in-flight work (OVSDB claims, veth aliases); cleanup trusts it to tell live from dead.
import { strict as assert } from 'node:assert';
import { ownerAlias, ownerAlive, ownerFromAlias, ownerPid, selfOwner } from '../../src/owner';

describe('owner (who is attaching)', () => {
  it('names this process as <boot>/<pid>/<starttime>, alive', () => {
    const me = selfOwner();
    assert.match(me, /^[^/]+\/\d+\/\d+$/);
    assert.equal(ownerPid(me), process.pid);
    assert.equal(ownerAlive(me), true);
  });

  it('calls an owner dead when its pid was reused, its boot is another, or it is malformed', () => {
    const [boot, pid, start] = selfOwner().split('/');
    assert.equal(ownerAlive(`${boot}/${pid}/${Number(start) + 1}`), false);
    assert.equal(ownerAlive(`other-boot/${pid}/${start}`), false);
    for (const bad of [undefined, '', 'x', `${boot}/0/1`, `${boot}/-3/1`, `${boot}/abc/1`]) assert.equal(ownerAlive(bad), false, String(bad));
    assert.equal(ownerPid('garbage'), undefined);
  });

  it('writes an owner into a link alias and reads only its own format back', () => {
    const me = selfOwner();
    assert.equal(ownerAlias(me), `ecdock ${me}`);
    assert.equal(ownerFromAlias(ownerAlias(me)), me);
    assert.ok(Buffer.byteLength(ownerAlias(me)) <= 255, 'IFLA_IFALIAS holds at most 255 bytes');
    for (const foreign of [undefined, '', 'docker0 uplink', 'ecdock', 'ECDOCK x']) assert.equal(ownerFromAlias(foreign), undefined, String(foreign));
  });
});
