// UPDATE (RFC 4271 §4.3, RFC 4760, RFC 7911, RFC 8950) decoding with the RFC 7606 outcomes,
// and encoding: single messages, packing of many prefixes per message up to the negotiated
// size, and End-of-RIB markers (RFC 4724 §2).
import { formatIPv4, formatIPv6 } from '../../net/ip.js';
import type { Prefix6 } from '../../net/prefix.js';
import { decodeValues, finishAttributes, REC_CODE, REC_END, REC_HEAD, REC_VALUE, type Scan, scanAttributes } from './attribute-list.js';
import { type Builder, newBuilder, type PathAttributes, resetBuilder } from './attributes.js';
import { copyBytes, u16, u32 } from './bytes.js';
import { AFI_IPV4, AFI_IPV6, AttrCode, SAFI_UNICAST } from './constants.js';
import { ACTION_STRENGTH, BgpError, strongest } from './errors.js';
import { type AttributeInterner, hashKey, KEY_AS2, KEY_AS4, sharedInterner } from './intern.js';
import { decodeNlri4, decodeNlri6, EMPTY_PREFIX4, type Nlri4, type Nlri6, type Prefix4List } from './nlri.js';
import { BASE_OPTIONS, type CodecOptions } from './options.js';

export type Family = 4 | 6;

export interface Reach4 {
  readonly family: 4;
  readonly prefixes: Prefix4List;
  readonly pathIds: Uint32Array | null;
  readonly attrs: PathAttributes;
}

export interface Reach6 {
  readonly family: 6;
  readonly prefixes: readonly Prefix6[];
  readonly pathIds: Uint32Array | null;
  readonly attrs: PathAttributes;
}

export type Reach = Reach4 | Reach6;

export interface UpdateMessage {
  readonly type: 'update';
  /** IPv4 withdrawn: the Withdrawn Routes field and MP_UNREACH_NLRI for IPv4 unicast */
  readonly withdrawn4: Prefix4List;
  /** path identifiers of withdrawn4: non-null exactly when ADD-PATH receive is negotiated for IPv4 */
  readonly withdrawn4PathIds: Uint32Array | null;
  readonly withdrawn6: readonly Prefix6[];
  readonly withdrawn6PathIds: Uint32Array | null;
  /** announced prefixes with their interned attributes (one entry per next hop; usually one) */
  readonly reach: readonly Reach[];
  /** an End-of-RIB marker for this family (RFC 4724 §2) */
  readonly endOfRib: Family | null;
  /**
   * Non-fatal outcomes (RFC 7606): attribute-discard cases, and the treat-as-withdraw case
   * that moved the announced prefixes into withdrawn4/withdrawn6. Session resets are thrown.
   */
  readonly errors: readonly BgpError[];
}

const EMPTY6: readonly Prefix6[] = Object.freeze([]);
const NO_ERRORS: readonly BgpError[] = Object.freeze([]);
const NO_IDS = Object.freeze(new Uint32Array(0)) as Uint32Array;
const EMPTY_SCAN: Scan = Object.freeze({ count: 0, errors: [], mpReach: -1, mpUnreach: -1, hasOrigin: false, hasAsPath: false, hasNextHop: false });

interface MpReach {
  afi: number;
  safi: number;
  /** next hop octets */
  nhStart: number;
  nhEnd: number;
  nlriStart: number;
  nlriEnd: number;
}

const isUnicast = (afi: number, safi: number): boolean => safi === SAFI_UNICAST && (afi === AFI_IPV4 || afi === AFI_IPV6);
const allZero = (b: Uint8Array, s: number, e: number): boolean => {
  for (let i = s; i < e; i++) if (b[i] !== 0) return false;
  return true;
};

function parseMpReach(b: Uint8Array, i: number, o: CodecOptions): MpReach {
  const s = REC_VALUE[i]!;
  const e = REC_END[i]!;
  const data = () => copyBytes(b, REC_HEAD[i]!, e);
  if (e - s < 5) throw new BgpError('MP_REACH_MALFORMED', { attribute: AttrCode.MpReach, data: data(), detail: `length ${e - s}, at least 5` });
  const afi = u16(b, s);
  const safi = b[s + 2]!;
  const nhLen = b[s + 3]!;
  const nhStart = s + 4;
  const nhEnd = nhStart + nhLen;
  if (nhEnd + 1 > e) throw new BgpError('MP_REACH_MALFORMED', { attribute: AttrCode.MpReach, data: data(), afi, safi, detail: `next hop length ${nhLen} runs past the attribute` });
  if (isUnicast(afi, safi)) {
    // IPv4 next hops for IPv4; IPv6 (global, or global and link-local, RFC 2545) for IPv6,
    // and for IPv4 when extended next hop is negotiated (RFC 8950)
    const v6ok = afi === AFI_IPV6 || o.extendedNextHopIPv4;
    if (!((nhLen === 4 && afi === AFI_IPV4) || ((nhLen === 16 || nhLen === 32) && v6ok))) {
      throw new BgpError('MP_REACH_MALFORMED', { attribute: AttrCode.MpReach, data: data(), afi, safi, detail: `next hop length ${nhLen} for AFI ${afi} SAFI ${safi}` });
    }
  }
  // one reserved octet (formerly the SNPA count) follows the next hop; ignored on receipt
  return { afi, safi, nhStart, nhEnd, nlriStart: nhEnd + 1, nlriEnd: e };
}

function concat4(a: Prefix4List, b: Prefix4List): Prefix4List {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out = new Float64Array(a.length + b.length);
  out.set(a as Float64Array);
  out.set(b as Float64Array, a.length);
  return out;
}

function concatIds(a: Uint32Array | null, b: Uint32Array | null): Uint32Array | null {
  if (!a || !b) return a ?? b;
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out = new Uint32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// The raw intern key of the UPDATE being decoded: AS width, kept attribute octets (not MP,
// not NEXT_HOP), then per next hop a family tag and its octets (intern.ts).
const KEY = Buffer.alloc(65536 + 64);

function writeRawKey(b: Uint8Array, scan: Scan, as4: boolean): number {
  let n = 0;
  KEY[n++] = as4 ? KEY_AS4 : KEY_AS2;
  for (let i = 0; i < scan.count; i++) {
    const c = REC_CODE[i]!;
    if (c === AttrCode.MpReach || c === AttrCode.MpUnreach || c === AttrCode.NextHop) continue;
    for (let p = REC_HEAD[i]!, e = REC_END[i]!; p < e; p++) KEY[n++] = b[p]!;
  }
  return n;
}

// Errors of the UPDATE being decoded. Decoding never re-enters (nothing it calls calls
// back), so the scan records (attribute-list.ts), this list and the set maker below are
// scratch reused by every UPDATE; the message gets a copy of the list only when it is
// not empty. Saves the allocations that made up a third of the garbage per UPDATE.
const ERRORS: BgpError[] = [];
const NO_OCTETS = new Uint8Array(0);

const hasWithdrawOrWorse = (errors: readonly BgpError[]): boolean => {
  for (let i = 0; i < errors.length; i++) if (ACTION_STRENGTH[errors[i]!.action] >= ACTION_STRENGTH['treat-as-withdraw']) return true;
  return false;
};

/** Finds or makes the interned set for some next hop; decodes attribute values only on a miss. */
class SetMaker {
  #b: Uint8Array = NO_OCTETS;
  #scan: Scan = EMPTY_SCAN;
  #o: CodecOptions = BASE_OPTIONS;
  #interner: AttributeInterner = sharedInterner;
  #builder: Builder | undefined;
  #valueErrors = 0;
  #base = 0;

  /** Start on an UPDATE: writes the attribute part of the key. */
  begin(b: Uint8Array, scan: Scan, o: CodecOptions, interner: AttributeInterner): void {
    this.#b = b;
    this.#scan = scan;
    this.#o = o;
    this.#interner = interner;
    this.#builder = undefined;
    this.#valueErrors = 0;
    this.#base = writeRawKey(b, scan, o.as4);
  }

  /** Let go of the message's octets, its set parts and the caller's interner. */
  end(): void {
    this.#b = NO_OCTETS;
    this.#builder = undefined;
    this.#interner = sharedInterner;
  }

  /** decode values now (also used to find errors when there is nothing to intern) */
  builder(): Builder {
    if (!this.#builder) {
      const before = ERRORS.length;
      this.#builder = decodeValues(this.#b, this.#scan, this.#o, ERRORS, resetBuilder(BUILDER));
      this.#valueErrors = ERRORS.length - before;
    }
    return this.#builder;
  }

  /**
   * The set for the next hop in b[nh, nh + nhLen) (4, 16 or 32 octets; a zero link-local
   * half counts as absent).
   */
  get(nh: number, nhLen: number): PathAttributes | undefined {
    const b = this.#b;
    let n = this.#base;
    const six = nhLen !== 4;
    const len = nhLen === 32 && allZero(b, nh + 16, nh + 32) ? 16 : nhLen;
    KEY[n++] = six ? 6 : 4;
    for (let i = 0; i < len; i++) KEY[n++] = b[nh + i]!;
    const hash = hashKey(KEY, n);
    const hit = this.#interner.find(KEY, n, hash);
    if (hit) return hit;
    const x = this.builder();
    if (hasWithdrawOrWorse(ERRORS)) return undefined;
    const a = finishAttributes(x, six ? nextHop6(b, nh) : nextHop4(b, nh), len === 32 ? nextHop6(b, nh + 16) : undefined);
    // the raw key stands only for octets that decode cleanly; a set that lost a discarded
    // attribute is found by its canonical key instead
    return this.#valueErrors === 0 ? this.#interner.insert(KEY, n, hash, a) : this.#interner.add(a);
  }
}

const SETS = new SetMaker();
/** what the set maker decodes into (finishAttributes() copies what it keeps): one object less per new set */
const BUILDER = newBuilder();

// A peer sends few distinct next hops, and formatting a dotted quad (about 120 ns) is a
// good part of building a new set: the strings are kept in a small direct-mapped cache
// (addresses in a Uint32Array, so a lookup allocates nothing).
const NH_SLOTS = 1024;
const NH_ADDRESS = new Uint32Array(NH_SLOTS);
const NH_TEXT: (string | undefined)[] = new Array<string | undefined>(NH_SLOTS).fill(undefined);
function nextHop4(b: Uint8Array, at: number): string {
  const a = u32(b, at);
  const i = (Math.imul(a, 0x9e3779b1) >>> 22) & (NH_SLOTS - 1);
  const s = NH_TEXT[i];
  if (s !== undefined && NH_ADDRESS[i] === a) return s;
  const t = formatIPv4(b, at);
  NH_ADDRESS[i] = a;
  NH_TEXT[i] = t;
  return t;
}

// The same for IPv6 next hops (global and link-local), whose RFC 5952 text costs about 1 µs.
const NH6_SLOTS = 256;
const NH6_ADDRESS = new Uint8Array(NH6_SLOTS * 16);
const NH6_TEXT: (string | undefined)[] = new Array<string | undefined>(NH6_SLOTS).fill(undefined);
function nextHop6(b: Uint8Array, at: number): string {
  let h = 0;
  for (let i = 0; i < 16; i += 4) h = Math.imul(h ^ u32(b, at + i), 0x9e3779b1);
  const slot = (h >>> 24) & (NH6_SLOTS - 1);
  const s = NH6_TEXT[slot];
  const o = slot * 16;
  if (s !== undefined) {
    let same = true;
    for (let i = 0; i < 16; i++) if (NH6_ADDRESS[o + i] !== b[at + i]) same = false;
    if (same) return s;
  }
  const t = formatIPv6(b, at);
  for (let i = 0; i < 16; i++) NH6_ADDRESS[o + i] = b[at + i]!;
  NH6_TEXT[slot] = t;
  return t;
}

const missing = (code: number): void => void ERRORS.push(new BgpError('ATTR_MISSING', { attribute: code, data: Uint8Array.of(code) }));

/**
 * Decode an UPDATE body (the octets after the header). Session-reset outcomes are thrown as
 * BgpError; treat-as-withdraw and attribute-discard outcomes are applied and listed in
 * `errors`. Attribute sets come from `interner`.
 */
export function decodeUpdate(body: Uint8Array, o: CodecOptions, interner: AttributeInterner = sharedInterner): UpdateMessage {
  return decodeUpdateIn(body, 0, body.length, o, interner);
}

/** decodeUpdate() of the body b[start, end), read in place (the framer's chunk: no view per message). */
export function decodeUpdateIn(b: Uint8Array, start: number, end: number, o: CodecOptions, interner: AttributeInterner): UpdateMessage {
  const len = end - start;
  if (len < 4) throw new BgpError('UPDATE_LENGTHS', { detail: `body of ${len} octets` });
  const wlen = u16(b, start);
  if (4 + wlen > len) throw new BgpError('UPDATE_LENGTHS', { detail: `withdrawn routes length ${wlen} exceeds the message` });
  const alen = u16(b, start + 2 + wlen);
  const aStart = start + 4 + wlen;
  const aEnd = aStart + alen;
  if (aEnd > end) throw new BgpError('UPDATE_LENGTHS', { detail: `total path attribute length ${alen} exceeds the message` });
  if (len === 4) return eor(4, o);
  try {
    return decodeParts(b, start, end, wlen, aStart, aEnd, o, interner);
  } finally {
    // (setting an array's length is a runtime call: only when there is something to clear)
    if (ERRORS.length !== 0) ERRORS.length = 0;
    SETS.end();
  }
}

function decodeParts(b: Uint8Array, start: number, end: number, wlen: number, aStart: number, aEnd: number, o: CodecOptions, interner: AttributeInterner): UpdateMessage {
  const ap4 = o.addPath.ipv4.receive;
  const ap6 = o.addPath.ipv6.receive;
  const w4 = decodeNlri4(b, start + 2, start + 2 + wlen, ap4, 'UPDATE_WITHDRAWN_SYNTAX');
  const scan = aEnd > aStart ? scanAttributes(b, aStart, aEnd, o, ERRORS) : EMPTY_SCAN;
  const n4 = decodeNlri4(b, aEnd, end, ap4, 'UPDATE_NLRI_SYNTAX');
  const errors = ERRORS;

  // MP_UNREACH_NLRI
  let withdrawn4 = w4.prefixes;
  let withdrawn4PathIds = w4.pathIds;
  let withdrawn6: readonly Prefix6[] = EMPTY6;
  let withdrawn6PathIds: Uint32Array | null = ap6 ? NO_IDS : null;
  let unreachEmptyFamily: Family | null = null;
  if (scan.mpUnreach >= 0) {
    const i = scan.mpUnreach;
    const s = REC_VALUE[i]!;
    const e = REC_END[i]!;
    if (e - s < 3) throw new BgpError('MP_UNREACH_MALFORMED', { attribute: AttrCode.MpUnreach, data: copyBytes(b, REC_HEAD[i]!, e), detail: `length ${e - s}` });
    const afi = u16(b, s);
    const safi = b[s + 2]!;
    if (isUnicast(afi, safi)) {
      if (afi === AFI_IPV4) {
        const u = decodeNlri4(b, s + 3, e, ap4, 'MP_NLRI_SYNTAX');
        withdrawn4 = concat4(withdrawn4, u.prefixes);
        withdrawn4PathIds = concatIds(withdrawn4PathIds, u.pathIds);
      } else {
        const u = decodeNlri6(b, s + 3, e, ap6, 'MP_NLRI_SYNTAX');
        withdrawn6 = u.prefixes;
        withdrawn6PathIds = u.pathIds;
      }
      if (s + 3 === e) unreachEmptyFamily = afi === AFI_IPV4 ? 4 : 6;
    }
  }

  // MP_REACH_NLRI
  let mp: MpReach | undefined;
  let mp4: Nlri4 | undefined;
  let mp6: Nlri6 | undefined;
  if (scan.mpReach >= 0) {
    mp = parseMpReach(b, scan.mpReach, o);
    if (isUnicast(mp.afi, mp.safi)) {
      if (mp.afi === AFI_IPV4) mp4 = decodeNlri4(b, mp.nlriStart, mp.nlriEnd, ap4, 'MP_NLRI_SYNTAX');
      else mp6 = decodeNlri6(b, mp.nlriStart, mp.nlriEnd, ap6, 'MP_NLRI_SYNTAX');
    }
  }

  // End-of-RIB: only an empty MP_UNREACH_NLRI and nothing else (RFC 4724 §2)
  if (unreachEmptyFamily && wlen === 0 && n4.prefixes.length === 0 && scan.count === 1 && errors.length === 0) return eor(unreachEmptyFamily, o);

  const reachable = n4.prefixes.length > 0 || mp !== undefined;
  if (reachable) {
    // RFC 7606 §3(d); NEXT_HOP is needed only by the NLRI field (RFC 4760 §3)
    if (!scan.hasOrigin) missing(AttrCode.Origin);
    if (!scan.hasAsPath) missing(AttrCode.AsPath);
    if (n4.prefixes.length > 0 && !scan.hasNextHop) missing(AttrCode.NextHop);
  }

  let field: Reach | undefined;
  let viaMp: Reach | undefined;
  if (strongest(errors)?.action !== 'treat-as-withdraw' && scan.count > 0) {
    const sets = SETS;
    sets.begin(b, scan, o, interner);
    if (n4.prefixes.length > 0) {
      const a = sets.get(REC_VALUE[findRecord(scan, AttrCode.NextHop)]!, 4);
      if (a) field = { family: 4, prefixes: n4.prefixes, pathIds: n4.pathIds, attrs: a };
    }
    const mpCount = (mp4?.prefixes.length ?? 0) + (mp6?.prefixes.length ?? 0);
    if (mp && mpCount > 0) {
      const a = sets.get(mp.nhStart, mp.nhEnd - mp.nhStart);
      if (a) viaMp = mp4 ? { family: 4, prefixes: mp4.prefixes, pathIds: mp4.pathIds, attrs: a } : { family: 6, prefixes: mp6!.prefixes, pathIds: mp6!.pathIds, attrs: a };
    }
    // RFC 7606 §5.2 needs to know about errors even when nothing is announced
    if (!reachable) sets.builder();
  }

  const bad = strongest(errors);
  if (bad && bad.action !== 'attribute-discard' && bad.action !== 'ignore' && !reachable) {
    throw new BgpError('UPDATE_ERROR_WITHOUT_NLRI', { cause: bad, notification: bad.notification, data: bad.notification.data, attribute: bad.attribute, detail: bad.message });
  }
  if (bad?.action === 'treat-as-withdraw') {
    // RFC 7606 §2: the UPDATE's routes are withdrawn as if listed in the withdrawn fields
    withdrawn4 = concat4(concat4(withdrawn4, n4.prefixes), mp4?.prefixes ?? EMPTY_PREFIX4);
    withdrawn4PathIds = concatIds(concatIds(withdrawn4PathIds, n4.pathIds), mp4?.pathIds ?? null);
    if (mp6 && mp6.prefixes.length > 0) {
      withdrawn6 = withdrawn6.length ? [...withdrawn6, ...mp6.prefixes] : mp6.prefixes;
      withdrawn6PathIds = concatIds(withdrawn6PathIds, mp6.pathIds);
    }
    field = viaMp = undefined;
  }
  return {
    type: 'update',
    withdrawn4,
    withdrawn4PathIds,
    withdrawn6,
    withdrawn6PathIds,
    // exactly sized: a literal [] grows to 17 slots on its first push
    reach: field ? (viaMp ? [field, viaMp] : [field]) : viaMp ? [viaMp] : [],
    endOfRib: null,
    errors: errors.length ? errors.slice() : NO_ERRORS,
  };
}

function findRecord(scan: Scan, code: number): number {
  for (let i = 0; i < scan.count; i++) if (REC_CODE[i] === code) return i;
  return -1;
}

function eor(family: Family, o: CodecOptions): UpdateMessage {
  return {
    type: 'update',
    withdrawn4: EMPTY_PREFIX4,
    withdrawn4PathIds: o.addPath.ipv4.receive ? NO_IDS : null,
    withdrawn6: EMPTY6,
    withdrawn6PathIds: o.addPath.ipv6.receive ? NO_IDS : null,
    reach: [],
    endOfRib: family,
    errors: NO_ERRORS,
  };
}
