// The shipped type generator, as a user runs it: `ecdock-ovsdb-types` on OVN Northbound (from the
// file and from a live server), its output compiled with `tsc --strict` in a fresh project that
// resolves 'ecdock' to this package; misuse of the generated types must fail to compile.
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BareOvsdb } from '../support/bare-ovsdb';
import { sh } from '../support/env';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'dist/src/ovsdb/gen/cli.js');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const NB = '/usr/share/ovn/ovn-nb.ovsschema';

const USE = `import { OvsdbClient, ops, type Row } from 'ecdock';
import { ovnNorthboundSchema, type OvnNorthboundTables, type LogicalRouterPortRow } from './nb';
const b = ops(ovnNorthboundSchema);
export const insert = b.insert('Logical_Router_Port', { name: 'lrp0', mac: '00:00:00:00:00:01', networks: ['10.0.0.1/24'] });
export const big = b.mutate('Logical_Switch', [['name', '==', 'ls0']], [['external_ids', 'insert', new Map([['k', 'v']])]]);
export function networks(p: LogicalRouterPortRow): readonly string[] { return p.networks; }
export async function watch(c: OvsdbClient): Promise<void> {
  const mon = await c.monitor<OvnNorthboundTables>('OVN_Northbound', { Logical_Switch: ['name', 'ports'] });
  mon.onRow('Logical_Switch', (old, now) => { void (old?.name ?? now?.ports.length); });
  mon.on('change', (c) => { if (c.table === 'Logical_Switch') { const n: string | undefined = c.new?.name; void n; } });
  const r: Row | undefined = undefined; void r;
}
// Misuse must not compile: an unused @ts-expect-error fails the build.
// @ts-expect-error networks is a set of strings
export const bad1 = b.insert('Logical_Router_Port', { name: 'lrp0', networks: 5 });
// @ts-expect-error no such table
export const bad2 = b.insert('Logical_Swich', {});
// @ts-expect-error no such column
export const bad3 = b.update('Logical_Switch', [], { nam: 'x' });
export function bad4(p: LogicalRouterPortRow): void {
  // @ts-expect-error an optional column may be undefined
  const s: string = p.peer;
  void s;
}
`;

describe('ecdock-ovsdb-types (the shipped generator)', function () {
  this.timeout(180_000);
  let dir: string;
  let server: BareOvsdb | undefined;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ecdock-gen-'));
    mkdirSync(path.join(dir, 'node_modules'));
    // A fresh project: 'ecdock' is this package (its built dist), typings for node from ours.
    symlinkSync(ROOT, path.join(dir, 'node_modules/ecdock'));
    symlinkSync(path.join(ROOT, 'node_modules/@types'), path.join(dir, 'node_modules/@types'));
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'node16', moduleResolution: 'node16', types: ['node'] }, files: ['use.ts'] }),
    );
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints types for OVN Northbound that compile under tsc --strict with imports from ecdock, and catch misuse', async () => {
    const r = await sh('node', [CLI, NB]);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^import type \{ TypedSchema \} from 'ecdock';$/m);
    assert.match(r.stdout, /export const ovnNorthboundSchema: TypedSchema<OvnNorthboundTables>/);
    assert.match(r.stdout, /export interface LogicalRouterPortRow \{/);
    assert.match(r.stdout, /^ {2}networks: string\[\];$/m);
    writeFileSync(path.join(dir, 'nb.ts'), r.stdout);
    writeFileSync(path.join(dir, 'use.ts'), USE);
    const tsc = await sh('node', [TSC, '-p', dir], { allowFail: true, timeoutMs: 150_000 });
    assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);
  });

  it('reads a live server schema with --db URL DBNAME, and matches the shipped OVN Northbound types', async () => {
    server = await BareOvsdb.start(NB);
    const live = await sh('node', [CLI, '--db', server.url, 'OVN_Northbound', '--import', '../schema']);
    const shipped = readFileSync(path.join(ROOT, 'src/ovsdb/schema/ovn-nb.ts'), 'utf8');
    // The types; the schema constant that follows keeps each source's own order of enum values.
    const body = (s: string) => s.slice(s.indexOf('/** A row UUID'), s.indexOf('export const'));
    assert.equal(body(live.stdout), body(shipped));
  });

  it('usage errors exit 2 with a usage text; an unreadable schema exits 1 with the reason', async () => {
    const none = await sh('node', [CLI], { allowFail: true });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /usage: ecdock-ovsdb-types/);
    const missing = await sh('node', [CLI, path.join(dir, 'nope.ovsschema')], { allowFail: true });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.ovsschema/);
    assert.equal(missing.stdout, '');
  });
});
