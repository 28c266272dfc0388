import * as assert from 'node:assert/strict';
import { classify, encode, encodeRequest, failure, notification, request, success } from '../../src/ovsdb/jsonrpc';
import { isEcdockError } from '../../src/errors';

describe('ovsdb JSON-RPC 1.0 adapter', () => {
  it('writes requests with no jsonrpc member and array params', () => {
    const text = encode(request(5, 'list_dbs', []));
    assert.deepEqual(JSON.parse(text), { method: 'list_dbs', params: [], id: 5 });
    assert.ok(!text.includes('jsonrpc'));
    assert.equal(encodeRequest(5, 'list_dbs', []), text);
  });

  it('writes notifications with "id": null', () => {
    assert.deepEqual(JSON.parse(encode(notification('cancel', [4]))), { method: 'cancel', params: [4], id: null });
  });

  it('writes echo replies as {id, result, error:null}', () => {
    assert.deepEqual(JSON.parse(encode(success('echo', []))), { id: 'echo', result: [], error: null });
  });

  it('writes error replies with the OVSDB error value', () => {
    assert.deepEqual(JSON.parse(encode(failure(3, 'unknown method'))), { id: 3, result: null, error: 'unknown method' });
  });

  it('classifies a success reply (error: null present)', () => {
    const m = classify({ id: 1, result: ['Open_vSwitch'], error: null });
    assert.equal(m.type, 'success');
    assert.deepEqual(m.type === 'success' && m.message.result, ['Open_vSwitch']);
  });

  it('classifies a string error reply without result', () => {
    const m = classify({ id: 20, error: 'unknown method' });
    assert.equal(m.type, 'error');
    assert.equal(m.type === 'error' && m.error, 'unknown method');
  });

  it('classifies an object error reply and keeps its details', () => {
    const m = classify({ id: 14, error: { error: 'unknown database', details: 'no Nope', syntax: '["Nope"]' } });
    assert.equal(m.type, 'error');
    assert.deepEqual(m.type === 'error' && m.error, { error: 'unknown database', details: 'no Nope', syntax: '["Nope"]' });
  });

  it('classifies notifications (id null or absent) and server requests (echo)', () => {
    assert.equal(classify({ id: null, method: 'update2', params: ['m', {}] }).type, 'notification');
    assert.equal(classify({ method: 'locked', params: ['x'] }).type, 'notification');
    const r = classify({ id: 'echo', method: 'echo', params: [] });
    assert.equal(r.type, 'request');
    assert.equal(r.type === 'request' && r.message.id, 'echo');
  });

  it('treats members set to null as absent', () => {
    assert.equal(classify({ id: 2, result: { a: 1 }, error: null, method: null }).type, 'success');
  });

  it('rejects non-objects and shapeless messages with OVSDB_PROTOCOL', () => {
    for (const bad of [[1, 2], 'x', 3, null, { foo: 1 }, { id: null, result: 1 }, { method: 'update', params: 'notarray', id: null }]) {
      assert.throws(() => classify(bad), (e) => isEcdockError(e, 'OVSDB_PROTOCOL'), JSON.stringify(bad));
    }
  });
});
