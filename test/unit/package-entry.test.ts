// The package entry (package.json main, src/package-entry.ts) against src/index.ts, whose
// declarations are the package's types: the same values under the same names, each module loaded
// only when one of its exports is read, and the names visible to Node's ESM loader.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const ENTRY = path.join(ROOT, 'dist', 'src', 'package-entry.js');
const INDEX = path.join(ROOT, 'dist', 'src', 'index.js');

function node(args: string[]): string {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('package entry', () => {
  it('is what package.json names for require and import, with index.d.ts as its types', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { main: string; types: string; exports: { '.': { types: string; default: string } } };
    assert.equal(path.resolve(ROOT, pkg.main), ENTRY);
    assert.equal(path.resolve(ROOT, pkg.exports['.'].default), ENTRY);
    assert.equal(path.resolve(ROOT, pkg.types), path.join(ROOT, 'dist', 'src', 'index.d.ts'));
    assert.equal(path.resolve(ROOT, pkg.exports['.'].types), path.join(ROOT, 'dist', 'src', 'index.d.ts'));
  });

  it('has every value src/index.ts exports, the same object, and nothing else', () => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const index = require(INDEX) as Record<string, unknown>;
    const entry = require(ENTRY) as Record<string, unknown>;
    /* eslint-enable @typescript-eslint/no-require-imports */
    assert.deepEqual(Object.keys(entry).sort(), Object.keys(index).sort());
    for (const name of Object.keys(index)) assert.equal(entry[name], index[name], `${name} differs`);
  });

  it('loads no other module until an export is read, then only what that export needs', () => {
    const out = node([
      '-e',
      `const before = new Set(Object.keys(require.cache));
       const e = require(${JSON.stringify(ROOT)});
       const own = () => Object.keys(require.cache).filter((k) => !before.has(k)).map((k) => k.slice(${JSON.stringify(ROOT + path.sep)}.length));
       const atRequire = own();
       void e.macFromIpv4;
       console.log(JSON.stringify({ atRequire, afterRead: own() }));`,
    ]);
    const { atRequire, afterRead } = JSON.parse(out) as { atRequire: string[]; afterRead: string[] };
    assert.deepEqual(atRequire, [path.join('dist', 'src', 'package-entry.js')]);
    assert.ok(afterRead.includes(path.join('dist', 'src', 'addressing.js')), afterRead.join(' '));
    assert.ok(!afterRead.some((f) => f.endsWith('.node') || f.includes('dockerode') || f.includes(`${path.sep}vswitch.js`)), afterRead.join(' '));
  });

  it('gives an ES module the same names (import { VSwitch } from ...)', () => {
    const out = node([
      '--input-type=module',
      '-e',
      `import * as m from ${JSON.stringify(ENTRY)}; import { VSwitch } from ${JSON.stringify(ENTRY)};
       console.log(JSON.stringify({ names: Object.keys(m).filter((k) => k !== 'default' && k !== '__esModule'), vswitch: typeof VSwitch }));`,
    ]);
    const { names, vswitch } = JSON.parse(out) as { names: string[]; vswitch: string };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    assert.deepEqual(names.sort(), Object.keys(require(INDEX) as object).sort());
    assert.equal(vswitch, 'function');
  });
});
