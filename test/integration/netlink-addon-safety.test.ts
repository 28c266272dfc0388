// The addon's own guard rails, called directly: descriptors it did not open are refused (never
// closed, never entered), wrong argument types are TypeErrors, and a request the addon cannot
// frame closes the socket it was handed (as the session assumes), leaving nothing open.
import { strict as assert } from 'node:assert';
import { openSync, closeSync, fstatSync } from 'node:fs';
import { native } from '../../src/netlink/addon';
import { getLinkRequest } from '../../src/netlink/link';
import { requireRoot } from '../support/env';

const open = (fd: number): boolean => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

describe('netlink addon guard rails (real addon)', function () {
  this.timeout(30_000);
  before(function () {
    requireRoot(this);
  });

  it('nsClose refuses a descriptor it did not open and leaves it open', () => {
    const fd = openSync('/proc/self/ns/net', 'r');
    try {
      assert.throws(() => native().nsClose(fd), /not a namespace opened by nsOpen/);
      assert.ok(open(fd), 'the foreign descriptor is still open');
    } finally {
      closeSync(fd);
    }
  });

  it('nsClose of a namespace twice: the second is refused', () => {
    const before = native().stats().namespacesOpen;
    const [fd] = native().nsOpen('/proc/self/ns/net');
    assert.equal(native().stats().namespacesOpen, before + 1);
    native().nsClose(fd);
    assert.equal(native().stats().namespacesOpen, before);
    assert.throws(() => native().nsClose(fd), /closed already/);
  });

  it('transact refuses an nsfd it did not open (it would setns into whatever that is)', async () => {
    const fd = openSync('/proc/self/ns/net', 'r');
    try {
      assert.throws(() => native().transact(Buffer.alloc(0), fd, -1, 0, 1000, 1), /not a namespace opened by nsOpen/);
    } finally {
      closeSync(fd);
    }
  });

  it('argument types are checked: TypeError, not a cast', () => {
    const b = native();
    assert.throws(() => b.transact('x' as unknown as Buffer, -1, -1, 0, 1000, 1), TypeError);
    assert.throws(() => b.transact(Buffer.alloc(0), 'x' as unknown as number, -1, 0, 1000, 1), TypeError);
    assert.throws(() => b.transact(Buffer.alloc(0), 1.5, -1, 0, 1000, 1), TypeError);
    assert.throws(() => b.transact(Buffer.alloc(0), -1, -1, -1, 1000, 1), TypeError);
    assert.throws(() => (b.transact as unknown as (...a: unknown[]) => unknown)(Buffer.alloc(0)), TypeError);
    assert.throws(() => b.nsOpen(42 as unknown as string), TypeError);
    assert.throws(() => b.nsOpen('/proc/self/ns/net\0x'), TypeError);
    assert.throws(() => b.nsOpenFd('3' as unknown as number), TypeError);
    assert.throws(() => b.nsClose(undefined as unknown as number), TypeError);
    assert.throws(() => b.closeSocket({} as unknown as number), TypeError);
    assert.throws(() => b.configure(null as unknown as { workers?: number }), TypeError);
    assert.throws(() => b.configure({ workers: 'two' as unknown as number }), TypeError);
  });

  it('a framing error on a kept socket closes that socket: nothing leaks, the number is no longer ours', async () => {
    const b = native();
    const base = b.stats().socketsOpen;
    const lo = () => Buffer.from(getLinkRequest({ name: 'lo' }).bytes);
    const [, sock] = await b.transact(lo(), -1, -1, 1, 5000, 1); // keep: the socket comes back
    assert.ok(sock >= 0, 'a kept socket');
    assert.equal(b.stats().socketsOpen, base + 1);
    const bad = lo();
    bad.writeUInt32LE(bad.length + 100, 0); // a length field that lies
    await assert.rejects(b.transact(bad, -1, sock, 1, 5000, 1), /frame/);
    assert.equal(b.stats().socketsOpen, base, 'the failed job closed the socket it was handed');
    assert.throws(() => b.transact(lo(), -1, sock, 1, 5000, 1), /not a socket of this addon/);
  });
});
