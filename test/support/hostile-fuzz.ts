// Fuzz properties (fast-check) for everything that parses bytes a peer sends: the OVSDB stream
// framer, JSON-RPC classification, the whole OVSDB session dispatcher (framer → JSON → classify →
// replies, probes, notifications), the monitor replica applying updates, and the rtnetlink decoders.
// The rule each one checks: whatever arrives, the code returns or throws an EcdockError with a
// protocol code; it never throws anything else, never holds more than its stated bound of memory,
// and a pending request always settles. Used by test/unit/hardening-fuzz.test.ts (bounded, in CI)
// and scripts/reliability/fuzz.ts (longer runs).
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { isEcdockError } from '../../src/errors';
import { decodeAddr } from '../../src/netlink/addr';
import { decodeLink } from '../../src/netlink/link';
import * as C from '../../src/netlink/nl/constants';
import { parseAck, parseAttrs, splitMessages, type Request } from '../../src/netlink/nl/message';
import { decodeRoute } from '../../src/netlink/route';
import { collect } from '../../src/netlink/transport';
import { Replica } from '../../src/ovsdb/cache';
import { Connection } from '../../src/ovsdb/connection';
import { JsonFramer } from '../../src/ovsdb/framer';
import { classify } from '../../src/ovsdb/jsonrpc';
import { normalizeSchema } from '../../src/ovsdb/schema';
import { openVswitchSchema } from '../../src/ovsdb/schema/open-vswitch';
import { nlattr, nlmsg } from './netlink-bytes';

/** Fails (throws) unless `e` is an EcdockError with one of `codes`. */
export function expectTyped(e: unknown, codes: readonly string[], where: string): void {
  if (isEcdockError(e) && codes.includes(e.code)) return;
  throw new Error(`${where}: expected an EcdockError (${codes.join('|')}), got ${e instanceof Error ? e.stack : String(e)}`);
}

/** Splits a buffer at the given points (sorted, deduplicated, in range). */
export function splitAt(b: Buffer, points: number[]): Buffer[] {
  const cuts = [...new Set(points.map((p) => p % (b.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(b.subarray(prev, c));
    prev = c;
  }
  out.push(b.subarray(prev));
  return out;
}

// ---- OVSDB -----------------------------------------------------------------------------------

const structural = fc.constantFrom(...'{}[]"\\ ,:\n'.split('').map((c) => c.charCodeAt(0)));
/** Bytes biased towards JSON's structural characters, so that framing states are all reached. */
export const jsonishBytes = (maxLength: number) =>
  fc.array(fc.oneof({ weight: 3, arbitrary: structural }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 255 }) }), { maxLength }).map((a) => Buffer.from(a));

/** The framer never throws anything but OVSDB_PROTOCOL / OVSDB_MESSAGE_TOO_LARGE, never buffers past its limit, and stays failed once failed. */
export function framerProperty(maxMessageBytes = 256) {
  return fc.property(jsonishBytes(2000), fc.array(fc.nat(), { maxLength: 20 }), (bytes, points) => {
    const framer = new JsonFramer(() => undefined, { maxMessageBytes, maxDepth: 64 });
    let failed: unknown;
    for (const chunk of splitAt(bytes, points)) {
      try {
        framer.push(chunk);
      } catch (e) {
        expectTyped(e, ['OVSDB_PROTOCOL', 'OVSDB_MESSAGE_TOO_LARGE'], 'framer');
        if (failed === undefined) failed = e;
        else if (e !== failed) throw new Error('framer: a failed framer must keep failing with the same error', { cause: e });
      }
      if (framer.bufferedBytes > maxMessageBytes) throw new Error(`framer holds ${framer.bufferedBytes} bytes, over its ${maxMessageBytes}-byte limit`);
    }
  });
}

/** classify() of any JSON value returns an inbound message or throws OVSDB_PROTOCOL. */
export function classifyProperty() {
  const idish = fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.jsonValue());
  const msg = fc.oneof(
    fc.jsonValue(),
    fc.record({ id: idish, result: fc.jsonValue(), error: fc.jsonValue() }, { requiredKeys: [] }),
    fc.record({ id: idish, method: fc.oneof(fc.string(), fc.jsonValue()), params: fc.jsonValue() }, { requiredKeys: [] }),
  );
  return fc.property(msg, (v) => {
    try {
      classify(v);
    } catch (e) {
      expectTyped(e, ['OVSDB_PROTOCOL'], 'classify');
    }
  });
}

/** A Duplex that swallows writes (what the client sends) and lets the test emit inbound data. */
class NullSocket extends Duplex {
  override _read(): void {}
  override _write(_c: unknown, _e: BufferEncoding, cb: () => void): void {
    cb();
  }
}

/** Messages a hostile OVSDB server could send, with ids that hit real pending requests. */
function hostileMessage(ids: number[]) {
  const id = fc.oneof(fc.constantFrom(...ids), fc.integer(), fc.string({ maxLength: 4 }), fc.constant(null));
  const method = fc.constantFrom('update', 'update2', 'update3', 'echo', 'locked', 'stolen', 'monitor_canceled', 'bogus');
  return fc.oneof(
    fc.record({ id, result: fc.jsonValue({ maxDepth: 4 }), error: fc.constant(null) }),
    fc.record({ id, result: fc.constant(null), error: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 3 })) }),
    fc.record({ id: fc.constant(null), method, params: fc.oneof(fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })) }),
    fc.record({ id, method, params: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }) }),
    fc.jsonValue({ maxDepth: 3 }),
  );
}

/**
 * A whole session fed hostile input: a few requests are pending (echo, transact with a map like the
 * real client's), then a stream of hostile messages, garbage bytes or truncation arrives in random
 * chunks, then the socket closes. Every pending request must have settled, each resolved or
 * rejected with a typed error; nothing may throw out of the dispatcher.
 */
export function sessionProperty() {
  const ids = [1, 2, 3, 4];
  const stream = fc
    .tuple(
      fc.array(hostileMessage(ids), { maxLength: 8 }),
      fc.oneof(fc.constant(Buffer.alloc(0)), jsonishBytes(64), fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a))),
      fc.boolean(),
    )
    .map(([msgs, tail, truncate]) => {
      const text = Buffer.from(msgs.map((m) => JSON.stringify(m)).join(''));
      const body = truncate && text.length > 2 ? text.subarray(0, text.length - 1) : text;
      return Buffer.concat([body, tail]);
    });
  return fc.asyncProperty(stream, fc.array(fc.nat(), { maxLength: 10 }), async (bytes, points) => {
    const socket = new NullSocket();
    let closedWith: unknown;
    let notifications = 0;
    const conn = new Connection(socket, {
      remote: { kind: 'unix', path: '/fuzz' },
      maxMessageBytes: 4096,
      requestTimeoutMs: 0,
      probeIntervalMs: 0,
      onNotification: () => {
        notifications++;
      },
      onClose: (e) => {
        closedWith = e;
      },
    });
    const pending = [
      conn.request('echo', []),
      conn.request('list_dbs', [], { map: (r) => (Array.isArray(r) ? r : (() => { throw new Error('not an array'); })()) }),
      conn.request('transact', ['Open_vSwitch'], { map: (r) => r }),
      conn.request('get_schema', ['Open_vSwitch']),
    ].map((p) => p.then(() => 'ok', (e: unknown) => e));
    for (const chunk of splitAt(bytes, points)) socket.emit('data', chunk);
    socket.emit('close');
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([Promise.all(pending), new Promise((r) => (timer = setTimeout(() => r('hung'), 1000)))]);
    clearTimeout(timer);
    if (settled === 'hung') throw new Error('session: a pending request never settled after the peer closed');
    for (const r of settled as unknown[]) {
      if (r === 'ok') continue;
      // A `map` that throws rejects with the map's own error: the client's real maps throw typed ones.
      if (r instanceof Error && r.message === 'not an array') continue;
      expectTyped(r, ['OVSDB_PROTOCOL', 'OVSDB_MESSAGE_TOO_LARGE', 'OVSDB_CONNECTION_LOST', 'OVSDB_ERROR', 'OVSDB_CANCELED'], 'session');
    }
    expectTyped(closedWith, ['OVSDB_PROTOCOL', 'OVSDB_MESSAGE_TOO_LARGE', 'OVSDB_CONNECTION_LOST'], 'session close');
    void notifications;
  });
}

const UUIDS = ['11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222', 'aaaaaaaa-0000-0000-0000-000000000001'];
const uuidish = fc.oneof(fc.constantFrom(...UUIDS), fc.uuid(), fc.string({ maxLength: 6 }));
/** Wire datums: right shapes with wrong contents, and wrong shapes. */
const datum = fc.letrec((tie) => ({
  atom: fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.double(), fc.boolean(), fc.tuple(fc.constantFrom('uuid', 'named-uuid'), uuidish)),
  value: fc.oneof(
    { weight: 3, arbitrary: tie('atom') },
    fc.tuple(fc.constant('set'), fc.array(tie('atom'), { maxLength: 3 })),
    fc.tuple(fc.constant('map'), fc.array(fc.oneof(fc.tuple(tie('atom'), tie('atom')), tie('atom')), { maxLength: 3 })),
    fc.tuple(fc.constantFrom('set', 'map', 'uuid'), fc.jsonValue({ maxDepth: 2 })),
    fc.jsonValue({ maxDepth: 2 }),
  ),
})).value;
const uuidAtom = fc.tuple(fc.constant('uuid'), fc.constantFrom(...UUIDS));
const str = fc.string({ maxLength: 5 });
/** Well-formed datums per column (so the fuzz reaches decoding and diffing), else anything. */
const VALID: Record<string, fc.Arbitrary<unknown>> = {
  name: str,
  datapath_type: str,
  fail_mode: fc.oneof(fc.constantFrom('secure', 'standalone'), fc.constant(['set', []])),
  ports: fc.oneof(uuidAtom, fc.tuple(fc.constant('set'), fc.array(uuidAtom, { maxLength: 3 }))),
  interfaces: fc.oneof(uuidAtom, fc.tuple(fc.constant('set'), fc.array(uuidAtom, { maxLength: 3 }))),
  external_ids: fc.tuple(fc.constant('map'), fc.array(fc.tuple(str, str), { maxLength: 3 })),
  other_config: fc.tuple(fc.constant('map'), fc.array(fc.tuple(str, str), { maxLength: 3 })),
  tag: fc.oneof(fc.integer({ min: -2, max: 4097 }), fc.constant(['set', []]), fc.tuple(fc.constant('set'), fc.array(fc.integer({ min: 0, max: 4095 }), { maxLength: 2 }))),
  trunks: fc.oneof(fc.integer({ min: 0, max: 4095 }), fc.tuple(fc.constant('set'), fc.array(fc.integer({ min: 0, max: 4095 }), { maxLength: 3 }))),
  bogus: datum,
};
const COLUMNS = Object.keys(VALID);
const column = fc.constantFrom(...COLUMNS).chain((c) => fc.tuple(fc.constant(c), fc.oneof({ weight: 15, arbitrary: VALID[c]! }, datum)));
const rowBody = fc.oneof(
  { weight: 4, arbitrary: fc.array(column, { maxLength: 5 }).map((cols) => Object.fromEntries(cols)) },
  fc.jsonValue({ maxDepth: 2 }),
);
const rowUpdate2 = fc.oneof(
  { weight: 3, arbitrary: fc.record({ initial: rowBody }) },
  { weight: 3, arbitrary: fc.record({ insert: rowBody }) },
  { weight: 4, arbitrary: fc.record({ modify: rowBody }) },
  { weight: 2, arbitrary: fc.record({ delete: fc.constant(null) }) },
  { weight: 3, arbitrary: fc.record({ old: rowBody, new: rowBody }, { requiredKeys: [] }) },
  fc.jsonValue({ maxDepth: 2 }),
);
const tableUpdates = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.dictionary(
      fc.constantFrom('Bridge', 'Port', 'Interface', 'Nope'),
      fc.oneof({ weight: 5, arbitrary: fc.dictionary(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...UUIDS) }, uuidish), rowUpdate2, { maxKeys: 3 }) }, fc.jsonValue({ maxDepth: 2 })),
      { maxKeys: 3 },
    ),
  },
  fc.jsonValue({ maxDepth: 3 }),
);

/** The monitor replica applies any sequence of hostile updates or throws OVSDB_PROTOCOL/OVSDB_ERROR; never a TypeError. */
export function replicaProperty() {
  const schema = normalizeSchema(openVswitchSchema);
  return fc.property(fc.array(fc.tuple(fc.constantFrom('u1', 'u2', 'replace1', 'replace2'), tableUpdates), { minLength: 1, maxLength: 6 }), (steps) => {
    const r = new Replica(
      schema,
      new Map([
        ['Bridge', { columns: ['name', 'ports', 'external_ids', 'fail_mode', 'datapath_type', 'other_config'] }],
        ['Port', { columns: ['name', 'tag', 'trunks', 'interfaces', 'external_ids'], indexes: ['tag'] }],
        ['Interface', { columns: ['name', 'external_ids'] }],
      ]),
    );
    for (const [kind, u] of steps) {
      try {
        if (kind === 'u1') r.applyUpdate1(u);
        else if (kind === 'u2') r.applyUpdate2(u);
        else r.replace(u, kind === 'replace1' ? 1 : 2);
      } catch (e) {
        expectTyped(e, ['OVSDB_PROTOCOL', 'OVSDB_ERROR'], `replica ${kind}`);
      }
    }
  });
}

// ---- rtnetlink -------------------------------------------------------------------------------

/** Attribute trees with plausible types, random lengths and random nesting, sometimes with a lying length. */
const attrs: fc.Arbitrary<Buffer> = fc.letrec<{ tree: Buffer; one: Buffer }>((tie) => ({
  one: fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 60 }), fc.uint8Array({ maxLength: 24 })).map(([t, d]) => nlattr(t, Buffer.from(d))) },
    { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 60 }), fc.boolean(), tie('tree')).map(([t, nested, d]) => nlattr(t | (nested ? C.NLA_F_NESTED : 0), d)) },
    // a length field that lies
    fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 12 })).map(([t, len, d]) => {
      const b = nlattr(t, Buffer.from(d));
      b.writeUInt16LE(len, 0);
      return b;
    }),
  ),
  tree: fc.array(tie('one'), { maxLength: 4 }).map((xs) => Buffer.concat(xs)),
})).tree;

const NL_TYPES = [C.NLMSG_ERROR, C.NLMSG_DONE, C.RTM_NEWLINK, C.RTM_NEWADDR, C.RTM_NEWROUTE, 1, 999];
/** One netlink message: a header (sometimes with a lying length), a fixed struct and attributes. */
const nlMessage = fc
  .tuple(
    fc.constantFrom(...NL_TYPES),
    fc.integer({ min: 0, max: 0xffff }),
    fc.constantFrom(1, 2, 3, 77),
    fc.uint8Array({ maxLength: 40 }),
    attrs,
    fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
  )
  .map(([type, flags, seq, fixed, body, lie]) => nlmsg(type, flags, seq, Buffer.concat([Buffer.from(fixed), body]), lie === undefined ? {} : { length: lie }));

/** Decodes every message the way the transport and verbs do. */
function decodeAll(b: Buffer): void {
  for (const m of splitMessages(b)) {
    if (m.type === C.NLMSG_ERROR || m.type === C.NLMSG_DONE) parseAck(m);
    else if (m.type === C.RTM_NEWLINK) decodeLink(m);
    else if (m.type === C.RTM_NEWADDR) decodeAddr(m);
    else if (m.type === C.RTM_NEWROUTE) decodeRoute(m);
    else parseAttrs(m.payload);
  }
}

/** Replies the kernel never sends: decoders return or throw NETLINK_PROTOCOL; collect() too. */
export function netlinkProperty() {
  const reqs: Request[] = [1, 2, 3].map(() => ({ type: C.RTM_GETLINK, flags: C.NLM_F_REQUEST, bytes: Buffer.alloc(16), marks: [] }));
  return fc.property(fc.oneof(fc.array(nlMessage, { maxLength: 5 }).map((xs) => Buffer.concat(xs)), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))), (b) => {
    try {
      decodeAll(b);
    } catch (e) {
      expectTyped(e, ['NETLINK_PROTOCOL'], 'netlink decode');
    }
    try {
      collect(reqs, [1, 2, 3], b);
    } catch (e) {
      expectTyped(e, ['NETLINK_PROTOCOL'], 'netlink collect');
    }
  });
}
