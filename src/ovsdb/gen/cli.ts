#!/usr/bin/env node
// The `ecdock-ovsdb-types` command: prints TypeScript types for an OVSDB schema.
//   ecdock-ovsdb-types SCHEMA.ovsschema > types.ts
//   ecdock-ovsdb-types --db unix:/run/ovn/ovnnb_db.sock OVN_Northbound > nb.ts
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isEcdockError } from '../../errors';
import { OvsdbClient } from '../client';
import type { DatabaseSchema } from '../schema';
import { generateTypes, type GenerateOptions } from './generate';

const USAGE = `usage: ecdock-ovsdb-types SCHEMA.ovsschema [options] > types.ts
       ecdock-ovsdb-types --db URL DBNAME [options] > types.ts
options:
  --const NAME     name of the schema constant (default from the schema, e.g. ovnNorthboundSchema)
  --tables NAME    name of the table map interface (default e.g. OvnNorthboundTables)
  --import MODULE  module to import TypedSchema from (default 'ecdock')
  -o FILE          write to FILE instead of standard output
`;

class Usage extends Error {}

export interface CliArgs extends GenerateOptions {
  file?: string;
  db?: { url: string; name: string };
  out?: string;
}

export function parseArgs(argv: readonly string[]): CliArgs {
  const a: CliArgs = {};
  const pos: string[] = [];
  const value = (i: number, flag: string): string => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--')) throw new Usage(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    switch (x) {
      case '--db':
        a.db = { url: value(++i, '--db'), name: value(++i, '--db URL') };
        break;
      case '--const':
        a.constName = value(++i, x);
        break;
      case '--tables':
        a.tablesName = value(++i, x);
        break;
      case '--import':
        a.importFrom = value(++i, x);
        break;
      case '-o':
        a.out = value(++i, x);
        break;
      case '-h':
      case '--help':
        throw new Usage('');
      default:
        if (x.startsWith('-')) throw new Usage(`unknown option ${x}`);
        pos.push(x);
    }
  }
  if (a.db ? pos.length !== 0 : pos.length !== 1) throw new Usage(a.db ? 'give either a schema file or --db, not both' : 'give one schema file (or --db URL DBNAME)');
  if (!a.db) a.file = pos[0];
  for (const n of [a.constName, a.tablesName]) if (n !== undefined && !/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(n)) throw new Usage(`${n} is not a TypeScript identifier`);
  return a;
}

async function loadSchema(a: CliArgs): Promise<{ schema: DatabaseSchema; source: string }> {
  if (a.db) {
    const client = await OvsdbClient.connect(a.db.url, { reconnect: false });
    try {
      return { schema: await client.getSchema(a.db.name), source: `${a.db.name} at ${a.db.url}` };
    } finally {
      client.close();
    }
  }
  const text = readFileSync(a.file!, 'utf8');
  let schema: DatabaseSchema;
  try {
    schema = JSON.parse(text) as DatabaseSchema;
  } catch (e) {
    throw new Error(`${a.file} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!schema || typeof schema !== 'object' || typeof schema.name !== 'string' || typeof schema.tables !== 'object') {
    throw new Error(`${a.file} is not an OVSDB schema (no "name" and "tables")`);
  }
  return { schema, source: path.basename(a.file!) };
}

export async function main(argv: readonly string[]): Promise<number> {
  let a: CliArgs;
  try {
    a = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof Usage)) throw e;
    process.stderr.write((e.message ? `ecdock-ovsdb-types: ${e.message}\n` : '') + USAGE);
    return e.message ? 2 : 0;
  }
  try {
    const { schema, source } = await loadSchema(a);
    const text = generateTypes(schema, { ...a, source });
    if (a.out) writeFileSync(a.out, text);
    else process.stdout.write(text);
    return 0;
  } catch (e) {
    const code = isEcdockError(e) ? ` (${e.code})` : '';
    process.stderr.write(`ecdock-ovsdb-types: ${(e as Error).message}${code}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`ecdock-ovsdb-types: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
