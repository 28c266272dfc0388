// A scriptable stand-in for ovsdb-server on a unix socket in a temp dir, for fault injection:
// garbage, truncated or oversized messages, closing mid-reply, silence. Each test decides how the
// server answers by giving a handler; the server frames requests with the real JsonFramer.
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { OvsdbClient } from '../../src/ovsdb/client';
import { JsonFramer } from '../../src/ovsdb/framer';

export interface FakeRequest {
  method: string;
  params: unknown[];
  id: unknown;
  raw: Record<string, unknown>;
}

export interface FakeSession {
  socket: net.Socket;
  /** Sends a value as JSON (or a raw string / Buffer as is). */
  send(v: unknown): void;
  reply(id: unknown, result: unknown): void;
  error(id: unknown, error: unknown): void;
  close(): void;
  /** Everything this session received, in order. */
  received: Record<string, unknown>[];
}

export type FakeHandler = (req: FakeRequest, s: FakeSession) => void;

/** Answers the methods every client uses at connect with plausible values. */
export function defaultAnswer(req: FakeRequest, s: FakeSession): boolean {
  switch (req.method) {
    case 'echo':
      s.reply(req.id, req.params);
      return true;
    case 'list_dbs':
      s.reply(req.id, ['Open_vSwitch', '_Server']);
      return true;
    case 'get_server_id':
      s.reply(req.id, '11111111-2222-3333-4444-555555555555');
      return true;
    default:
      return false;
  }
}

export class FakeOvsdb {
  readonly dir: string;
  readonly path: string;
  readonly sessions: FakeSession[] = [];
  private server: net.Server;
  handler: FakeHandler;

  private constructor(dir: string, server: net.Server, handler: FakeHandler) {
    this.dir = dir;
    this.path = path.join(dir, 'fake.sock');
    this.server = server;
    this.handler = handler;
  }

  get url(): string {
    return `unix:${this.path}`;
  }

  static async start(handler: FakeHandler = (r, s) => void defaultAnswer(r, s)): Promise<FakeOvsdb> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ecdock-fake-'));
    const server = net.createServer();
    const fake = new FakeOvsdb(dir, server, handler);
    server.on('connection', (socket) => fake.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(fake.path, () => resolve());
    });
    return fake;
  }

  private accept(socket: net.Socket): void {
    const s: FakeSession = {
      socket,
      received: [],
      send: (v) => {
        if (!socket.destroyed) socket.write(typeof v === 'string' || Buffer.isBuffer(v) ? v : JSON.stringify(v));
      },
      reply: (id, result) => s.send({ id, result, error: null }),
      error: (id, error) => s.send({ id, error }),
      close: () => socket.destroy(),
    };
    this.sessions.push(s);
    const framer = new JsonFramer((text) => {
      const raw = JSON.parse(text) as Record<string, unknown>;
      s.received.push(raw);
      if (typeof raw.method === 'string' && raw.id !== null && raw.id !== undefined) {
        this.handler({ method: raw.method, params: (raw.params as unknown[]) ?? [], id: raw.id, raw }, s);
      }
    });
    socket.on('data', (d) => {
      try {
        framer.push(d);
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
  }

  async stop(): Promise<void> {
    for (const s of this.sessions) s.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Clients of a fake server for one test: connect() with test defaults (no reconnect, 3 s
 * timeouts), closeAll() in afterEach.
 */
export function fakeClients(url: () => string): {
  connect(opts?: Parameters<typeof OvsdbClient.connect>[1]): Promise<OvsdbClient>;
  closeAll(): void;
} {
  const clients: OvsdbClient[] = [];
  return {
    async connect(opts = {}) {
      const c = await OvsdbClient.connect(url(), { reconnect: false, timeoutMs: 3000, ...opts });
      clients.push(c);
      return c;
    },
    closeAll() {
      for (const c of clients.splice(0)) c.close();
    },
  };
}
