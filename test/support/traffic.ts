// Real traffic between two network namespaces, for tests that must prove more than ICMP: a TCP bulk
// transfer with its byte count checked, a UDP echo, and an HTTP GET. Each side runs the host's
// python3 inside the target's network namespace only (`nsenter --net=PATH`), so it works the same
// for `ip netns` namespaces, Docker and Podman containers (`/proc/PID/ns/net`) and OVN hosts, with
// nothing installed in the image. IPv6 addresses work the same way.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { sh } from './env';

/** The system python: a version manager's shim on PATH (pyenv) is a shell script that takes seconds to start under load. */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** A namespace as a path: `/var/run/netns/NAME`, `/proc/PID/ns/net`, or anything with a `path`. */
export type NetnsLike = string | { path: string };

const nsPath = (ns: NetnsLike): string => (typeof ns === 'string' ? ns : ns.path);

const SERVER = String.raw`
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
mode = sys.argv[3]
s = socket.socket(fam, socket.SOCK_STREAM if mode == 'tcp' else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(float(sys.argv[4]))
if mode == 'tcp':
    s.listen(1)
    print('ready', flush=True)
    c, _ = s.accept(); c.settimeout(float(sys.argv[4])); n = 0
    while True:
        try: b = c.recv(65536)
        except Exception: break
        if not b: break
        n += len(b)
    print(n, flush=True)
else:
    print('ready', flush=True)
    got = 0
    while True:
        try: b, peer = s.recvfrom(65536)
        except Exception: break
        got += 1
        s.sendto(b'echo:' + b, peer)
        if got >= int(sys.argv[5]): break
    print(got, flush=True)
`;

const CLIENT = String.raw`
import socket, sys, time
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
mode = sys.argv[3]
if mode == 'tcp':
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[4]))
    total = int(sys.argv[5]); chunk = b'x' * 65536; sent = 0
    while sent < total:
        sent += s.send(chunk[: min(65536, total - sent)])
    s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
    print(sent, flush=True)
elif mode == 'udp':
    s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(1.0); ok = 0
    for i in range(int(sys.argv[5])):
        for attempt in range(3):
            s.sendto(b'ping%d' % i, (sys.argv[1], int(sys.argv[2])))
            try:
                b, _ = s.recvfrom(65536)
                if b == b'echo:ping%d' % i: ok += 1; break
            except Exception: pass
    print(ok, flush=True)
else:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[4]))
    s.sendall(('GET %s HTTP/1.0\r\nHost: x\r\n\r\n' % sys.argv[5]).encode())
    data = b''
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
    sys.stdout.buffer.write(data)
`;

function inNetns(ns: NetnsLike, args: string[]) {
  return spawn('nsenter', [`--net=${nsPath(ns)}`, '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts the python server in `ns` and resolves once it listens; `result` is its one output line. */
function startServer(ns: NetnsLike, bind: string, port: number, mode: 'tcp' | 'udp', timeoutS: number, count = 1) {
  const child = inNetns(ns, [PYTHON, '-c', SERVER, bind, String(port), mode, String(timeoutS), String(count)]);
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (out.includes('ready')) {
        clearInterval(t);
        resolve();
      }
    }, 10);
    void exited.then(() => {
      clearInterval(t);
      if (!out.includes('ready')) reject(new Error(`traffic server in ${nsPath(ns)} did not start: ${err.trim()}`));
    });
  });
  const kill = setTimeout(() => child.kill('SIGKILL'), (timeoutS + 5) * 1000);
  const result = exited.then(() => {
    clearTimeout(kill);
    return out.replace('ready', '').trim();
  });
  return { ready, result };
}

export interface TrafficOptions {
  port?: number;
  /** Seconds each side waits before giving up (upper bounds: nothing waits when traffic flows). */
  timeoutS?: number;
}

/**
 * Sends `bytes` (default 2 MB) over TCP from `client` to `address` (a listener started in
 * `server`) and resolves to the number of bytes the server received: compare with `bytes`.
 */
export async function tcpBulk(server: NetnsLike, client: NetnsLike, address: string, bytes = 2_000_000, o: TrafficOptions = {}): Promise<number> {
  const port = o.port ?? 5201;
  const timeoutS = o.timeoutS ?? 20;
  const srv = startServer(server, address.includes(':') ? '::' : '0.0.0.0', port, 'tcp', timeoutS);
  await srv.ready;
  await sh('nsenter', [`--net=${nsPath(client)}`, '--', PYTHON, '-c', CLIENT, address, String(port), 'tcp', String(timeoutS), String(bytes)], {
    timeoutMs: (timeoutS + 5) * 1000,
    allowFail: true,
  });
  return Number((await srv.result) || 0);
}

/** Sends `count` UDP datagrams from `client` to `address`; resolves to how many echoes came back. */
export async function udpEcho(server: NetnsLike, client: NetnsLike, address: string, count = 5, o: TrafficOptions = {}): Promise<number> {
  const port = o.port ?? 5202;
  const timeoutS = o.timeoutS ?? 5;
  // The server waits longer than the client's whole run: on a loaded machine the client's python
  // can take seconds to start, and a server that gave up first would read as lost datagrams.
  const srv = startServer(server, address.includes(':') ? '::' : '0.0.0.0', port, 'udp', timeoutS * 4, count);
  await srv.ready;
  const r = await sh('nsenter', [`--net=${nsPath(client)}`, '--', PYTHON, '-c', CLIENT, address, String(port), 'udp', String(timeoutS), String(count)], {
    timeoutMs: (timeoutS * 4 + 5) * 1000,
    allowFail: true,
  });
  await srv.result;
  return Number(r.stdout.trim() || 0);
}

/** An HTTP/1.0 GET sent from `client` (for a server already running, e.g. busybox httpd); resolves to the raw response. */
export async function httpGet(client: NetnsLike, address: string, port = 80, path = '/', timeoutS = 5): Promise<string> {
  const r = await sh('nsenter', [`--net=${nsPath(client)}`, '--', PYTHON, '-c', CLIENT, address, String(port), 'http', String(timeoutS), path], {
    timeoutMs: (timeoutS + 5) * 1000,
    allowFail: true,
  });
  return r.stdout;
}

/** The network namespace path of a process (a container's init pid). */
export const pidNetns = (pid: number): string => `/proc/${pid}/ns/net`;

/** TCP bulk of `bytes` (the byte count checked) and a 3-datagram UDP echo, from `a` to `address` in `b`. */
export async function carries(a: NetnsLike, b: NetnsLike, address: string, bytes = 2_000_000): Promise<void> {
  assert.equal(await tcpBulk(b, a, address, bytes), bytes, `TCP ${bytes} bytes to ${address}`);
  assert.equal(await udpEcho(b, a, address, 3), 3, `UDP echo from ${address}`);
}
