// Framing: cut a TCP byte stream into BGP messages across arbitrary chunk boundaries and
// enforce the header rules (RFC 4271 §4.1, §6.1; RFC 8654). It does not look inside bodies:
// decoding and dispatch are separate steps (message.ts).
import { HEADER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH, MessageType, MIN_LENGTH } from './constants.js';
import { BgpError } from './errors.js';

export interface Frame {
  /** message type octet (1–5) */
  readonly type: number;
  /** the body after the 19-octet header */
  readonly body: Uint8Array;
  /** the whole message, header included */
  readonly raw: Uint8Array;
}

/**
 * The frames Framer makes: a message at bytes[start, end). `raw` and `body` are views made
 * on first use (each Buffer view costs about 100 ns, as much as the header checks and the
 * framing of a message together); decodeMessage() reads the octets in place without them.
 */
export class ChunkFrame implements Frame {
  #raw: Uint8Array | undefined;
  #body: Uint8Array | undefined;
  constructor(
    readonly type: number,
    /** the chunk (or reassembly copy) holding the message */
    readonly bytes: Uint8Array,
    readonly start: number,
    readonly end: number,
  ) {}

  get raw(): Uint8Array {
    return (this.#raw ??= this.bytes.subarray(this.start, this.end));
  }

  get body(): Uint8Array {
    return (this.#body ??= this.raw.subarray(HEADER_LENGTH));
  }
}

/**
 * Check a complete 19-octet header; returns the message length. Throws BgpError
 * (HEADER_MARKER, HEADER_LENGTH, HEADER_TYPE) with the NOTIFICATION data RFC 4271 §6.1 asks for.
 */
export function checkHeader(b: Uint8Array, at: number, maxLength: number): number {
  for (let i = 0; i < 16; i++) if (b[at + i] !== 0xff) throw new BgpError('HEADER_MARKER');
  const length = (b[at + 16]! << 8) | b[at + 17]!;
  const type = b[at + 18]!;
  if (type < MessageType.Open || type > MessageType.RouteRefresh) {
    throw new BgpError('HEADER_TYPE', { data: Uint8Array.of(type), detail: `type ${type}` });
  }
  // OPEN and KEEPALIVE never exceed 4096, even with extended messages (RFC 8654 §3)
  const max = type === MessageType.Open || type === MessageType.Keepalive ? MAX_MESSAGE_LENGTH : maxLength;
  if (length < MIN_LENGTH[type]! || length > max || (type === MessageType.Keepalive && length !== HEADER_LENGTH)) {
    throw new BgpError('HEADER_LENGTH', { data: Uint8Array.of(length >>> 8, length & 0xff), detail: `length ${length} for message type ${type}` });
  }
  return length;
}

/**
 * A stream decoder. `push(chunk)` returns the messages completed by that chunk; frames point
 * into the chunks given (no copy) unless a message spans chunks. After a header error every
 * further push throws the same error.
 */
export class Framer {
  #max: number;
  // for a message that spans chunks; made on first need (a quiet session never needs it, and
  // 64 KiB each held by thousands of sessions is most of an agent's memory)
  #accBuf: Buffer | null = null;
  #accLen = 0;
  #need = 0; // total length of the message being accumulated, 0 while the header is incomplete
  #failed: BgpError | undefined;

  constructor(opts: { extendedMessage?: boolean } = {}) {
    this.#max = opts.extendedMessage ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  }

  get #acc(): Buffer {
    return (this.#accBuf ??= Buffer.allocUnsafe(MAX_EXTENDED_MESSAGE_LENGTH));
  }

  /** Switch to 65,535-octet messages once both sides sent the extended-message capability. */
  set extendedMessage(on: boolean) {
    this.#max = on ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  }

  get maxLength(): number {
    return this.#max;
  }

  /** octets held while waiting for the rest of a message */
  get buffered(): number {
    return this.#accLen;
  }

  push(chunk: Uint8Array): Frame[] {
    if (this.#failed) throw this.#failed;
    try {
      return this.#push(chunk);
    } catch (e) {
      this.#failed = e as BgpError;
      throw e;
    }
  }

  #push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    let p = 0;
    // finish a message begun in earlier chunks
    if (this.#accLen > 0) {
      if (this.#need === 0) {
        const take = Math.min(HEADER_LENGTH - this.#accLen, chunk.length);
        this.#acc.set(chunk.subarray(0, take), this.#accLen);
        this.#accLen += take;
        p = take;
        if (this.#accLen < HEADER_LENGTH) return out;
        this.#need = checkHeader(this.#acc, 0, this.#max);
      }
      const take = Math.min(this.#need - this.#accLen, chunk.length - p);
      this.#acc.set(chunk.subarray(p, p + take), this.#accLen);
      this.#accLen += take;
      p += take;
      if (this.#accLen < this.#need) return out;
      const raw = Buffer.from(this.#acc.subarray(0, this.#need));
      out.push(new ChunkFrame(raw[18]!, raw, 0, raw.length));
      this.#accLen = 0;
      this.#need = 0;
    }
    // whole messages inside this chunk, without copying
    while (chunk.length - p >= HEADER_LENGTH) {
      const length = checkHeader(chunk, p, this.#max);
      if (chunk.length - p < length) break;
      out.push(new ChunkFrame(chunk[p + 18]!, chunk, p, p + length));
      p += length;
    }
    // keep the start of the next message
    if (p < chunk.length) {
      const rest = chunk.length - p;
      this.#acc.set(chunk.subarray(p), 0);
      this.#accLen = rest;
      this.#need = rest >= HEADER_LENGTH ? checkHeader(this.#acc, 0, this.#max) : 0;
    }
    return out;
  }
}
