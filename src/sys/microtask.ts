// queueMicrotask without its per-call cost. Node's queueMicrotask makes an AsyncResource for
// every callback (an async id, a bound function, a scope to run it in and a destroy hook):
// measured on the FIB's single-route path, about 0.5 KB of garbage a call and several calls a
// route. A reaction on a settled promise goes on the same V8 microtask queue, in the same order
// among other microtasks. Nothing here uses async context (AsyncLocalStorage), which is all the
// AsyncResource would carry. An exception in `f` still ends the process: it rejects a promise
// nobody handles, which Node raises as an uncaught exception by default (as queueMicrotask
// would), and routelet sets no unhandledRejection handler.
const settled = Promise.resolve();

/** Run f once the current synchronous work and the microtasks queued before it are done. */
export function microtask(f: () => void): void {
  void settled.then(f);
}
