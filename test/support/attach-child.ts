// Runs DockerRuntime.attach on this process's terminal, for tests that drive it through a pty:
//   node dist/test/support/attach-child.js CONTAINER [DETACH_KEYS]
// Prints "ATTACH-RESULT <json>" when attach resolves, with whether stdin's raw mode was restored.
import { DockerRuntime } from '../../src/runtime/docker';

async function main(): Promise<void> {
  const [ref, detachKeys] = process.argv.slice(2);
  if (!ref) throw new Error('usage: attach-child CONTAINER [DETACH_KEYS]');
  const rt = new DockerRuntime();
  const rawBefore = process.stdin.isTTY ? process.stdin.isRaw : null;
  const result = await rt.attach(ref, { stdin: process.stdin, stdout: process.stdout, ...(detachKeys ? { detachKeys } : {}) });
  const rawAfter = process.stdin.isTTY ? process.stdin.isRaw : null;
  process.stdout.write(`\r\nATTACH-RESULT ${JSON.stringify({ ...result, isTTY: process.stdin.isTTY === true, rawBefore, rawAfter })}\r\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stdout.write(`\r\nATTACH-ERROR ${JSON.stringify({ code: (e as { code?: string }).code, message: (e as Error).message })}\r\n`);
    process.exit(1);
  },
);
