// V8's worker threads between quiet and bulk work (ROUTELET_V8_WORKERS=batch).
//
// Quiet, they run at SCHED_BATCH: a worker woken for a background compile does not preempt
// the JavaScript thread in the middle of a lone route's path (native/runtime_threads.cc). During
// bulk work (a table arriving, a large FIB flush) they run as Node starts them, SCHED_OTHER:
// there they help the JavaScript thread's scavenges, and a table load took about 11 % longer
// without that. Bulk work is signalled by noteBulkWork() (a connection whose frames take the
// shared drain, a FIB batch of 64 routes or more); QUIET_MS after the last signal they go
// back to SCHED_BATCH. A signal costs a clock read while nothing changes.
import { setThreadsPolicy, setV8WorkerPolicy, type WorkerPolicyOutcome } from '../native/threads.js';

/** back to SCHED_BATCH this long after the last bulk work */
export const QUIET_MS = 1000;

interface State {
  readonly threads: readonly number[];
  readonly quietMs: number;
  batch: boolean;
  lastBulk: number;
  timer: NodeJS.Timeout | undefined;
  /** a switch that failed (the threads stay as they were): said by the caller of start */
  onError: (message: string) => void;
}

let state: State | null = null;

/**
 * Find V8's workers and set them to SCHED_BATCH; from then on noteBulkWork() switches them.
 * Blocks about 100 ms (setV8WorkerPolicy).
 */
export function startWorkerPolicy(o: { quietMs?: number; onError?: (message: string) => void } = {}): WorkerPolicyOutcome {
  stopWorkerPolicy();
  const r = setV8WorkerPolicy('batch');
  if (r.threads?.length) state = { threads: r.threads, quietMs: o.quietMs ?? QUIET_MS, batch: true, lastBulk: 0, timer: undefined, onError: o.onError ?? (() => {}) };
  return r;
}

/** Forget the workers (they stay as they are); noteBulkWork() does nothing again. */
export function stopWorkerPolicy(): void {
  if (state?.timer) clearTimeout(state.timer);
  state = null;
}

/** Bulk work under way: the workers at SCHED_OTHER now, SCHED_BATCH again once it has been quiet a while. */
export function noteBulkWork(): void {
  const s = state;
  if (s === null) return;
  s.lastBulk = Date.now();
  if (s.batch) set(s, false);
  s.timer ??= setTimeout(() => quietCheck(s), s.quietMs).unref();
}

function quietCheck(s: State): void {
  s.timer = undefined;
  if (state !== s) return;
  const left = s.quietMs - (Date.now() - s.lastBulk);
  if (left > 0) s.timer = setTimeout(() => quietCheck(s), left).unref();
  else set(s, true);
}

function set(s: State, batch: boolean): void {
  const r = setThreadsPolicy(s.threads, batch ? 'batch' : 'normal');
  if (r.ok) s.batch = batch;
  else {
    // leave the policy alone from now on rather than retry on every signal
    s.onError(`V8 worker threads: switching to SCHED_${batch ? 'BATCH' : 'OTHER'} failed: ${r.message}`);
    stopWorkerPolicy();
  }
}

/** Whether the workers are at SCHED_BATCH now (null: not managed); for tests. */
export function workersBatch(): boolean | null {
  return state === null ? null : state.batch;
}
