// Byte builders for hand-made messages in codec tests.
import { parsePrefix, type Prefix6 } from '../../src/net/prefix.js';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex');

/** flags, code, value → one attribute (extended length when asked or needed) */
export function attr(flags: number, code: number, value: ArrayLike<number> | Uint8Array, extended = false): Buffer {
  const v = Buffer.from(value as Uint8Array);
  const ext = extended || v.length > 255;
  const h = ext ? Buffer.from([flags | 0x10, code, v.length >> 8, v.length & 0xff]) : Buffer.from([flags & ~0x10, code, v.length]);
  return Buffer.concat([h, v]);
}

export const u16b = (n: number): number[] => [n >>> 8, n & 0xff];
export const u32b = (n: number): number[] => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** NLRI bytes of prefixes given as text */
export function nlri(...prefixes: string[]): Buffer {
  const out: number[] = [];
  for (const t of prefixes) {
    const [a, l] = t.split('/') as [string, string];
    const len = Number(l);
    const n = (len + 7) >> 3;
    out.push(len);
    if (a.includes(':')) {
      const p = parsePrefix(`${a}/${len}`, true) as Prefix6;
      for (let i = 1; i <= n; i++) out.push(p.charCodeAt(i));
    } else out.push(...a.split('.').map(Number).slice(0, n));
  }
  return Buffer.from(out);
}

/** a whole UPDATE message from its parts */
export function updateMsg(parts: { withdrawn?: Uint8Array; attrs?: Uint8Array[]; nlri?: Uint8Array }): Buffer {
  const w = Buffer.from(parts.withdrawn ?? []);
  const a = Buffer.concat(parts.attrs ?? []);
  const n = Buffer.from(parts.nlri ?? []);
  const body = Buffer.concat([Buffer.from(u16b(w.length)), w, Buffer.from(u16b(a.length)), a, n]);
  return Buffer.concat([Buffer.alloc(16, 0xff), Buffer.from(u16b(19 + body.length)), Buffer.from([2]), body]);
}

export const body = (msg: Uint8Array): Uint8Array => msg.subarray(19);

export const ORIGIN_IGP = attr(0x40, 1, [0]);
export const asPath4 = (...asns: number[]): Buffer => attr(0x40, 2, asns.length ? [2, asns.length, ...asns.flatMap(u32b)] : []);
export const asPath2 = (...asns: number[]): Buffer => attr(0x40, 2, asns.length ? [2, asns.length, ...asns.flatMap(u16b)] : []);
export const nextHop = (ip: string): Buffer => attr(0x40, 3, ip.split('.').map(Number));
