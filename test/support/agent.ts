// `routelet agent` as a real child process inside a test's network namespace: the harness lives
// in bench/agent.ts, shared with the benchmarks (bench/cluster.ts).
export * from '../../bench/agent.js';
