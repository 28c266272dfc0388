// The HTTP side of a legacy (v1) Docker plugin: POST /Plugin.Activate and /NetworkDriver.* with
// JSON bodies, answers in Docker's plugin media type, failures as {"Err": sentence} with status 500
// (what dockerd's plugin client turns into the error message the user sees).

import * as http from 'node:http';
import { dockerError, type NetworkDriver } from './network-driver';

const MEDIA_TYPE = 'application/vnd.docker.plugins.v1+json';
/** Docker's requests are small; anything bigger is not from dockerd. */
const MAX_BODY = 1 << 20;

type Handler = (req: any) => Promise<object>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function routes(driver: NetworkDriver): Record<string, Handler> {
  const ok = async (): Promise<object> => ({});
  return {
    '/Plugin.Activate': async () => ({ Implements: ['NetworkDriver'] }),
    '/NetworkDriver.GetCapabilities': async () => ({ Scope: 'local', ConnectivityScope: 'local' }),
    '/NetworkDriver.CreateNetwork': (r) => driver.createNetwork(r),
    '/NetworkDriver.DeleteNetwork': (r) => driver.deleteNetwork(r),
    '/NetworkDriver.CreateEndpoint': (r) => driver.createEndpoint(r),
    '/NetworkDriver.DeleteEndpoint': (r) => driver.deleteEndpoint(r),
    '/NetworkDriver.EndpointOperInfo': (r) => driver.endpointOperInfo(r),
    '/NetworkDriver.Join': (r) => driver.join(r),
    '/NetworkDriver.Leave': (r) => driver.leave(r),
    '/NetworkDriver.DiscoverNew': ok,
    '/NetworkDriver.DiscoverDelete': ok,
    '/NetworkDriver.ProgramExternalConnectivity': ok,
    '/NetworkDriver.RevokeExternalConnectivity': ok,
    '/NetworkDriver.AllocateNetwork': ok,
    '/NetworkDriver.FreeNetwork': ok,
  };
}

export function createPluginServer(driver: NetworkDriver, log: (line: string) => void): http.Server {
  const table = routes(driver);
  return http.createServer((req, res) => {
    const reply = (status: number, body: object): void => {
      res.writeHead(status, { 'Content-Type': MEDIA_TYPE });
      res.end(JSON.stringify(body));
    };
    const handler = req.method === 'POST' ? table[req.url ?? ''] : undefined;
    if (!handler) {
      reply(404, { Err: `ecdock: no such plugin call ${req.method} ${req.url}` });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let body: unknown;
      try {
        const text = Buffer.concat(chunks).toString('utf8').trim();
        body = text ? JSON.parse(text) : {};
      } catch {
        reply(400, { Err: `ecdock: the body of ${req.url} is not JSON` });
        return;
      }
      handler(body ?? {}).then(
        (out) => reply(200, out),
        (e: unknown) => {
          const err = dockerError(e);
          log(`${req.url?.slice(1)}: ${err.Err}`);
          reply(500, err);
        },
      );
    });
  });
}
