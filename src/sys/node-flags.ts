// How node starts `routelet agent`: the image's entry point (deploy/Dockerfile), the lab, the
// benchmarks and the tests' agents all start it with these flags, so that what is measured is
// what runs on a node; `routelet bench fib` runs itself again with them (src/cli/bench.ts).
//
// A young generation of fixed size: two semi-spaces of 16 MiB, the largest V8 grows them to by
// default on 64-bit. Left to itself V8 starts them at 1 MiB, doubles them as objects survive
// and shrinks them again when allocation slows; every regrowth maps fresh pages, each faulted
// in on first touch, on the route path. A page fault costs about 11 µs on this project's VM:
// in `routelet bench fib` one single route change in two took one while the young generation
// regrew, and those stretches ran at a p50 of 21 µs instead of 10 µs (src/fib/README.md).
// Node takes --min-semi-space-size only on its command line, not in NODE_OPTIONS.
export const SEMI_SPACE_MIB = 16;
export const AGENT_NODE_FLAGS: readonly string[] = [`--min-semi-space-size=${SEMI_SPACE_MIB}`, `--max-semi-space-size=${SEMI_SPACE_MIB}`];

/** Whether this process was started with every flag of AGENT_NODE_FLAGS. */
export function hasAgentNodeFlags(execArgv: readonly string[] = process.execArgv): boolean {
  return AGENT_NODE_FLAGS.every((f) => execArgv.includes(f));
}

