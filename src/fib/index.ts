// Kernel route programming: desired-vs-kernel sync over the addon's route queue.
export { openFib } from './open.js';
export { type Fib, type FibOptions, type FibStats, type KernelState, type NexthopSet } from './fib.js';
export type { RouteChange } from './feed.js';
export type { Hop } from '../native/netlink.js';
