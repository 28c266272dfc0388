// `npm run bench`: runs every benchmark in bench/, one after another, each in its own node process
// (a benchmark owns its process: private OVS sandboxes, timers, memory figures).
// A benchmark is any top-level bench/*.ts other than this file, so a new one is picked up by being added;
// helpers shared by benchmarks belong in a subfolder (bench/support/), which is not scanned.
//
//   npm run bench                      every benchmark
//   npm run bench -- ovsdb netlink     only these (by file name, without .ts)
//   npm run bench -- --quick           flags (anything starting with -) are passed to every benchmark
//
// Ends with one line per benchmark (status and wall time); exits non-zero if any failed.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

/** The sources: dist/bench/run.js runs from dist/bench/, so the repository's bench/ is two levels up. */
const SOURCE_DIR = path.resolve(__dirname, '..', '..', 'bench');

/** The benchmarks in a bench/ source folder, by name, sorted (sources, so a stale compiled file never runs). */
export function discoverBenchmarks(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && e.name !== 'run.ts')
    .map((e) => path.basename(e.name, '.ts'))
    .sort();
}

function runOne(file: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: 'inherit' });
    child.on('error', (e) => {
      console.error(`could not start ${file}: ${e.message}`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const flags = argv.filter((a) => a.startsWith('-'));
  const wanted = argv.filter((a) => !a.startsWith('-'));
  const all = discoverBenchmarks(SOURCE_DIR);
  const unknown = wanted.filter((w) => !all.includes(w));
  if (unknown.length) {
    console.error(`no benchmark named ${unknown.join(', ')}; there are: ${all.join(', ')}`);
    return 2;
  }
  const chosen = wanted.length ? all.filter((b) => wanted.includes(b)) : all;
  const summary: string[] = [];
  let failed = 0;
  for (const name of chosen) {
    console.log(`\n==> bench/${name}.ts ${flags.join(' ')}`.trimEnd());
    const t0 = process.hrtime.bigint();
    const compiled = path.join(__dirname, `${name}.js`);
    const code = existsSync(compiled) ? await runOne(compiled, flags) : (console.error(`${compiled} is missing: run tsc -p .`), 2);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (code !== 0) failed++;
    summary.push(`${name.padEnd(16)} ${code === 0 ? 'ok' : `FAILED (exit ${code})`}  ${s.toFixed(1)} s`);
  }
  console.log(`\n${summary.join('\n')}\n${chosen.length - failed} of ${chosen.length} benchmarks ran to the end`);
  return failed ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
