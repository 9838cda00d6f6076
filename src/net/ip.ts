// IP addresses and CIDR prefixes as text: parsing, canonical form and containment.
// Bytes are network order. No I/O.
import { isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** network address bytes (4 or 16), host bits zero */
  bytes: Uint8Array;
  length: number;
}

/**
 * A dotted quad as node:net's isIPv4 accepts it (four decimal octets 0–255, no leading zeros)
 * to its 4 bytes; undefined for anything else. By hand, without isIPv4's regular expression and
 * a split: the RIB checks every UPDATE's next hop with it (import sanity).
 */
export function parseIPv4(text: string): Uint8Array | undefined {
  const n = text.length;
  if (n < 7 || n > 15) return undefined;
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 46; // a '.' after the last octet ends it
    if (c === 46) {
      if (digits === 0 || part > 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return undefined; // a leading zero
      value = value * 10 + (c - 48);
      if (value > 255) return undefined;
      digits++;
    } else return undefined;
  }
  return part === 4 ? out : undefined;
}

export function parseIPv6(text: string): Uint8Array | undefined {
  if (!isIPv6(text)) return undefined;
  let s = text;
  const out = new Uint8Array(16);
  // embedded dotted quad in the last 32 bits
  const dot = s.lastIndexOf('.');
  let tail: Uint8Array | undefined;
  if (dot >= 0) {
    const colon = s.lastIndexOf(':');
    tail = parseIPv4(s.slice(colon + 1));
    if (!tail) return undefined;
    s = s.slice(0, colon + 1) + '0:0';
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const hs = head === '' ? [] : head.split(':');
  const rs = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - rs.length).fill('0'), ...rs];
  if (groups.length !== 8) return undefined;
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  if (tail) out.set(tail, 12);
  return out;
}

export function parseIP(text: string): { family: Family; bytes: Uint8Array } | undefined {
  const v4 = parseIPv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(text);
  if (v6) return { family: 6, bytes: v6 };
  return undefined;
}

export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 5952 canonical text of 16 bytes. */
export function formatIPv6(b: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(((b[off + i * 2] ?? 0) << 8) | (b[off + i * 2 + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

export function formatIP(family: Family, bytes: Uint8Array): string {
  return family === 4 ? formatIPv4(bytes) : formatIPv6(bytes);
}

/** Canonical text of an address, or undefined when it is not one. */
export function canonicalIP(text: string): string | undefined {
  const a = parseIP(text);
  return a && formatIP(a.family, a.bytes);
}

/** Parse `a.b.c.d/n` or `x::/n`. Host bits set are an error unless `loose`. */
export function parseCidr(text: string, loose = false): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseIP(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(lenText)) return undefined;
  const length = Number(lenText);
  if (length > addr.bytes.length * 8) return undefined;
  const masked = maskBytes(addr.bytes, length);
  if (!loose && !masked.every((v, i) => v === addr.bytes[i])) return undefined;
  return { family: addr.family, bytes: masked, length };
}

export function maskBytes(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    out[i] = (bytes[i] ?? 0) & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

export function formatCidr(c: Cidr): string {
  return `${formatIP(c.family, c.bytes)}/${c.length}`;
}

export function cidrContains(c: Cidr, family: Family, addr: Uint8Array): boolean {
  if (c.family !== family) return false;
  const m = maskBytes(addr, c.length);
  return m.every((v, i) => v === c.bytes[i]);
}

/** IPv4 dotted quad to an unsigned 32-bit number. */
export function ipv4ToNumber(text: string): number | undefined {
  const b = parseIPv4(text);
  return b && ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

export function numberToIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/**
 * The identity of a peer from the address a socket reports: canonical text and family, with
 * an IPv4 peer of a dual-stack socket (`::ffff:10.0.0.1`) given as plain IPv4 (`10.0.0.1`),
 * so the same peer has one name whichever socket it came through. Undefined when not an address.
 */
export function peerIdentity(text: string): { family: Family; address: string } | undefined {
  const a = parseIP(text);
  if (!a) return undefined;
  if (a.family === 6 && a.bytes.subarray(0, 10).every((b) => b === 0) && a.bytes[10] === 0xff && a.bytes[11] === 0xff)
    return { family: 4, address: formatIPv4(a.bytes, 12) };
  return { family: a.family, address: formatIP(a.family, a.bytes) };
}
