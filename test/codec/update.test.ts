// UPDATE round trips for every attribute and NLRI form, packing, End-of-RIB and interning.
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  AttributeInterner,
  codecOptions,
  decodeUpdate,
  encodeAnnouncements,
  encodeEndOfRib,
  encodeUpdate,
  encodeWithdrawals,
  formatAsPath,
  formatAttributes,
  makeAttributes,
  parseAsPath,
  routeTarget,
  withAttributes,
  type CodecOptions,
  type PathAttributes,
  type PathAttributesInit,
  type UpdateMessage,
} from '../../src/bgp/codec/index.js';
import { formatPrefix, parsePrefix, type Prefix6 } from '../../src/net/prefix.js';
import { ORIGIN_IGP, asPath4, attr, body, hex, nextHop, nlri, updateMsg } from './helpers.js';

const O4 = codecOptions({ as4: true, ebgp: false });
const p4 = (...t: string[]) => Float64Array.from(t.map((x) => parsePrefix(x) as number));
const p6 = (...t: string[]) => t.map((x) => parsePrefix(x) as Prefix6);
const texts = (ps: ArrayLike<number> | readonly string[]) => Array.from(ps as ArrayLike<number | string>, (p) => formatPrefix(p));

function roundTrip(u: Parameters<typeof encodeUpdate>[0], o: CodecOptions = O4, interner = new AttributeInterner()): UpdateMessage {
  const wire = encodeUpdate(u, o);
  expect(wire.subarray(0, 16).every((b) => b === 0xff)).toBe(true);
  expect(wire.readUInt16BE(16)).toBe(wire.length);
  return decodeUpdate(body(wire), o, interner);
}

const FULL: PathAttributesInit = {
  origin: 2,
  asPath: parseAsPath('(65010 65011) [65012] 65001 4200000001 {65003,65004}'),
  nextHop: '192.0.2.1',
  med: 4294967295,
  localPref: 150,
  atomicAggregate: true,
  aggregator: { asn: 4200000002, address: '198.51.100.7' },
  communities: [0xffffff01, ((65000 << 16) | 100) >>> 0],
  originatorId: '10.0.0.9',
  clusterList: ['10.255.0.1', '10.255.0.2'],
  extendedCommunities: [routeTarget(65000, 100), routeTarget('10.0.0.1', 7), routeTarget(4200000000, 5)],
  largeCommunities: [[4200000000, 1, 2], [65000, 0, 4294967295]],
  otc: 65123,
  tunnelEncapsulation: '000800040c020000', // tunnel type 8 (VXLAN? any), one empty-ish sub-TLV
  unknown: [{ code: 99, flags: 0xe0, value: 'cafe' }],
};

describe('UPDATE round trips', () => {
  it('carries every attribute through encode and decode unchanged (iBGP, 4-octet AS)', () => {
    const attrs = makeAttributes(FULL);
    const u = roundTrip({ reach: [{ family: 4, prefixes: p4('10.1.0.0/16', '10.2.3.0/24'), attrs }] });
    expect(u.errors).toEqual([]);
    expect(u.reach).toHaveLength(1);
    const r = u.reach[0]!;
    expect(r.family).toBe(4);
    expect(texts(r.prefixes)).toEqual(['10.1.0.0/16', '10.2.3.0/24']);
    expect(r.attrs).toEqual(attrs);
    expect(Object.isFrozen(r.attrs)).toBe(true);
    expect(formatAttributes(r.attrs)).toEqual([
      'ORIGIN: incomplete',
      'AS_PATH: (65010 65011) [65012] 65001 4200000001 {65003,65004}',
      'NEXT_HOP: 192.0.2.1',
      'MULTI_EXIT_DISC: 4294967295',
      'LOCAL_PREF: 150',
      'ATOMIC_AGGREGATE: yes',
      'AGGREGATOR: 4200000002 198.51.100.7',
      'COMMUNITIES: NO_EXPORT 65000:100',
      'ORIGINATOR_ID: 10.0.0.9',
      'CLUSTER_LIST: 10.255.0.1 10.255.0.2',
      'EXTENDED_COMMUNITIES: rt:65000:100 rt:10.0.0.1:7 rt:4200000000:5',
      'TUNNEL_ENCAPSULATION: 000800040c020000',
      'LARGE_COMMUNITY: 4200000000:1:2 65000:0:4294967295',
      'ONLY_TO_CUSTOMER: 65123',
      'attribute 99 (flags 0xe0): cafe',
    ]);
  });

  it('to an external peer leaves out LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST', () => {
    const o = codecOptions({ as4: true, ebgp: true });
    const u = roundTrip({ reach: [{ family: 4, prefixes: p4('10.1.0.0/16'), attrs: makeAttributes(FULL) }] }, o);
    const a = u.reach[0]!.attrs;
    expect(a.localPref).toBeUndefined();
    expect(a.originatorId).toBeUndefined();
    expect(a.clusterList).toBeUndefined();
    expect(a.med).toBe(4294967295);
  });

  it('with a 2-octet AS peer uses AS_TRANS plus AS4_PATH and AS4_AGGREGATOR, and merges them back (RFC 6793)', () => {
    const o = codecOptions({ as4: false, ebgp: false });
    const attrs = makeAttributes({ origin: 0, asPath: parseAsPath('65001 4200000001 65002 {4200000003,65004}'), nextHop: '192.0.2.1', aggregator: { asn: 4200000002, address: '198.51.100.7' } });
    const wire = encodeUpdate({ reach: [{ family: 4, prefixes: p4('10.0.0.0/8'), attrs }] }, o);
    // AS_PATH in 2 octets with AS_TRANS (23456 = 0x5ba0) where the AS does not fit
    expect(wire.toString('hex')).toContain('40020e0203fde95ba0fdea01025ba0fdec');
    expect(wire.includes(Buffer.from([0xc0, 17]))).toBe(true); // AS4_PATH
    expect(wire.includes(Buffer.from([0xc0, 18, 8]))).toBe(true); // AS4_AGGREGATOR
    const u = decodeUpdate(body(wire), o, new AttributeInterner());
    expect(u.errors).toEqual([]);
    expect(formatAsPath(u.reach[0]!.attrs.asPath!)).toBe('65001 4200000001 65002 {4200000003,65004}');
    expect(u.reach[0]!.attrs.aggregator).toEqual({ asn: 4200000002, address: '198.51.100.7' });
    // a 4-octet speaker ignores AS4_PATH it is sent (attribute discard, RFC 6793 §4.1)
    const bad = updateMsg({ attrs: [ORIGIN_IGP, asPath4(65001), attr(0xc0, 17, [2, 1, 0, 0, 0xfd, 0xea]), nextHop('192.0.2.1')], nlri: nlri('10.0.0.0/8') });
    const v = decodeUpdate(body(bad), O4, new AttributeInterner());
    expect(formatAsPath(v.reach[0]!.attrs.asPath!)).toBe('65001');
    expect(v.errors.map((e) => [e.code, e.action])).toEqual([['AS4_FROM_NEW_SPEAKER', 'attribute-discard']]);
  });

  it('ignores AS4_PATH when AS_PATH is shorter, and AS4 attributes when AGGREGATOR is not AS_TRANS', () => {
    const o = codecOptions({ as4: false });
    const as2 = (...a: number[]) => attr(0x40, 2, [2, a.length, ...a.flatMap((x) => [x >> 8, x & 0xff])]);
    const as4p = (...a: number[]) => attr(0xc0, 17, [2, a.length, ...a.flatMap((x) => [x >>> 24, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff])]);
    const longer = updateMsg({ attrs: [ORIGIN_IGP, as2(23456), as4p(4200000001, 4200000002), nextHop('192.0.2.1')], nlri: nlri('10.0.0.0/8') });
    expect(formatAsPath(decodeUpdate(body(longer), o, new AttributeInterner()).reach[0]!.attrs.asPath!)).toBe('23456');
    const agg2 = attr(0xc0, 7, [0xfd, 0xe9, 10, 0, 0, 1]);
    const agg4 = attr(0xc0, 18, [0xfa, 0x56, 0xea, 0x02, 10, 0, 0, 2]);
    const notTrans = updateMsg({ attrs: [ORIGIN_IGP, as2(65001, 23456), agg2, as4p(4200000001), agg4, nextHop('192.0.2.1')], nlri: nlri('10.0.0.0/8') });
    const a = decodeUpdate(body(notTrans), o, new AttributeInterner()).reach[0]!.attrs;
    expect(formatAsPath(a.asPath!)).toBe('65001 23456');
    expect(a.aggregator).toEqual({ asn: 65001, address: '10.0.0.1' });
  });

  it('carries IPv6 in MP_REACH_NLRI with global and link-local next hops, and withdraws in MP_UNREACH_NLRI', () => {
    const attrs = makeAttributes({ origin: 0, asPath: parseAsPath('65001'), nextHop: '2001:db8::1', linkLocalNextHop: 'fe80::1' });
    const u = roundTrip({ withdrawn6: p6('2001:db8:dead::/48'), reach: [{ family: 6, prefixes: p6('2001:db8:1::/48', '::/0', '2001:db8:2:3::1/128'), attrs }] });
    expect(texts(u.withdrawn6)).toEqual(['2001:db8:dead::/48']);
    expect(u.reach[0]!.family).toBe(6);
    expect(texts(u.reach[0]!.prefixes)).toEqual(['2001:db8:1::/48', '::/0', '2001:db8:2:3::1/128']);
    expect(u.reach[0]!.attrs).toEqual(attrs);
    // a global-only next hop is 16 octets
    const g = makeAttributes({ origin: 0, asPath: [], nextHop: '2001:db8::2' });
    const wire = encodeUpdate({ reach: [{ family: 6, prefixes: p6('2001:db8:1::/48'), attrs: g }] }, O4);
    expect(wire.toString('hex')).toContain('000201' + '10' + '20010db8000000000000000000000002' + '00');
    expect(decodeUpdate(body(wire), O4, new AttributeInterner()).reach[0]!.attrs.linkLocalNextHop).toBeUndefined();
  });

  it('carries IPv4 prefixes with an IPv6 next hop when extended next hop is negotiated (RFC 8950), and refuses them otherwise', () => {
    const o = codecOptions({ as4: true, extendedNextHopIPv4: true });
    const attrs = makeAttributes({ origin: 0, asPath: parseAsPath('65001'), nextHop: 'fd00::1', linkLocalNextHop: 'fe80::2' });
    const wire = encodeUpdate({ reach: [{ family: 4, prefixes: p4('10.9.0.0/16'), attrs }] }, o);
    const u = decodeUpdate(body(wire), o, new AttributeInterner());
    expect(u.reach[0]!.family).toBe(4);
    expect(texts(u.reach[0]!.prefixes)).toEqual(['10.9.0.0/16']);
    expect(u.reach[0]!.attrs.nextHop).toBe('fd00::1');
    expect(() => decodeUpdate(body(wire), codecOptions({ as4: true }))).toThrow(expect.objectContaining({ code: 'MP_REACH_MALFORMED', afi: 1, safi: 1 }));
  });

  it('carries ADD-PATH path identifiers per family and direction (RFC 7911)', () => {
    const o = codecOptions({ as4: true, addPath: { ipv4: { send: true, receive: true }, ipv6: { send: true, receive: true } } });
    const a4 = makeAttributes({ origin: 0, asPath: [], nextHop: '192.0.2.1' });
    const u = roundTrip({ withdrawn4: p4('10.0.0.0/8'), withdrawn4PathIds: [7], reach: [{ family: 4, prefixes: p4('10.1.0.0/16', '10.1.0.0/16'), pathIds: [1, 2], attrs: a4 }] }, o);
    expect(Array.from(u.withdrawn4PathIds!)).toEqual([7]);
    expect(Array.from(u.reach[0]!.pathIds!)).toEqual([1, 2]);
    expect(texts(u.reach[0]!.prefixes)).toEqual(['10.1.0.0/16', '10.1.0.0/16']);
    const a6 = makeAttributes({ origin: 0, asPath: [], nextHop: '2001:db8::1' });
    const v = roundTrip({ withdrawn6: p6('2001:db8::/32'), withdrawn6PathIds: [9], reach: [{ family: 6, prefixes: p6('2001:db8:1::/48'), pathIds: [4294967295], attrs: a6 }] }, o);
    expect(Array.from(v.withdrawn6PathIds!)).toEqual([9]);
    expect(Array.from(v.reach[0]!.pathIds!)).toEqual([4294967295]);
    // without ADD-PATH receive, the same octets are read differently: refuse to guess and check lengths
    expect(() => encodeUpdate({ reach: [{ family: 4, prefixes: p4('10.1.0.0/16'), attrs: a4 }] }, o)).toThrow(/path identifier/);
  });

  it('marks End-of-RIB for both families (RFC 4724 §2)', () => {
    const e4 = encodeEndOfRib(4);
    expect(e4.toString('hex')).toBe(`${'ff'.repeat(16)}0017020000` + '0000');
    expect(decodeUpdate(body(e4), O4).endOfRib).toBe(4);
    const e6 = encodeEndOfRib(6);
    expect(e6.toString('hex')).toBe(`${'ff'.repeat(16)}001d02` + '0000' + '0006' + '800f03000201');
    expect(decodeUpdate(body(e6), O4).endOfRib).toBe(6);
    // an empty MP_UNREACH_NLRI for IPv4 is an IPv4 End-of-RIB too
    expect(decodeUpdate(body(updateMsg({ attrs: [attr(0x80, 15, [0, 1, 1])] })), O4).endOfRib).toBe(4);
    // but not when anything else is in the message
    const notEor = decodeUpdate(body(updateMsg({ attrs: [attr(0x80, 15, [0, 2, 1])], withdrawn: nlri('10.0.0.0/8') })), O4);
    expect(notEor.endOfRib).toBeNull();
    expect(texts(notEor.withdrawn4)).toEqual(['10.0.0.0/8']);
  });

  it('clears host bits of received prefixes', () => {
    const m = updateMsg({ withdrawn: hex('18 0a0102' + '19 0a0103ff'), attrs: [], nlri: Buffer.alloc(0) });
    expect(texts(decodeUpdate(body(m), O4).withdrawn4)).toEqual(['10.1.2.0/24', '10.1.3.128/25']);
    const v6 = updateMsg({ attrs: [attr(0x80, 15, [0, 2, 1, 33, 0x20, 0x01, 0x0d, 0xb8, 0xff])] });
    expect(texts(decodeUpdate(body(v6), O4).withdrawn6)).toEqual(['2001:db8:8000::/33']);
  });

  it('passes unknown optional transitive attributes on with the Partial bit, and drops unknown non-transitive ones', () => {
    const m = updateMsg({ attrs: [ORIGIN_IGP, asPath4(65001), nextHop('192.0.2.1'), attr(0xc0, 200, [1, 2, 3]), attr(0x80, 201, [4])], nlri: nlri('10.0.0.0/8') });
    const u = decodeUpdate(body(m), O4, new AttributeInterner());
    expect(u.reach[0]!.attrs.unknown).toEqual([{ code: 200, flags: 0xe0, value: '010203' }]);
    const again = encodeUpdate(u, O4);
    expect(again.includes(Buffer.from([0xe0, 200, 3, 1, 2, 3]))).toBe(true);
    expect(again.includes(Buffer.from([0x80, 201]))).toBe(false);
  });
});

describe('packing many prefixes', () => {
  const attrs = makeAttributes({ origin: 0, asPath: parseAsPath('65001 65002 65003'), nextHop: '192.0.2.1', communities: [1, 2, 3] });
  const many4 = Float64Array.from({ length: 3000 }, (_, i) => parsePrefix(`10.${i >> 8}.${i & 255}.0/24`) as number);
  const many6 = Array.from({ length: 1500 }, (_, i) => parsePrefix(`2001:db8:${i.toString(16)}::/48`) as Prefix6);

  for (const [name, o, max] of [
    ['4096-octet messages', O4, 4096],
    ['65535-octet messages (RFC 8654)', codecOptions({ as4: true, extendedMessage: true }), 65535],
  ] as const) {
    it(`fills ${name} and loses nothing, IPv4 and IPv6`, () => {
      const m4 = encodeAnnouncements({ family: 4, prefixes: many4, attrs }, o);
      const a6 = withAttributes(attrs, { nextHop: '2001:db8::1', linkLocalNextHop: 'fe80::1' });
      const m6 = encodeAnnouncements({ family: 6, prefixes: many6, attrs: a6 }, o);
      for (const [msgs, family, want] of [
        [m4, 4, many4],
        [m6, 6, many6],
      ] as const) {
        const interner = new AttributeInterner();
        const got: (number | string)[] = [];
        let set: PathAttributes | undefined;
        for (const [i, m] of msgs.entries()) {
          expect(m.length).toBeLessThanOrEqual(max);
          // every message but the last is full: one more /24 or /48 would not fit
          if (i < msgs.length - 1) expect(m.length + (family === 4 ? 4 : 7)).toBeGreaterThan(max);
          const u = decodeUpdate(body(m), o, interner);
          expect(u.reach).toHaveLength(1);
          set ??= u.reach[0]!.attrs;
          expect(u.reach[0]!.attrs).toBe(set);
          got.push(...Array.from(u.reach[0]!.prefixes as ArrayLike<number | string>));
        }
        expect(got).toEqual(Array.from(want as ArrayLike<number | string>));
      }
      const w4 = encodeWithdrawals(4, many4, null, o);
      const w6 = encodeWithdrawals(6, many6, null, o);
      expect(w4.flatMap((m) => Array.from(decodeUpdate(body(m), o).withdrawn4))).toEqual(Array.from(many4));
      expect(w6.flatMap((m) => decodeUpdate(body(m), o).withdrawn6)).toEqual(many6);
      for (const m of [...w4, ...w6]) expect(m.length).toBeLessThanOrEqual(max);
      if (max === 4096) expect(w4.length).toBe(Math.ceil((3000 * 4) / (4096 - 23)));
    });
  }

  it('puts MP_REACH_NLRI first and the UPDATE carries nothing else NLRI-bearing (RFC 7606 §5.1)', () => {
    const [m] = encodeAnnouncements({ family: 6, prefixes: many6.slice(0, 3), attrs: withAttributes(attrs, { nextHop: '2001:db8::1' }) }, O4);
    expect(m![19]).toBe(0); // no withdrawn routes
    expect(m![20]).toBe(0);
    expect(m![23]! & 0x80).toBe(0x80);
    expect(m![24]).toBe(14);
  });
});

describe('interned attribute sets', () => {
  it('100,000 prefixes sharing attributes decode to ONE frozen object, compared by identity', () => {
    const interner = new AttributeInterner();
    const attrs = makeAttributes({ origin: 0, asPath: parseAsPath('65001 65002'), nextHop: '192.0.2.1', communities: [7] });
    const prefixes = Float64Array.from({ length: 100_000 }, (_, i) => parsePrefix(`${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`) as number);
    const msgs = encodeAnnouncements({ family: 4, prefixes, attrs }, O4);
    const seen = new Set<PathAttributes>();
    let n = 0;
    for (const m of msgs) {
      for (const r of decodeUpdate(body(m), O4, interner).reach) {
        seen.add(r.attrs);
        n += r.prefixes.length;
      }
    }
    expect(n).toBe(100_000);
    expect(seen.size).toBe(1);
    const [one] = seen;
    expect(Object.isFrozen(one)).toBe(true);
    expect(Object.isFrozen(one!.asPath)).toBe(true);
    expect(Object.isFrozen(one!.communities)).toBe(true);
    expect(() => {
      (one as { med?: number }).med = 5;
    }).toThrow(TypeError);
    // another next hop, another set; the same again, the same set
    const other = withAttributes(attrs, { nextHop: '192.0.2.2' }, interner);
    expect(other).not.toBe(one);
    expect(withAttributes(attrs, { nextHop: '192.0.2.2' }, interner)).toBe(other);
    // a set built by policy meets the decoded one (canonical encoding)
    expect(interner.intern({ ...attrs })).toBe(one);
    expect(interner.stats.entries).toBe(2);
  });

  it('distinct attributes give distinct sets, decoded from any order of the same attributes', () => {
    const interner = new AttributeInterner();
    const a = updateMsg({ attrs: [ORIGIN_IGP, asPath4(65001), nextHop('192.0.2.1'), attr(0xc0, 8, [0, 0, 0, 1])], nlri: nlri('10.0.0.0/8') });
    const b = updateMsg({ attrs: [ORIGIN_IGP, asPath4(65001), nextHop('192.0.2.1'), attr(0xc0, 8, [0, 0, 0, 2])], nlri: nlri('10.0.0.0/8') });
    const sa = decodeUpdate(body(a), O4, interner).reach[0]!.attrs;
    const sb = decodeUpdate(body(b), O4, interner).reach[0]!.attrs;
    expect(sa).not.toBe(sb);
    expect(decodeUpdate(body(a), O4, interner).reach[0]!.attrs).toBe(sa);
    // the same set via the canonical path
    expect(interner.intern({ origin: 0, asPath: parseAsPath('65001'), nextHop: '192.0.2.1', communities: [1] })).toBe(sa);
  });

  it('lets sets nobody holds be collected and forgets them', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const interner = new AttributeInterner();
    const make = (i: number) => decodeUpdate(body(updateMsg({ attrs: [ORIGIN_IGP, asPath4(65001, i + 1), nextHop('192.0.2.1')], nlri: nlri('10.0.0.0/8') })), O4, interner).reach[0]!.attrs;
    const kept = make(0);
    for (let i = 1; i < 5000; i++) make(i);
    expect(interner.stats.entries).toBeLessThanOrEqual(5000);
    // a sweep weakens the new entries; once collected, the next sweep drops them
    interner.sweep();
    expect(interner.stats.entries).toBe(5000);
    await new Promise((r) => setTimeout(r, 0));
    gc();
    interner.sweep();
    expect(interner.stats.entries).toBeLessThan(100);
    expect(make(0)).toBe(kept);
  });
});
