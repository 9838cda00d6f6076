// When to run Rib.flush() after its `schedule` event (the caller's choice: the RIB itself has
// no timers). A few changed destinations (a lone UPDATE) are flushed from microtasks, so the
// route reaches the FIB in the same turn of the event loop as the UPDATE, the FIB first
// (flushFib; the FIB's own microtask runs before the flush that encodes and writes to the
// peers); more (a slice of a bulk feed) wait for setImmediate, so that the changes of a whole
// turn go out as one flush.
import { Mark, mark } from '../sys/hops.js';
import type { Rib } from './rib.js';

/** Changed destinations up to which the flush runs from a microtask rather than setImmediate. */
export const SMALL_FLUSH = 64;

/**
 * Run `run` (which calls rib.flush()) once the current task's synchronous work is done: when at
 * most SMALL_FLUSH destinations wait then, the FIB's part at once and `run` in a microtask
 * after the FIB's; else `run` from setImmediate.
 */
export function flushSoon(rib: Rib, run: () => void): void {
  queueMicrotask(() => {
    if (rib.changes > SMALL_FLUSH) {
      setImmediate(run);
      return;
    }
    mark(Mark.ribFlush);
    rib.flushFib();
    queueMicrotask(run);
  });
}
