import { strict as assert } from 'node:assert';
import * as path from 'node:path';

// Loads a fresh copy of src/netlink (so that the lazily loaded addon state starts empty).
function freshNetlink(): typeof import('../../src/netlink') {
  const dir = path.resolve(__dirname, '../../src/netlink');
  for (const k of Object.keys(require.cache)) if (k.startsWith(dir)) delete require.cache[k];
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh copy needs require(), import is cached
  return require('../../src/netlink') as typeof import('../../src/netlink');
}

describe('netlink addon loading (no root)', () => {
  const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
  const saved = process.env.ECDOCK_NATIVE;
  afterEach(() => {
    Object.defineProperty(process, 'platform', platform);
    if (saved === undefined) delete process.env.ECDOCK_NATIVE;
    else process.env.ECDOCK_NATIVE = saved;
    freshNetlink();
  });

  it('imports on a non-Linux platform; calls fail with NATIVE_UNAVAILABLE', async () => {
    Object.defineProperty(process, 'platform', { value: 'darwin' });
    const nl = freshNetlink();
    assert.throws(() => nl.Netns.open({ name: 'x' }), (e: unknown) => (e as { code: string }).code === 'NATIVE_UNAVAILABLE' && /only on Linux/.test((e as Error).message));
    await assert.rejects(nl.listLinks(), (e: unknown) => (e as { code: string }).code === 'NATIVE_UNAVAILABLE');
    await assert.rejects(nl.deleteLink({ name: 'x' }), (e: unknown) => (e as { code: string }).code === 'NATIVE_UNAVAILABLE');
  });

  it('reports a missing build as NATIVE_UNAVAILABLE, naming where it looked', async () => {
    process.env.ECDOCK_NATIVE = '/nonexistent/ecdock_native.node';
    const nl = freshNetlink();
    await assert.rejects(nl.listLinks(), (e: unknown) => (e as { code: string }).code === 'NATIVE_UNAVAILABLE' && /nonexistent/.test((e as Error).message));
  });

  it('validates input before touching the addon', async () => {
    Object.defineProperty(process, 'platform', { value: 'darwin' });
    const nl = freshNetlink();
    await assert.rejects(nl.getLink({ name: 'a'.repeat(16) }), (e: unknown) => (e as { code: string }).code === 'BAD_IFNAME');
    await assert.rejects(nl.deleteLinkGroup({ group: 0 }), (e: unknown) => (e as { code: string }).code === 'BAD_ARGUMENT');
  });
});
