// The scheduling policy of V8's worker threads (native/runtime_threads.cc says why and how).
import { addon, checkInt, type NativeOutcome } from './addon.js';
import type { V8WorkerPolicy } from '../config/index.js';

export interface WorkerPolicyOutcome extends NativeOutcome {
  /** workers Node's platform reports (Node 20 counts its delayed-task thread among them) */
  workers?: number;
  /** the threads set, by thread ID */
  threads?: number[];
}

interface ThreadsAddon {
  setWorkerThreadsPolicy(policy: V8WorkerPolicy, timeoutMs: number): WorkerPolicyOutcome;
  setThreadsPolicy(tids: number[], policy: V8WorkerPolicy): NativeOutcome;
}

/**
 * Set every V8 worker thread of this process to SCHED_BATCH (`batch`) or SCHED_OTHER
 * (`normal`). Blocks the calling thread up to about 100 ms while the workers take the task
 * (up to timeoutMs when they are busy). Never throws for a system error: see `ok`.
 */
export function setV8WorkerPolicy(policy: V8WorkerPolicy, timeoutMs = 1000): WorkerPolicyOutcome {
  checkInt('timeoutMs', timeoutMs, 1, 60_000);
  return addon<ThreadsAddon>().setWorkerThreadsPolicy(policy, timeoutMs);
}

/** Set these threads (found by setV8WorkerPolicy) again, from this thread: a system call each, no wait. */
export function setThreadsPolicy(tids: readonly number[], policy: V8WorkerPolicy): NativeOutcome {
  for (const t of tids) checkInt('tid', t, 1, 2 ** 31 - 1);
  return addon<ThreadsAddon>().setThreadsPolicy([...tids], policy);
}
