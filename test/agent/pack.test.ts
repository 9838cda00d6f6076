// Packing the RIB's message arrays into few Buffers before the sockets (src/agent/pack.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeKeepalive, Framer } from '../../src/bgp/codec/index.js';
import { Packer, packMessages } from '../../src/agent/pack.js';

const msg = (len: number, tag: number): Buffer => {
  const b = Buffer.alloc(len, tag);
  b.fill(0xff, 0, 16);
  b.writeUInt16BE(len, 16);
  b[18] = 2;
  return b;
};

describe('packMessages', () => {
  it('gives the same octets in order, in Buffers of at most the limit, never splitting a message', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 23, max: 5000 }), { maxLength: 300 }), fc.integer({ min: 19, max: 20000 }), (lens, limit) => {
        const msgs = lens.map((l, i) => msg(l, i & 0xff));
        const out = packMessages(msgs, limit);
        expect(Buffer.concat(out as Buffer[]).equals(Buffer.concat(msgs))).toBe(true);
        // each Buffer holds whole messages: framing it alone gives whole frames
        let n = 0;
        for (const b of out) {
          const f = new Framer({ extendedMessage: true });
          n += f.push(b).length;
          expect(f.buffered).toBe(0);
          // over the limit only as one message alone
          if (b.length > limit) expect(msgs).toContain(b);
        }
        expect(n).toBe(msgs.length);
      }),
    );
  });

  it('2,000 small UPDATEs become a few 64 KiB Buffers; a lone or oversized message is not copied', () => {
    const msgs = Array.from({ length: 2000 }, (_, i) => msg(60, i & 0xff));
    const out = packMessages(msgs);
    expect(out.length).toBe(Math.ceil((2000 * 60) / Math.floor(65536 / 60) / 60));
    expect(out.every((b) => b.length <= 65536)).toBe(true);
    const k = encodeKeepalive();
    expect(packMessages([k])[0]).toBe(k);
    const big = msg(65535, 1);
    const mixed = packMessages([k, big, k], 65536);
    expect(mixed.length).toBe(3);
    expect(mixed[1]).toBe(big);
  });
});

describe('Packer', () => {
  it('packs an array once: every member of a group gets the same Buffers', () => {
    const p = new Packer();
    const batch = Array.from({ length: 100 }, (_, i) => msg(100, i));
    const a = p.pack(batch);
    expect(a.length).toBe(1);
    expect(p.pack(batch)).toBe(a);
    expect(p.pack(batch)[0]).toBe(a[0]);
    // another array with the same content is packed on its own
    expect(p.pack([...batch])).not.toBe(a);
  });
});
