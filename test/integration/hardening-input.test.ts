// Issue 6, hostile input: every row of the table (test/support/hostile-inputs.ts for the API,
// hostile-cli-inputs.ts for `ec`) must fail with an EcdockError carrying the row's stable code and a
// sentence a person can act on, and a snapshot of OVSDB (bridges, ports, interfaces) and of the
// kernel's links (host, sandbox and the test's namespaces) taken before and after must be equal.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { EcdockError } from '../../src/errors';
import { freePort } from '../../src/sandbox';
import { CLI_ROWS } from '../support/hostile-cli-inputs';
import { API_ROWS, type HostileContext } from '../support/hostile-inputs';
import { requireRoot, sh } from '../support/env';
import { startSwitchFixture } from '../support/switch';
import { SERVER_CERT, SERVER_KEY } from '../support/hostile-tls';

const ROWS = [...API_ROWS, ...CLI_ROWS];

describe('hardening: hostile input (a typed error with a stable code, and nothing changed)', function () {
  this.timeout(60_000);
  let ctx: HostileContext | undefined;
  let tmp: string | undefined;

  before(async function () {
    requireRoot(this);
    this.timeout(120_000);
    const f = await startSwitchFixture();
    try {
      tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ecdock-hostile-'));
      const files = {
        notPem: path.join(tmp, 'not.pem'),
        dir: path.join(tmp, 'adir'),
        cert: path.join(tmp, 'cert.pem'),
        key: path.join(tmp, 'key.pem'),
        missing: path.join(tmp, 'missing.pem'),
      };
      await fs.writeFile(files.notPem, 'this is not a certificate\n');
      await fs.mkdir(files.dir);
      await fs.writeFile(files.key, SERVER_KEY);
      await fs.writeFile(files.cert, SERVER_CERT);
      const vs = await f.vswitch({ subnet: '10.77.0.254/24' });
      const [attached, free] = [await f.netns('ech-'), await f.netns('ech-')];
      await vs.attach({ slot: 1, target: { netns: attached.path } });
      const foreign = `hf${process.pid % 100000}`;
      await sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, '--no-wait', 'add-br', foreign, '--', 'set', 'bridge', foreign, 'datapath_type=netdev']);
      f.cleanup.add(() => sh('ovs-vsctl', [`--db=${f.sb.dbUrl}`, '--no-wait', '--if-exists', 'del-br', foreign]));
      const deadPid = await new Promise<number>((resolve, reject) => {
        const child = execFile('true', [], (err) => (err ? reject(err as Error) : resolve(child.pid!))); // ExecFileException is an Omit<>, not an Error to the type checker
      });
      ctx = { f, vs, attached, free, foreign, deadPid, files, closedPort: await freePort() };
    } catch (e) {
      await f.cleanup.run();
      throw e;
    }
  });
  after(async () => {
    await ctx?.f.cleanup.run();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it(`has at least 40 rows (API ${API_ROWS.length}, CLI ${CLI_ROWS.length}), each with a distinct description`, () => {
    assert.ok(ROWS.length >= 40, `${ROWS.length} rows`);
    assert.equal(new Set(ROWS.map((r) => `${r.surface}:${r.what}`)).size, ROWS.length);
  });

  for (const row of ROWS) {
    it(`[${row.surface}/${row.kind}] ${row.what} → ${row.code}`, async function () {
      const c = ctx!;
      const why = await row.skip?.(c);
      if (why) this.skip();
      const nss = [c.attached, c.free];
      const before = await c.f.snapshot(nss);
      let err: unknown;
      let value: unknown;
      try {
        value = await row.run(c);
      } catch (e) {
        err = e;
      }
      const after = await c.f.snapshot(nss);
      assert.ok(err !== undefined, `expected ${row.code}, but it succeeded: ${JSON.stringify(value)?.slice(0, 200)}`);
      assert.ok(err instanceof EcdockError, `expected EcdockError ${row.code}, got ${err instanceof Error ? err.stack : inspect(err)}`);
      assert.equal(err.code, row.code, `expected ${row.code}, got ${err.code}: ${err.message}`);
      assert.ok(err.message.length > 20, `the message should be a sentence a person can act on: ${JSON.stringify(err.message)}`);
      assert.equal(after, before, 'OVSDB or the kernel links changed');
    });
  }
});
