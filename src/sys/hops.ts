// Hop marks of the route install path, on a named diagnostics channel (node:diagnostics_channel;
// undici's lib/core/diagnostics.js is the model): where a received UPDATE is on its way from the
// socket to the kernel. Nothing subscribes in the product; a mark then costs one property read.
// bench/hop-trace.ts subscribes (loaded with `node --import` into the agent by bench:latency
// --breakdown) and stamps each mark with the monotonic clock, which the benchmark's own stamps
// share (CLOCK_MONOTONIC, process.hrtime), so the hops line up with its send and arrival times.
import { channel } from 'node:diagnostics_channel';

/** The marks, in path order. */
export const Mark = {
  /** the socket's 'data' callback begins (connection.ts) */
  data: 0,
  /** the chunk is cut into frames */
  framed: 1,
  /** an UPDATE decoded; `value` is its first announced IPv4 prefix (src/net/prefix.ts), or -1 */
  decoded: 2,
  /** the RIB has taken the UPDATE (Rib.update returned) */
  rib: 3,
  /** the RIB's FIB flush begins (rib/schedule.ts, a microtask) */
  ribFlush: 4,
  /** the FIB has the RIB's changes (Fib.update) */
  fib: 5,
  /** the FIB's priority lane begins a batch (Fib.flushUrgent) */
  fibFlush: 6,
  /** the batch goes to the addon (RouteQueue.submit) */
  submit: 7,
  /** the addon returned: the lane's netlink answer is read, or the batch is on the route thread's queue */
  submitted: 8,
  /** the RIB's flush (best paths, exports written to the peers) is done */
  exported: 9,
} as const;
export type MarkName = keyof typeof Mark;

/** What a subscriber receives: the mark's number (Mark) and its value. */
export interface HopMark {
  hop: number;
  value: number;
}

export const HOP_CHANNEL = 'routelet:hop';
const ch = channel(HOP_CHANNEL);
// one object, reused: a subscriber reads it synchronously and keeps nothing of it
const message: HopMark = { hop: 0, value: 0 };

/** Mark hop `h` (with a number that identifies what passes, when there is one). */
export function mark(h: number, value = 0): void {
  if (!ch.hasSubscribers) return;
  message.hop = h;
  message.value = value;
  ch.publish(message);
}
