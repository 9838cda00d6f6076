// The FIB with its kernel side: fib.ts and reconcile.ts share FibState (state.ts) and
// neither imports the other; this is where they meet.
import { Fib, type FibOptions } from './fib.js';
import { Reconciler } from './reconcile.js';

/** Open the route queue (and monitor) in the namespace. Throws in Node's shape (ENOENT, EPERM). */
export function openFib(o: FibOptions): Promise<Fib> {
  return Fib.openWith(o, (state, resyncDelayMs) => new Reconciler(state, resyncDelayMs));
}
