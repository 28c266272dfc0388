// The replica applies update2 diffs by column type (ovsdb-server(7)) and rebuilds without stale rows.
import * as assert from 'node:assert/strict';
import { Replica, applyColumnDiff } from '../../src/ovsdb/cache';
import { normalizeColumnType, normalizeSchema } from '../../src/ovsdb/schema';
import { openVswitchSchema } from '../../src/ovsdb/schema/open-vswitch';
import { isEcdockError } from '../../src/errors';

const U1 = '11111111-1111-1111-1111-111111111111';
const U2 = '22222222-2222-2222-2222-222222222222';
const P1 = 'aaaaaaaa-0000-0000-0000-000000000001';
const P2 = 'aaaaaaaa-0000-0000-0000-000000000002';
const P3 = 'aaaaaaaa-0000-0000-0000-000000000003';

function replica(): Replica {
  return new Replica(
    normalizeSchema(openVswitchSchema),
    new Map([
      ['Bridge', { columns: ['name', 'ports', 'external_ids', 'fail_mode'] }],
      ['Port', { columns: ['name', 'tag', 'trunks'], indexes: ['tag'] }],
    ]),
  );
}

describe('ovsdb cache (replica)', () => {
  it('fills default values for columns that initial/insert omit', () => {
    const r = replica();
    const ch = r.applyUpdate2({ Bridge: { [U1]: { initial: { name: 'br0' } } } });
    assert.equal(ch.length, 1);
    assert.deepEqual(r.table('Bridge').rows.get(U1), { _uuid: U1, name: 'br0', ports: [], external_ids: new Map(), fail_mode: undefined });
  });

  it('applies modify diffs: scalars replace, optional clears with ["set",[]], sets toggle, maps add/remove/change', () => {
    const r = replica();
    r.applyUpdate2({
      Bridge: { [U1]: { insert: { name: 'br0', ports: ['set', [['uuid', P1], ['uuid', P2]]], external_ids: ['map', [['a', '1'], ['b', '2']]], fail_mode: 'secure' } } },
    });
    const before = r.table('Bridge').rows.get(U1)!;
    const [ch] = r.applyUpdate2({
      Bridge: { [U1]: { modify: { ports: ['set', [['uuid', P2], ['uuid', P3]]], external_ids: ['map', [['a', '1'], ['b', '3'], ['c', '4']]], fail_mode: ['set', []] } } },
    });
    const row = r.table('Bridge').rows.get(U1)!;
    assert.deepEqual([...(row.ports as string[])].sort(), [P1, P3]);
    assert.deepEqual(row.external_ids, new Map([['b', '3'], ['c', '4']]));
    assert.equal(row.fail_mode, undefined);
    // The old row object is untouched and reported as such.
    assert.equal(ch!.old, before);
    assert.deepEqual(before.ports, [P1, P2]);
    assert.equal(ch!.new, row);
  });

  it('fills min-1 sets and maps with their one-element default, and later diffs apply on top of it', () => {
    const r = new Replica(normalizeSchema(openVswitchSchema), new Map([['NetFlow', { columns: ['targets', 'external_ids'] }]]));
    r.applyUpdate2({ NetFlow: { [U1]: { initial: {} } } });
    assert.deepEqual(r.table('NetFlow').rows.get(U1)!.targets, ['']);
    // mutate insert "1.2.3.4:5" → the server sends the toggled element only.
    r.applyUpdate2({ NetFlow: { [U1]: { modify: { targets: '1.2.3.4:5' } } } });
    assert.deepEqual([...(r.table('NetFlow').rows.get(U1)!.targets as string[])].sort(), ['', '1.2.3.4:5']);
    // mutate delete "" → the default element goes away.
    r.applyUpdate2({ NetFlow: { [U1]: { modify: { targets: ['set', ['']] } } } });
    assert.deepEqual(r.table('NetFlow').rows.get(U1)!.targets, ['1.2.3.4:5']);
  });

  it('gives a map with max 1 its new value, not a diff (as for every single-element column)', () => {
    const t = normalizeColumnType({ key: 'string', value: 'real', min: 1, max: 1 });
    assert.deepEqual(applyColumnDiff(t, new Map([['q', 3.5]]), ['map', [['', 1]]]), new Map([['', 1]]));
    const o = normalizeColumnType({ key: 'string', value: 'string', min: 0, max: 1 });
    assert.deepEqual(applyColumnDiff(o, new Map([['a', 'b']]), ['map', []]), new Map());
  });

  it('applies a set diff given as a bare atom (one element toggled)', () => {
    const t = normalizeColumnType({ key: { type: 'uuid' }, min: 0, max: 'unlimited' });
    assert.deepEqual(applyColumnDiff(t, [P1, P2], ['uuid', P1]), [P2]);
    assert.deepEqual(applyColumnDiff(t, [P2], ['uuid', P1]), [P2, P1]);
  });

  it('deletes rows and reports them', () => {
    const r = replica();
    r.applyUpdate2({ Port: { [U1]: { insert: { name: 'p1', tag: 5 } }, [U2]: { insert: { name: 'p2' } } } });
    const ch = r.applyUpdate2({ Port: { [U1]: { delete: null } } });
    assert.deepEqual(ch.map((c) => [c.uuid, !!c.old, !!c.new]), [[U1, true, false]]);
    assert.equal(r.table('Port').rows.size, 1);
  });

  it('keeps indexes current: schema index (name) and declared index (tag)', () => {
    const r = replica();
    r.applyUpdate2({ Port: { [U1]: { insert: { name: 'p1', tag: 5 } }, [U2]: { insert: { name: 'p2', tag: 5 } } } });
    const ports = r.table('Port');
    assert.ok(ports.indexes.has('name') && ports.indexes.has('tag'));
    assert.equal(ports.findBy('name', 'p2')!._uuid, U2);
    assert.equal(ports.findAll('tag', 5).length, 2);
    r.applyUpdate2({ Port: { [U1]: { modify: { tag: 7 } } } });
    assert.deepEqual(ports.findAll('tag', 5).map((x) => x._uuid), [U2]);
    assert.equal(ports.findBy('tag', 7)!._uuid, U1);
    r.applyUpdate2({ Port: { [U2]: { delete: null } } });
    assert.equal(ports.findBy('name', 'p2'), undefined);
    assert.equal(ports.indexes.get('tag')!.has(5), false);
    // An unindexed column falls back to a scan, comparing sets as sets.
    r.applyUpdate2({ Port: { [U1]: { modify: { trunks: ['set', [1, 2]] } } } });
    assert.equal(ports.findBy('trunks', [2, 1])!._uuid, U1);
  });

  it('applies v1 updates (new replaces the row, old alone deletes)', () => {
    const r = replica();
    r.applyUpdate1({ Port: { [U1]: { new: { name: 'p1', tag: 5, trunks: ['set', []] } } } });
    const [ch] = r.applyUpdate1({ Port: { [U1]: { new: { name: 'p1', tag: 6, trunks: ['set', []] }, old: { tag: 5 } } } });
    assert.equal(ch!.old!.tag, 5);
    assert.equal(r.table('Port').rows.get(U1)!.tag, 6);
    r.applyUpdate1({ Port: { [U1]: { old: { name: 'p1' } } } });
    assert.equal(r.table('Port').rows.size, 0);
  });

  it('replace() rebuilds from a fresh dump: no stale rows, and only the differences reported', () => {
    const r = replica();
    r.applyUpdate2({ Port: { [U1]: { insert: { name: 'p1', tag: 5 } }, [U2]: { insert: { name: 'p2' } } } });
    const keep = r.table('Port').rows.get(U2);
    const ch = r.replace({ Port: { [U2]: { initial: { name: 'p2' } }, [P3]: { initial: { name: 'p3' } } } }, 2);
    const kinds = ch.map((c) => `${c.uuid}:${c.old ? 'o' : ''}${c.new ? 'n' : ''}`).sort();
    assert.deepEqual(kinds, [`${P3}:n`, `${U1}:o`].sort());
    assert.deepEqual([...r.table('Port').rows.keys()].sort(), [U2, P3].sort());
    assert.equal(r.table('Port').rows.get(U2), keep, 'unchanged rows keep their identity');
    assert.equal(r.table('Port').findBy('name', 'p1'), undefined);
  });

  it('reports an update it cannot follow as OVSDB_PROTOCOL (modify of an unknown row)', () => {
    const r = replica();
    assert.throws(() => r.applyUpdate2({ Port: { [U1]: { modify: { tag: 1 } } } }), (e) => isEcdockError(e, 'OVSDB_PROTOCOL'));
    assert.throws(() => r.applyUpdate2({ Port: { [U1]: { bogus: 1 } } }), (e) => isEcdockError(e, 'OVSDB_PROTOCOL'));
    assert.throws(() => r.applyUpdate2([1]), (e) => isEcdockError(e, 'OVSDB_PROTOCOL'));
  });

  it('ignores tables it does not monitor', () => {
    const r = replica();
    assert.deepEqual(r.applyUpdate2({ Interface: { [U1]: { insert: { name: 'x' } } } }), []);
  });
});
