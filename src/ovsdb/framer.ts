// Splits the OVSDB byte stream into JSON texts. OVSDB writes JSON values back to back with no
// delimiter or length prefix, so the only way to find a message's end is to track
// nesting depth, string and escape state byte by byte. This module does that and nothing else:
// parsing and JSON-RPC live in jsonrpc.ts.
//
// Why bytes and not strings: a chunk may end inside a multi-byte UTF-8 sequence, and decoding
// chunks one by one would corrupt it. UTF-8 continuation bytes are all >= 0x80, so they can never
// be mistaken for the ASCII structural characters scanned here; a message is decoded only once it
// is complete.
//
// Cost: every byte is examined exactly once (the scanner state survives across chunks), and a
// message that spans chunks is joined exactly once, when its last byte arrives. A message that
// grows past `maxMessageBytes` fails at once, before more memory is spent on it.

import { OvsdbError } from '../errors';

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export interface FramerOptions {
  /** Largest message accepted, in bytes; a bigger one is a protocol error (OVSDB_MESSAGE_TOO_LARGE). */
  maxMessageBytes?: number;
  /** Deepest nesting accepted (ovsdb-server itself stops at 1000). */
  maxDepth?: number;
}

export class JsonFramer {
  readonly maxMessageBytes: number;
  readonly maxDepth: number;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Pieces of the message still incomplete: its first piece starts at its opening bracket. */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private failed: OvsdbError | undefined;

  constructor(
    private readonly onMessage: (text: string) => void,
    options: FramerOptions = {},
  ) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxDepth = options.maxDepth ?? 1000;
  }

  /** Bytes held for a message that has not ended yet. */
  get bufferedBytes(): number {
    return this.partsBytes;
  }

  /** True when the stream is between messages (only whitespace seen since the last one). */
  get idle(): boolean {
    return this.depth === 0 && this.partsBytes === 0;
  }

  /**
   * Feeds one chunk. Calls onMessage for every message completed by it, in order. Throws an
   * OvsdbError (OVSDB_PROTOCOL or OVSDB_MESSAGE_TOO_LARGE) when the stream breaks the framing
   * rules; after that the framer refuses further input.
   */
  push(chunk: Buffer): void {
    if (this.failed) throw this.failed;
    const n = chunk.length;
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    // Where the current message starts in this chunk; -1 while it started in an earlier chunk.
    let start = depth > 0 ? -1 : 0;
    let i = 0;
    try {
      while (i < n) {
        const c = chunk[i]!;
        if (inString) {
          if (escaped) escaped = false;
          else if (c === BACKSLASH) escaped = true;
          else if (c === QUOTE) inString = false;
          else {
            // Fast path through string bodies, which are most of the bytes in OVSDB traffic.
            const q = chunk.indexOf(QUOTE, i + 1);
            const b = chunk.indexOf(BACKSLASH, i + 1);
            let next = q < 0 ? n : q;
            if (b >= 0 && b < next) next = b;
            i = next;
            continue;
          }
          i++;
          continue;
        }
        if (depth === 0) {
          if (isJsonSpace(c)) {
            i++;
            continue;
          }
          if (c !== LBRACE && c !== LBRACKET) {
            throw this.fail(
              new OvsdbError('OVSDB_PROTOCOL', `OVSDB protocol error: unexpected byte 0x${c.toString(16).padStart(2, '0')} between messages (expected '{')`, {
                detail: { byte: c, context: chunk.toString('latin1', Math.max(0, i - 16), Math.min(n, i + 32)) },
              }),
            );
          }
          depth = 1;
          start = i;
          i++;
          continue;
        }
        if (c === QUOTE) inString = true;
        else if (c === LBRACE || c === LBRACKET) {
          if (++depth > this.maxDepth) {
            throw this.fail(new OvsdbError('OVSDB_PROTOCOL', `OVSDB protocol error: JSON nested deeper than ${this.maxDepth} levels`));
          }
        } else if (c === RBRACE || c === RBRACKET) {
          if (--depth === 0) {
            const end = i + 1;
            let text: string;
            if (start >= 0) {
              if (end - start > this.maxMessageBytes) throw this.fail(this.tooLarge(end - start));
              text = chunk.toString('utf8', start, end);
            } else {
              const total = this.partsBytes + end;
              if (total > this.maxMessageBytes) throw this.fail(this.tooLarge(total));
              this.parts.push(chunk.subarray(0, end));
              text = Buffer.concat(this.parts, total).toString('utf8');
              this.parts = [];
              this.partsBytes = 0;
            }
            start = end;
            // Save state first: onMessage may throw, and the next push must not rescan.
            this.depth = 0;
            this.inString = false;
            this.escaped = false;
            this.onMessage(text);
          }
        }
        i++;
      }
    } catch (e) {
      if (!this.failed && e instanceof OvsdbError) this.failed = e;
      throw e;
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    if (depth > 0) {
      const from = start >= 0 ? start : 0;
      const piece = from === 0 ? chunk : chunk.subarray(from);
      this.partsBytes += piece.length;
      // Node reuses a socket's read buffers only when they are not referenced; holding a view is safe.
      this.parts.push(piece);
      if (this.partsBytes > this.maxMessageBytes) throw this.fail(this.tooLarge(this.partsBytes));
    }
  }

  /** Drops any partial message (for reuse after the stream was reset). */
  reset(): void {
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.parts = [];
    this.partsBytes = 0;
    this.failed = undefined;
  }

  private tooLarge(bytes: number): OvsdbError {
    return new OvsdbError(
      'OVSDB_MESSAGE_TOO_LARGE',
      `OVSDB message exceeds the ${this.maxMessageBytes}-byte limit (at least ${bytes} bytes); raise maxMessageBytes if the database is really that big`,
      { detail: { limit: this.maxMessageBytes, seen: bytes } },
    );
  }

  private fail(e: OvsdbError): OvsdbError {
    this.failed = e;
    this.parts = [];
    this.partsBytes = 0;
    return e;
  }
}
