// Deterministic inputs for the benchmarks: a seeded xorshift32 generator, and IPv4 prefix
// tables with the length mix of a transit feed. Each benchmark makes its own generator, so
// its input is the same from run to run.
import { prefix4 } from '../net/prefix.js';

export const SEED = 0x2545f491;

export interface Random {
  /** uniform in [0, 1) */
  (): number;
}

export function xorshift32(seed = SEED): Random {
  let s = seed;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

export const pickWith = (rand: Random) => <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

/**
 * `count` IPv4 prefixes not in `seen` (added to it), addresses from 1.0.0.0 up to
 * 1.0.0.0 + span, lengths as a transit table has them: 60 % /24, 20 % /22–/23, 15 % /16–/21,
 * 5 % /8–/15.
 */
export function transitPrefixes4(rand: Random, count: number, seen: Set<number>, span: number): Float64Array {
  const ps = new Float64Array(count);
  for (let k = 0; k < count; ) {
    const r = rand();
    const len = r < 0.6 ? 24 : r < 0.8 ? 22 + Math.floor(rand() * 2) : r < 0.95 ? 16 + Math.floor(rand() * 6) : 8 + Math.floor(rand() * 8);
    const p = prefix4(Math.floor(rand() * span) + 0x01000000, len);
    if (seen.has(p)) continue;
    seen.add(p);
    ps[k++] = p;
  }
  return ps;
}
