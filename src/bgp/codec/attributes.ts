// Path attributes as ONE table: per type code its name, expected flags, the RFC 7606 rules
// that apply to it (length, eBGP discard, what a malformation means) and its decoder,
// encoder and formatter. The generic checks — header overrun, duplicates, flags, length,
// eBGP-only attributes — run once, in scanAttributes() (attribute-list.ts), driven by this
// table; an entry's decoder only validates its own value and reports a table case
// (errors.ts) when it is malformed.
import { formatIPv4 } from '../../net/ip.js';
import { type AsPath, decodeAsPath, formatAsPath, isAsPath, needsAs4, writeAsPath } from './aspath.js';
import { ipv4Bytes, toHex, u16, u32, type Writer } from './bytes.js';
import { formatCommunity, formatExtendedCommunity, formatLargeCommunity, type LargeCommunity } from './communities.js';
import { AS_CONFED_SEQUENCE, AS_CONFED_SET, AS_TRANS, AttrCode, OPTIONAL, TRANSITIVE } from './constants.js';
import type { MalformationCode } from './errors.js';
import type { CodecOptions } from './options.js';

export interface Aggregator {
  readonly asn: number;
  readonly address: string;
}

export interface UnknownAttribute {
  readonly code: number;
  /** flags as they will be sent on: optional transitive attributes carry the Partial bit */
  readonly flags: number;
  /** the value, hex */
  readonly value: string;
}

/**
 * One decoded, interned, frozen set of path attributes. Every field is always present
 * (undefined when the attribute is absent), so all sets share one shape. AS4_PATH and
 * AS4_AGGREGATOR never appear: they are merged into asPath and aggregator (RFC 6793).
 */
export interface PathAttributes {
  readonly origin: number | undefined;
  readonly asPath: AsPath | undefined;
  /** NEXT_HOP, or the MP_REACH_NLRI next hop (global address for IPv6) */
  readonly nextHop: string | undefined;
  /** the second, link-local address of a 32-octet IPv6 next hop (RFC 2545) */
  readonly linkLocalNextHop: string | undefined;
  readonly med: number | undefined;
  readonly localPref: number | undefined;
  readonly atomicAggregate: boolean;
  readonly aggregator: Aggregator | undefined;
  readonly communities: readonly number[] | undefined;
  readonly originatorId: string | undefined;
  readonly clusterList: readonly string[] | undefined;
  readonly extendedCommunities: readonly bigint[] | undefined;
  readonly largeCommunities: readonly LargeCommunity[] | undefined;
  readonly otc: number | undefined;
  /** TUNNEL_ENCAPSULATION (RFC 9012) TLVs, hex; structure checked, content passed on */
  readonly tunnelEncapsulation: string | undefined;
  /** unrecognized optional transitive attributes, passed on with the Partial bit (RFC 4271 §5) */
  readonly unknown: readonly UnknownAttribute[] | undefined;
}

export type PathAttributesInit = { -readonly [K in keyof PathAttributes]?: PathAttributes[K] };

/** Decoder scratch: the set being built plus the AS4 attributes awaiting the merge. */
export interface Builder {
  origin: number | undefined;
  asPath: AsPath | undefined;
  nextHop: string | undefined;
  med: number | undefined;
  localPref: number | undefined;
  atomicAggregate: boolean;
  aggregator: Aggregator | undefined;
  communities: readonly number[] | undefined;
  originatorId: string | undefined;
  clusterList: readonly string[] | undefined;
  extendedCommunities: readonly bigint[] | undefined;
  largeCommunities: readonly LargeCommunity[] | undefined;
  otc: number | undefined;
  tunnelEncapsulation: string | undefined;
  unknown: UnknownAttribute[] | undefined;
  as4Path: AsPath | undefined;
  as4Aggregator: Aggregator | undefined;
}

/** Clear a builder for the next set (the UPDATE decoder reuses one). */
export function resetBuilder(x: Builder): Builder {
  x.origin = undefined;
  x.asPath = undefined;
  x.nextHop = undefined;
  x.med = undefined;
  x.localPref = undefined;
  x.atomicAggregate = false;
  x.aggregator = undefined;
  x.communities = undefined;
  x.originatorId = undefined;
  x.clusterList = undefined;
  x.extendedCommunities = undefined;
  x.largeCommunities = undefined;
  x.otc = undefined;
  x.tunnelEncapsulation = undefined;
  x.unknown = undefined;
  x.as4Path = undefined;
  x.as4Aggregator = undefined;
  return x;
}

export function newBuilder(): Builder {
  return {
    origin: undefined,
    asPath: undefined,
    nextHop: undefined,
    med: undefined,
    localPref: undefined,
    atomicAggregate: false,
    aggregator: undefined,
    communities: undefined,
    originatorId: undefined,
    clusterList: undefined,
    extendedCommunities: undefined,
    largeCommunities: undefined,
    otc: undefined,
    tunnelEncapsulation: undefined,
    unknown: undefined,
    as4Path: undefined,
    as4Aggregator: undefined,
  };
}

export interface AttributeSpec {
  readonly code: number;
  readonly name: string;
  /** the Optional and Transitive bits this type must carry */
  readonly flags: number;
  /** case for an Optional/Transitive conflict */
  readonly flagsError: MalformationCode;
  /** length rule; a violation is `lengthError` */
  readonly length?: (len: number, o: CodecOptions) => boolean;
  readonly lengthError?: MalformationCode;
  /** the attribute is dropped (not an error of the sender's) in this session */
  readonly discardWhen?: (o: CodecOptions) => MalformationCode | undefined;
  /** MP_REACH_NLRI / MP_UNREACH_NLRI: carried NLRI, handled by the UPDATE decoder */
  readonly mp?: boolean;
  /** validate and store the value b[s, e); return a table case when malformed */
  readonly decode?: (b: Uint8Array, s: number, e: number, o: CodecOptions, x: Builder) => ValueError | undefined;
  /** whether encode() writes this attribute for the set in this session */
  readonly has?: (a: PathAttributes, o: CodecOptions) => boolean;
  readonly encode?: (a: PathAttributes, w: Writer, o: CodecOptions) => void;
  readonly format?: (a: PathAttributes) => string;
}

const ip4 = (b: Uint8Array, s: number): string => formatIPv4(b, s);
const exactly = (n: number) => (len: number) => len === n;
const multipleOf = (n: number) => (len: number) => len > 0 && len % n === 0;
/** What an entry's decoder reports: a table case and a detail for the log. */
export interface ValueError {
  readonly code: MalformationCode;
  readonly detail?: string;
}
const err = (code: MalformationCode, detail?: string): ValueError => ({ code, detail });
const WELL_KNOWN = TRANSITIVE;
const OPT_TRANS = OPTIONAL | TRANSITIVE;

function decodeAggregator(b: Uint8Array, s: number, four: boolean): Aggregator {
  return Object.freeze(four ? { asn: u32(b, s), address: ip4(b, s + 4) } : { asn: u16(b, s), address: ip4(b, s + 2) });
}

/** exactly sized (a list grown by push takes 17 slots at once) */
function u32List(b: Uint8Array, s: number, e: number): number[] {
  const out: number[] = new Array<number>((e - s) >> 2);
  for (let p = s, i = 0; p < e; p += 4) out[i++] = u32(b, p);
  return out;
}

/** RFC 9012 §2: TLVs of type(2) length(2), each holding sub-TLVs of type(1) length(1, or 2 for types ≥ 128). */
function tunnelEncapError(b: Uint8Array, s: number, e: number): string | undefined {
  for (let p = s; p < e; ) {
    if (p + 4 > e) return 'truncated TLV header';
    const end = p + 4 + u16(b, p + 2);
    if (end > e) return `TLV of tunnel type ${u16(b, p)} overruns the attribute`;
    for (let q = p + 4; q < end; ) {
      const t = b[q]!;
      const hl = t >= 128 ? 3 : 2;
      if (q + hl > end) return 'truncated sub-TLV header';
      const l = t >= 128 ? u16(b, q + 1) : b[q + 1]!;
      if (q + hl + l > end) return `sub-TLV ${t} overruns its TLV`;
      q += hl + l;
    }
    p = end;
  }
  return undefined;
}

const freezeList = <T>(xs: T[]): readonly T[] => Object.freeze(xs);

/**
 * Every entry with all fields, in one order: entries of one shape keep the property reads
 * of the scan and of encoding monomorphic (literals with different optional fields made
 * them megamorphic, about a tenth of the cost of a table load).
 */
const entry = (s: AttributeSpec): AttributeSpec => ({
  code: s.code,
  name: s.name,
  flags: s.flags,
  flagsError: s.flagsError,
  length: s.length,
  lengthError: s.lengthError,
  discardWhen: s.discardWhen,
  mp: s.mp ?? false,
  decode: s.decode,
  has: s.has,
  encode: s.encode,
  format: s.format,
});

/** The table, by type code. */
export const ATTRIBUTES: readonly AttributeSpec[] = ([
  {
    code: AttrCode.Origin,
    name: 'ORIGIN',
    flags: WELL_KNOWN,
    flagsError: 'ATTR_FLAGS',
    length: exactly(1),
    lengthError: 'ORIGIN_LENGTH',
    decode(b, s, _e, _o, x) {
      if (b[s]! > 2) return err('ORIGIN_VALUE', `value ${b[s]}`);
      x.origin = b[s]!;
      return undefined;
    },
    has: (a) => a.origin !== undefined,
    encode: (a, w) => void w.u8(a.origin!),
    format: (a) => ['IGP', 'EGP', 'incomplete'][a.origin!]!,
  },
  {
    code: AttrCode.AsPath,
    name: 'AS_PATH',
    flags: WELL_KNOWN,
    flagsError: 'ATTR_FLAGS',
    decode(b, s, e, o, x) {
      const r = decodeAsPath(b, s, e, o.as4);
      if (!isAsPath(r)) return err(r.as0 ? 'AS_PATH_AS0' : 'AS_PATH_MALFORMED', r.malformed);
      x.asPath = r;
      return undefined;
    },
    has: (a) => a.asPath !== undefined,
    encode: (a, w, o) => writeAsPath(w, a.asPath!, o.as4, { trans: true }),
    format: (a) => formatAsPath(a.asPath!),
  },
  {
    code: AttrCode.NextHop,
    name: 'NEXT_HOP',
    flags: WELL_KNOWN,
    flagsError: 'ATTR_FLAGS',
    length: exactly(4),
    lengthError: 'NEXT_HOP_LENGTH',
    decode(b, s, _e, _o, x) {
      x.nextHop = ip4(b, s);
      return undefined;
    },
    // written by the UPDATE encoder for IPv4 NLRI, from the set's nextHop
  },
  {
    code: AttrCode.Med,
    name: 'MULTI_EXIT_DISC',
    flags: OPTIONAL,
    flagsError: 'ATTR_FLAGS',
    length: exactly(4),
    lengthError: 'MED_LENGTH',
    decode(b, s, _e, _o, x) {
      x.med = u32(b, s);
      return undefined;
    },
    has: (a) => a.med !== undefined,
    encode: (a, w) => void w.u32(a.med!),
    format: (a) => String(a.med),
  },
  {
    code: AttrCode.LocalPref,
    name: 'LOCAL_PREF',
    flags: WELL_KNOWN,
    flagsError: 'ATTR_FLAGS',
    length: exactly(4),
    lengthError: 'LOCAL_PREF_LENGTH',
    discardWhen: (o) => (o.ebgp ? 'LOCAL_PREF_FROM_EBGP' : undefined),
    decode(b, s, _e, _o, x) {
      x.localPref = u32(b, s);
      return undefined;
    },
    // RFC 4271 §5.1.5: never sent to external peers
    has: (a, o) => a.localPref !== undefined && !o.ebgp,
    encode: (a, w) => void w.u32(a.localPref!),
    format: (a) => String(a.localPref),
  },
  {
    code: AttrCode.AtomicAggregate,
    name: 'ATOMIC_AGGREGATE',
    flags: WELL_KNOWN,
    flagsError: 'ATTR_FLAGS',
    length: exactly(0),
    lengthError: 'ATOMIC_AGGREGATE_LENGTH',
    decode(_b, _s, _e, _o, x) {
      x.atomicAggregate = true;
      return undefined;
    },
    has: (a) => a.atomicAggregate,
    encode: () => {},
    format: () => 'yes',
  },
  {
    code: AttrCode.Aggregator,
    name: 'AGGREGATOR',
    flags: OPT_TRANS,
    flagsError: 'ATTR_FLAGS',
    length: (len, o) => len === (o.as4 ? 8 : 6),
    lengthError: 'AGGREGATOR_LENGTH',
    decode(b, s, _e, o, x) {
      const a = decodeAggregator(b, s, o.as4);
      if (a.asn === 0) return err('AGGREGATOR_AS0');
      x.aggregator = a;
      return undefined;
    },
    has: (a) => a.aggregator !== undefined,
    encode(a, w, o) {
      const g = a.aggregator!;
      if (o.as4) w.u32(g.asn);
      else w.u16(g.asn > 65535 ? AS_TRANS : g.asn);
      w.bytes(ipv4Bytes(g.address, 'aggregator address'));
    },
    format: (a) => `${a.aggregator!.asn} ${a.aggregator!.address}`,
  },
  {
    code: AttrCode.Communities,
    name: 'COMMUNITIES',
    flags: OPT_TRANS,
    flagsError: 'ATTR_FLAGS',
    length: multipleOf(4),
    lengthError: 'COMMUNITIES_LENGTH',
    decode(b, s, e, _o, x) {
      x.communities = freezeList(u32List(b, s, e));
      return undefined;
    },
    has: (a) => a.communities !== undefined && a.communities.length > 0,
    encode: (a, w) => a.communities!.forEach((c) => w.u32(c)),
    format: (a) => a.communities!.map(formatCommunity).join(' '),
  },
  {
    code: AttrCode.OriginatorId,
    name: 'ORIGINATOR_ID',
    flags: OPTIONAL,
    flagsError: 'ATTR_FLAGS',
    length: exactly(4),
    lengthError: 'ORIGINATOR_ID_LENGTH',
    discardWhen: (o) => (o.ebgp ? 'ORIGINATOR_ID_FROM_EBGP' : undefined),
    decode(b, s, _e, _o, x) {
      x.originatorId = ip4(b, s);
      return undefined;
    },
    has: (a, o) => a.originatorId !== undefined && !o.ebgp,
    encode: (a, w) => void w.bytes(ipv4Bytes(a.originatorId!, 'originator id')),
    format: (a) => a.originatorId!,
  },
  {
    code: AttrCode.ClusterList,
    name: 'CLUSTER_LIST',
    flags: OPTIONAL,
    flagsError: 'ATTR_FLAGS',
    length: multipleOf(4),
    lengthError: 'CLUSTER_LIST_LENGTH',
    discardWhen: (o) => (o.ebgp ? 'CLUSTER_LIST_FROM_EBGP' : undefined),
    decode(b, s, e, _o, x) {
      const ids: string[] = new Array<string>((e - s) >> 2);
      for (let p = s, i = 0; p < e; p += 4) ids[i++] = ip4(b, p);
      x.clusterList = freezeList(ids);
      return undefined;
    },
    has: (a, o) => a.clusterList !== undefined && a.clusterList.length > 0 && !o.ebgp,
    encode: (a, w) => a.clusterList!.forEach((id) => w.bytes(ipv4Bytes(id, 'cluster id'))),
    format: (a) => a.clusterList!.join(' '),
  },
  { code: AttrCode.MpReach, name: 'MP_REACH_NLRI', flags: OPTIONAL, flagsError: 'MP_FLAGS', mp: true },
  { code: AttrCode.MpUnreach, name: 'MP_UNREACH_NLRI', flags: OPTIONAL, flagsError: 'MP_FLAGS', mp: true },
  {
    code: AttrCode.ExtendedCommunities,
    name: 'EXTENDED_COMMUNITIES',
    flags: OPT_TRANS,
    flagsError: 'ATTR_FLAGS',
    length: multipleOf(8),
    lengthError: 'EXTENDED_COMMUNITIES_LENGTH',
    decode(b, s, e, _o, x) {
      const out: bigint[] = new Array<bigint>((e - s) >> 3);
      for (let p = s, i = 0; p < e; p += 8) out[i++] = (BigInt(u32(b, p)) << 32n) | BigInt(u32(b, p + 4));
      x.extendedCommunities = freezeList(out);
      return undefined;
    },
    has: (a) => a.extendedCommunities !== undefined && a.extendedCommunities.length > 0,
    encode: (a, w) => a.extendedCommunities!.forEach((c) => w.u32(Number(c >> 32n)).u32(Number(c & 0xffffffffn))),
    format: (a) => a.extendedCommunities!.map(formatExtendedCommunity).join(' '),
  },
  {
    code: AttrCode.As4Path,
    name: 'AS4_PATH',
    flags: OPT_TRANS,
    flagsError: 'ATTR_FLAGS',
    discardWhen: (o) => (o.as4 ? 'AS4_FROM_NEW_SPEAKER' : undefined),
    decode(b, s, e, _o, x) {
      const r = decodeAsPath(b, s, e, true);
      if (!isAsPath(r)) return err('AS4_PATH_MALFORMED', r.malformed);
      if (r.some((g) => g.type === AS_CONFED_SEQUENCE || g.type === AS_CONFED_SET)) return err('AS4_PATH_MALFORMED', 'confederation segment');
      x.as4Path = r;
      return undefined;
    },
    // sent to 2-octet peers only, carrying the real path (RFC 6793 §4.2.2)
    has: (a, o) => !o.as4 && a.asPath !== undefined && needsAs4(a.asPath),
    encode: (a, w) => writeAsPath(w, a.asPath!, true, { skipConfed: true }),
  },
  {
    code: AttrCode.As4Aggregator,
    name: 'AS4_AGGREGATOR',
    flags: OPT_TRANS,
    flagsError: 'ATTR_FLAGS',
    length: exactly(8),
    lengthError: 'AS4_AGGREGATOR_MALFORMED',
    discardWhen: (o) => (o.as4 ? 'AS4_FROM_NEW_SPEAKER' : undefined),
    decode(b, s, _e, _o, x) {
      const a = decodeAggregator(b, s, true);
      if (a.asn === 0) return err('AS4_AGGREGATOR_MALFORMED', 'AS 0');
      x.as4Aggregator = a;
      return undefined;
    },
    has: (a, o) => !o.as4 && a.aggregator !== undefined && a.aggregator.asn > 65535,
    encode: (a, w) => void w.u32(a.aggregator!.asn).bytes(ipv4Bytes(a.aggregator!.address, 'aggregator address')),
  },
  {
    code: AttrCode.TunnelEncapsulation,
    name: 'TUNNEL_ENCAPSULATION',
    flags: OPT_TRANS,
    flagsError: 'ATTR_FLAGS',
    decode(b, s, e, _o, x) {
      const why = tunnelEncapError(b, s, e);
      if (why) return err('TUNNEL_ENCAPSULATION_MALFORMED', why);
      x.tunnelEncapsulation = toHex(b.subarray(s, e));
      return undefined;
    },
    has: (a) => a.tunnelEncapsulation !== undefined,
    encode: (a, w) => void w.bytes(Buffer.from(a.tunnelEncapsulation!, 'hex')),
    format: (a) => a.tunnelEncapsulation!,
  },
  {
    code: AttrCode.LargeCommunities,
    name: 'LARGE_COMMUNITY',
    flags: OPT_TRANS,
    flagsError: 'ATTR_FLAGS',
    length: multipleOf(12),
    lengthError: 'LARGE_COMMUNITIES_LENGTH',
    decode(b, s, e, _o, x) {
      const out: LargeCommunity[] = new Array<LargeCommunity>((e - s) / 12);
      for (let p = s, i = 0; p < e; p += 12) out[i++] = Object.freeze([u32(b, p), u32(b, p + 4), u32(b, p + 8)] as const);
      x.largeCommunities = freezeList(out);
      return undefined;
    },
    has: (a) => a.largeCommunities !== undefined && a.largeCommunities.length > 0,
    encode: (a, w) => a.largeCommunities!.forEach((c) => w.u32(c[0]).u32(c[1]).u32(c[2])),
    format: (a) => a.largeCommunities!.map(formatLargeCommunity).join(' '),
  },
  {
    code: AttrCode.Otc,
    name: 'ONLY_TO_CUSTOMER',
    flags: OPT_TRANS,
    flagsError: 'ATTR_FLAGS',
    length: exactly(4),
    lengthError: 'OTC_LENGTH',
    decode(b, s, _e, _o, x) {
      x.otc = u32(b, s);
      return undefined;
    },
    has: (a) => a.otc !== undefined,
    encode: (a, w) => void w.u32(a.otc!),
    format: (a) => String(a.otc),
  },
] satisfies AttributeSpec[]).map(entry);

/** Index of the table by type code. */
export const ATTRIBUTE_BY_CODE: readonly (AttributeSpec | undefined)[] = (() => {
  const t: (AttributeSpec | undefined)[] = new Array<AttributeSpec | undefined>(256).fill(undefined);
  for (const s of ATTRIBUTES) t[s.code] = s;
  return t;
})();

export function attributeName(code: number): string {
  return ATTRIBUTE_BY_CODE[code]?.name ?? `attribute ${code}`;
}
