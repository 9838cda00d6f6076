// The state the FIB and its Reconciler share: the kernel queue, the next-hop table, the
// per-prefix columns (table.ts), one index per family, and the few mutations both make
// (new slot, dirty, stale, forget, failure). fib.ts owns the flushing and the answers;
// reconcile.ts owns adoption, resync and the monitor policy. Both depend on this module and
// neither on the other's internals: what a mutation must set off in the FIB (a flush, the
// retry timer, waiters) reaches it through the hooks given at construction.
import type { Logger } from '../log.js';
import type { Prefix, Prefix4, Prefix6 } from '../net/prefix.js';
import type { RouteQueue } from '../native/netlink.js';
import type { NexthopTable } from './nexthops.js';
import { DIRTY, FamilyTable, STALE, type Failure, type KernelState, type Slots } from './table.js';

export type AnyTable = FamilyTable<Prefix>;

/** What a change of the shared state sets off in the FIB. */
export interface FibStateHooks {
  /** a prefix joined a dirty queue: flush now or soon */
  dirtied(): void;
  /** a failed route wants to be retried at this time (ms since the epoch) */
  retryAt(at: number): void;
  /** a prefix's state settled (undefined: forgotten): resolve who waits for it */
  wake(p: Prefix, state: KernelState | undefined): void;
}

export interface FibStateOptions {
  queue: RouteQueue;
  nexthops: NexthopTable;
  slots: Slots;
  protocol: number;
  table: number;
  log: Logger | undefined;
}

export class FibState {
  readonly queue: RouteQueue;
  readonly nexthops: NexthopTable;
  /** per-prefix state, in columns by slot (table.ts) */
  readonly slots: Slots;
  /** rtm_protocol and table of our routes */
  readonly protocol: number;
  readonly table: number;
  readonly log: Logger | undefined;
  /** interface names seen in link events, for failure reasons */
  readonly deviceNames = new Map<number, string>();
  readonly t4 = new FamilyTable<Prefix4>();
  readonly t6 = new FamilyTable<Prefix6>();
  readonly counters = { writes: 0, restored: 0, retries: 0, resyncs: 0 };
  #staleRoutes = 0;
  readonly #hooks: FibStateHooks;

  constructor(o: FibStateOptions, hooks: FibStateHooks) {
    this.queue = o.queue;
    this.nexthops = o.nexthops;
    this.slots = o.slots;
    this.protocol = o.protocol;
    this.table = o.table;
    this.log = o.log;
    this.#hooks = hooks;
  }

  get staleRoutes(): number {
    return this.#staleRoutes;
  }

  get dirtyCount(): number {
    return this.t4.dirtyCount + this.t6.dirtyCount;
  }

  tables(): [AnyTable, AnyTable] {
    return [this.t4 as AnyTable, this.t6 as AnyTable];
  }

  tableOf(p: Prefix): AnyTable {
    return (typeof p === 'number' ? this.t4 : this.t6) as AnyTable;
  }

  /** The slot of a prefix, or undefined when we do not hold it. */
  slotOf(p: Prefix): number | undefined {
    return this.tableOf(p).index.get(p);
  }

  /** A new prefix whose kernel route is `installed` (a handle, or UNKNOWN), wanted as it is. */
  newSlot(t: AnyTable, p: Prefix, installed: number, stale: boolean): number {
    const i = this.slots.alloc();
    this.slots.setInstalled(i, installed);
    this.slots.setDesired(i, installed);
    if (stale) {
      this.slots.flags[i]! |= STALE;
      this.#staleRoutes++;
    }
    t.index.set(p, i);
    return i;
  }

  markDirty(t: AnyTable, p: Prefix, i: number): void {
    const flags = this.slots.flags;
    if (flags[i]! & DIRTY) return;
    flags[i]! |= DIRTY;
    t.dirty.push(p);
    t.dirtySlots.push(i);
    this.#hooks.dirtied();
  }

  unstale(i: number): void {
    if (!(this.slots.flags[i]! & STALE)) return;
    this.slots.flags[i]! &= ~STALE;
    this.#staleRoutes--;
  }

  /** Forget a prefix whose route is gone and not wanted. */
  forget(t: AnyTable, p: Prefix, i: number): void {
    this.unstale(i);
    if (this.slots.failures.has(i)) t.failed.delete(p);
    this.slots.retire(i);
    t.index.delete(p);
    this.#hooks.wake(p, undefined);
  }

  /** Mark a prefix failed; it is retried at failure.retryAt. */
  recordFailure(t: AnyTable, p: Prefix, i: number, failure: Failure): void {
    this.slots.failures.set(i, failure);
    t.failed.add(p);
    this.#hooks.retryAt(failure.retryAt);
    this.#hooks.wake(p, this.slots.state(i));
  }

  /** Retry every failed route at once (a link came up, an address appeared). */
  retryFailedNow(): void {
    for (const t of this.tables()) {
      for (const p of t.failed) {
        const i = t.index.get(p);
        const f = i === undefined ? undefined : this.slots.failures.get(i);
        if (!f) continue;
        f.retryAt = 0;
        f.attempts = 0;
        this.markDirty(t, p, i!);
      }
    }
  }
}
