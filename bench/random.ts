// Deterministic inputs for the benchmarks: the lab's seeded xorshift32 generator, and IPv4
// prefix tables with the length mix of a transit feed. Each benchmark makes its own generator,
// so its input is the same from run to run.
import { prefix4 } from '#dist/net/prefix.js';
import type { Random } from '#dist/lab/random.js';

export { SEED, type Random, xorshift32 } from '#dist/lab/random.js';

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
