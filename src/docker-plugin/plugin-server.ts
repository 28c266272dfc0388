// The HTTP side of a legacy (v1) Docker plugin: POST /Plugin.Activate and /NetworkDriver.* with
// JSON bodies, answers in Docker's plugin media type, failures as {"Err": sentence} with status 500
// (what dockerd's plugin client turns into the error message the user sees).

import * as http from 'node:http';
import { crashPoint } from '../crash-points';
import { UsageError } from '../errors';
import { dockerError, type EndpointRequest, type NetworkDriver } from './network-driver';
import type { CreateNetworkRequest } from './network-options';

const MEDIA_TYPE = 'application/vnd.docker.plugins.v1+json';
/** Docker's requests are small; anything bigger is not from dockerd. */
const MAX_BODY = 1 << 20;
/** The calls whose body the driver reads (the others answer the same whatever they carry). */
const READS_BODY = new Set(['CreateNetwork', 'DeleteNetwork', 'CreateEndpoint', 'DeleteEndpoint', 'EndpointOperInfo', 'Join', 'Leave'].map((c) => `/NetworkDriver.${c}`));

// Bodies are checked by the driver (a malformed one becomes an Err naming what is missing).
type Handler = (req: unknown) => Promise<object>;

export function routes(driver: NetworkDriver): Record<string, Handler> {
  const ok = (): Promise<object> => Promise.resolve({});
  const ep = (r: unknown): EndpointRequest => checkEndpoint(r);
  return {
    '/Plugin.Activate': () => Promise.resolve({ Implements: ['NetworkDriver'] }),
    '/NetworkDriver.GetCapabilities': () => Promise.resolve({ Scope: 'local', ConnectivityScope: 'local' }),
    '/NetworkDriver.CreateNetwork': (r) => driver.createNetwork(r as CreateNetworkRequest),
    '/NetworkDriver.DeleteNetwork': (r) => driver.deleteNetwork(checkNetwork(r)),
    '/NetworkDriver.CreateEndpoint': (r) => driver.createEndpoint(ep(r)),
    '/NetworkDriver.DeleteEndpoint': (r) => driver.deleteEndpoint(ep(r)),
    '/NetworkDriver.EndpointOperInfo': (r) => driver.endpointOperInfo(ep(r)),
    '/NetworkDriver.Join': (r) => driver.join(ep(r)),
    '/NetworkDriver.Leave': (r) => driver.leave(ep(r)),
    '/NetworkDriver.DiscoverNew': ok,
    '/NetworkDriver.DiscoverDelete': ok,
    '/NetworkDriver.ProgramExternalConnectivity': ok,
    '/NetworkDriver.RevokeExternalConnectivity': ok,
    '/NetworkDriver.AllocateNetwork': ok,
    '/NetworkDriver.FreeNetwork': ok,
  };
}

const ID_RE = /^[0-9a-f]{12,64}$/;

function checkNetwork(r: unknown): { NetworkID: string } {
  const id = (r as { NetworkID?: unknown } | null)?.NetworkID;
  if (typeof id !== 'string' || !ID_RE.test(id)) throw new UsageError('BAD_ARGUMENT', 'a request without a network id: it did not come from dockerd');
  return { NetworkID: id };
}

function checkEndpoint(r: unknown): EndpointRequest {
  const { NetworkID } = checkNetwork(r);
  const eid = (r as { EndpointID?: unknown }).EndpointID;
  if (typeof eid !== 'string' || !ID_RE.test(eid)) throw new UsageError('BAD_ARGUMENT', 'a request without an endpoint id: it did not come from dockerd');
  return { ...(r as EndpointRequest), NetworkID, EndpointID: eid };
}

export function createPluginServer(driver: NetworkDriver, log: (line: string) => void): http.Server {
  const table = routes(driver);
  return http.createServer((req, res) => {
    const reply = (status: number, body: object): void => {
      res.writeHead(status, { 'Content-Type': MEDIA_TYPE });
      // (The crash point lets a test kill the plugin once dockerd holds the veth Join named.)
      res.end(JSON.stringify(body), () => status === 200 && req.url === '/NetworkDriver.Join' && crashPoint('docker:join-replied'));
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
      const url = req.url ?? '';
      let text: string;
      let body: unknown;
      try {
        text = Buffer.concat(chunks).toString('utf8').trim();
        body = text ? JSON.parse(text) : {};
      } catch {
        reply(400, { Err: `ecdock: the body of ${url} is not JSON` });
        return;
      }
      const fail = (e: unknown): void => {
        const err = dockerError(e);
        log(`${url.slice(1)}: ${err.Err}`);
        reply(500, err);
      };
      if (!text && READS_BODY.has(url)) {
        // dockerd resends a call whose connection broke without its body (it was read already).
        fail(new UsageError('BAD_ARGUMENT', `${url.slice(1)} came without its body, as dockerd resends a call when the plugin went away in the middle of it: start the container (or run the docker command) again`));
        return;
      }
      // A handler may throw before it returns a promise (a malformed body): never out of this callback.
      Promise.resolve()
        .then(() => handler(body ?? {}))
        .then((out) => reply(200, out), fail);
    });
  });
}
