// What the sandboxes borrow from the host: its Open vSwitch, OVN and iproute2 programs (runTool, the
// one spawner: execFile with an argument array, never a shell) and a free TCP port on loopback.

import { execFile } from 'node:child_process';
import * as net from 'node:net';
import { SandboxError } from '../errors';

const TOOL_TIMEOUT_MS = 20_000;

/** What every daemon of an OVN sandbox is started with: no syslog or console logging, detached, no chdir. */
export const DAEMON_LOG = ['-vsyslog:off', '-vconsole:off', '--detach', '--no-chdir'];

/** Runs an OVS or iproute2 tool; arguments are passed as an array, never through a shell. */
export function runTool(
  file: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
  timeoutMs = TOOL_TIMEOUT_MS,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: env ?? process.env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const what = `${file} ${args.join(' ')}`;
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(
          new SandboxError(
            'SANDBOX_FAILED',
            missing
              ? `${file} is not installed; install Open vSwitch (Debian: apt-get install openvswitch-switch) and iproute2`
              : `${what} failed: ${String(stderr || err.message).trim()}`,
            { cause: err, detail: { file, args, stderr: String(stderr) } },
          ),
        );
      } else resolve(String(stdout));
    });
  });
}

/** A free TCP port on 127.0.0.1 (for raft peers and tcp remotes in tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
