// Property tests: decode(encode(x)) = x for arbitrary messages and session options; random
// and mutated octets never make the codec throw anything but BgpError, and always finish.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AttributeInterner,
  BgpError,
  codecOptions,
  decodeMessage,
  decodeNotification,
  decodeOpen,
  decodeRouteRefresh,
  decodeUpdate,
  encodeAnnouncements,
  encodeNotification,
  encodeOpen,
  encodeRouteRefresh,
  encodeUpdate,
  Framer,
  makeAttributes,
  type Capability,
  type CodecOptions,
  type PathAttributesInit,
  type UpdateInit,
} from '../../src/bgp/codec/index.js';
import { formatIPv6 } from '../../src/net/ip.js';
import { prefix4, prefix6, type Prefix6 } from '../../src/net/prefix.js';

const RUNS = Number(process.env.CODEC_PROPERTY_RUNS ?? 300);

const asn = fc.integer({ min: 1, max: 0xffffffff }).filter((a) => a !== 23456);
const asn2 = fc.integer({ min: 1, max: 65535 }).filter((a) => a !== 23456);
const ipv4 = fc.ipV4();
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIPv6(b));
const linkLocal = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => formatIPv6(Uint8Array.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, ...b.map((x, i) => (i === 7 ? x | 1 : x))])));
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const nonEmpty = <T>(a: fc.Arbitrary<T>, max = 6) => fc.array(a, { minLength: 1, maxLength: max });

function segment(big: boolean) {
  return fc.record({
    type: fc.constantFrom(1, 2, 3, 4) as fc.Arbitrary<1 | 2 | 3 | 4>,
    asns: nonEmpty(big ? asn : asn2, 8),
  }).map((s) => ({ ...s, asns: s.type >= 3 && big ? s.asns.map((a) => (a % 65535) + 1).filter((a) => a !== 23456) : s.asns }))
    .filter((s) => s.asns.length > 0);
}

/** RFC 9012 TLVs with well-formed sub-TLVs */
const tunnel = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 6 })), { maxLength: 3 })), { minLength: 1, maxLength: 3 })
  .map((tlvs) =>
    Buffer.concat(
      tlvs.map(([type, subs]) => {
        const v = Buffer.concat(subs.map(([t, val]) => Buffer.concat([Buffer.from(t >= 128 ? [t, val.length >> 8, val.length & 0xff] : [t, val.length]), Buffer.from(val)])));
        return Buffer.concat([Buffer.from([type >> 8, type & 0xff, v.length >> 8, v.length & 0xff]), v]);
      }),
    ).toString('hex'),
  );

const KNOWN = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 23, 32, 35]);
const unknownAttr = fc.record({
  code: fc.integer({ min: 1, max: 255 }).filter((c) => !KNOWN.has(c)),
  flags: fc.constant(0xe0),
  value: fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('hex')),
});

function attrs(big: boolean): fc.Arbitrary<PathAttributesInit> {
  return fc.record(
    {
      origin: fc.integer({ min: 0, max: 2 }),
      asPath: fc.array(segment(big), { maxLength: 4 }),
      med: u32,
      localPref: u32,
      atomicAggregate: fc.boolean(),
      aggregator: fc.record({ asn: big ? asn : asn2, address: ipv4 }),
      communities: nonEmpty(u32),
      originatorId: ipv4,
      clusterList: nonEmpty(ipv4, 4),
      extendedCommunities: nonEmpty(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
      largeCommunities: nonEmpty(fc.tuple(u32, u32, u32), 4),
      otc: u32,
      tunnelEncapsulation: tunnel,
      unknown: fc.uniqueArray(unknownAttr, { selector: (u) => u.code, minLength: 1, maxLength: 3 }),
    },
    { requiredKeys: ['origin', 'asPath'] },
  );
}

const options = fc
  .record({ as4: fc.boolean(), ebgp: fc.boolean(), extendedMessage: fc.boolean(), ap4: fc.boolean(), ap6: fc.boolean(), enh: fc.boolean() })
  .map((o) => codecOptions({ as4: o.as4, ebgp: o.ebgp, extendedMessage: o.extendedMessage, addPath: { ipv4: { send: o.ap4, receive: o.ap4 }, ipv6: { send: o.ap6, receive: o.ap6 } }, extendedNextHopIPv4: o.enh }));

const p4 = fc.tuple(u32, fc.integer({ min: 0, max: 32 })).map(([a, l]) => prefix4(a, l));
const p6 = fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 })).map(([b, l]) => prefix6(b, l));
const ids = (n: number) => fc.array(u32, { minLength: n, maxLength: n });

/** what a peer of this session kind ends up with */
function expected(a: PathAttributesInit, o: CodecOptions): PathAttributesInit {
  let x = o.ebgp ? { ...a, localPref: undefined, originatorId: undefined, clusterList: undefined } : a;
  // RFC 6793 §4.2.3: an AGGREGATOR from a 2-octet AS makes the receiver ignore AS4_PATH, so a
  // 2-octet peer keeps AS_TRANS where the path needed 4 octets
  if (!o.as4 && x.aggregator && x.aggregator.asn <= 65535) {
    x = { ...x, asPath: x.asPath?.map((s) => ({ type: s.type, asns: s.asns.map((n) => (n > 65535 ? 23456 : n)) })) };
  }
  return x;
}

describe('properties', () => {
  it('decode(encode(update)) is the update, for any attributes, prefixes and session options', () => {
    const arb = options.chain((o) =>
      fc.record({
        o: fc.constant(o),
        a: attrs(true),
        family: fc.constantFrom(4, 6) as fc.Arbitrary<4 | 6>,
        v6nh: fc.boolean(),
        nh4: ipv4,
        nh6: ipv6,
        ll: fc.option(linkLocal, { nil: undefined }),
        n4: fc.array(p4, { maxLength: 40 }),
        n6: fc.array(p6, { maxLength: 40 }),
        w4: fc.array(p4, { maxLength: 20 }),
        w6: fc.array(p6, { maxLength: 20 }),
      }).chain((x) => fc.record({ x: fc.constant(x), i4: ids(x.n4.length), i6: ids(x.n6.length), j4: ids(x.w4.length), j6: ids(x.w6.length) })),
    );
    fc.assert(
      fc.property(arb, ({ x, i4, i6, j4, j6 }) => {
        const { o } = x;
        const viaV6 = x.family === 6 || (x.v6nh && o.extendedNextHopIPv4);
        // confederation segments lead the path (RFC 5065); a 2-octet peer needs that for the RFC 6793 merge
        const asPath = o.as4 ? x.a.asPath : [...x.a.asPath!.filter((s) => s.type >= 3), ...x.a.asPath!.filter((s) => s.type < 3)];
        const a = makeAttributes({ ...x.a, asPath, nextHop: viaV6 ? x.nh6 : x.nh4, linkLocalNextHop: viaV6 ? x.ll : undefined });
        const prefixes = x.family === 4 ? Float64Array.from(x.n4) : x.n6;
        const u: UpdateInit = {
          withdrawn4: Float64Array.from(x.w4),
          withdrawn4PathIds: o.addPath.ipv4.send ? j4 : null,
          withdrawn6: x.w6,
          withdrawn6PathIds: o.addPath.ipv6.send ? j6 : null,
          reach: prefixes.length ? [{ family: x.family, prefixes, pathIds: x.family === 4 ? (o.addPath.ipv4.send ? i4 : null) : o.addPath.ipv6.send ? i6 : null, attrs: a }] : [],
        };
        const wire = encodeUpdate(u, o);
        const d = decodeUpdate(wire.subarray(19), o, new AttributeInterner());
        expect(d.errors).toEqual([]);
        // an UPDATE with nothing in it is the IPv4 End-of-RIB
        expect(d.endOfRib).toBe(x.w4.length + x.w6.length + prefixes.length === 0 ? 4 : null);
        expect(d.withdrawn4PathIds !== null).toBe(o.addPath.ipv4.receive);
        expect(d.withdrawn6PathIds !== null).toBe(o.addPath.ipv6.receive);
        expect(Array.from(d.withdrawn4)).toEqual(x.w4);
        expect(d.withdrawn6).toEqual(x.w6);
        if (o.addPath.ipv4.send) expect(Array.from(d.withdrawn4PathIds!)).toEqual(j4);
        if (o.addPath.ipv6.send) expect(Array.from(d.withdrawn6PathIds!)).toEqual(j6);
        if (!prefixes.length) {
          expect(d.reach).toEqual([]);
          return;
        }
        expect(d.reach).toHaveLength(1);
        const r = d.reach[0]!;
        expect(r.family).toBe(x.family);
        expect(Array.from(r.prefixes as ArrayLike<number | string>)).toEqual(Array.from(prefixes as ArrayLike<number | string>));
        expect(r.attrs).toEqual(makeAttributes(expected(a, o)));
        // and again: the same octets give the same object
        expect(decodeUpdate(wire.subarray(19), o, new AttributeInterner()).reach[0]!.attrs).toEqual(r.attrs);
      }),
      { numRuns: RUNS },
    );
  });

  it('packing then decoding gives back every prefix in order, within the size limit', () => {
    fc.assert(
      fc.property(options, attrs(true), fc.array(p6, { maxLength: 1500 }), (o, a, ps) => {
        const set = makeAttributes({ ...a, nextHop: '2001:db8::1' });
        const msgs = ps.length ? encodeAnnouncements({ family: 6, prefixes: ps, attrs: set, pathIds: ps.map((_, i) => i) }, o) : [];
        const back: Prefix6[] = [];
        for (const m of msgs) {
          expect(m.length).toBeLessThanOrEqual(o.extendedMessage ? 65535 : 4096);
          for (const r of decodeUpdate(m.subarray(19), o, new AttributeInterner()).reach) back.push(...(r.prefixes as Prefix6[]));
        }
        expect(back).toEqual(ps);
      }),
      { numRuns: 40 },
    );
  });

  it('OPEN, NOTIFICATION and ROUTE-REFRESH round-trip', () => {
    const cap: fc.Arbitrary<Capability> = fc.oneof(
      fc.record({ kind: fc.constant('multiprotocol' as const), afi: fc.integer({ min: 0, max: 65535 }), safi: fc.integer({ min: 0, max: 255 }) }),
      fc.constantFrom<Capability>({ kind: 'route-refresh' }, { kind: 'enhanced-route-refresh' }, { kind: 'extended-message' }, { kind: 'route-refresh-cisco' }),
      fc.record({ kind: fc.constant('as4' as const), asn }),
      fc.record({
        kind: fc.constant('graceful-restart' as const),
        restarting: fc.boolean(),
        notification: fc.boolean(),
        restartTime: fc.integer({ min: 0, max: 4095 }),
        families: fc.array(fc.record({ afi: fc.integer({ min: 0, max: 65535 }), safi: fc.integer({ min: 0, max: 255 }), forwarding: fc.boolean() }), { maxLength: 4 }),
      }),
      fc.record({ kind: fc.constant('add-path' as const), families: fc.array(fc.record({ afi: fc.integer({ min: 0, max: 65535 }), safi: fc.integer({ min: 0, max: 255 }), send: fc.boolean(), receive: fc.boolean() }).filter((f) => f.send || f.receive), { maxLength: 4 }) }),
      fc.record({ kind: fc.constant('fqdn' as const), hostname: fc.string({ maxLength: 40 }), domain: fc.string({ maxLength: 40 }) }),
      fc.record({ kind: fc.constant('unknown' as const), code: fc.constantFrom(3, 4, 7, 8, 10, 66, 67, 68, 72, 74, 129, 200, 255), value: fc.uint8Array({ maxLength: 20 }) }),
    );
    fc.assert(
      fc.property(asn, fc.integer({ min: 3, max: 65535 }), ipv4.filter((i) => i !== '0.0.0.0'), fc.array(cap, { maxLength: 12 }), (a, hold, id, caps) => {
        const withAs4: Capability[] = a > 65535 && !caps.some((c) => c.kind === 'as4') ? [...caps, { kind: 'as4', asn: a }] : caps;
        const as4 = withAs4.find((c) => c.kind === 'as4');
        const o = decodeOpen(encodeOpen({ asn: a, holdTime: hold, routerId: id, capabilities: withAs4 }).subarray(19));
        expect(o.capabilities).toEqual(withAs4);
        expect(o.asn).toBe(as4 ? as4.asn : a);
        expect([o.holdTime, o.routerId]).toEqual([hold, id]);
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 100 }), (code, subcode, data) => {
        expect(decodeNotification(encodeNotification({ code, subcode, data }).subarray(19))).toEqual({ type: 'notification', code, subcode, data });
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 1, 2), (afi, safi, subtype) => {
        expect(decodeRouteRefresh(encodeRouteRefresh({ afi, safi, subtype }).subarray(19))).toEqual({ type: 'route-refresh', afi, safi, subtype });
      }),
    );
  });

  /** run a decoder; anything thrown must be the codec's own error */
  function onlyBgpErrors(f: () => unknown): void {
    try {
      f();
    } catch (e) {
      if (!(e instanceof BgpError)) throw e;
      expect(e.action).toBe('session-reset');
      expect(e.notification.code).toBeGreaterThan(0);
    }
  }

  it('random octets as any message body only ever raise BgpError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), options, (b, o) => {
        onlyBgpErrors(() => decodeUpdate(b, o, new AttributeInterner()));
        if (b.length >= 10) onlyBgpErrors(() => decodeOpen(b));
        onlyBgpErrors(() => decodeRouteRefresh(b));
        if (b.length >= 2) onlyBgpErrors(() => decodeNotification(b));
        onlyBgpErrors(() => new Framer().push(b));
      }),
      { numRuns: 3000 },
    );
  });

  it('mutated, truncated and extended valid messages only ever raise BgpError', () => {
    const o4 = codecOptions({ as4: true, ebgp: false, addPath: { ipv4: { send: true, receive: true } } });
    const a = makeAttributes({ origin: 0, asPath: [{ type: 2, asns: [65001, 4200000000] }, { type: 1, asns: [1, 2] }], nextHop: '2001:db8::1', linkLocalNextHop: 'fe80::1', med: 5, localPref: 100, communities: [1], largeCommunities: [[1, 2, 3]], extendedCommunities: [5n], aggregator: { asn: 7, address: '1.2.3.4' }, otc: 9, originatorId: '1.1.1.1', clusterList: ['2.2.2.2'], tunnelEncapsulation: '0001000401020000', unknown: [{ code: 99, flags: 0xe0, value: 'ab' }] });
    const seeds = [
      encodeUpdate({ withdrawn6: [prefix6(new Uint8Array(16), 0)], reach: [{ family: 6, prefixes: [prefix6(Uint8Array.of(0x20, 1, 0xd, 0xb8), 32), prefix6(new Uint8Array(16).fill(255), 128)], attrs: a }] }, o4),
      encodeUpdate({ withdrawn4: [prefix4(0x0a000000, 8)], withdrawn4PathIds: [3], reach: [{ family: 4, prefixes: [prefix4(0xc0a80000, 16)], pathIds: [1], attrs: makeAttributes({ ...a, nextHop: '10.0.0.1', linkLocalNextHop: undefined }) }] }, o4),
      encodeOpen({ asn: 4200000000, holdTime: 90, routerId: '1.2.3.4', capabilities: [{ kind: 'as4', asn: 4200000000 }, { kind: 'graceful-restart', restarting: false, notification: true, restartTime: 120, families: [{ afi: 1, safi: 1, forwarding: true }] }, { kind: 'fqdn', hostname: 'h', domain: 'd' }] }),
      encodeRouteRefresh({ afi: 1, safi: 1, subtype: 1 }),
      encodeNotification({ code: 6, subcode: 2, data: Uint8Array.of(1, 0x41) }),
    ];
    const mutation = fc.record({
      seed: fc.integer({ min: 0, max: seeds.length - 1 }),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      extra: fc.uint8Array({ maxLength: 8 }),
      fixLength: fc.boolean(),
      o: options,
    });
    fc.assert(
      fc.property(mutation, ({ seed, edits, cut, extra, fixLength, o }) => {
        let m = Buffer.from(seeds[seed]!);
        for (const [at, v] of edits) m[19 + (at % (m.length - 19))] = v;
        if (cut !== undefined) m = m.subarray(0, 19 + (cut % (m.length - 18)));
        m = Buffer.concat([m, extra]);
        // usually keep the header consistent so the body decoders see the damage
        if (fixLength && m.length <= 65535) m.writeUInt16BE(m.length, 16);
        onlyBgpErrors(() => {
          const framer = new Framer({ extendedMessage: o.extendedMessage });
          for (const f of framer.push(m)) decodeMessage(f, o, new AttributeInterner());
        });
        onlyBgpErrors(() => decodeUpdate(m.subarray(19), o, new AttributeInterner()));
      }),
      { numRuns: 5000 },
    );
  });
});
