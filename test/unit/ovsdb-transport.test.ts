import * as assert from 'node:assert/strict';
import { formatRemote, parseRemotes } from '../../src/ovsdb/transport';
import { isEcdockError } from '../../src/errors';

describe('ovsdb remote URLs', () => {
  it('parses unix, tcp and ssl remotes', () => {
    assert.deepEqual(parseRemotes('unix:/var/run/openvswitch/db.sock'), [{ kind: 'unix', path: '/var/run/openvswitch/db.sock' }]);
    assert.deepEqual(parseRemotes('tcp:127.0.0.1:6641'), [{ kind: 'tcp', host: '127.0.0.1', port: 6641 }]);
    assert.deepEqual(parseRemotes('ssl:ovs.example:6640'), [{ kind: 'ssl', host: 'ovs.example', port: 6640 }]);
  });

  it('defaults the port to 6640', () => {
    assert.deepEqual(parseRemotes('tcp:10.0.0.1'), [{ kind: 'tcp', host: '10.0.0.1', port: 6640 }]);
  });

  it('parses bracketed IPv6 literals', () => {
    assert.deepEqual(parseRemotes('tcp:[::1]:6640'), [{ kind: 'tcp', host: '::1', port: 6640 }]);
    assert.deepEqual(parseRemotes('ssl:[2001:db8::5]'), [{ kind: 'ssl', host: '2001:db8::5', port: 6640 }]);
    assert.equal(formatRemote({ kind: 'tcp', host: '::1', port: 6640 }), 'tcp:[::1]:6640');
  });

  it('parses comma-separated cluster lists and skips cid:', () => {
    const r = parseRemotes('unix:/a.sock, tcp:1.2.3.4:1,cid:e6fa0000-0000-0000-0000-000000000000,ssl:[::1]:9');
    assert.deepEqual(r.map(formatRemote), ['unix:/a.sock', 'tcp:1.2.3.4:1', 'ssl:[::1]:9']);
  });

  it('rejects malformed URLs with BAD_URL', () => {
    for (const bad of ['', 'db.sock', 'http:x:1', 'ptcp:6640', 'tcp:::1:6640', 'tcp:[::1', 'tcp:[nothex]:1', 'tcp:h:0', 'tcp:h:99999', 'tcp:h:abc', 'unix:', 'tcp:']) {
      assert.throws(() => parseRemotes(bad), (e) => isEcdockError(e, 'BAD_URL'), bad);
    }
  });
});
