// The attach session without Docker: detach keys in Docker's syntax, the detach sequence found
// across chunk boundaries, raw mode restored, window size forwarded, multiplexed streams split.
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { DetachKeyMatcher, parseDetachKeys, runAttachSession, StreamDemuxer } from '../../src/runtime/attach';
import { isEcdockError } from '../../src/errors';

/** The container's end of a hijacked connection: what we write is recorded, what it says is pushed. */
class FakeConn extends Duplex {
  written: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.written.push(chunk);
    cb();
  }
  override _read(): void {}
  get text(): string {
    return Buffer.concat(this.written).toString('latin1');
  }
}

/** A terminal: stdin with raw mode, stdout with a size that can change. */
function fakeTty() {
  const rawCalls: boolean[] = [];
  const stdin = Object.assign(new PassThrough(), {
    isTTY: true,
    isRaw: false,
    setRawMode(raw: boolean) {
      rawCalls.push(raw);
      stdin.isRaw = raw;
      return stdin;
    },
  });
  const stdout = Object.assign(new PassThrough(), { isTTY: true, columns: 80, rows: 24 });
  let printed = '';
  stdout.on('data', (d: Buffer) => (printed += d.toString('latin1')));
  return { stdin, stdout, rawCalls, printed: () => printed };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('attach session', () => {
  describe('parseDetachKeys', () => {
    it("reads Docker's syntax", () => {
      assert.deepEqual([...parseDetachKeys('ctrl-p,ctrl-q')], [16, 17]);
      assert.deepEqual([...parseDetachKeys('ctrl-a,d')], [1, 100]);
      assert.deepEqual([...parseDetachKeys('CTRL-P, ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_')], [16, 0, 27, 28, 29, 30, 31]);
    });
    it('refuses what is not a key with BAD_ARGUMENT', () => {
      for (const bad of ['', 'ctrl-1', 'ab', 'ctrl-', 'ctrl-p,,ctrl-q', 'é']) {
        assert.throws(() => parseDetachKeys(bad), (e: unknown) => isEcdockError(e, 'BAD_ARGUMENT'), bad);
      }
    });
  });

  it('finds the detach sequence across chunks and after false starts', () => {
    const m = new DetachKeyMatcher(parseDetachKeys('ctrl-p,ctrl-q'));
    assert.equal(m.feed(Buffer.from('ab\x10')), -1);
    assert.equal(m.feed(Buffer.from('x\x10')), -1, 'ctrl-p then x: no match, but a new ctrl-p restarts');
    assert.equal(m.feed(Buffer.from('\x11tail')), 0);
    assert.equal(m.feed(Buffer.from('\x10\x10\x11')), 2, 'ctrl-p ctrl-p ctrl-q still detaches');
  });

  it('splits a multiplexed stream fed in arbitrary pieces', () => {
    const frame = (t: number, s: string) => {
      const b = Buffer.from(s);
      const h = Buffer.alloc(8);
      h[0] = t;
      h.writeUInt32BE(b.length, 4);
      return Buffer.concat([h, b]);
    };
    const all = Buffer.concat([frame(1, 'out-1 '), frame(2, 'err-1'), frame(1, 'out-2'), frame(1, '')]);
    for (let step = 1; step <= all.length; step++) {
      const got: string[] = [];
      const d = new StreamDemuxer((t, data) => got.push(`${t}:${data}`));
      for (let i = 0; i < all.length; i += step) d.push(all.subarray(i, i + step));
      assert.deepEqual(got, ['1:out-1 ', '2:err-1', '1:out-2', '1:'], `step ${step}`);
    }
  });

  it('detaches: raw while attached, size forwarded, keys sent up to the sequence, terminal restored', async () => {
    const conn = new FakeConn();
    const t = fakeTty();
    const sizes: [number, number][] = [];
    const done = runAttachSession(
      { socket: conn, tty: true, detachKeys: parseDetachKeys('ctrl-p,ctrl-q'), resize: async (r, c) => void sizes.push([r, c]), exitCode: async () => assert.fail('no exit') },
      { stdin: t.stdin, stdout: t.stdout },
    );
    assert.deepEqual(t.rawCalls, [true]);
    assert.deepEqual(sizes, [[24, 80]]);
    conn.push('/ # ');
    t.stdin.write('ls\r');
    await tick();
    assert.equal(t.printed(), '/ # ');
    assert.equal(conn.text, 'ls\r');
    t.stdout.columns = 120;
    t.stdout.rows = 40;
    t.stdout.emit('resize');
    assert.deepEqual(sizes, [[24, 80], [40, 120]]);
    t.stdin.write('\x10');
    t.stdin.write('\x11not-sent');
    await tick();
    assert.equal(conn.text, 'ls\r\x10\x11', 'nothing after the detach keys reaches the container');
    conn.push(null); // dockerd ends the stream on detach
    assert.deepEqual(await done, { detached: true });
    assert.deepEqual(t.rawCalls, [true, false]);
    assert.equal(t.stdin.isRaw, false);
    assert.equal(t.stdin.listenerCount('data'), 0);
    assert.equal(t.stdout.listenerCount('resize'), 0);
    assert.equal(t.stdin.readableFlowing, false, 'stdin paused again so the process can exit');
  });

  it('closes by itself if dockerd does not end the stream after the detach keys', async () => {
    const conn = new FakeConn();
    const t = fakeTty();
    const done = runAttachSession(
      { socket: conn, tty: true, detachKeys: parseDetachKeys('ctrl-a,d'), resize: async () => undefined, exitCode: async () => 0 },
      { stdin: t.stdin, stdout: t.stdout },
    );
    t.stdin.write('\x01d');
    assert.deepEqual(await done, { detached: true });
    assert.equal(conn.destroyed, true);
  });

  it('ends with the exit code when the container goes away; no raw mode when told not to', async () => {
    const conn = new FakeConn();
    const t = fakeTty();
    const done = runAttachSession(
      { socket: conn, tty: true, detachKeys: parseDetachKeys('ctrl-p,ctrl-q'), resize: async () => undefined, exitCode: async () => 7 },
      { stdin: t.stdin, stdout: t.stdout, rawMode: false },
    );
    conn.push('bye\r\n');
    conn.push(null);
    assert.deepEqual(await done, { detached: false, exitCode: 7 });
    assert.deepEqual(t.rawCalls, []);
    assert.equal(t.printed(), 'bye\r\n');
  });

  it('without a tty: demultiplexes to stdout and stderr, never touches raw mode or size', async () => {
    const conn = new FakeConn();
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (d: Buffer) => (out += d));
    stderr.on('data', (d: Buffer) => (err += d));
    let resized = 0;
    const done = runAttachSession(
      { socket: conn, tty: false, detachKeys: parseDetachKeys('ctrl-p,ctrl-q'), resize: async () => void resized++, exitCode: async () => undefined },
      { stdin, stdout, stderr },
    );
    const h = (t: number, n: number) => Buffer.from([t, 0, 0, 0, 0, 0, 0, n]);
    conn.push(Buffer.concat([h(1, 2), Buffer.from('o1'), h(2, 2)]));
    conn.push(Buffer.from('e1'));
    stdin.end('input');
    await tick();
    assert.equal(conn.text, 'input');
    conn.push(null);
    assert.deepEqual(await done, { detached: false });
    assert.equal(out, 'o1');
    assert.equal(err, 'e1');
    assert.equal(resized, 0);
  });
});
