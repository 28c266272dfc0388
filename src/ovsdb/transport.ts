// OVSDB connection methods: `unix:PATH`, `tcp:HOST[:PORT]`, `ssl:HOST[:PORT]`,
// IPv6 literals in brackets, and comma-separated lists for clusters. Opening a socket and telling
// apart why it failed (no socket, no permission, refused, TLS) lives here too.

import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import type * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { DEFAULT_OVSDB_URL } from '../defaults';
import { OvsdbError, UsageError } from '../errors';

export const DEFAULT_PORT = 6640;
export const DEFAULT_URL = DEFAULT_OVSDB_URL;
/** Longest unix socket path Linux accepts (sun_path is 108 bytes with its NUL). */
export const UNIX_PATH_MAX = 107;

/** A parsed OVSDB address: a unix socket path, or a TCP or SSL host and port. */
export type Remote = { kind: 'unix'; path: string } | { kind: 'tcp' | 'ssl'; host: string; port: number };

export function formatRemote(r: Remote): string {
  if (r.kind === 'unix') return `unix:${r.path}`;
  return `${r.kind}:${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`;
}

function badUrl(url: string, why: string): UsageError {
  return new UsageError('BAD_URL', `bad OVSDB URL ${JSON.stringify(url)}: ${why} (expected unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT, comma-separated for a cluster)`);
}

/** Parses one remote or a comma-separated list. `cid:` entries (cluster ids) are skipped. */
export function parseRemotes(url: string): Remote[] {
  if (typeof url !== 'string' || !url.trim()) throw badUrl(String(url), 'empty');
  const out: Remote[] = [];
  for (const raw of url.split(',')) {
    const s = raw.trim();
    if (!s) continue;
    const colon = s.indexOf(':');
    if (colon < 0) throw badUrl(url, `${JSON.stringify(s)} has no method`);
    const method = s.slice(0, colon);
    const rest = s.slice(colon + 1);
    if (method === 'cid') continue;
    if (method === 'unix') {
      if (!rest) throw badUrl(url, 'unix: needs a socket path');
      // sockaddr_un holds 108 bytes with the NUL; a longer path would be cut and name another file.
      if (Buffer.byteLength(rest) > UNIX_PATH_MAX) throw badUrl(url, `the socket path is ${Buffer.byteLength(rest)} bytes long; Linux allows at most ${UNIX_PATH_MAX}`);
      out.push({ kind: 'unix', path: rest });
      continue;
    }
    if (method !== 'tcp' && method !== 'ssl') {
      throw badUrl(url, `unknown method ${JSON.stringify(method)}${method.startsWith('p') ? ' (passive remotes are for servers)' : ''}`);
    }
    let host: string;
    let portText: string | undefined;
    if (rest.startsWith('[')) {
      const end = rest.indexOf(']');
      if (end < 0) throw badUrl(url, 'unclosed [ in IPv6 address');
      host = rest.slice(1, end);
      const after = rest.slice(end + 1);
      if (after && !after.startsWith(':')) throw badUrl(url, `junk after IPv6 address: ${JSON.stringify(after)}`);
      portText = after ? after.slice(1) : undefined;
      if (net.isIP(host) !== 6) throw badUrl(url, `${JSON.stringify(host)} is not an IPv6 address`);
    } else {
      const parts = rest.split(':');
      if (parts.length > 2) throw badUrl(url, 'write IPv6 addresses in brackets, e.g. tcp:[::1]:6640');
      host = parts[0]!;
      portText = parts[1];
    }
    if (!host) throw badUrl(url, `${method}: needs a host`);
    let port = DEFAULT_PORT;
    if (portText !== undefined && portText !== '') {
      if (!/^\d+$/.test(portText) || +portText < 1 || +portText > 65535) throw badUrl(url, `bad port ${JSON.stringify(portText)}`);
      port = +portText;
    }
    out.push({ kind: method, host, port });
  }
  if (!out.length) throw badUrl(url, 'no remote in it');
  return out;
}

/** Files for `ssl:` remotes, as ovs-vsctl's `--private-key`, `--certificate` and `--ca-cert` name them (PEM). */
export interface TlsOptions {
  /** PEM contents or a file path. */
  key?: string | Buffer;
  cert?: string | Buffer;
  ca?: string | Buffer;
  /** If set, the server certificate's CN or a SAN must equal it. OVS certificates carry no host name, so by default only the chain is checked. */
  serverName?: string;
}

export interface LoadedTls {
  key?: Buffer;
  cert?: Buffer;
  ca?: Buffer;
  serverName?: string;
}

async function pem(what: string, v: string | Buffer | undefined): Promise<Buffer | undefined> {
  if (v === undefined) return undefined;
  if (Buffer.isBuffer(v)) return v;
  if (v.includes('-----BEGIN')) return Buffer.from(v);
  try {
    return await fs.readFile(v);
  } catch (e) {
    throw new UsageError('BAD_TLS_FILES', `cannot read the TLS ${what} file ${v}: ${(e as Error).message}`, { cause: e });
  }
}

/** Reads PEM files named by path; checks that the pieces look like PEM. */
export async function loadTls(o: TlsOptions | undefined): Promise<LoadedTls> {
  const out: LoadedTls = {};
  if (!o) return out;
  for (const what of ['key', 'cert', 'ca'] as const) {
    const b = await pem(what, o[what]);
    if (b === undefined) continue;
    if (!b.includes('-----BEGIN')) throw new UsageError('BAD_TLS_FILES', `the TLS ${what} is not PEM (no "-----BEGIN" line)`);
    out[what] = b;
  }
  if ((out.key === undefined) !== (out.cert === undefined)) {
    throw new UsageError('BAD_TLS_FILES', 'TLS needs both a private key and a certificate (ovsdb-server requires a client certificate)');
  }
  if (o.serverName !== undefined) out.serverName = o.serverName;
  return out;
}

function certNames(cert: tls.PeerCertificate): string[] {
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (Array.isArray(cn)) names.push(...cn);
  else if (cn) names.push(cn);
  for (const part of (cert.subjectaltname ?? '').split(',')) {
    const m = /^\s*(?:DNS|IP Address|URI|email):(.*)$/.exec(part);
    if (m) names.push(m[1]!.trim());
  }
  return names;
}

/** Maps a socket error to a typed error with a sentence a person can act on. */
export function socketError(remote: Remote, err: NodeJS.ErrnoException, phase: 'connect' | 'session', tlsStarted = false): OvsdbError {
  const where = formatRemote(remote);
  const code = err.code ?? '';
  if (remote.kind === 'ssl' && (code.startsWith('ERR_SSL') || /SSL|TLS|CERT|certificate/i.test(`${code} ${err.message}`) || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN')) {
    const reason = (err as { reason?: string }).reason ?? err.message;
    let why: string;
    if (/alert (unknown ca|bad certificate|certificate required|certificate unknown|handshake failure)/i.test(reason)) {
      why = `${where} rejected our certificate (${reason}); it must be signed by the CA the server trusts (ovsdb-server --ca-cert)`;
    } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      why = `the certificate of ${where} does not match tls.serverName: ${err.message}`;
    } else if (/CERT|SIGNATURE|ISSUER|SELF_SIGNED/.test(code)) {
      why = `cannot verify the certificate of ${where} with the CA given (tls.ca; ec: --ca-cert) (${code}: ${err.message})`;
    } else {
      why = `TLS with ${where} failed: ${reason}`;
    }
    return new OvsdbError('TLS_FAILED', why, { cause: err, detail: { remote: where, code, reason } });
  }
  if (remote.kind === 'ssl' && tlsStarted && (code === 'ECONNRESET' || code === 'EPIPE')) {
    return new OvsdbError('TLS_FAILED', `${where} closed the TLS connection during the handshake (${code}); the server probably rejected our certificate`, {
      cause: err,
      detail: { remote: where, code },
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new OvsdbError('PERMISSION_DENIED', `no permission to connect to ${where}; run as root or as a member of the group that owns the socket`, {
      cause: err,
      detail: { remote: where, code },
    });
  }
  if (phase === 'connect') {
    const why =
      code === 'ENOENT'
        ? `no socket at ${remote.kind === 'unix' ? remote.path : where} (is ovsdb-server running?)`
        : code === 'ECONNREFUSED'
          ? `connection refused by ${where} (is ovsdb-server listening there?)`
          : code === 'ENOTSOCK' || code === 'ENOTDIR'
            ? `${remote.kind === 'unix' ? remote.path : where} is not a socket`
            : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
              ? `cannot resolve the host of ${where}`
              : `cannot connect to ${where}: ${err.message}`;
    return new OvsdbError('OVSDB_UNREACHABLE', `OVSDB server unreachable: ${why}`, { cause: err, detail: { remote: where, code } });
  }
  return new OvsdbError('OVSDB_CONNECTION_LOST', `lost the connection to ${where}: ${err.message}`, { cause: err, detail: { remote: where, code } });
}

/** Opens a stream to one remote. Rejects with a typed error; never leaves a socket behind. */
export function openSocket(remote: Remote, o: { timeoutMs: number; tls?: LoadedTls }): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    let sock: net.Socket | tls.TLSSocket;
    let done = false;
    const where = formatRemote(remote);
    const finish = (err?: OvsdbError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.removeListener('error', onError);
      if (err) {
        sock.destroy();
        reject(err);
      } else resolve(sock);
    };
    const onError = (e: NodeJS.ErrnoException) => finish(socketError(remote, e, 'connect', true));
    const timer = setTimeout(
      () => finish(new OvsdbError('OVSDB_TIMEOUT', `connecting to ${where} timed out after ${o.timeoutMs} ms`, { detail: { remote: where } })),
      o.timeoutMs,
    );
    if (remote.kind === 'unix') {
      sock = net.createConnection({ path: remote.path }, () => finish());
    } else if (remote.kind === 'tcp') {
      sock = net.createConnection({ host: remote.host, port: remote.port }, () => {
        (sock as net.Socket).setNoDelay(true);
        finish();
      });
    } else {
      const t = o.tls ?? {};
      if (!t.ca) {
        clearTimeout(timer);
        done = true;
        reject(new UsageError('BAD_TLS_FILES', `ssl: remote ${where} needs a CA certificate to verify the server (tls.ca; for ec: --ca-cert)`));
        return;
      }
      // node:tls is loaded only for an ssl: remote (it costs every unix: caller a few ms of start-up).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { connect } = require('node:tls') as typeof tls;
      sock = connect(
        {
          host: remote.host,
          port: remote.port,
          ...(t.key ? { key: t.key } : {}),
          ...(t.cert ? { cert: t.cert } : {}),
          ca: t.ca,
          rejectUnauthorized: true,
          // ovs-pki certificates name no host (CN "<name> id:<uuid>"): verify the chain only,
          // and the name only when the caller asked for one.
          checkServerIdentity: (_host, cert) => {
            if (t.serverName === undefined) return undefined;
            const names = certNames(cert);
            return names.includes(t.serverName)
              ? undefined
              : Object.assign(new Error(`server certificate names ${names.map((n) => JSON.stringify(n)).join(', ') || 'nothing'}, not ${JSON.stringify(t.serverName)}`), {
                  code: 'ERR_TLS_CERT_ALTNAME_INVALID',
                });
          },
          ...(net.isIP(remote.host) ? {} : { servername: remote.host }),
        },
        () => {
          (sock as tls.TLSSocket).setNoDelay(true);
          finish();
        },
      );
    }
    sock.on('error', onError);
    sock.once('close', () => {
      if (!done) finish(socketError(remote, Object.assign(new Error('connection closed during connect'), { code: 'ECONNRESET' }), 'connect', true));
    });
  });
}
