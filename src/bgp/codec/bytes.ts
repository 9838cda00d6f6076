// Byte reading and writing for the codec: big-endian helpers and a growable writer.
import { parseIPv4, parseIPv6 } from '../../net/ip.js';

export const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/** A growable big-endian writer. `finish()` returns the written bytes as a Buffer. */
export class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf[this.pos++] = v >>> 8;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u24(v: number): this {
    this.ensure(3);
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** reserve n bytes (a length field) and return where they start */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  patch8(at: number, v: number): void {
    this.buf[at] = v;
  }

  patch16(at: number, v: number): void {
    this.buf[at] = v >>> 8;
    this.buf[at + 1] = v & 0xff;
  }

  /** the written bytes, copied into a Buffer of exactly that size */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

/** Dotted quad to 4 bytes; throws RangeError on bad text (encoder input is the caller's bug). */
export function ipv4Bytes(text: string, what: string): Uint8Array {
  const b = parseIPv4(text);
  if (!b) throw new RangeError(`${what} must be an IPv4 address, got ${JSON.stringify(text)}`);
  return b;
}

export function ipv6Bytes(text: string, what: string): Uint8Array {
  const b = parseIPv6(text);
  if (!b) throw new RangeError(`${what} must be an IPv6 address, got ${JSON.stringify(text)}`);
  return b;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

export function checkUint(what: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${what} must be an integer 0–${max}, got ${v}`);
}

/** A plain Uint8Array copy of b[start, end) (never a Buffer view into a socket chunk). */
export function copyBytes(b: Uint8Array, start = 0, end = b.length): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(b.subarray(start, end));
  return out;
}
