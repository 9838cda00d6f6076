// The compact prefix used from the wire codec through the RIB to the kernel: no string
// formatting per prefix, hashable as a Map key, and directly usable by netlink.
//
// IPv4: a number, address * 64 + length (address as unsigned 32-bit, length 0–32), so
//       every IPv4 prefix is an exact integer below 2^38.
// IPv6: a 17-character latin1 string: the length, then the 16 address bytes (host bits zero).
//
// Tables are kept per family (Map<Prefix4, …> and Map<Prefix6, …>), so the two forms
// never meet in one map.
import { formatIPv4, formatIPv6, maskBytes, parseCidr, type Family } from './ip.js';

export type Prefix4 = number;
export type Prefix6 = string;
export type Prefix = Prefix4 | Prefix6;

export function prefix4(address: number, length: number): Prefix4 {
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return ((address & mask) >>> 0) * 64 + length;
}

export const prefix4Address = (p: Prefix4): number => Math.floor(p / 64);
export const prefix4Length = (p: Prefix4): number => p % 64;

/** IPv6 prefix from 16 address bytes at `off` (bytes past the length are ignored). */
export function prefix6(bytes: Uint8Array, length: number, off = 0): Prefix6 {
  let s = String.fromCharCode(length);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    s += String.fromCharCode((bytes[off + i] ?? 0) & ((0xff << (8 - bits)) & 0xff));
  }
  return s;
}

export const prefix6Length = (p: Prefix6): number => p.charCodeAt(0);

/** The 16 address bytes of an IPv6 prefix. */
export function prefix6Bytes(p: Prefix6): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = p.charCodeAt(i + 1);
  return out;
}

export const prefixFamily = (p: Prefix): Family => (typeof p === 'number' ? 4 : 6);
export const prefixLength = (p: Prefix): number => (typeof p === 'number' ? prefix4Length(p) : prefix6Length(p));

export function formatPrefix(p: Prefix): string {
  if (typeof p === 'number') {
    const a = prefix4Address(p);
    return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}/${prefix4Length(p)}`;
  }
  return `${formatIPv6(prefix6Bytes(p))}/${prefix6Length(p)}`;
}

/** Parse `10.0.0.0/24` or `fd00::/64`; host bits set are an error unless `loose`. */
export function parsePrefix(text: string, loose = false): Prefix | undefined {
  const c = parseCidr(text, loose);
  if (!c) return undefined;
  if (c.family === 4) {
    const b = c.bytes;
    return prefix4((((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0), c.length);
  }
  return prefix6(maskBytes(c.bytes, c.length), c.length);
}

export { formatIPv4, formatIPv6 };
