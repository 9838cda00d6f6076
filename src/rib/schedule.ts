// When to run Rib.flush() after its `schedule` event (the caller's choice: the RIB itself has
// no timers). The FIB's part of a few changed destinations (a lone UPDATE) goes from a
// microtask (flushFib), so the route reaches the FIB in the same turn of the event loop as the
// UPDATE; the flush that encodes and writes to the peers always waits for setImmediate, so
// that the changes of a whole turn go out as one flush: 2,000 RR clients announcing at once
// arrive in one turn's socket callbacks, and one flush per UPDATE wrote each to all 2,000
// (4,000,000 writes, about 45 s here, against one flush of 2,000 routes). More than a few
// (a slice of a bulk feed) wait for setImmediate altogether. A session that handled a lone
// UPDATE inline in its socket's callback says so (the sessions' caughtUp event): then the
// FIB's part goes at once, from that callback (flushFibNow), and only the rest waits for the
// microtask. While a table load's changes wait, the lone UPDATE's own destinations still go at
// once (those changed after a mark taken before it): a new pod's route does not wait for the
// load's next flush, which can take a few hundred milliseconds.
import { Mark, mark } from '../sys/hops.js';
import { microtask } from '../sys/microtask.js';
import type { ChangeMark, Rib } from './rib.js';

/** Changed destinations up to which the flush runs from a microtask rather than setImmediate. */
export const SMALL_FLUSH = 64;

/**
 * The FIB's part of a small flush, now (a lone UPDATE was just handled): true when it ran.
 * When more than SMALL_FLUSH destinations wait (a table load's), `since` (the list's end
 * before the lone UPDATE) hands over those the UPDATE changed first, ahead of the rest; false
 * when those are many too, or the list was flushed since (they keep their turn with the rest).
 */
export function flushFibNow(rib: Rib, since?: ChangeMark): boolean {
  if (rib.changes <= SMALL_FLUSH) {
    mark(Mark.ribFlush);
    rib.flushFib();
    return true;
  }
  if (since === undefined) return false;
  const n = rib.changesSince(since);
  if (n < 0 || n > SMALL_FLUSH) return false;
  mark(Mark.ribFlush);
  rib.flushFibSince(since);
  return true;
}

/**
 * Run `run` (which calls rib.flush()) from setImmediate; first, once the current task's
 * synchronous work is done, the FIB's part when at most SMALL_FLUSH destinations wait then.
 */
export function flushSoon(rib: Rib, run: () => void): void {
  microtask(() => {
    if (rib.changes <= SMALL_FLUSH) {
      mark(Mark.ribFlush);
      rib.flushFib();
    }
    setImmediate(run);
  });
}
