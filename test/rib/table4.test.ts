// The Prefix4 hash table against a Map under random inserts, updates and deletes (deletes
// shift probe runs backwards, the delicate part).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefix4 } from '../../src/net/prefix.js';
import { PrefixTable4 } from '../../src/rib/table4.js';

describe('PrefixTable4', () => {
  it('behaves like a Map', () => {
    // a small key space forces collisions, long probe runs and wrap-around
    const key = fc.tuple(fc.nat(63), fc.constantFrom(8, 16, 24, 32)).map(([a, l]) => prefix4((a * 0x01010101) >>> 0, l));
    const op = fc.tuple(fc.constantFrom('set', 'delete', 'get'), key, fc.nat());
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const t = new PrefixTable4<number>();
        const m = new Map<number, number>();
        for (const [o, k, v] of ops) {
          if (o === 'set') {
            t.set(k, v);
            m.set(k, v);
          } else if (o === 'delete') expect(t.delete(k)).toBe(m.delete(k));
          else expect(t.get(k)).toBe(m.get(k));
          expect(t.size).toBe(m.size);
        }
        for (const [k, v] of m) expect(t.get(k)).toBe(v);
        expect([...t.keys()].sort()).toEqual([...m.keys()].sort());
        expect(new Map(t.entries())).toEqual(m);
      }),
      { numRuns: 300 },
    );
  });

  it('holds a large table', () => {
    const t = new PrefixTable4<number>();
    for (let i = 0; i < 100000; i++) t.set(prefix4((i * 256) >>> 0, 24), i);
    for (let i = 0; i < 100000; i += 2) t.delete(prefix4((i * 256) >>> 0, 24));
    expect(t.size).toBe(50000);
    for (let i = 0; i < 100000; i++) expect(t.get(prefix4((i * 256) >>> 0, 24))).toBe(i % 2 ? i : undefined);
  });
});
