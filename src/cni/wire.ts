// The resident daemon's wire format (pure). The forwarder (native/cni-forward.c) sends, on one
// unix-socket connection:
//   "ECNI1\0", then NAME=VALUE\0 for each forwarded variable (CNI_*, ECDOCK_*, and the forwarder's
//   mount and PID namespace inodes as ECDOCK_CNI_MNTNS / ECDOCK_CNI_PIDNS), then an empty "\0",
//   then the plugin's stdin until it shuts its side down.
// The daemon answers with one status byte (0 or 1: the exit status; 0xff: "run the call in your
// own process"), the length of stdout as 4 bytes big-endian, and stdout.

export const MAGIC = 'ECNI1\0';
export const FALLBACK = 0xff;
/** Larger requests are refused: a network configuration is a few KiB. */
export const MAX_REQUEST = 16 << 20;

export interface ForwardedCall {
  env: Record<string, string>;
  stdin: string;
}

/** Decodes a whole request; a Error with a sentence when it is not one. */
export function decodeRequest(buf: Buffer): ForwardedCall {
  if (buf.length < MAGIC.length || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) throw new Error('the request does not start with the ecdock-cni protocol marker (ECNI1)');
  const env: Record<string, string> = {};
  let at = MAGIC.length;
  for (;;) {
    const end = buf.indexOf(0, at);
    if (end < 0) throw new Error('the request ends inside its environment');
    if (end === at) {
      at = end + 1;
      break;
    }
    const entry = buf.toString('utf8', at, end);
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new Error(`the request's environment has "${entry}", which is not NAME=VALUE`);
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
    at = end + 1;
  }
  return { env, stdin: buf.toString('utf8', at) };
}

/** Encodes a request the way the forwarder does (for tests and the benchmark). */
export function encodeRequest(call: ForwardedCall): Buffer {
  const entries = Object.entries(call.env).map(([k, v]) => `${k}=${v}\0`);
  return Buffer.concat([Buffer.from(MAGIC, 'latin1'), Buffer.from(entries.join('') + '\0'), Buffer.from(call.stdin)]);
}

export function encodeResponse(status: number, stdout: string): Buffer {
  const body = Buffer.from(stdout);
  const head = Buffer.alloc(5);
  head[0] = status;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** The response, or undefined while it is incomplete. */
export function decodeResponse(buf: Buffer): { status: number; stdout: string } | undefined {
  if (buf.length < 5) return undefined;
  const len = buf.readUInt32BE(1);
  if (buf.length < 5 + len) return undefined;
  return { status: buf[0], stdout: buf.toString('utf8', 5, 5 + len) };
}
