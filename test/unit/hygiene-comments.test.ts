// Comments may point a reader only at files this repository holds: a `something.md` named in a
// comment must exist, relative to the repository root or to the commenting file.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const DIRS = ['src', 'test', 'bench', 'scripts', 'examples', 'native'];
const SOURCE = /\.(ts|js|mjs|cc|h|sh)$/;

function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'results' ? [] : sources(p);
    return SOURCE.test(e.name) ? [p] : [];
  });
}

/** The comment part of a line: after `//` or `#` (not inside a URL), or a block comment line. */
function commentOf(line: string): string | undefined {
  const t = line.trim();
  if (t.startsWith('*') || t.startsWith('/*')) return t;
  const m = /(?<![:"'`])\/\/(.*)$/.exec(line) ?? /^\s*#(?!!)(.*)$/.exec(line);
  return m?.[1];
}

/** Every `X.md` a comment names that exists neither from the root nor from the file's folder. */
export function danglingDocRefs(file: string, text: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((line, i) => {
    const c = commentOf(line);
    if (!c) return;
    for (const [ref] of c.matchAll(/[A-Za-z0-9_./-]+\.md\b/g)) {
      if (!existsSync(path.join(ROOT, ref)) && !existsSync(path.join(path.dirname(file), ref))) out.push(`${path.relative(ROOT, file)}:${i + 1}: ${ref}`);
    }
  });
  return out;
}

describe('comments point only into this repository', () => {
  it('finds a dangling reference, and none to a file that exists', () => {
    const here = path.join(ROOT, 'src', 'x.ts');
    assert.deepEqual(danglingDocRefs(here, '// as the notes say (ovsdb.md §2.8)\nconst a = 1; // DESIGN.md'), ['src/x.ts:1: ovsdb.md', 'src/x.ts:2: DESIGN.md']);
    assert.deepEqual(danglingDocRefs(here, '// see src/ovsdb/README.md and README.md\nconst s = "not a comment: x.md";'), []);
  });

  it('holds for src, test, bench, scripts, examples and native', () => {
    const self = path.join(ROOT, 'test', 'unit', 'hygiene-comments.test.ts'); // its examples dangle on purpose
    const files = DIRS.flatMap((d) => sources(path.join(ROOT, d))).filter((f) => f !== self);
    const found = files.flatMap((f) => danglingDocRefs(f, readFileSync(f, 'utf8')));
    assert.deepEqual(found, [], `comments name files that are not in the repository:\n${found.join('\n')}`);
  });
});
