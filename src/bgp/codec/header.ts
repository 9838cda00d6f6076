// The 19-octet message header: 16 octets of marker (all ones), length, type (RFC 4271 §4.1).
import { HEADER_LENGTH } from './constants.js';

export function writeHeader(buf: Uint8Array, at: number, type: number, length: number): void {
  buf.fill(0xff, at, at + 16);
  buf[at + 16] = length >>> 8;
  buf[at + 17] = length & 0xff;
  buf[at + 18] = type;
}

/** A whole message: header plus body. */
export function frame(type: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  writeHeader(out, 0, type, out.length);
  out.set(body, HEADER_LENGTH);
  return out;
}
