// ecdock's version, read from package.json: `ec --version` needs nothing else, so main.ts answers
// it before loading the program.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function packageVersion(): string {
  try {
    // dist/src/cli -> the package root is three levels up.
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
