// The resident daemon's wire format (src/cni/wire.ts), which native/cni-forward.c speaks too.
import { strict as assert } from 'node:assert';
import { FALLBACK, decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/cni/wire';

describe('CNI daemon wire format', () => {
  it('round-trips a request: the environment, then stdin byte for byte (UTF-8, "=" in values, empty values)', () => {
    const call = { env: { CNI_COMMAND: 'ADD', CNI_ARGS: 'IgnoreUnknown=1;IP=10.0.0.7', CNI_NETNS: '/run/netns/é', CNI_EMPTY: '' }, stdin: '{"name":"ünï"}\n' };
    assert.deepEqual(decodeRequest(encodeRequest(call)), call);
    assert.deepEqual(decodeRequest(encodeRequest({ env: {}, stdin: '' })), { env: {}, stdin: '' });
  });

  it('reads a request as the forwarder writes it', () => {
    const bytes = Buffer.from('ECNI1\0ECDOCK_CNI_MNTNS=4026531841\0CNI_COMMAND=VERSION\0\0{"cniVersion":"1.0.0"}', 'latin1');
    assert.deepEqual(decodeRequest(bytes), { env: { ECDOCK_CNI_MNTNS: '4026531841', CNI_COMMAND: 'VERSION' }, stdin: '{"cniVersion":"1.0.0"}' });
  });

  it('refuses what is not a whole request, with a sentence', () => {
    assert.throws(() => decodeRequest(Buffer.from('GET / HTTP/1.1\r\n')), /protocol marker/);
    assert.throws(() => decodeRequest(Buffer.from('ECNI1\0CNI_COMMAND=ADD\0')), /ends inside its environment/);
    assert.throws(() => decodeRequest(Buffer.from('ECNI1\0NOEQUALS\0\0')), /not NAME=VALUE/);
    assert.throws(() => decodeRequest(Buffer.from('ECNI1\0=x\0\0')), /not NAME=VALUE/);
  });

  it('frames the answer with its status and length, and says when it is cut short', () => {
    const out = '{"cniVersion":"1.0.0","code":7,"msg":"ü"}\n';
    const wire = encodeResponse(1, out);
    assert.equal(wire[0], 1);
    assert.equal(wire.readUInt32BE(1), Buffer.byteLength(out));
    assert.deepEqual(decodeResponse(wire), { status: 1, stdout: out });
    assert.equal(decodeResponse(wire.subarray(0, wire.length - 1)), undefined);
    assert.equal(decodeResponse(wire.subarray(0, 3)), undefined);
    assert.deepEqual(decodeResponse(encodeResponse(FALLBACK, '')), { status: 0xff, stdout: '' });
  });
});
