// Every row of the malformation table, reached by a real input, with the outcome RFC 7606
// (and friends) prescribes; then the published malformed-attribute cases that crashed or
// reset other speakers, rebuilt from their descriptions.
import { describe, expect, it } from 'vitest';
import {
  AttributeInterner,
  BgpError,
  codecOptions,
  decodeMessage,
  decodeUpdate,
  Framer,
  MALFORMATIONS,
  type CodecOptions,
  type MalformationCode,
  type Message,
  type UpdateMessage,
} from '../../src/bgp/codec/index.js';
import { formatPrefix } from '../../src/net/prefix.js';
import { ORIGIN_IGP, asPath2, asPath4, attr, hex, nextHop, nlri, u16b, u32b, updateMsg } from './helpers.js';

const IBGP = codecOptions({ as4: true, ebgp: false });
const EBGP = codecOptions({ as4: true, ebgp: true });
const OLD = codecOptions({ as4: false, ebgp: false });
const M = 'ff'.repeat(16);
const msg = (type: number, b: string) => {
  const body = hex(b);
  return Buffer.concat([hex(M), Buffer.from(u16b(19 + body.length)), Buffer.from([type]), body]);
};

type Outcome = { thrown: BgpError } | { message: Message | BgpError };

function run(wire: Uint8Array, o: CodecOptions): Outcome {
  try {
    const frames = new Framer({ extendedMessage: o.extendedMessage }).push(wire);
    expect(frames).toHaveLength(1);
    return { message: decodeMessage(frames[0]!, o, new AttributeInterner()) };
  } catch (e) {
    if (!(e instanceof BgpError)) throw e;
    return { thrown: e };
  }
}

const good = [ORIGIN_IGP, asPath4(65001), nextHop('192.0.2.1')];
const route = nlri('10.10.0.0/16');
const withNlri = (...attrs: Buffer[]) => updateMsg({ attrs, nlri: route });
const replace = (code: number, a: Buffer) => withNlri(...good.filter((x) => x[1] !== code), a);

interface Case {
  code: MalformationCode;
  what: string;
  wire: Uint8Array;
  o?: CodecOptions;
  /** NOTIFICATION code/subcode expected with a reset */
  notification?: [number, number];
}

const CASES: Case[] = [
  { code: 'HEADER_MARKER', what: 'marker with a zero octet', wire: hex(`${'ff'.repeat(8)}00${'ff'.repeat(7)}001304`), notification: [1, 1] },
  { code: 'HEADER_LENGTH', what: 'length 18', wire: hex(`${M}001204`), notification: [1, 2] },
  { code: 'HEADER_TYPE', what: 'type 6', wire: hex(`${M}001306`), notification: [1, 3] },
  { code: 'OPEN_MALFORMED', what: 'capability overruns its parameter', wire: msg(1, '04 fde9 005a 0a000001 04 0202 4104'), notification: [2, 0] },
  { code: 'OPEN_VERSION', what: 'version 3', wire: msg(1, '03 fde9 005a 0a000001 00'), notification: [2, 1] },
  { code: 'OPEN_PEER_AS', what: 'AS 0', wire: msg(1, '04 0000 005a 0a000001 00'), notification: [2, 2] },
  { code: 'OPEN_BGP_ID', what: 'identifier 0.0.0.0', wire: msg(1, '04 fde9 005a 00000000 00'), notification: [2, 3] },
  { code: 'OPEN_OPTIONAL_PARAMETER', what: 'parameter type 1 (authentication)', wire: msg(1, '04 fde9 005a 0a000001 03 0101 00'), notification: [2, 4] },
  { code: 'OPEN_HOLD_TIME', what: 'hold time 1', wire: msg(1, '04 fde9 0001 0a000001 00'), notification: [2, 6] },
  { code: 'UPDATE_LENGTHS', what: 'withdrawn routes length past the end', wire: msg(2, '0010 0000'), notification: [3, 1] },
  { code: 'UPDATE_WITHDRAWN_SYNTAX', what: 'withdrawn /33', wire: updateMsg({ withdrawn: hex('21 0a000000 00') }), notification: [3, 10] },
  { code: 'UPDATE_NLRI_SYNTAX', what: 'NLRI prefix overruns the message', wire: updateMsg({ attrs: good, nlri: hex('18 0a00') }), notification: [3, 10] },
  { code: 'UPDATE_ERROR_WITHOUT_NLRI', what: 'bad ORIGIN and no NLRI', wire: updateMsg({ attrs: [attr(0x40, 1, [7]), asPath4(65001)] }), notification: [3, 6] },
  { code: 'ATTR_OVERRUN', what: 'last attribute longer than the list', wire: updateMsg({ attrs: [ORIGIN_IGP, asPath4(65001), hex('4003 05 c0000201')], nlri: route }) },
  { code: 'ATTR_FLAGS', what: 'ORIGIN marked optional', wire: replace(1, attr(0xc0, 1, [0])) },
  { code: 'ATTR_DUPLICATE', what: 'COMMUNITIES twice', wire: withNlri(...good, attr(0xc0, 8, u32b(1)), attr(0xc0, 8, u32b(2))) },
  { code: 'ATTR_MISSING', what: 'no NEXT_HOP', wire: withNlri(ORIGIN_IGP, asPath4(65001)) },
  { code: 'ATTR_UNRECOGNIZED_WELL_KNOWN', what: 'unknown type 100 marked well-known', wire: withNlri(...good, attr(0x40, 100, [1])) },
  { code: 'MP_DUPLICATE', what: 'two MP_UNREACH_NLRI', wire: updateMsg({ attrs: [attr(0x80, 15, [0, 2, 1]), attr(0x80, 15, [0, 2, 1])] }), notification: [3, 1] },
  { code: 'MP_FLAGS', what: 'MP_REACH_NLRI marked transitive', wire: updateMsg({ attrs: [attr(0xc0, 14, [0, 2, 1, 16, ...new Array<number>(16).fill(1), 0]), ...good.slice(0, 2)] }), notification: [3, 4] },
  { code: 'MP_REACH_MALFORMED', what: 'MP_REACH_NLRI of 4 octets', wire: updateMsg({ attrs: [attr(0x80, 14, [0, 2, 1, 0]), ...good.slice(0, 2)] }), notification: [3, 9] },
  { code: 'MP_UNREACH_MALFORMED', what: 'MP_UNREACH_NLRI of 2 octets', wire: updateMsg({ attrs: [attr(0x80, 15, [0, 2])] }), notification: [3, 9] },
  { code: 'MP_NLRI_SYNTAX', what: 'IPv6 prefix /129', wire: updateMsg({ attrs: [attr(0x80, 15, [0, 2, 1, 129, ...new Array<number>(17).fill(0)])] }), notification: [3, 9] },
  { code: 'ORIGIN_LENGTH', what: 'ORIGIN of 2 octets', wire: replace(1, attr(0x40, 1, [0, 0])) },
  { code: 'ORIGIN_VALUE', what: 'ORIGIN 3', wire: replace(1, attr(0x40, 1, [3])) },
  { code: 'AS_PATH_MALFORMED', what: 'segment type 5', wire: replace(2, attr(0x40, 2, [5, 1, 0, 0, 0xfd, 0xe9])) },
  { code: 'AS_PATH_AS0', what: 'AS 0 in the path', wire: replace(2, asPath4(65001, 0)) },
  { code: 'NEXT_HOP_LENGTH', what: 'NEXT_HOP of 5 octets', wire: replace(3, attr(0x40, 3, [192, 0, 2, 1, 0])) },
  { code: 'MED_LENGTH', what: 'MED of 2 octets', wire: withNlri(...good, attr(0x80, 4, [0, 1])) },
  { code: 'LOCAL_PREF_LENGTH', what: 'LOCAL_PREF of 3 octets from an internal peer', wire: withNlri(...good, attr(0x40, 5, [0, 0, 100])) },
  { code: 'LOCAL_PREF_FROM_EBGP', what: 'LOCAL_PREF from an external peer', wire: withNlri(...good, attr(0x40, 5, u32b(100))), o: EBGP },
  { code: 'ATOMIC_AGGREGATE_LENGTH', what: 'ATOMIC_AGGREGATE with a value', wire: withNlri(...good, attr(0x40, 6, [1])) },
  { code: 'AGGREGATOR_LENGTH', what: 'AGGREGATOR of 6 octets on a 4-octet session', wire: withNlri(...good, attr(0xc0, 7, [0xfd, 0xe9, 10, 0, 0, 1])) },
  { code: 'AGGREGATOR_AS0', what: 'AGGREGATOR with AS 0', wire: withNlri(...good, attr(0xc0, 7, [0, 0, 0, 0, 10, 0, 0, 1])) },
  { code: 'COMMUNITIES_LENGTH', what: 'COMMUNITIES of 5 octets', wire: withNlri(...good, attr(0xc0, 8, [0, 0, 0, 1, 2])) },
  { code: 'ORIGINATOR_ID_LENGTH', what: 'ORIGINATOR_ID of 3 octets', wire: withNlri(...good, attr(0x80, 9, [10, 0, 0])) },
  { code: 'ORIGINATOR_ID_FROM_EBGP', what: 'ORIGINATOR_ID from an external peer', wire: withNlri(...good, attr(0x80, 9, [10, 0, 0, 1])), o: EBGP },
  { code: 'CLUSTER_LIST_LENGTH', what: 'CLUSTER_LIST of 0 octets', wire: withNlri(...good, attr(0x80, 10, [])) },
  { code: 'CLUSTER_LIST_FROM_EBGP', what: 'CLUSTER_LIST from an external peer', wire: withNlri(...good, attr(0x80, 10, [10, 0, 0, 1])), o: EBGP },
  { code: 'EXTENDED_COMMUNITIES_LENGTH', what: 'EXTENDED_COMMUNITIES of 7 octets', wire: withNlri(...good, attr(0xc0, 16, [0, 2, 0, 0, 0, 0, 1])) },
  { code: 'AS4_PATH_MALFORMED', what: 'AS4_PATH with a confederation segment', wire: updateMsg({ attrs: [ORIGIN_IGP, asPath2(65001), attr(0xc0, 17, [3, 1, ...u32b(65010)]), nextHop('192.0.2.1')], nlri: route }), o: OLD },
  { code: 'AS4_AGGREGATOR_MALFORMED', what: 'AS4_AGGREGATOR of 6 octets', wire: updateMsg({ attrs: [...good.slice(0, 1), asPath2(65001), nextHop('192.0.2.1'), attr(0xc0, 18, [0, 0, 0xfd, 0xe9, 10, 0])], nlri: route }), o: OLD },
  { code: 'AS4_FROM_NEW_SPEAKER', what: 'AS4_PATH from a 4-octet speaker', wire: withNlri(...good, attr(0xc0, 17, [2, 1, ...u32b(65001)])) },
  { code: 'TUNNEL_ENCAPSULATION_MALFORMED', what: 'sub-TLV overruns its TLV', wire: withNlri(...good, attr(0xc0, 23, [0, 8, 0, 4, 1, 9, 0, 0])) },
  { code: 'LARGE_COMMUNITIES_LENGTH', what: 'LARGE_COMMUNITY of 8 octets', wire: withNlri(...good, attr(0xc0, 32, [...u32b(1), ...u32b(2)])) },
  { code: 'OTC_LENGTH', what: 'OTC of 2 octets', wire: withNlri(...good, attr(0xc0, 35, [0, 1])) },
  { code: 'ROUTE_REFRESH_LENGTH', what: 'ROUTE-REFRESH of 5 octets', wire: msg(5, '0001 00 01 00'), notification: [7, 1] },
  { code: 'ROUTE_REFRESH_SUBTYPE', what: 'subtype 3', wire: msg(5, '0001 03 01') },
];

const prefixes = (u: UpdateMessage, field: 'withdrawn4' | 'announced') =>
  field === 'withdrawn4' ? Array.from(u.withdrawn4, formatPrefix) : u.reach.flatMap((r) => Array.from(r.prefixes as ArrayLike<number>, formatPrefix));

describe('the malformation table', () => {
  it('has a real input here for every row', () => {
    expect(new Set(CASES.map((c) => c.code))).toEqual(new Set(Object.keys(MALFORMATIONS)));
    for (const [code, m] of Object.entries(MALFORMATIONS)) {
      expect(m.rfc, code).toMatch(/RFC \d+/);
      expect(m.text.length, code).toBeGreaterThan(10);
    }
  });

  for (const c of CASES) {
    const m = MALFORMATIONS[c.code];
    it(`${c.code}: ${c.what} → ${m.action}`, () => {
      const out = run(c.wire, c.o ?? IBGP);
      if (m.action === 'session-reset') {
        expect('thrown' in out, 'thrown').toBe(true);
        const e = (out as { thrown: BgpError }).thrown;
        expect(e.code).toBe(c.code);
        expect(e.action).toBe('session-reset');
        expect([e.notification.code, e.notification.subcode]).toEqual(c.notification ?? [m.code, m.subcode]);
        return;
      }
      expect('message' in out, 'decoded').toBe(true);
      const got = (out as { message: Message | BgpError }).message;
      if (m.action === 'ignore') {
        expect(got).toBeInstanceOf(BgpError);
        expect((got as BgpError).code).toBe(c.code);
        return;
      }
      const u = got as UpdateMessage;
      expect(u.type).toBe('update');
      expect(u.errors.map((e) => e.code)).toContain(c.code);
      const e = u.errors.find((x) => x.code === c.code)!;
      expect(e.action).toBe(m.action);
      if (m.action === 'treat-as-withdraw') {
        // the UPDATE's routes are withdrawn, not announced, and the session stays up
        expect(u.reach).toEqual([]);
        expect(prefixes(u, 'withdrawn4')).toEqual(['10.10.0.0/16']);
      } else {
        // attribute discard: the route stands, without the attribute
        expect(prefixes(u, 'announced')).toEqual(['10.10.0.0/16']);
        expect(u.withdrawn4.length).toBe(0);
      }
    });
  }

  it('keeps the later attributes aligned after a treat-as-withdraw error, and picks the strongest outcome', () => {
    const u = decodeUpdate(withNlri(ORIGIN_IGP, asPath4(65001), attr(0x40, 3, [192, 0]), attr(0x80, 4, u32b(5)), attr(0xc0, 7, [1])).subarray(19), IBGP);
    expect(u.errors.map((e) => [e.code, e.action])).toEqual([
      ['NEXT_HOP_LENGTH', 'treat-as-withdraw'],
      ['AGGREGATOR_LENGTH', 'attribute-discard'],
    ]);
    expect(prefixes(u, 'withdrawn4')).toEqual(['10.10.0.0/16']);
  });

  it('puts the malformed attribute in the NOTIFICATION data', () => {
    const out = run(updateMsg({ attrs: [attr(0xc0, 14, [0, 2, 1, 0, 0])] }), IBGP) as { thrown: BgpError };
    expect(Buffer.from(out.thrown.notification.data).toString('hex')).toBe('c00e050002010000');
  });
});

describe('published malformed-attribute cases', () => {
  const decode = (wire: Uint8Array, o = EBGP) => decodeUpdate(wire.subarray(19), o, new AttributeInterner());
  const thrown = (f: () => unknown): BgpError => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(BgpError);
      return e as BgpError;
    }
    throw new Error('no error');
  };

  it('CVE-2023-38802 (FRR): a corrupted TUNNEL_ENCAPSULATION attribute is treat-as-withdraw, not a reset', () => {
    // attribute 23 whose tunnel TLV claims more octets than the attribute holds
    const bad = withNlri(...good, attr(0xc0, 23, [0x00, 0x0b, 0x00, 0x20, 0x01, 0x02, 0x00, 0x00]));
    const u = decode(bad);
    expect(u.errors.map((e) => [e.code, e.action])).toEqual([['TUNNEL_ENCAPSULATION_MALFORMED', 'treat-as-withdraw']]);
    expect(prefixes(u, 'withdrawn4')).toEqual(['10.10.0.0/16']);
    // the next UPDATE on the session decodes as usual, and a well-formed attribute 23 passes
    const ok = decode(withNlri(...good, attr(0xc0, 23, [0x00, 0x0b, 0x00, 0x04, 0x01, 0x02, 0xab, 0xcd])));
    expect(ok.errors).toEqual([]);
    expect(ok.reach[0]!.attrs.tunnelEncapsulation).toBe('000b00040102abcd');
  });

  it('CVE-2023-46752 (FRR): a malformed MP_REACH_NLRI resets the session with Optional Attribute Error, never crashes', () => {
    const short = thrown(() => decode(updateMsg({ attrs: [attr(0x80, 14, [0x00, 0x02, 0x01]), ORIGIN_IGP, asPath4(65001)] })));
    expect([short.code, short.notification.code, short.notification.subcode]).toEqual(['MP_REACH_MALFORMED', 3, 9]);
    // next hop length running past the end of the attribute
    const nh = thrown(() => decode(updateMsg({ attrs: [attr(0x80, 14, [0x00, 0x02, 0x01, 0x20, 0x20, 0x01, 0x0d, 0xb8]), ORIGIN_IGP, asPath4(65001)] })));
    expect([nh.code, nh.action, nh.afi, nh.safi]).toEqual(['MP_REACH_MALFORMED', 'session-reset', 2, 1]);
    // a prefix length past 128 inside MP_REACH_NLRI
    const p = thrown(() => decode(updateMsg({ attrs: [attr(0x80, 14, [0x00, 0x02, 0x01, 16, ...new Array<number>(16).fill(0x20), 0, 0x90, 1, 2]), ORIGIN_IGP, asPath4(65001)] })));
    expect([p.code, p.notification.subcode]).toEqual(['MP_NLRI_SYNTAX', 9]);
  });

  it('CVE-2023-46753 (FRR): an UPDATE with only an unknown transitive attribute is treat-as-withdraw for its NLRI', () => {
    const unknown31 = attr(0xc0, 31, new Array<number>(16).fill(0x41));
    const u = decode(updateMsg({ attrs: [unknown31], nlri: route }));
    expect(u.errors.map((e) => [e.code, e.action, e.attribute])).toEqual([
      ['ATTR_MISSING', 'treat-as-withdraw', 1],
      ['ATTR_MISSING', 'treat-as-withdraw', 2],
      ['ATTR_MISSING', 'treat-as-withdraw', 3],
    ]);
    expect(u.reach).toEqual([]);
    expect(prefixes(u, 'withdrawn4')).toEqual(['10.10.0.0/16']);
    // without NLRI it announces nothing, withdraws nothing, and is no End-of-RIB
    const v = decode(updateMsg({ attrs: [unknown31] }));
    expect([v.reach, v.withdrawn4.length, v.endOfRib, v.errors]).toEqual([[], 0, null, []]);
  });

  it('CVE-2023-47234 (FRR): MP_UNREACH_NLRI plus NLRI without mandatory attributes withdraws both, no reset', () => {
    const u = decode(updateMsg({ attrs: [attr(0x80, 15, [0x00, 0x02, 0x01, 0x30, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01])], nlri: nlri('10.20.0.0/16', '10.21.0.0/16') }));
    expect(u.errors.map((e) => e.code)).toEqual(['ATTR_MISSING', 'ATTR_MISSING', 'ATTR_MISSING']);
    expect(u.withdrawn6.map(formatPrefix)).toEqual(['2001:db8:1::/48']);
    expect(prefixes(u, 'withdrawn4')).toEqual(['10.20.0.0/16', '10.21.0.0/16']);
    expect(u.reach).toEqual([]);
  });

  it('CVE-2026-30405 (GoBGP): a NEXT_HOP shorter than 4 octets is treat-as-withdraw and the attributes after it stay aligned', () => {
    for (const len of [0, 1, 2, 3]) {
      const u = decode(withNlri(ORIGIN_IGP, asPath4(65001), attr(0x40, 3, [192, 0, 2, 1].slice(0, len)), attr(0xc0, 8, u32b(0xfde90001)), asPath4(65002)));
      // the duplicate AS_PATH after it is seen as a duplicate, which proves the parser stayed on attribute boundaries
      expect(u.errors.map((e) => [e.code, e.action]), `length ${len}`).toEqual([
        ['NEXT_HOP_LENGTH', 'treat-as-withdraw'],
        ['ATTR_DUPLICATE', 'attribute-discard'],
      ]);
      expect(prefixes(u, 'withdrawn4')).toEqual(['10.10.0.0/16']);
    }
  });
});
