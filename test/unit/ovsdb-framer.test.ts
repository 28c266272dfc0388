// The framer must give the same messages however the byte stream is cut (pg-protocol style).
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { JsonFramer } from '../../src/ovsdb/framer';
import { isEcdockError } from '../../src/errors';

// A stream shaped like real ovsdb-server output: replies, update2 notifications, an echo probe,
// multi-byte UTF-8 (2, 3 and 4 bytes), escapes, braces inside strings, and whitespace between
// messages (which the server never sends but peers may).
const MESSAGES: unknown[] = [
  { id: 1, result: ['Open_vSwitch', '_Server'], error: null },
  { id: null, method: 'update2', params: ['m1', { Port: { 'e0fbb412-c921-4d0e-a4cc-8d1bccd49ac4': { insert: { name: 'pé中😀', tag: 5, external_ids: ['map', [['k{', 'v}'], ['"q"', '\\back\\slash']]] } } } }] },
  { id: 'echo', method: 'echo', params: [] },
  { id: 2, error: { error: 'constraint violation', details: 'tag 5000 is not in 0..4095 — «ñ»', syntax: '{"tag":5000}' } },
  { id: 3, error: 'unknown method' },
  { id: 4, result: [{ rows: [{ name: '[]{}"\\', ofport: -1, ok: true, r: 1.5e-3, n: null }] }], error: null },
];
const SEPARATORS = ['', '\n', '  \n\t', '', '\r\n', ''];
const STREAM = Buffer.from(MESSAGES.map((m, i) => JSON.stringify(m) + SEPARATORS[i]).join(''), 'utf8');

function frame(chunks: Buffer[], opts?: { maxMessageBytes?: number }): unknown[] {
  const out: unknown[] = [];
  const f = new JsonFramer((t) => out.push(JSON.parse(t)), opts);
  for (const c of chunks) f.push(c);
  assert.equal(f.idle, true, 'framer should be between messages at the end of the stream');
  return out;
}

function splitAt(buf: Buffer, points: number[]): Buffer[] {
  const cuts = [...new Set(points)].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of cuts) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

describe('ovsdb framer', () => {
  it('frames a whole stream in one chunk', () => {
    assert.deepEqual(frame([STREAM]), MESSAGES);
  });

  it('frames the stream split at every single byte position (including inside multi-byte UTF-8)', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      assert.deepEqual(frame([STREAM.subarray(0, i), STREAM.subarray(i)]), MESSAGES, `split at ${i}`);
    }
  });

  it('frames the stream fed one byte at a time', () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < STREAM.length; i++) chunks.push(STREAM.subarray(i, i + 1));
    assert.deepEqual(frame(chunks), MESSAGES);
  });

  it('frames the stream under random multi-splits (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: STREAM.length }), { maxLength: 40 }), (points) => {
        assert.deepEqual(frame(splitAt(STREAM, points)), MESSAGES);
      }),
      { numRuns: 500 },
    );
  });

  it('frames arbitrary JSON objects with arbitrary unicode, however chunked (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue()), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (objs, rawPoints) => {
          const buf = Buffer.from(objs.map((o) => JSON.stringify(o)).join(' '), 'utf8');
          const points = rawPoints.map((p) => p % (buf.length + 1));
          // JSON.parse(JSON.stringify(x)) normalizes -0 and the like: compare with that.
          assert.deepEqual(frame(splitAt(buf, points)), objs.map((o) => JSON.parse(JSON.stringify(o))));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('frames a real schema-sized message split into many chunks, joining it exactly once', () => {
    const schema = readFileSync('/usr/share/openvswitch/vswitch.ovsschema', 'utf8');
    const msg = { id: 7, result: JSON.parse(schema), error: null };
    const buf = Buffer.from(JSON.stringify(msg) + JSON.stringify({ id: 8, result: {}, error: null }));
    const orig = Buffer.concat;
    let concats = 0;
    (Buffer as { concat: typeof Buffer.concat }).concat = (list, total) => {
      concats++;
      return orig(list, total);
    };
    try {
      const chunks: Buffer[] = [];
      for (let i = 0; i < buf.length; i += 7) chunks.push(buf.subarray(i, i + 7));
      const out = frame(chunks);
      assert.equal(out.length, 2);
      assert.deepEqual(out[0], msg);
      // One join for the big message (the small one ends inside a single chunk or needs one more).
      assert.ok(concats <= 2, `Buffer.concat called ${concats} times; a message must be joined once, not per chunk`);
    } finally {
      (Buffer as { concat: typeof Buffer.concat }).concat = orig;
    }
  });

  it('keeps no more than the unfinished message buffered', () => {
    const f = new JsonFramer(() => undefined);
    f.push(Buffer.from('{"id":1,"result":[]}{"id":2,"res'));
    assert.equal(f.bufferedBytes, '{"id":2,"res'.length);
    f.push(Buffer.from('ult":[],"error":null}   '));
    assert.equal(f.bufferedBytes, 0);
    assert.equal(f.idle, true);
  });

  it('rejects garbage between messages with OVSDB_PROTOCOL, and stays failed', () => {
    const f = new JsonFramer(() => undefined);
    assert.throws(() => f.push(Buffer.from('{"a":1} hello')), (e) => isEcdockError(e, 'OVSDB_PROTOCOL') && /unexpected byte 0x68/.test(e.message));
    assert.throws(() => f.push(Buffer.from('{"a":1}')), (e) => isEcdockError(e, 'OVSDB_PROTOCOL'));
  });

  it('rejects top-level scalars', () => {
    for (const bad of ['42', '"str"', 'null', 'true']) {
      const f = new JsonFramer(() => undefined);
      assert.throws(() => f.push(Buffer.from(bad)), (e) => isEcdockError(e, 'OVSDB_PROTOCOL'), bad);
    }
  });

  it('fails with OVSDB_MESSAGE_TOO_LARGE as soon as a message passes the limit, without waiting for its end', () => {
    const f = new JsonFramer(() => assert.fail('no message expected'), { maxMessageBytes: 1000 });
    f.push(Buffer.from('{"id":1,"result":"'));
    let threw: unknown;
    try {
      for (let i = 0; i < 100; i++) f.push(Buffer.alloc(100, 0x61));
    } catch (e) {
      threw = e;
    }
    assert.ok(isEcdockError(threw, 'OVSDB_MESSAGE_TOO_LARGE'), String(threw));
    assert.ok(f.bufferedBytes === 0, 'the partial message is dropped');
  });

  it('fails with OVSDB_MESSAGE_TOO_LARGE for an oversized message inside one chunk', () => {
    const f = new JsonFramer(() => undefined, { maxMessageBytes: 50 });
    assert.throws(() => f.push(Buffer.from(JSON.stringify({ id: 1, result: 'x'.repeat(100) }))), (e) => isEcdockError(e, 'OVSDB_MESSAGE_TOO_LARGE'));
  });

  it('accepts a message of exactly the limit', () => {
    const text = JSON.stringify({ id: 1, result: 'x'.repeat(40) });
    assert.deepEqual(frame([Buffer.from(text)], { maxMessageBytes: Buffer.byteLength(text) }), [JSON.parse(text)]);
  });

  it('rejects nesting deeper than the limit', () => {
    const f = new JsonFramer(() => undefined, { maxDepth: 10 });
    assert.throws(() => f.push(Buffer.from('['.repeat(11))), (e) => isEcdockError(e, 'OVSDB_PROTOCOL'));
  });

  it('does not rescan: a string split into thousands of chunks is handled chunk by chunk', () => {
    let got: unknown;
    const f = new JsonFramer((t) => (got = JSON.parse(t)));
    f.push(Buffer.from('{"s":"'));
    for (let i = 0; i < 5000; i++) f.push(Buffer.from('ab\\"'));
    assert.equal(f.bufferedBytes, 6 + 5000 * 4);
    f.push(Buffer.from('"}'));
    assert.equal((got as { s: string }).s, 'ab"'.repeat(5000));
  });
});
