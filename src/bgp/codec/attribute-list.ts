// The attribute list of an UPDATE: the generic RFC 7606 pass run once for every attribute,
// value decoding through the table (attributes.ts), and encoding a set back to octets.
import { mergeAs4Path } from './aspath.js';
import { copyBytes, toHex, u16, Writer } from './bytes.js';
import { AS_TRANS, AttrCode, EXTENDED_LENGTH, OPTIONAL, PARTIAL, TRANSITIVE } from './constants.js';
import { BgpError } from './errors.js';
import type { CodecOptions } from './options.js';
import { ATTRIBUTE_BY_CODE, ATTRIBUTES, attributeName, type Builder, newBuilder, type PathAttributes, type UnknownAttribute } from './attributes.js';

const OPT_TRANS = OPTIONAL | TRANSITIVE;
const byCode = (a: UnknownAttribute, c: UnknownAttribute): number => a.code - c.code;

// The generic pass (RFC 7606 §3, §4): walk the attribute list once, check what every
// attribute must satisfy, and record where each kept attribute lies.

/** Records of the last scan, in wire order (scratch reused by every UPDATE). */
// (at most one record per type code: duplicates are dropped before recording)
export const REC_CODE = new Uint8Array(256);
export const REC_HEAD = new Int32Array(256);
export const REC_VALUE = new Int32Array(256);
export const REC_END = new Int32Array(256);
const SEEN = new Int32Array(256);
let scanStamp = 0;

export interface Scan {
  /** number of records kept */
  count: number;
  /** non-fatal findings; session resets are thrown */
  errors: BgpError[];
  /** index of MP_REACH_NLRI / MP_UNREACH_NLRI among the records, or -1 */
  mpReach: number;
  mpUnreach: number;
  hasOrigin: boolean;
  hasAsPath: boolean;
  hasNextHop: boolean;
}

/** The result of the last scan (reused: valid until the next UPDATE is decoded). */
const SCAN: Scan = { count: 0, errors: [], mpReach: -1, mpUnreach: -1, hasOrigin: false, hasAsPath: false, hasNextHop: false };

/** The attribute bytes a NOTIFICATION carries for an attribute error (RFC 4271 §6.3). */
const attrData = (b: Uint8Array, head: number, end: number): Uint8Array => copyBytes(b, head, end);

/**
 * Scan b[start, end). Throws BgpError for the cases that must reset the session
 * (duplicate or misflagged MP attributes); adds the rest to `errors` (scan.errors).
 */
export function scanAttributes(b: Uint8Array, start: number, end: number, o: CodecOptions, errors: BgpError[] = []): Scan {
  const stamp = ++scanStamp;
  const scan = SCAN;
  scan.errors = errors;
  scan.mpReach = -1;
  scan.mpUnreach = -1;
  scan.hasOrigin = false;
  scan.hasAsPath = false;
  scan.hasNextHop = false;
  let p = start;
  let n = 0;
  while (p < end) {
    const flags = b[p]!;
    const hl = flags & EXTENDED_LENGTH ? 4 : 3;
    if (p + hl > end) {
      scan.errors.push(new BgpError('ATTR_OVERRUN', { detail: `${end - p} octets left, too few for an attribute header` }));
      break;
    }
    const code = b[p + 1]!;
    const len = hl === 4 ? u16(b, p + 2) : b[p + 2]!;
    const v = p + hl;
    const next = v + len;
    if (next > end) {
      scan.errors.push(new BgpError('ATTR_OVERRUN', { attribute: code, detail: `${attributeName(code)} length ${len} runs past the attribute list` }));
      break;
    }
    const head = p;
    p = next;
    const spec = ATTRIBUTE_BY_CODE[code];
    if (SEEN[code] === stamp) {
      if (spec?.mp) throw new BgpError('MP_DUPLICATE', { attribute: code, data: attrData(b, head, next) });
      scan.errors.push(new BgpError('ATTR_DUPLICATE', { attribute: code, detail: attributeName(code) }));
      continue;
    }
    SEEN[code] = stamp;
    if (!spec) {
      if (!(flags & OPTIONAL)) {
        scan.errors.push(new BgpError('ATTR_UNRECOGNIZED_WELL_KNOWN', { attribute: code, data: attrData(b, head, next), detail: `type ${code}` }));
        continue;
      }
      if (!(flags & TRANSITIVE)) continue; // unrecognized optional non-transitive: quietly ignored
    } else {
      // present, even if malformed below: a malformed mandatory attribute is not also "missing"
      if (code === AttrCode.Origin) scan.hasOrigin = true;
      else if (code === AttrCode.AsPath) scan.hasAsPath = true;
      else if (code === AttrCode.NextHop) scan.hasNextHop = true;
      if ((flags & OPT_TRANS) !== spec.flags) {
        const e = new BgpError(spec.flagsError, { attribute: code, data: attrData(b, head, next), detail: `${spec.name} flags 0x${flags.toString(16)}` });
        if (spec.mp) throw e;
        scan.errors.push(e);
        continue;
      }
      const dropped = spec.discardWhen?.(o);
      if (dropped) {
        scan.errors.push(new BgpError(dropped, { attribute: code }));
        continue;
      }
      if (spec.length && !spec.length(len, o)) {
        scan.errors.push(new BgpError(spec.lengthError!, { attribute: code, data: attrData(b, head, next), detail: `${spec.name} length ${len}` }));
        continue;
      }
      if (code === AttrCode.MpReach) scan.mpReach = n;
      else if (code === AttrCode.MpUnreach) scan.mpUnreach = n;
    }
    REC_CODE[n] = code;
    REC_HEAD[n] = head;
    REC_VALUE[n] = v;
    REC_END[n] = next;
    n++;
  }
  scan.count = n;
  return scan;
}

/**
 * Decode the values of the scanned records (except MP attributes and NEXT_HOP, which the
 * UPDATE decoder reads) into a builder, then apply the RFC 6793 merge. Malformed values
 * add their case to `errors` and are left out.
 */
export function decodeValues(b: Uint8Array, scan: Scan, o: CodecOptions, errors: BgpError[], x: Builder = newBuilder()): Builder {
  for (let i = 0; i < scan.count; i++) {
    const code = REC_CODE[i]!;
    if (code === AttrCode.NextHop) continue;
    const spec = ATTRIBUTE_BY_CODE[code];
    if (!spec) {
      const flags = b[REC_HEAD[i]!]!;
      (x.unknown ??= []).push(Object.freeze({ code, flags: (flags & ~EXTENDED_LENGTH & 0xf0) | PARTIAL, value: toHex(b.subarray(REC_VALUE[i]!, REC_END[i]!)) }));
      continue;
    }
    if (spec.mp || !spec.decode) continue;
    const e = spec.decode(b, REC_VALUE[i]!, REC_END[i]!, o, x);
    if (e) errors.push(new BgpError(e.code, { attribute: code, data: attrData(b, REC_HEAD[i]!, REC_END[i]!), detail: e.detail }));
  }
  // RFC 6793 §4.2.3: AS4 attributes count only when the AGGREGATOR (if any) says AS_TRANS
  if (x.aggregator && x.aggregator.asn !== AS_TRANS) {
    x.as4Path = undefined;
    x.as4Aggregator = undefined;
  }
  if (x.as4Aggregator) x.aggregator = x.as4Aggregator;
  if (x.as4Path && x.asPath) x.asPath = mergeAs4Path(x.asPath, x.as4Path);
  return x;
}

/**
 * The frozen set from a builder and a next hop. The builder is left as it was: one builder
 * serves every next hop of an UPDATE (the NLRI field's and MP_REACH_NLRI's), so whatever the
 * set keeps of it is either frozen already or copied here, never frozen in place.
 */
export function finishAttributes(x: Builder, nextHop: string | undefined, linkLocalNextHop: string | undefined): PathAttributes {
  return Object.freeze({
    origin: x.origin,
    asPath: x.asPath,
    nextHop,
    linkLocalNextHop,
    med: x.med,
    localPref: x.localPref,
    atomicAggregate: x.atomicAggregate,
    aggregator: x.aggregator,
    communities: x.communities,
    originatorId: x.originatorId,
    clusterList: x.clusterList,
    extendedCommunities: x.extendedCommunities,
    largeCommunities: x.largeCommunities,
    otc: x.otc,
    tunnelEncapsulation: x.tunnelEncapsulation,
    unknown: x.unknown ? Object.freeze(x.unknown.slice().sort(byCode)) : undefined,
  });
}

// ---------------------------------------------------------------------------------------
// Encoding

/** Write one attribute: flags, code, length (extended when the value exceeds 255), value. */
export function writeAttribute(w: Writer, flags: number, code: number, value: (w: Writer) => void): void {
  const head = w.reserve(4);
  value(w);
  const len = w.pos - head - 4;
  if (len > 255) {
    w.patch8(head, flags | EXTENDED_LENGTH);
    w.patch8(head + 1, code);
    w.patch16(head + 2, len);
  } else {
    w.buf.copyWithin(head + 3, head + 4, w.pos);
    w.pos -= 1;
    w.patch8(head, flags & ~EXTENDED_LENGTH);
    w.patch8(head + 1, code);
    w.patch8(head + 2, len);
  }
}

/**
 * The path attributes of a set for one session, in type-code order, without MP_REACH_NLRI,
 * MP_UNREACH_NLRI and NEXT_HOP (the UPDATE encoder adds those that its NLRI needs).
 */
export function encodeAttributes(a: PathAttributes, o: CodecOptions, w: Writer = new Writer(256)): Writer {
  const unknown = a.unknown ?? [];
  let u = 0;
  for (const spec of ATTRIBUTES) {
    while (u < unknown.length && unknown[u]!.code < spec.code) writeUnknown(w, unknown[u++]!);
    if (!spec.has || !spec.encode || !spec.has(a, o)) continue;
    writeAttribute(w, spec.flags, spec.code, (ww) => spec.encode!(a, ww, o));
  }
  while (u < unknown.length) writeUnknown(w, unknown[u++]!);
  return w;
}

function writeUnknown(w: Writer, x: UnknownAttribute): void {
  writeAttribute(w, x.flags, x.code, (ww) => ww.bytes(Buffer.from(x.value, 'hex')));
}

/** `NAME: value` lines for logs and `routelet routes`. */
export function formatAttributes(a: PathAttributes): string[] {
  const lines: string[] = [];
  for (const spec of ATTRIBUTES) {
    if (spec.code === AttrCode.NextHop) {
      if (a.nextHop) lines.push(`NEXT_HOP: ${a.nextHop}${a.linkLocalNextHop ? ` ${a.linkLocalNextHop}` : ''}`);
      continue;
    }
    if (spec.format && spec.has?.(a, { as4: true, ebgp: false } as CodecOptions)) lines.push(`${spec.name}: ${spec.format(a)}`);
  }
  for (const x of a.unknown ?? []) lines.push(`attribute ${x.code} (flags 0x${x.flags.toString(16)}): ${x.value}`);
  return lines;
}

