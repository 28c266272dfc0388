// The in-memory tar that carries a rootfs to `docker import`, read back by GNU tar.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TarWriter } from '../../src/runtime/tar';
import { sh } from '../support/env';

describe('TarWriter', () => {
  it('writes directories, files and symlinks that tar extracts as written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ecdock-tar-'));
    try {
      const data = Buffer.alloc(1500, 7);
      const tar = new TarWriter().dir('bin').dir('tmp', 0o1777).file('bin/tool', data, 0o755).symlink('bin/sh', 'tool').file('etc-empty', Buffer.alloc(0));
      const buf = tar.finish();
      assert.equal(buf.length % 512, 0);
      writeFileSync(join(dir, 'x.tar'), buf);
      const list = await sh('tar', ['-tvf', join(dir, 'x.tar')]);
      assert.match(list.stdout, /bin\/sh -> tool/);
      await sh('tar', ['-xf', join(dir, 'x.tar'), '-C', dir]);
      assert.deepEqual(readFileSync(join(dir, 'bin/tool')), data);
      assert.equal(statSync(join(dir, 'bin/tool')).mode & 0o777, 0o755);
      assert.equal(readlinkSync(join(dir, 'bin/sh')), 'tool');
      assert.equal(statSync(join(dir, 'etc-empty')).size, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses names longer than ustar can hold', () => {
    assert.throws(() => new TarWriter().file('x'.repeat(101), Buffer.alloc(1)), /longer than 100/);
  });
});
