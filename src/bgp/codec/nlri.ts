// NLRI prefixes (RFC 4271 §4.3, RFC 4760, RFC 7911) straight into the compact forms of
// src/net/prefix.ts: IPv4 as numbers (address * 64 + length) in a Float64Array, IPv6 as
// 17-character latin1 strings. This is the hot path of UPDATE decoding: no per-prefix
// objects, no text formatting.
import type { Prefix6 } from '../../net/prefix.js';
import { BgpError, type MalformationCode } from './errors.js';

/** IPv4 prefixes as Prefix4 numbers. */
export type Prefix4List = Float64Array;

export interface Nlri4 {
  prefixes: Prefix4List;
  pathIds: Uint32Array | null;
}

export interface Nlri6 {
  prefixes: Prefix6[];
  pathIds: Uint32Array | null;
}

// IPv4 results are views into a shared slab: allocating one small typed array per UPDATE
// costs more than decoding its prefixes. A view keeps its slab (64 KiB) alive, so a
// consumer that wants to keep a list for long should copy it (`slice()`); the RIB only
// iterates them. A message holds at most 65,535 octets and a prefix takes at least one.
const SLAB = 8192;
let slab = new Float64Array(SLAB);
let slabUsed = 0;
const SCRATCH_IDS = new Uint32Array(65536);
const MASK4 = new Int32Array(33);
for (let l = 1; l <= 32; l++) MASK4[l] = -1 << (32 - l);
const LAST_MASK = Uint8Array.of(0xff, 0x80, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe);

export const EMPTY_PREFIX4: Prefix4List = Object.freeze(new Float64Array(0)) as Prefix4List;
const NO_IDS = Object.freeze(new Uint32Array(0)) as Uint32Array;
const NONE4: Nlri4 = Object.freeze({ prefixes: EMPTY_PREFIX4, pathIds: null });
const NONE4_IDS: Nlri4 = Object.freeze({ prefixes: EMPTY_PREFIX4, pathIds: NO_IDS });
const EMPTY6: Prefix6[] = Object.freeze([]) as unknown as Prefix6[];

function syntax(code: MalformationCode, afi: number, what: string): BgpError {
  return new BgpError(code, { detail: what, afi, safi: 1 });
}

/** IPv4 NLRI in b[start, end). Throws `code` (a session reset) on a syntax error (RFC 7606 §5.3). */
export function decodeNlri4(b: Uint8Array, start: number, end: number, addPath: boolean, code: MalformationCode): Nlri4 {
  if (start === end) return addPath ? NONE4_IDS : NONE4;
  if (slab.length - slabUsed < end - start) {
    slab = new Float64Array(Math.max(SLAB, end - start));
    slabUsed = 0;
  }
  const out = slab;
  const first = slabUsed;
  const blen = b.length;
  let c = first;
  let p = start;
  if (!addPath) {
    while (p < end) {
      const len = b[p]!;
      if (len > 32) throw syntax(code, 1, `prefix length ${len}`);
      const next = p + 1 + ((len + 7) >> 3);
      if (next > end) throw syntax(code, 1, 'prefix overruns the field');
      let a: number;
      // reading up to 3 octets past the prefix is harmless (masked) while inside the buffer
      if (p + 5 <= blen) a = ((b[p + 1]! << 24) | (b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!) & MASK4[len]!;
      else a = tail4(b, p + 1, next) & MASK4[len]!;
      out[c++] = (a >>> 0) * 64 + len;
      p = next;
    }
    slabUsed = c;
    return { prefixes: out.subarray(first, c), pathIds: null };
  }
  const ids = SCRATCH_IDS;
  while (p < end) {
    if (p + 5 > end) throw syntax(code, 1, 'path identifier overruns the field');
    ids[c - first] = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
    p += 4;
    const len = b[p]!;
    if (len > 32) throw syntax(code, 1, `prefix length ${len}`);
    const next = p + 1 + ((len + 7) >> 3);
    if (next > end) throw syntax(code, 1, 'prefix overruns the field');
    const a = tail4(b, p + 1, next) & MASK4[len]!;
    out[c++] = (a >>> 0) * 64 + len;
    p = next;
  }
  slabUsed = c;
  return { prefixes: out.subarray(first, c), pathIds: ids.slice(0, c - first) };
}

function tail4(b: Uint8Array, from: number, to: number): number {
  let a = 0;
  for (let i = 0; i < 4; i++) a = (a << 8) | (from + i < to ? b[from + i]! : 0);
  return a;
}

/** IPv6 NLRI in b[start, end) as Prefix6 strings. */
export function decodeNlri6(b: Uint8Array, start: number, end: number, addPath: boolean, code: MalformationCode): Nlri6 {
  if (start === end) return { prefixes: EMPTY6, pathIds: addPath ? NO_IDS : null };
  const out: Prefix6[] = [];
  const ids = SCRATCH_IDS;
  let p = start;
  while (p < end) {
    if (addPath) {
      if (p + 5 > end) throw syntax(code, 2, 'path identifier overruns the field');
      ids[out.length] = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
      p += 4;
    }
    const len = b[p]!;
    if (len > 128) throw syntax(code, 2, `prefix length ${len}`);
    const n = (len + 7) >> 3;
    const q = p + 1;
    if (q + n > end) throw syntax(code, 2, 'prefix overruns the field');
    // octets past the prefix length read as 0; the last one loses its host bits
    // (RFC 4271: trailing bits are irrelevant)
    const m = LAST_MASK[len & 7]!;
    const at = (k: number): number => (k < n ? (k === n - 1 ? b[q + k]! & m : b[q + k]!) : 0);
    out.push(String.fromCharCode(len, at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8), at(9), at(10), at(11), at(12), at(13), at(14), at(15)));
    p = q + n;
  }
  return { prefixes: out, pathIds: addPath ? ids.slice(0, out.length) : null };
}

/** Octets a prefix takes on the wire, path identifier included. */
export const prefix4Size = (p: number, addPath: boolean): number => (addPath ? 5 : 1) + (((p - Math.floor(p / 64) * 64 + 7) >> 3));
export const prefix6Size = (p: Prefix6, addPath: boolean): number => (addPath ? 5 : 1) + ((p.charCodeAt(0) + 7) >> 3);

/** Write one IPv4 prefix at `at`; returns the position after it. */
export function writePrefix4(buf: Uint8Array, at: number, p: number, pathId: number | undefined): number {
  if (pathId !== undefined) {
    buf[at++] = pathId >>> 24;
    buf[at++] = (pathId >>> 16) & 0xff;
    buf[at++] = (pathId >>> 8) & 0xff;
    buf[at++] = pathId & 0xff;
  }
  const a = Math.floor(p / 64);
  const len = p - a * 64;
  buf[at++] = len;
  if (len > 0) buf[at++] = a >>> 24;
  if (len > 8) buf[at++] = (a >>> 16) & 0xff;
  if (len > 16) buf[at++] = (a >>> 8) & 0xff;
  if (len > 24) buf[at++] = a & 0xff;
  return at;
}

export function writePrefix6(buf: Uint8Array, at: number, p: Prefix6, pathId: number | undefined): number {
  if (pathId !== undefined) {
    buf[at++] = pathId >>> 24;
    buf[at++] = (pathId >>> 16) & 0xff;
    buf[at++] = (pathId >>> 8) & 0xff;
    buf[at++] = pathId & 0xff;
  }
  const len = p.charCodeAt(0);
  buf[at++] = len;
  const n = (len + 7) >> 3;
  for (let i = 1; i <= n; i++) buf[at++] = p.charCodeAt(i);
  return at;
}

/** Validate caller-supplied prefixes before they reach the wire. */
export function checkPrefix4(p: number): void {
  if (!Number.isInteger(p) || p < 0 || p >= 0x100000000 * 64 || p - Math.floor(p / 64) * 64 > 32) throw new RangeError(`not a Prefix4: ${p}`);
}

export function checkPrefix6(p: string): void {
  if (typeof p !== 'string' || p.length !== 17 || p.charCodeAt(0) > 128) throw new RangeError(`not a Prefix6: ${JSON.stringify(p)}`);
}
