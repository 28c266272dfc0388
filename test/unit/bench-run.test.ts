// bench/run.ts finds benchmarks by file name, so that a new bench/*.ts runs under `npm run bench` unedited.
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { discoverBenchmarks } from '../../bench/run';

describe('npm run bench (bench/run.ts)', () => {
  it('finds every top-level bench/*.ts but itself, declarations and subfolders', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ecdock-bench-run-'));
    try {
      for (const f of ['traffic.ts', 'attach.ts', 'run.ts', 'types.d.ts', 'README.md']) writeFileSync(path.join(dir, f), '');
      mkdirSync(path.join(dir, 'support'));
      writeFileSync(path.join(dir, 'support', 'helper.ts'), '');
      assert.deepEqual(discoverBenchmarks(dir), ['attach', 'traffic']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("finds this repository's benchmarks", () => {
    const found = discoverBenchmarks(path.resolve(__dirname, '..', '..', '..', 'bench'));
    for (const b of ['attach', 'netlink', 'ovsdb']) assert.ok(found.includes(b), `bench/${b}.ts not found in ${found.join(', ')}`);
  });
});
