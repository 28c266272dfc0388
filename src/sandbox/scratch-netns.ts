// A scratch network namespace for demos and trials, with a ping and a TCP transfer from inside.
// Like the daemons, it lives in the sandbox module, the only one that runs tools.
import { execFile } from 'node:child_process';
import { SandboxError } from '../errors';
import { runTool } from './tools';

/** A scratch network namespace (`ip netns add`). */
export class ScratchNetns {
  readonly name: string;
  private constructor(name: string) {
    this.name = name;
  }
  get path(): string {
    return `/var/run/netns/${this.name}`;
  }
  /** Makes /var/run/netns/NAME (`ip netns add`). */
  static async create(name: string): Promise<ScratchNetns> {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new SandboxError('SANDBOX_FAILED', `"${name}" cannot name a scratch namespace`);
    await runTool('ip', ['netns', 'add', name]);
    return new ScratchNetns(name);
  }
  /** One ICMP echo from inside this namespace (retried: the first may race neighbour setup). */
  async ping(address: string, tries = 3): Promise<boolean> {
    if (!/^[0-9A-Fa-f:.]+$/.test(address)) throw new SandboxError('SANDBOX_FAILED', `"${address}" is not an IP address`);
    for (let i = 0; i < tries; i++) {
      try {
        await runTool('ip', ['netns', 'exec', this.name, 'ping', ...(address.includes(':') ? ['-6'] : []), '-c1', '-W1', address], undefined, 5000);
        return true;
      } catch {
        /* no answer this time */
      }
    }
    return false;
  }
  /**
   * Sends `bytes` over TCP from this namespace to `address`, where a one-shot receiver runs in
   * `server`'s namespace; resolves to the byte count the receiver saw (0 on failure). Both ends
   * are this same Node binary under `ip netns exec`.
   */
  async tcpTo(server: ScratchNetns, address: string, bytes = 1_000_000, timeoutMs = 20_000): Promise<number> {
    if (!/^[0-9A-Fa-f:.]+$/.test(address)) throw new SandboxError('SANDBOX_FAILED', `"${address}" is not an IP address`);
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const receiver = runTool('ip', ['netns', 'exec', server.name, process.execPath, '-e', TCP_RECEIVER, port, String(timeoutMs)], undefined, timeoutMs + 5000).catch(() => '');
    const sent = await runTool('ip', ['netns', 'exec', this.name, process.execPath, '-e', TCP_SENDER, address, port, String(bytes)], undefined, timeoutMs + 5000).catch(() => '0');
    await receiver;
    return Number(sent.trim()) || 0;
  }

  /**
   * Sends `bytes` over TCP from this namespace to `address`:`port` (a listener this starts in
   * `server`'s namespace) and resolves to how many bytes arrived there; 0 when nothing did. Both
   * ends are Node itself under `ip netns exec`, so nothing beyond iproute2 is needed.
   */
  async tcpSendTo(server: ScratchNetns, address: string, port: number, bytes = 256 * 1024, timeoutMs = 10_000): Promise<number> {
    if (!/^[0-9A-Fa-f:.]+$/.test(address)) throw new SandboxError('SANDBOX_FAILED', `"${address}" is not an IP address`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SandboxError('SANDBOX_FAILED', `${port} is not a TCP port`);
    let out = '';
    let listener!: ReturnType<typeof execFile>;
    const done = new Promise<number>((resolve) => {
      listener = execFile('ip', ['netns', 'exec', server.name, process.execPath, '-e', PORT_RECEIVER, '--', String(port), String(timeoutMs)], { timeout: timeoutMs + 5000 }, (_err, stdout) =>
        resolve(Number(/^(\d+)$/m.exec(String(stdout))?.[1] ?? 0)),
      );
      listener.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    });
    const until = Date.now() + timeoutMs;
    while (!out.includes('ready') && listener.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (!out.includes('ready')) {
      listener.kill('SIGKILL');
      return done;
    }
    await runTool('ip', ['netns', 'exec', this.name, process.execPath, '-e', PORT_SENDER, '--', address, String(port), String(bytes), String(timeoutMs)], undefined, timeoutMs + 5000).catch(() => undefined);
    return done;
  }
  /** Removes it (`ip netns delete`). */
  async remove(): Promise<void> {
    await runTool('ip', ['netns', 'del', this.name]);
  }
}

/** Accepts one connection, counts its bytes, answers the count. */
const TCP_RECEIVER = `const [port, ms] = process.argv.slice(1).map(Number);
const s = require('net').createServer((c) => { let n = 0; c.on('data', (d) => (n += d.length)); c.on('end', () => { c.end(String(n)); s.close(); }); });
s.listen(port, '::'); setTimeout(() => process.exit(1), ms).unref();`;

/** Connects (retrying while the receiver starts), sends the bytes, prints the receiver's count. */
const TCP_SENDER = `const [addr, port, bytes] = process.argv.slice(1);
let tries = 0;
const go = () => { const c = require('net').connect(Number(port), addr); let r = '';
  c.on('connect', () => c.end(Buffer.alloc(Number(bytes))));
  c.on('data', (d) => (r += d)); c.on('end', () => { process.stdout.write(r); process.exit(0); });
  c.on('error', () => (++tries < 100 ? setTimeout(go, 100) : process.exit(1))); };
go();`;

// argv: port, timeout ms. Counts the bytes of one connection, prints the count when it ends.
const PORT_RECEIVER = `const net = require('node:net'); const [port, ms] = process.argv.slice(1).map(Number); let got = 0;
const fin = () => { process.stdout.write(got + '\\n'); process.exit(0); };
net.createServer((c) => { c.on('data', (b) => { got += b.length; }); c.on('end', fin); c.on('error', fin); })
  .listen(port, () => process.stdout.write('ready\\n'));
setTimeout(fin, ms);`;

// argv: address, port, bytes, timeout ms. Sends the bytes and closes.
const PORT_SENDER = `const net = require('node:net'); const [host, port, n, ms] = process.argv.slice(1);
const c = net.connect({ host, port: Number(port) }, () => c.end(Buffer.alloc(Number(n), 120)));
c.on('error', () => process.exit(1)); c.on('close', () => process.exit(0)); setTimeout(() => process.exit(2), Number(ms));`;
