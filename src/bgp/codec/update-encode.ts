// UPDATE encoding: one message from parts, packing many prefixes per message up to the
// negotiated size (Adj-RIB-Out encodes once per update group and sends to every member),
// withdrawals, and End-of-RIB markers (RFC 4724 §2).
import type { Prefix6 } from '../../net/prefix.js';
import { encodeAttributes } from './attribute-list.js';
import type { PathAttributes } from './attributes.js';
import { ipv4Bytes, ipv6Bytes, u16, Writer } from './bytes.js';
import { AFI_IPV4, AFI_IPV6, AttrCode, EXTENDED_LENGTH as EXTENDED, HEADER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH, MessageType, OPTIONAL, SAFI_UNICAST, TRANSITIVE } from './constants.js';
import { writeHeader } from './header.js';
import { checkPrefix4, checkPrefix6, EMPTY_PREFIX4, writePrefix4, writePrefix6 } from './nlri.js';
import { type CodecOptions, maxMessageLength } from './options.js';
import type { Family } from './update.js';

const EMPTY6: readonly Prefix6[] = Object.freeze([]);


interface EncodedSet {
  /** attributes without MP_* and NEXT_HOP */
  bytes: Buffer;
  /** where NEXT_HOP goes to keep type-code order */
  nextHopAt: number;
}

const encodedSets = new WeakMap<PathAttributes, Map<number, EncodedSet>>();

/** The attribute bytes of a set for a session kind, cached on the set (encode once, send to many). */
export function attributeBytes(a: PathAttributes, o: CodecOptions): EncodedSet {
  const k = (o.as4 ? 1 : 0) | (o.ebgp ? 2 : 0);
  let m = encodedSets.get(a);
  if (!m) {
    m = new Map();
    encodedSets.set(a, m);
  }
  let e = m.get(k);
  if (!e) {
    const bytes = encodeAttributes(a, o).finish();
    let at = 0;
    while (at < bytes.length && bytes[at + 1]! < AttrCode.NextHop) at += (bytes[at]! & 0x10 ? 4 + u16(bytes, at + 2) : 3 + bytes[at + 2]!);
    e = { bytes, nextHopAt: at };
    m.set(k, e);
  }
  return e;
}

function nextHopBytes(a: PathAttributes, family: Family): Buffer {
  if (!a.nextHop) throw new RangeError(`a route to announce needs a next hop`);
  if (family === 4 && !a.nextHop.includes(':')) return Buffer.from(ipv4Bytes(a.nextHop, 'next hop'));
  const g = ipv6Bytes(a.nextHop, 'next hop');
  if (!a.linkLocalNextHop) return Buffer.from(g);
  return Buffer.concat([g, ipv6Bytes(a.linkLocalNextHop, 'link-local next hop')]);
}

/** Whether IPv4 routes with this set travel in MP_REACH_NLRI (an IPv6 next hop, RFC 8950). */
const v4ViaMp = (a: PathAttributes): boolean => a.nextHop !== undefined && a.nextHop.includes(':');

export interface ReachInit {
  readonly family: Family;
  readonly prefixes: ArrayLike<number> | readonly Prefix6[];
  readonly pathIds?: ArrayLike<number> | null;
  readonly attrs: PathAttributes;
}

export interface UpdateInit {
  readonly withdrawn4?: ArrayLike<number>;
  readonly withdrawn4PathIds?: ArrayLike<number> | null;
  readonly withdrawn6?: readonly Prefix6[];
  readonly withdrawn6PathIds?: ArrayLike<number> | null;
  /** at most one group in MP_REACH_NLRI and one in the NLRI field, sharing everything but the next hop */
  readonly reach?: readonly ReachInit[];
}

const pathId = (ids: ArrayLike<number> | null | undefined, i: number, on: boolean, what: string): number | undefined => {
  if (!on) return undefined;
  const v = ids?.[i];
  if (v === undefined) throw new RangeError(`${what}: ADD-PATH is negotiated, so every prefix needs a path identifier`);
  return v;
};

/** One UPDATE holding everything given; throws RangeError when it would exceed the negotiated size. */
export function encodeUpdate(u: UpdateInit, o: CodecOptions): Buffer {
  const w = new Writer(512);
  w.reserve(HEADER_LENGTH);
  const wl = w.reserve(2);
  const ap4 = o.addPath.ipv4.send;
  const ap6 = o.addPath.ipv6.send;
  const w4 = u.withdrawn4 ?? EMPTY_PREFIX4;
  for (let i = 0; i < w4.length; i++) {
    checkPrefix4(w4[i]!);
    w.ensure(9);
    w.pos = writePrefix4(w.buf, w.pos, w4[i]!, pathId(u.withdrawn4PathIds, i, ap4, 'withdrawn4'));
  }
  w.patch16(wl, w.pos - wl - 2);
  const al = w.reserve(2);
  const attrStart = w.pos;
  const w6 = u.withdrawn6 ?? EMPTY6;
  const groups = u.reach ?? [];
  const mpGroups = groups.filter((g) => g.family === 6 || v4ViaMp(g.attrs));
  const fieldGroups = groups.filter((g) => g.family === 4 && !v4ViaMp(g.attrs));
  if (mpGroups.length > 1 || fieldGroups.length > 1) throw new RangeError('an UPDATE holds at most one MP_REACH_NLRI and one NLRI field');
  if (w6.length > 0) {
    writeMpAttr(w, AttrCode.MpUnreach, () => {
      w.u16(AFI_IPV6).u8(SAFI_UNICAST);
      for (let i = 0; i < w6.length; i++) {
        checkPrefix6(w6[i]!);
        w.ensure(21);
        w.pos = writePrefix6(w.buf, w.pos, w6[i]!, pathId(u.withdrawn6PathIds, i, ap6, 'withdrawn6'));
      }
    });
  }
  const mpg = mpGroups[0];
  if (mpg) {
    writeMpAttr(w, AttrCode.MpReach, () => {
      const nh = nextHopBytes(mpg.attrs, mpg.family);
      w.u16(mpg.family === 4 ? AFI_IPV4 : AFI_IPV6).u8(SAFI_UNICAST).u8(nh.length).bytes(nh).u8(0);
      writePrefixes(w, mpg, mpg.family === 4 ? ap4 : ap6);
    });
  }
  const fg = fieldGroups[0];
  const base = (mpg ?? fg)?.attrs;
  if (mpg && fg && !sameButNextHop(mpg.attrs, fg.attrs)) throw new RangeError('both reach groups of one UPDATE must share their attributes apart from the next hop');
  if (base) {
    const enc = attributeBytes(base, o);
    w.bytes(enc.bytes.subarray(0, enc.nextHopAt));
    if (fg) w.u8(TRANSITIVE).u8(AttrCode.NextHop).u8(4).bytes(nextHopBytes(fg.attrs, 4));
    w.bytes(enc.bytes.subarray(enc.nextHopAt));
  }
  w.patch16(al, w.pos - attrStart);
  if (fg) writePrefixes(w, fg, ap4);
  if (w.pos > maxMessageLength(o)) throw new RangeError(`UPDATE of ${w.pos} octets exceeds the ${maxMessageLength(o)}-octet limit`);
  writeHeader(w.buf, 0, MessageType.Update, w.pos);
  return w.finish();
}

function sameButNextHop(a: PathAttributes, b: PathAttributes): boolean {
  return a === b || JSON.stringify({ ...a, nextHop: 0, linkLocalNextHop: 0 }, big) === JSON.stringify({ ...b, nextHop: 0, linkLocalNextHop: 0 }, big);
}
const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

function writePrefixes(w: Writer, g: ReachInit, addPath: boolean): void {
  const ps = g.prefixes;
  for (let i = 0; i < ps.length; i++) {
    w.ensure(21);
    if (g.family === 4) {
      checkPrefix4(ps[i] as number);
      w.pos = writePrefix4(w.buf, w.pos, ps[i] as number, pathId(g.pathIds, i, addPath, 'reach'));
    } else {
      checkPrefix6(ps[i] as string);
      w.pos = writePrefix6(w.buf, w.pos, ps[i] as string, pathId(g.pathIds, i, addPath, 'reach'));
    }
  }
}

function writeMpAttr(w: Writer, code: number, body: () => void): void {
  w.u8(OPTIONAL | EXTENDED).u8(code);
  const l = w.reserve(2);
  body();
  w.patch16(l, w.pos - l - 2);
}

/** End-of-RIB for a family: an empty UPDATE (IPv4) or one with an empty MP_UNREACH_NLRI. */
export function encodeEndOfRib(family: Family): Buffer {
  if (family === 4) return encodeUpdate({}, ENCODE_ANY);
  const out = Buffer.from([...new Array<number>(16).fill(0xff), 0, 29, MessageType.Update, 0, 0, 0, 6, OPTIONAL, AttrCode.MpUnreach, 3, 0, AFI_IPV6, SAFI_UNICAST]);
  return out;
}
const ENCODE_ANY: CodecOptions = Object.freeze({
  as4: true,
  ebgp: true,
  extendedMessage: false,
  addPath: Object.freeze({ ipv4: Object.freeze({ send: false, receive: false }), ipv6: Object.freeze({ send: false, receive: false }) }),
  extendedNextHopIPv4: false,
});

// Messages are assembled in OUT, a module constant (the loops then run without reloading a
// buffer's base and length per prefix, as in the decoder), and each is copied out into a
// Buffer of its exact size. OUT is scratch: nothing is kept in it between calls. The 8
// octets past the largest message let an IPv4 prefix be written as one 32-bit word.
const OUT = Buffer.alloc(MAX_EXTENDED_MESSAGE_LENGTH + 8);
const OUT_VIEW = new DataView(OUT.buffer, OUT.byteOffset, OUT.length);

/** A copy of OUT[0, n) (a pooled Buffer below 4 KiB, as Buffer.from makes). */
function take(n: number): Buffer {
  const m = Buffer.allocUnsafe(n);
  m.set(new Uint8Array(OUT.buffer, OUT.byteOffset, n));
  return m;
}

/** The messages of one call: most calls make one, and a literal [] takes 17 slots on its first push. */
class Messages {
  #first: Buffer | undefined;
  #more: Buffer[] | undefined;
  add(m: Buffer): void {
    if (this.#first === undefined) this.#first = m;
    else (this.#more ??= [this.#first]).push(m);
  }
  list(): Buffer[] {
    return this.#more ?? (this.#first === undefined ? [] : [this.#first]);
  }
}

/** Write `bytes` at OUT[p]; returns the position after them (a loop: attribute sets are a few dozen octets). */
function put(bytes: Uint8Array, from: number, to: number, p: number): number {
  const o = OUT;
  if (to - from > 64) {
    o.set(bytes.subarray(from, to), p);
    return p + to - from;
  }
  for (let i = from; i < to; i++) o[p++] = bytes[i]!;
  return p;
}

const nextHops = new WeakMap<PathAttributes, { 4?: Buffer; 6?: Buffer }>();

/** nextHopBytes(), kept per set: parsing the text cost as much as writing a few hundred prefixes. */
function nextHopOf(a: PathAttributes, family: Family): Buffer {
  let c = nextHops.get(a);
  if (!c) nextHops.set(a, (c = {}));
  return (c[family] ??= nextHopBytes(a, family));
}

/**
 * Announce prefixes sharing one attribute set in as few UPDATEs as the negotiated maximum
 * size allows (Adj-RIB-Out: encode once per update group, send the buffers to every member).
 * MP_REACH_NLRI comes first among the attributes (RFC 7606 §5.1).
 */
export function encodeAnnouncements(g: ReachInit, o: CodecOptions): Buffer[] {
  const family = g.family;
  const addPath = family === 4 ? o.addPath.ipv4.send : o.addPath.ipv6.send;
  const viaMp = family === 6 || v4ViaMp(g.attrs);
  const enc = attributeBytes(g.attrs, o);
  const nh = nextHopOf(g.attrs, family);
  const max = maxMessageLength(o);
  const fixed = HEADER_LENGTH + 4 + enc.bytes.length + (viaMp ? 9 + nh.length : 7);
  if (fixed + 21 > max) throw new RangeError(`attributes of ${enc.bytes.length} octets leave no room for NLRI in ${max}-octet messages`);
  const buf = OUT;
  const out = new Messages();
  const ps = g.prefixes;
  const cursor = { p: 0, i: 0 };
  // Everything before the prefixes is the same in every message of this call: written once.
  let p = HEADER_LENGTH;
  buf[p++] = 0; // no withdrawn routes
  buf[p++] = 0;
  const al = p;
  p += 2;
  const attrStart = p;
  let mpLen = 0;
  if (viaMp) {
    buf[p++] = OPTIONAL | EXTENDED;
    buf[p++] = AttrCode.MpReach;
    mpLen = p;
    p += 2;
    buf[p++] = 0;
    buf[p++] = family === 4 ? AFI_IPV4 : AFI_IPV6;
    buf[p++] = SAFI_UNICAST;
    buf[p++] = nh.length;
    p = put(nh, 0, nh.length, p);
    buf[p++] = 0;
  } else {
    p = put(enc.bytes, 0, enc.nextHopAt, p);
    buf[p++] = TRANSITIVE;
    buf[p++] = AttrCode.NextHop;
    buf[p++] = 4;
    p = put(nh, 0, 4, p);
    p = put(enc.bytes, enc.nextHopAt, enc.bytes.length, p);
    buf[al] = (p - attrStart) >>> 8;
    buf[al + 1] = (p - attrStart) & 0xff;
  }
  const nlriStart = p;
  while (cursor.i < ps.length) {
    cursor.p = nlriStart;
    if (viaMp) {
      fillPrefixes(buf, cursor, max - enc.bytes.length, ps, g.pathIds, addPath, family);
      p = cursor.p;
      buf[mpLen] = (p - mpLen - 2) >>> 8;
      buf[mpLen + 1] = (p - mpLen - 2) & 0xff;
      p = put(enc.bytes, 0, enc.bytes.length, p);
      buf[al] = (p - attrStart) >>> 8;
      buf[al + 1] = (p - attrStart) & 0xff;
    } else {
      fillPrefixes(buf, cursor, max, ps, g.pathIds, addPath, family);
      p = cursor.p;
    }
    writeHeader(buf, 0, MessageType.Update, p);
    out.add(take(p));
  }
  return out.list();
}

/** Withdraw prefixes in as few UPDATEs as fit: the Withdrawn Routes field, or MP_UNREACH_NLRI for IPv6. */
export function encodeWithdrawals(family: Family, prefixes: ArrayLike<number> | readonly Prefix6[], pathIds: ArrayLike<number> | null | undefined, o: CodecOptions): Buffer[] {
  const addPath = family === 4 ? o.addPath.ipv4.send : o.addPath.ipv6.send;
  const max = maxMessageLength(o);
  const buf = OUT;
  const out = new Messages();
  const cursor = { p: 0, i: 0 };
  while (cursor.i < prefixes.length) {
    let p = HEADER_LENGTH;
    if (family === 4) {
      cursor.p = p + 2;
      fillPrefixes(buf, cursor, max - 2, prefixes, pathIds, addPath, 4);
      p = cursor.p;
      buf[HEADER_LENGTH] = (p - HEADER_LENGTH - 2) >>> 8;
      buf[HEADER_LENGTH + 1] = (p - HEADER_LENGTH - 2) & 0xff;
      buf[p++] = 0; // no attributes
      buf[p++] = 0;
    } else {
      buf[p++] = 0;
      buf[p++] = 0;
      const al = p;
      p += 2;
      buf[p++] = OPTIONAL | EXTENDED;
      buf[p++] = AttrCode.MpUnreach;
      const ml = p;
      p += 2;
      buf[p++] = 0;
      buf[p++] = AFI_IPV6;
      buf[p++] = SAFI_UNICAST;
      cursor.p = p;
      fillPrefixes(buf, cursor, max, prefixes, pathIds, addPath, 6);
      p = cursor.p;
      buf[ml] = (p - ml - 2) >>> 8;
      buf[ml + 1] = (p - ml - 2) & 0xff;
      buf[al] = (p - al - 2) >>> 8;
      buf[al + 1] = (p - al - 2) & 0xff;
    }
    writeHeader(buf, 0, MessageType.Update, p);
    out.add(take(p));
  }
  return out.list();
}

/** Write prefixes from cursor.i into OUT while they fit below `limit`; advances the cursor. */
function fillPrefixes(buf: typeof OUT, cursor: { p: number; i: number }, limit: number, ps: ArrayLike<number> | readonly Prefix6[], ids: ArrayLike<number> | null | undefined, addPath: boolean, family: Family): void {
  if (addPath && (!ids || ids.length < ps.length)) throw new RangeError('ADD-PATH is negotiated, so every prefix needs a path identifier');
  if (family === 4 && !addPath) {
    fill4(cursor, limit, ps as ArrayLike<number>);
    return;
  }
  let { p, i } = cursor;
  if (family === 4) {
    const v4 = ps as ArrayLike<number>;
    for (; i < v4.length; i++) {
      const x = v4[i]!;
      const a = Math.floor(x / 64);
      const len = x - a * 64;
      if (!(len >= 0 && len <= 32 && a >= 0 && a < 4294967296 && (len | 0) === len)) throw new RangeError(`not a Prefix4: ${x}`);
      const n = (len + 7) >> 3;
      if (p + n + (addPath ? 5 : 1) > limit) break;
      if (addPath) p = writePathId(buf, p, ids![i]!);
      buf[p++] = len;
      if (n > 0) buf[p++] = a / 16777216;
      if (n > 1) buf[p++] = (a >>> 16) & 0xff;
      if (n > 2) buf[p++] = (a >>> 8) & 0xff;
      if (n > 3) buf[p++] = a & 0xff;
    }
  } else {
    const v6 = ps as readonly Prefix6[];
    for (; i < v6.length; i++) {
      const x = v6[i]!;
      const len = x.charCodeAt(0);
      if (typeof x !== 'string' || x.length !== 17 || !(len <= 128)) throw new RangeError(`not a Prefix6: ${JSON.stringify(x)}`);
      const n = (len + 7) >> 3;
      if (p + n + (addPath ? 5 : 1) > limit) break;
      if (addPath) p = writePathId(buf, p, ids![i]!);
      buf[p++] = len;
      for (let k = 1; k <= n; k++) buf[p++] = x.charCodeAt(k);
    }
  }
  cursor.p = p;
  cursor.i = i;
}

/**
 * IPv4 without path identifiers, into OUT: each address is written as one big-endian word
 * after its length octet, and the position advances by the prefix's octets only (what lies
 * past them is overwritten by the next prefix, or is past the end of the message).
 */
function fill4(cursor: { p: number; i: number }, limit: number, ps: ArrayLike<number>): void {
  const buf = OUT;
  const words = OUT_VIEW;
  let { p, i } = cursor;
  let bad = false;
  for (; i < ps.length; i++) {
    const x = ps[i]!;
    const a = Math.floor(x / 64);
    const len = (x - a * 64) | 0;
    // the same test as fillPrefixes() in integer form: x is a * 64 + len exactly, a a 32-bit address
    if (!(len <= 32 && a >= 0 && a < 4294967296 && a * 64 + len === x)) {
      bad = true; // thrown after the loop (no call inside it)
      break;
    }
    const next = p + 1 + ((len + 7) >> 3);
    if (next > limit) break;
    buf[p] = len;
    words.setInt32(p + 1, a | 0);
    p = next;
  }
  if (bad) throw new RangeError(`not a Prefix4: ${ps[i]}`);
  cursor.p = p;
  cursor.i = i;
}

function writePathId(buf: Buffer, p: number, id: number): number {
  buf[p++] = id >>> 24;
  buf[p++] = (id >>> 16) & 0xff;
  buf[p++] = (id >>> 8) & 0xff;
  buf[p++] = id & 0xff;
  return p;
}
