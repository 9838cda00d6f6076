// Inputs that once crashed the decoder with an exception other than BgpError (issue 12),
// each decoded as the agent decodes it: Framer, then decodeMessage with the session's options.
import { describe, expect, it } from 'vitest';
import { AttributeInterner, BgpError, codecOptions, decodeMessage, Framer, sharedInterner, type UpdateMessage } from '../../src/bgp/codec/index.js';
import { formatPrefix } from '../../src/net/prefix.js';
import { ORIGIN_IGP, asPath4, attr, hex, nextHop, nlri, updateMsg } from './helpers.js';

const EBGP = codecOptions({ as4: true, ebgp: true });
const IBGP = codecOptions({ as4: true, ebgp: false });

function decode(wire: Uint8Array, o = EBGP, interner = new AttributeInterner()): UpdateMessage {
  const frames = new Framer().push(wire);
  expect(frames).toHaveLength(1);
  const m = decodeMessage(frames[0]!, o, interner);
  if (m instanceof BgpError || m.type !== 'update') throw new Error(`not an UPDATE: ${String(m)}`);
  return m;
}

/** an MP_REACH_NLRI for IPv6 unicast with a 16-octet next hop */
const mpReach6 = (nh: number[], ...prefixes: string[]) => attr(0x80, 14, [0, 2, 1, 16, ...nh, 0, ...nlri(...prefixes)]);

describe('issue 12: one malformed UPDATE must not take the agent down', () => {
  // the UPDATE of the report: ORIGIN, AS_PATH, NEXT_HOP, two unknown optional transitive
  // attributes out of order (types 128 and 64, Partial set), COMMUNITIES, and MP_REACH_NLRI
  // with an all-zero IPv6 next hop, plus a prefix in the NLRI field: two sets (one per next
  // hop) were finished from one builder, and the second sorted the list of unknown
  // attributes the first had frozen
  const REPORTED =
    'ffffffffffffffffffffffffffffffff0068020000004d4001010040020602010000fdeb4003040a6f0003e3800404d5de6ce440050400000064c00808e6e5b7f5c5e5eb5c800e1c00020110000000000000000000000000000000000030fd0009830000180ac809';

  it('decodes the reported UPDATE: both reaches, the unknown attributes passed on in type order', () => {
    for (const interner of [new AttributeInterner(), sharedInterner]) {
      const m = decode(hex(REPORTED), EBGP, interner);
      expect(m.reach.map((r) => r.family)).toEqual([4, 6]);
      expect(Array.from(m.reach[0]!.prefixes as Float64Array, (p) => formatPrefix(p))).toEqual(['10.200.9.0/24']);
      expect(m.reach[1]!.prefixes.map((p) => formatPrefix(p))).toEqual(['fd00:983::/48']);
      expect(m.reach[0]!.attrs.nextHop).toBe('10.111.0.3');
      expect(m.reach[1]!.attrs.nextHop).toBe('::');
      for (const r of m.reach) {
        expect(r.attrs.unknown).toEqual([
          { code: 64, flags: 0xe0, value: '0400000064' },
          { code: 128, flags: 0xe0, value: '04d5de6c' },
        ]);
        expect(r.attrs.communities).toEqual([0xe6e5b7f5, 0xc5e5eb5c]);
        expect(Object.isFrozen(r.attrs.unknown)).toBe(true);
      }
      expect(m.errors).toEqual([]);
    }
  });

  it('two next hops and several unknown attributes out of order: each set sorted, neither list shared with the decoder', () => {
    const wire = updateMsg({
      attrs: [ORIGIN_IGP, asPath4(65001), nextHop('192.0.2.1'), attr(0xc0, 200, [1]), attr(0xc0, 150, [2, 3]), attr(0xc0, 99, []), mpReach6([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1], '2001:db8:1::/48')],
      nlri: nlri('10.1.0.0/16'),
    });
    for (const o of [EBGP, IBGP]) {
      const m = decode(wire, o);
      expect(m.errors).toEqual([]);
      expect(m.reach).toHaveLength(2);
      const [a, b] = [m.reach[0]!.attrs, m.reach[1]!.attrs];
      expect(a.unknown!.map((u) => u.code)).toEqual([99, 150, 200]);
      expect(b.unknown!.map((u) => u.code)).toEqual([99, 150, 200]);
      expect(a.unknown).not.toBe(b.unknown);
      // decoding the same octets again (the interner's hits) gives the same sets
      const again = decode(wire, o);
      expect(again.reach.map((r) => r.attrs.unknown!.map((u) => u.code))).toEqual([
        [99, 150, 200],
        [99, 150, 200],
      ]);
    }
  });

  it('one next hop already interned, the other new: the new set is made from the same decoded values', () => {
    const interner = new AttributeInterner();
    const attrs = [ORIGIN_IGP, asPath4(65001), nextHop('192.0.2.1'), attr(0xc0, 201, [9]), attr(0xc0, 130, [8])];
    decode(updateMsg({ attrs, nlri: nlri('10.1.0.0/16') }), EBGP, interner);
    const m = decode(updateMsg({ attrs: [...attrs, mpReach6([0xfe, 0x80, ...new Array<number>(13).fill(0), 7], '2001:db8::/32')], nlri: nlri('10.2.0.0/16') }), EBGP, interner);
    expect(m.reach.map((r) => r.attrs.unknown!.map((u) => u.code))).toEqual([
      [130, 201],
      [130, 201],
    ]);
  });
});
