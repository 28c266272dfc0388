// The one place that knows how OVSDB's JSON-RPC 1.0 differs from JSON-RPC 2.0. Messages are
// modelled with jsonrpc-lite's classes, but neither its serializer nor its parser can be used on
// the wire:
//  - ovsdb-server drops the connection for any unknown member, so the `jsonrpc: "2.0"` member
//    jsonrpc-lite writes must never be sent;
//  - `params` must always be an array, notifications carry `"id": null`;
//  - error replies carry a string ("unknown method", "canceled") or an OVSDB error object
//    {error, details, syntax}, never JSON-RPC 2.0's {code, message}; a reply may omit `result`.

import { ErrorObject, JsonRpcError, NotificationObject, RequestObject, SuccessObject } from 'jsonrpc-lite';
import { OvsdbError } from '../errors';
import { jsonForMessage, stringifyJson } from './json';

export { ErrorObject, NotificationObject, RequestObject, SuccessObject };

/** An OVSDB error as it travels in a reply's `error` member. */
export type OvsdbRpcErrorValue = string | { error: string; details?: string; syntax?: string; [k: string]: unknown };

export type Inbound =
  | { type: 'request'; message: RequestObject }
  | { type: 'notification'; message: NotificationObject }
  | { type: 'success'; message: SuccessObject }
  | { type: 'error'; message: ErrorObject; error: OvsdbRpcErrorValue };

export function request(id: number | string, method: string, params: unknown[]): RequestObject {
  return new RequestObject(id, method, params);
}

export function notification(method: string, params: unknown[]): NotificationObject {
  return new NotificationObject(method, params);
}

export function success(id: RequestObject['id'], result: unknown): SuccessObject {
  return new SuccessObject(id, result as SuccessObject['result']);
}

/** An error reply in OVSDB's shape; the OVSDB error value rides in JsonRpcError.data. */
export function failure(id: RequestObject['id'], error: OvsdbRpcErrorValue): ErrorObject {
  return new ErrorObject(id, new JsonRpcError(typeof error === 'string' ? error : error.error, 0, error));
}

/** Serializes a message as JSON-RPC 1.0 text, the only form ovsdb-server accepts. */
export function encode(message: RequestObject | NotificationObject | SuccessObject | ErrorObject): string {
  if (message instanceof RequestObject) {
    return stringifyJson({ method: message.method, params: message.params ?? [], id: message.id }, 'message');
  }
  if (message instanceof NotificationObject) {
    return stringifyJson({ method: message.method, params: message.params ?? [], id: null }, 'message');
  }
  if (message instanceof SuccessObject) {
    return stringifyJson({ id: message.id, result: message.result, error: null }, 'message');
  }
  const err = message.error as JsonRpcError;
  return stringifyJson({ id: message.id, result: null, error: (err.data as unknown) ?? err.message }, 'message');
}

/**
 * Fast path for the hot request path: identical output to encode(request(...)). Throws a
 * UsageError naming the place of a value JSON or ovsdb-server cannot carry.
 */
export function encodeRequest(id: number, method: string, params: unknown[]): string {
  return `{"method":${JSON.stringify(method)},"params":${stringifyJson(params, 'params')},"id":${id}}`;
}

function protocol(message: string, detail?: unknown): OvsdbError {
  return new OvsdbError('OVSDB_PROTOCOL', `OVSDB protocol error: ${message}`, { detail });
}

/**
 * Classifies one parsed inbound value the way ovsdb-server's own jsonrpc.c does: `result` → reply,
 * else `error` → error reply, else a method with a non-null id → request, else a notification.
 * Members set to null count as absent. Throws OVSDB_PROTOCOL for anything that is none of these.
 */
export function classify(value: unknown): Inbound {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw protocol('message is not a JSON object', { message: value });
  }
  const m = value as Record<string, unknown>;
  const id = m.id ?? null;
  if (m.result !== undefined && m.result !== null) {
    if (id === null) throw protocol('reply without an id', m);
    return { type: 'success', message: new SuccessObject(id as RequestObject['id'], m.result as SuccessObject['result']) };
  }
  if (m.error !== undefined && m.error !== null) {
    if (id === null) throw protocol('error reply without an id', m);
    const error = m.error;
    let value: OvsdbRpcErrorValue;
    if (typeof error === 'string') value = error;
    else if (typeof error === 'object' && !Array.isArray(error)) {
      const e = error as Record<string, unknown>;
      value = { ...e, error: typeof e.error === 'string' ? e.error : jsonForMessage(e.error ?? error) } as OvsdbRpcErrorValue;
    } else value = jsonForMessage(error);
    return { type: 'error', message: failure(id as RequestObject['id'], value), error: value };
  }
  if (typeof m.method === 'string') {
    const params = m.params ?? [];
    if (!Array.isArray(params)) throw protocol(`"${m.method}" with non-array params`, m);
    if (id === null) return { type: 'notification', message: new NotificationObject(m.method, params) };
    return { type: 'request', message: new RequestObject(id as RequestObject['id'], m.method, params) };
  }
  if (Object.prototype.hasOwnProperty.call(m, 'result') || Object.prototype.hasOwnProperty.call(m, 'error')) {
    // {"id":n,"result":null,"error":null}: ovsdb-server never sends it, but it is a reply with no value.
    if (id === null) throw protocol('reply without an id', m);
    return { type: 'success', message: new SuccessObject(id as RequestObject['id'], null) };
  }
  throw protocol('message is neither a request, a notification nor a reply', m);
}

/** Text of an OVSDB error value for messages: "tag: details". */
export function describeRpcError(e: OvsdbRpcErrorValue): string {
  if (typeof e === 'string') return e;
  return e.details ? `${e.error}: ${e.details}` : e.error;
}

export function rpcErrorTag(e: OvsdbRpcErrorValue): string {
  return typeof e === 'string' ? e : e.error;
}
