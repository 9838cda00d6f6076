// A seeded xorshift32 generator: the lab's moments (and the benchmarks' inputs) are the same
// from run to run.
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
