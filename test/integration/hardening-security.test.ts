// Issue 6, security (root, real OVS): the sandbox's run dir is private (0700, state file 0600) even
// when the caller hands it an existing world-readable directory, and a run dir whose name is full of
// shell metacharacters is passed to the OVS daemons as data: nothing it says gets executed.
import { strict as assert } from 'node:assert';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isEcdockError } from '../../src/errors';
import { OvsdbClient } from '../../src/ovsdb/client';
import { OvsSandbox } from '../../src/sandbox';
import { requireRoot } from '../support/env';

const mode = async (p: string) => (await fs.stat(p)).mode & 0o777;

describe('hardening: security (sandbox, root)', function () {
  this.timeout(60_000);
  const started: OvsSandbox[] = [];
  let tmp: string | undefined;

  before(function () {
    requireRoot(this);
  });
  after(async () => {
    for (const sb of started) await sb.stop().catch(() => undefined);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('a default sandbox run dir is 0700, its state file 0600, and no file in it is world-writable', async () => {
    const sb = await OvsSandbox.start({ vswitchd: false });
    started.push(sb);
    assert.equal((await mode(sb.dir)).toString(8), '700');
    assert.equal((await mode(path.join(sb.dir, 'sandbox.json'))).toString(8), '600');
    for (const f of await fs.readdir(sb.dir)) {
      const m = await mode(path.join(sb.dir, f));
      assert.equal(m & 0o002, 0, `${f} is world-writable (${m.toString(8)})`);
    }
  });

  it('an existing 0755 directory given as the run dir is made 0700', async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ecdock-secdir-'));
    const dir = path.join(tmp, 'open');
    await fs.mkdir(dir, { mode: 0o755 });
    await fs.chmod(dir, 0o755);
    const sb = await OvsSandbox.start({ dir, vswitchd: false });
    started.push(sb);
    assert.equal((await mode(dir)).toString(8), '700');
  });

  it('shell metacharacters in the run dir name are data, not commands', async () => {
    tmp ??= await fs.mkdtemp(path.join(os.tmpdir(), 'ecdock-secdir-'));
    const inDir = path.join(tmp, 'PWNED');
    // Relative to the temp dir (no slashes), so the socket path stays within the 107-byte limit.
    const dir = path.join(tmp, 'a;touch PWNED;$(touch PWNED)`touch PWNED`&&touch PWNED');
    const marker = path.join(process.cwd(), 'PWNED');
    const sb = await OvsSandbox.start({ dir, isolated: true });
    started.push(sb);
    const c = await OvsdbClient.connect(sb.dbUrl, { reconnect: false });
    assert.ok((await c.listDbs()).includes('Open_vSwitch'));
    c.close();
    await sb.stopVswitchd();
    await sb.startVswitchd();
    assert.equal(existsSync(marker) || existsSync(inDir) || existsSync(path.join(sb.dir, 'PWNED')), false, 'a shell ran part of the directory name');
  });

  it('a run dir too long for a unix socket path (107 bytes) is refused before anything starts', async () => {
    tmp ??= await fs.mkdtemp(path.join(os.tmpdir(), 'ecdock-secdir-'));
    const dir = path.join(tmp, 'd'.repeat(120));
    const e = await OvsSandbox.start({ dir, vswitchd: false }).then(
      (sb) => {
        started.push(sb);
        return undefined;
      },
      (x: unknown) => x,
    );
    assert.ok(isEcdockError(e, 'SANDBOX_FAILED'), `expected SANDBOX_FAILED, got ${String(e)}`);
    assert.match((e as Error).message, /107/);
  });
});
