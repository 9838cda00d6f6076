// The Prefix4 hash table against a Map under random inserts, updates and deletes (deletes
// shift probe runs backwards, the delicate part), with one shard (long probe runs) and with
// the default 256; and its growth a shard at a time.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prefix4 } from '../../src/net/prefix.js';
import { PrefixTable4 } from '../../src/net/table4.js';

describe('PrefixTable4', () => {
  it.each([0, 8])('behaves like a Map (%i shard bits)', (shardBits) => {
    // a small key space forces collisions, long probe runs and wrap-around
    const key = fc.tuple(fc.nat(63), fc.constantFrom(8, 16, 24, 32)).map(([a, l]) => prefix4((a * 0x01010101) >>> 0, l));
    const op = fc.tuple(fc.constantFrom('set', 'delete', 'get'), key, fc.nat());
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const t = new PrefixTable4<number>(0, shardBits);
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
        expect([...t.values()].sort()).toEqual([...m.values()].sort());
        // deleting while iterating, as a Map allows: every entry is visited once
        const seen: number[] = [];
        for (const [k] of t) {
          seen.push(k);
          t.delete(k);
        }
        expect(seen.sort()).toEqual([...m.keys()].sort());
        expect(t.size).toBe(0);
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

  it('grows a shard at a time: no growth rehashes more than a small share of a large table', () => {
    const n = 200_000;
    const sharded = new PrefixTable4<number>();
    const whole = new PrefixTable4<number>(0, 0);
    for (let i = 0; i < n; i++) {
      const p = prefix4((i * 256) >>> 0, 24);
      sharded.set(p, i);
      whole.set(p, i);
    }
    // one shard: the last doubling moves most of the table at once
    expect(whole.largestGrowth).toBeGreaterThan(n / 3);
    // 256 shards of about n/256 entries each
    expect(sharded.largestGrowth).toBeLessThan(n / 100);
    for (let i = 0; i < n; i += 997) expect(sharded.get(prefix4((i * 256) >>> 0, 24))).toBe(i);
  });

  it('takes an initial capacity without growing, and refuses a bad shard count', () => {
    const t = new PrefixTable4<number>(10_000);
    for (let i = 0; i < 5_000; i++) t.set(prefix4((i * 256) >>> 0, 24), i);
    expect(t.largestGrowth).toBe(0);
    expect(() => new PrefixTable4<number>(0, 9)).toThrow(/shardBits 9/);
  });
});
