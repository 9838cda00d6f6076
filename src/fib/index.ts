// Kernel route programming: desired-vs-kernel sync over the addon's route queue.
export { Fib, type FibOptions, type FibStats, type KernelState, type NexthopSet } from './fib.js';
export type { RouteChange } from './feed.js';
export type { Hop } from '../native/netlink.js';
