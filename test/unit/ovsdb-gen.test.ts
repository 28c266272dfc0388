// The type generator's pure part: names, the integer → number | bigint rule, deterministic output.
import * as assert from 'node:assert/strict';
import { camelName, generateTypes, integerNeedsBigint, pascalName } from '../../src/ovsdb/gen/generate';
import { parseArgs } from '../../src/ovsdb/gen/cli';
import type { DatabaseSchema } from '../../src/ovsdb/schema';

const S: DatabaseSchema = {
  name: 'My_DB',
  version: '1.2.3',
  tables: {
    Zeta: { columns: { n: { type: 'integer' } }, isRoot: true },
    ACL_Rule: {
      columns: {
        tag: { type: { key: { type: 'integer', minInteger: 0, maxInteger: 4095 } } },
        half: { type: { key: { type: 'integer', minInteger: 0 } } },
        level: { type: { key: { type: 'string', enum: ['set', ['b', 'a']] }, min: 0, max: 1 } },
        nets: { type: { key: 'string', min: 1, max: 'unlimited' } },
        m: { type: { key: 'integer', value: { type: 'uuid', refTable: 'Zeta', refType: 'weak' }, min: 0, max: 'unlimited' } },
      },
    },
  },
};

describe('ovsdb type generator', () => {
  it('names constants and types after the schema', () => {
    assert.equal(camelName('OVN_Northbound'), 'ovnNorthbound');
    assert.equal(pascalName('OVN_Southbound'), 'OvnSouthbound');
    assert.equal(camelName('Open_vSwitch'), 'openVSwitch');
    assert.equal(pascalName('Logical_Switch_Port'), 'LogicalSwitchPort');
    assert.equal(pascalName('ACL'), 'Acl');
    assert.equal(pascalName('hardware_vtep'), 'HardwareVtep');
  });

  it('types integers as number only when their bounds keep them within ±(2^53-1)', () => {
    assert.equal(integerNeedsBigint({ type: 'integer' }), true);
    assert.equal(integerNeedsBigint({ type: 'integer', minInteger: 0 }), true);
    assert.equal(integerNeedsBigint({ type: 'integer', minInteger: 0, maxInteger: 4095 }), false);
    assert.equal(integerNeedsBigint({ type: 'integer', enum: [1, 2] }), false);
    const text = generateTypes(S);
    assert.match(text, /^ {2}tag: number;$/m);
    assert.match(text, /^ {2}half: number \| bigint;$/m);
    assert.match(text, /^ {2}m: Map<number \| bigint, Uuid>;$/m);
    assert.match(text, /^ {2}level\?: "a" \| "b";$/m);
    assert.match(text, /^ {2}nets: string\[\];$/m);
    assert.match(text, /export const myDbSchema: TypedSchema<MyDbTables>/);
    assert.match(text, /^import type \{ TypedSchema \} from 'ecdock';$/m);
    // Name order, whatever the source order.
    assert.ok(text.indexOf('interface AclRuleRow') < text.indexOf('interface ZetaRow'));
  });

  it('parses its command line and refuses bad ones', () => {
    assert.deepEqual(parseArgs(['x.ovsschema', '--const', 'nb']), { file: 'x.ovsschema', constName: 'nb' });
    assert.deepEqual(parseArgs(['--db', 'unix:/s', 'OVN_Northbound']), { db: { url: 'unix:/s', name: 'OVN_Northbound' } });
    assert.throws(() => parseArgs([]), /schema file/);
    assert.throws(() => parseArgs(['a', 'b']), /schema file/);
    assert.throws(() => parseArgs(['a', '--const', '1x']), /identifier/);
    assert.throws(() => parseArgs(['a', '--bogus']), /unknown option/);
  });
});
