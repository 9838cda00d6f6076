// The hot-path specialisations of the codec checked against the general code they stand in
// for: the NLRI loops that read from a constant scratch against the in-place loops, the
// word-writing IPv4 encoder against writePrefix4/checkPrefix4, the interner's key store
// through growth, compaction and sweeps, the next-hop text caches on colliding addresses,
// and frames decoded in place against decodeUpdate() of their body.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AttributeInterner,
  BgpError,
  codecOptions,
  decodeMessage,
  decodeUpdate,
  encodeAnnouncements,
  encodeWithdrawals,
  Framer,
  makeAttributes,
  type PathAttributes,
  type UpdateMessage,
} from '../../src/bgp/codec/index.js';
import { checkPrefix4, decodeNlri4, decodeNlri4InPlace, decodeNlri6, decodeNlri6InPlace, writePrefix4 } from '../../src/bgp/codec/nlri.js';
import { formatIPv4, formatIPv6 } from '../../src/net/ip.js';
import { prefix4, prefix6 } from '../../src/net/prefix.js';
import { asPath4, attr, body, nextHop, nlri, ORIGIN_IGP, u32b, updateMsg } from './helpers.js';

const RUNS = Number(process.env.CODEC_PROPERTY_RUNS ?? 300);

/** A full collection, from inside the test process (node exposes gc() only behind a flag). */
function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
const O4 = codecOptions({ as4: true });

/** The outcome of a decoder: the prefixes (copied out of the shared slab) or the error's code and text. */
function outcome(f: () => { prefixes: ArrayLike<number | string>; pathIds: Uint32Array | null }): unknown {
  try {
    const r = f();
    return { prefixes: Array.from(r.prefixes), pathIds: r.pathIds && Array.from(r.pathIds) };
  } catch (e) {
    if (!(e instanceof BgpError)) throw e;
    return { code: e.code, message: e.message };
  }
}

/** Well-formed NLRI octets, optionally spoiled: a length octet changed or the field cut short. */
function nlriOctets(maxLen: number): fc.Arbitrary<Uint8Array> {
  const one = fc.tuple(fc.integer({ min: 0, max: maxLen }), fc.uint8Array({ minLength: 16, maxLength: 16 })).map(([len, a]) => [len, ...a.subarray(0, (len + 7) >> 3)]);
  return fc
    .tuple(fc.array(one, { maxLength: 40 }), fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }))), fc.nat({ max: 3 }))
    .map(([ps, spoil, cut]) => {
      const b = Uint8Array.from(ps.flat());
      if (spoil && b.length) b[spoil[0] % b.length] = spoil[1];
      return cut && b.length ? b.subarray(0, Math.max(0, b.length - cut)) : b;
    });
}

/** `field` placed in a larger buffer: `before` octets of junk first, `after` octets of junk behind (0: the field ends the ArrayBuffer). */
const placed = (field: Uint8Array, before: number, after: number, junk: number): { b: Uint8Array; start: number; end: number } => {
  const ab = new ArrayBuffer(before + field.length + after + 3);
  const whole = new Uint8Array(ab).fill(junk);
  whole.set(field, 3 + before);
  // a view that starts 3 octets into its ArrayBuffer, as a Buffer from the pool does
  return { b: new Uint8Array(ab, 3), start: before, end: before + field.length };
};

describe('NLRI fast loops against the in-place loops', () => {
  const where = fc.tuple(fc.nat({ max: 40 }), fc.nat({ max: 8 }), fc.integer({ min: 0, max: 255 }));

  it('IPv4: the same prefixes, or the same error, wherever the field lies', () => {
    fc.assert(
      fc.property(nlriOctets(40), where, (field, [before, after, junk]) => {
        const { b, start, end } = placed(field, before, after, junk);
        const fast = outcome(() => decodeNlri4(b, start, end, false, 'UPDATE_NLRI_SYNTAX'));
        expect(fast).toEqual(outcome(() => decodeNlri4InPlace(b, start, end, false, 'UPDATE_NLRI_SYNTAX')));
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('IPv6: the same prefixes, or the same error, wherever the field lies', () => {
    fc.assert(
      fc.property(nlriOctets(136), where, (field, [before, after, junk]) => {
        const { b, start, end } = placed(field, before, after, junk);
        const fast = outcome(() => decodeNlri6(b, start, end, false, 'MP_NLRI_SYNTAX'));
        expect(fast).toEqual(outcome(() => decodeNlri6InPlace(b, start, end, false, 'MP_NLRI_SYNTAX')));
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('every IPv6 octet count (0–16) gives the Prefix6 of prefix6()', () => {
    for (let len = 0; len <= 128; len++) {
      const a = Uint8Array.from({ length: 16 }, (_, i) => (i * 37 + len) | 1);
      const octets = (len + 7) >> 3;
      const got = decodeNlri6(Uint8Array.of(len, ...a.subarray(0, octets)), 0, 1 + octets, false, 'MP_NLRI_SYNTAX').prefixes;
      expect(got, `/${len}`).toEqual([prefix6(a, len)]);
    }
  });

  it('a field bigger than the scratch is decoded in place', () => {
    const field = Buffer.concat(Array.from({ length: 70000 }, (_, i) => Uint8Array.of(8, i & 0xff)));
    const got = decodeNlri4(field, 0, field.length, false, 'UPDATE_NLRI_SYNTAX').prefixes;
    expect(got.length).toBe(70000);
    expect(got[257]).toBe(prefix4(1 << 24, 8));
  });

  it('lists from many messages stay intact while later messages are decoded', () => {
    const kept: { list: ArrayLike<number>; want: number[] }[] = [];
    for (let m = 0; m < 400; m++) {
      const want = Array.from({ length: 1 + (m % 300) }, (_, i) => prefix4(((m << 16) | i) << 8, 24));
      const wire = nlri(...want.map((p) => `${(p / 64 / 2 ** 24) | 0}.${((p / 64) >>> 16) & 0xff}.${((p / 64) >>> 8) & 0xff}.0/24`));
      kept.push({ list: decodeNlri4(wire, 0, wire.length, false, 'UPDATE_NLRI_SYNTAX').prefixes, want });
    }
    for (const k of kept) expect(Array.from(k.list)).toEqual(k.want);
  });
});

describe('IPv4 encoding, words against writePrefix4', () => {
  const ATTRS = makeAttributes({ origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: '192.0.2.1' });
  const reference = (ps: number[]): Buffer => {
    const out = Buffer.alloc(ps.length * 5);
    let at = 0;
    for (const p of ps) at = writePrefix4(out, at, p, undefined);
    return out.subarray(0, at);
  };
  const nlriOf = (msgs: Buffer[]): Buffer =>
    Buffer.concat(
      msgs.map((m) => {
        const w = m.readUInt16BE(19);
        const a = m.readUInt16BE(21 + w);
        return m.subarray(23 + w + a);
      }),
    );

  it('the same octets for any prefixes, across message boundaries', () => {
    const p4 = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 })).map(([a, l]) => prefix4(a, l));
    fc.assert(
      fc.property(fc.array(p4, { maxLength: 2500 }), (ps) => {
        expect(nlriOf(encodeAnnouncements({ family: 4, prefixes: ps, attrs: ATTRS }, O4))).toEqual(reference(ps));
        expect(Buffer.concat(encodeWithdrawals(4, ps, null, O4).map((m) => m.subarray(21, 21 + m.readUInt16BE(19))))).toEqual(reference(ps));
      }),
      { numRuns: RUNS / 3 },
    );
  });

  it('refuses exactly what checkPrefix4 refuses', () => {
    const odd = fc.oneof(
      fc.double({ noNaN: false }),
      fc.integer({ min: -100, max: 100 }),
      fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 63 })).map(([a, l]) => a * 64 + l),
      fc.constantFrom(2 ** 38, 2 ** 38 - 31, 2 ** 38 - 32, -64, 0.5, 64.25, Infinity, -Infinity, NaN),
    );
    fc.assert(
      fc.property(odd, (x) => {
        let valid = true;
        try {
          checkPrefix4(x);
        } catch (e) {
          expect(e).toBeInstanceOf(RangeError);
          valid = false;
        }
        const run = () => encodeAnnouncements({ family: 4, prefixes: [x], attrs: ATTRS }, O4);
        if (valid) expect(nlriOf(run())).toEqual(reference([x]));
        else expect(run).toThrow(RangeError);
      }),
      { numRuns: RUNS * 3 },
    );
  });
});

/** UPDATE with one /24 and a set made distinct by a long AS path and communities. */
function distinctUpdate(i: number, nh = '192.0.2.1'): Buffer {
  const communities = attr(0xc0, 8, Array.from({ length: 10 }, (_, k) => u32b((i * 7919 + k) >>> 0)).flat());
  return updateMsg({ attrs: [ORIGIN_IGP, asPath4(65000, 4200000000 + i, i + 1, 7, 8, 9), nextHop(nh), communities], nlri: nlri(`10.${(i >> 8) & 0xff}.${i & 0xff}.0/24`) });
}

describe('the interner key store', () => {
  it('finds every live set again through growth of the store and sweeps', () => {
    const interner = new AttributeInterner();
    const wires = Array.from({ length: 6000 }, (_, i) => distinctUpdate(i));
    const first = wires.map((w) => decodeUpdate(body(w), O4, interner).reach[0]!.attrs);
    expect(new Set(first).size).toBe(6000);
    const again = wires.map((w) => decodeUpdate(body(w), O4, interner).reach[0]!.attrs);
    again.forEach((a, i) => expect(a, `set ${i}`).toBe(first[i]));
    expect(interner.stats.hits).toBe(6000);
    // sweeps ran (6,000 entries, sweeping from 1,024) and weakened the earlier entries: they still hold
    interner.sweep();
    wires.forEach((w, i) => expect(decodeUpdate(body(w), O4, interner).reach[0]!.attrs).toBe(first[i]));
    // and the content is what was sent
    expect(first[4321]!.asPath![0]!.asns).toEqual([65000, 4200004321, 4322, 7, 8, 9]);
    expect(first[4321]!.communities![0]).toBe((4321 * 7919) >>> 0);
  });

  it('moves the keys still listed into a new store once most of it belongs to collected sets', async () => {
    const gc = fullGc();
    const interner = new AttributeInterner();
    const wires = Array.from({ length: 3000 }, (_, i) => distinctUpdate(i));
    const kept: PathAttributes[] = [];
    wires.forEach((w, i) => {
      const a = decodeUpdate(body(w), O4, interner).reach[0]!.attrs;
      if (i % 10 === 0) kept.push(a);
    });
    interner.sweep(); // every entry weak now
    await new Promise((resolve) => setImmediate(resolve)); // a WeakRef holds its target until the job ends
    gc();
    interner.sweep(); // drops the entries of the collected nine tenths
    expect(interner.stats.entries).toBeLessThan(1000);
    // new sets fill the store: it is compacted, and later grows
    const more = Array.from({ length: 3000 }, (_, i) => distinctUpdate(10000 + i));
    const fresh = more.map((w) => decodeUpdate(body(w), O4, interner).reach[0]!.attrs);
    kept.forEach((a, k) => expect(decodeUpdate(body(wires[k * 10]!), O4, interner).reach[0]!.attrs, `kept ${k}`).toBe(a));
    fresh.forEach((a, k) => expect(decodeUpdate(body(more[k]!), O4, interner).reach[0]!.attrs, `new ${k}`).toBe(a));
  });

  it('entries under one hash are told apart by every key octet', () => {
    const interner = new AttributeInterner();
    const sets = Array.from({ length: 4 }, (_, i) => makeAttributes({ origin: 0, med: i }));
    const keys = [Buffer.from('W-abcdef'), Buffer.from('W-abcdeg'), Buffer.from('X-abcdef'), Buffer.from('W-abcde')];
    keys.forEach((k, i) => {
      expect(interner.find(k, k.length, 7)).toBeUndefined();
      interner.insert(k, k.length, 7, sets[i]!);
    });
    keys.forEach((k, i) => expect(interner.find(k, k.length, 7)).toBe(sets[i]));
    expect(interner.find(Buffer.from('W-abcdeh'), 8, 7)).toBeUndefined();
  });

  it('a key that differs in one octet is another set', () => {
    const interner = new AttributeInterner();
    const a = decodeUpdate(body(distinctUpdate(1)), O4, interner).reach[0]!.attrs;
    const b = decodeUpdate(body(distinctUpdate(1, '192.0.2.2')), O4, interner).reach[0]!.attrs;
    expect(b).not.toBe(a);
    expect(b.nextHop).toBe('192.0.2.2');
    expect(decodeUpdate(body(distinctUpdate(1)), O4, interner).reach[0]!.attrs).toBe(a);
  });
});

describe('next-hop text caches', () => {
  it('IPv4: the text of the address sent, also for addresses sharing a cache slot', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 3000 }), (addrs) => {
        const interner = new AttributeInterner();
        for (const a of addrs) {
          const text = formatIPv4(a);
          expect(decodeUpdate(body(distinctUpdate(7, text)), O4, interner).reach[0]!.attrs.nextHop).toBe(text);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('IPv4: every address of a /20 in turn (neighbours that share a slot)', () => {
    const interner = new AttributeInterner();
    for (let round = 0; round < 2; round++)
      for (let i = 0; i < 4096; i++) {
        const text = `10.0.${i >> 8}.${i & 0xff}`;
        expect(decodeUpdate(body(distinctUpdate(9, text)), O4, interner).reach[0]!.attrs.nextHop).toBe(text);
      }
  });

  it('IPv6: addresses that differ in their last octets only', () => {
    const interner = new AttributeInterner();
    const base = makeAttributes({ origin: 0, asPath: [{ type: 2, asns: [65001] }] });
    const g = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(12).fill(0)]);
    const l = Uint8Array.from([0xfe, 0x80, ...new Array<number>(13).fill(0), 1]);
    for (let i = 0; i < 4096; i++) {
      // first the last two octets vary, then the first two
      if (i < 2048) [g[14], g[15]] = [i >> 8, i & 0xff];
      else [g[0], g[1], g[14], g[15]] = [0x20 ^ ((i >> 8) & 7), i & 0xff, 0, 0];
      l[13] = i & 0xff;
      const want = [formatIPv6(g), formatIPv6(l)];
      const [wire] = encodeAnnouncements({ family: 6, prefixes: [prefix6(g, 64)], attrs: makeAttributes({ ...base, nextHop: want[0], linkLocalNextHop: want[1] }) }, O4);
      const got = decodeUpdate(body(wire!), O4, interner).reach[0]!.attrs;
      expect([got.nextHop, got.linkLocalNextHop]).toEqual(want);
    }
  });

  it('IPv6: global and link-local text of the addresses sent', () => {
    const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
    fc.assert(
      fc.property(fc.array(fc.tuple(addr, addr), { minLength: 1, maxLength: 1500 }), (pairs) => {
        const interner = new AttributeInterner();
        const attrs = makeAttributes({ origin: 0, asPath: [{ type: 2, asns: [65001] }] });
        for (const [g, l] of pairs) {
          if (l.every((x) => x === 0)) l[15] = 1;
          const set = makeAttributes({ ...attrs, nextHop: formatIPv6(g), linkLocalNextHop: formatIPv6(l) });
          const [wire] = encodeAnnouncements({ family: 6, prefixes: [prefix6(g, 48)], attrs: set }, O4);
          const got = decodeUpdate(body(wire!), O4, interner).reach[0]!.attrs;
          expect([got.nextHop, got.linkLocalNextHop]).toEqual([formatIPv6(g), formatIPv6(l)]);
        }
      }),
      { numRuns: 20 },
    );
  });
});

describe('frames decoded where they lie', () => {
  it('frames carry the octets of their message, and decode as decodeUpdate(body) does', () => {
    const wires = Array.from({ length: 50 }, (_, i) => distinctUpdate(i));
    const stream = Buffer.concat(wires);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 6 }), (cuts) => {
        const at = [0, ...new Set(cuts)].sort((a, b) => a - b);
        const framer = new Framer();
        const frames = at.flatMap((s, i) => framer.push(stream.subarray(s, at[i + 1] ?? stream.length)));
        expect(frames.map((f) => Buffer.from(f.raw))).toEqual(wires);
        const inPlace = new AttributeInterner();
        const viaBody = new AttributeInterner();
        for (const [i, f] of frames.entries()) {
          expect(Buffer.from(f.body)).toEqual(wires[i]!.subarray(19));
          const a = decodeMessage(f, O4, inPlace) as UpdateMessage;
          expect(a).toEqual(decodeUpdate(f.body, O4, viaBody));
        }
      }),
      { numRuns: RUNS / 10 },
    );
  });
});
