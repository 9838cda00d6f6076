// The state the FIB and its Reconciler share: the kernel queue, the next-hop table, the
// per-prefix columns (table.ts), one index per family, and the few mutations both make
// (new slot, dirty, stale, forget, failure). fib.ts owns the flushing and the answers;
// reconcile.ts owns adoption, resync and the monitor policy. Both depend on this module and
// neither on the other's internals: what a mutation must set off in the FIB (a flush, the
// retry timer, waiters) reaches it through the hooks given at construction.
import type { Logger } from '../log.js';
import type { Prefix, Prefix4, Prefix6 } from '../net/prefix.js';
import { RouteBatch, type Family, type MonitorEvent, type RouteQueue } from '../native/netlink.js';
import type { HostInterfaces } from './interfaces.js';
import type { NexthopTable } from './nexthops.js';
import { PrefixTable4 } from '../net/table4.js';
import { DIRTY, FamilyTable, STALE, type Failure, type KernelState, type Slots } from './table.js';

export type AnyTable = FamilyTable<Prefix>;

/** What a change of the shared state sets off in the FIB. */
export interface FibStateHooks {
  /** prefix p (slot i) joined the dirty queue of t: flush now or soon */
  dirtied(t: AnyTable, p: Prefix, i: number): void;
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
  /** RTA_PRIORITY of our routes; undefined: the kernel's default (IPv4 0, IPv6 1024) */
  metric: number | undefined;
  /** the namespace the queue works in (undefined: our own) */
  netns: string | undefined;
  /** the interface list the monitor marks stale on address changes (interfaces.ts) */
  interfaces: HostInterfaces | undefined;
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
  /** the metric our routes carry, by family (the kernel's default when none is configured) */
  readonly metric4: number;
  readonly metric6: number;
  readonly netns: string | undefined;
  readonly interfaces: HostInterfaces | undefined;
  readonly log: Logger | undefined;
  /**
   * Slots whose adopted kernel route carries another metric than ours (an earlier version's):
   * deleted at that metric, rewritten at ours when confirmed with next hops.
   */
  readonly otherMetric = new Map<number, number>();
  /** routes of our protocol at another metric that are not (or no longer) a slot's: deleted by purge() */
  leftovers: { prefix: Prefix; metric: number }[] = [];
  /** interface names seen in link events, for failure reasons */
  readonly deviceNames = new Map<number, string>();
  readonly t4 = new FamilyTable<Prefix4>(new PrefixTable4<number>());
  readonly t6 = new FamilyTable<Prefix6>(new Map<Prefix6, number>());
  readonly #tables: readonly [AnyTable, AnyTable] = [this.t4 as AnyTable, this.t6 as AnyTable];
  readonly counters = { writes: 0, restored: 0, retries: 0, resyncs: 0, leftoversDeleted: 0 };
  #staleRoutes = 0;
  readonly #hooks: FibStateHooks;

  constructor(o: FibStateOptions, hooks: FibStateHooks) {
    this.queue = o.queue;
    this.nexthops = o.nexthops;
    this.slots = o.slots;
    this.protocol = o.protocol;
    this.table = o.table;
    this.metric4 = o.metric ?? 0;
    this.metric6 = o.metric ?? 1024;
    this.netns = o.netns;
    this.interfaces = o.interfaces;
    this.log = o.log;
    this.#hooks = hooks;
  }

  get staleRoutes(): number {
    return this.#staleRoutes;
  }

  get dirtyCount(): number {
    return this.t4.dirtyCount + this.t6.dirtyCount;
  }

  /** both tables (the same array each call: a flush asks for it at each lone change) */
  tables(): readonly [AnyTable, AnyTable] {
    return this.#tables;
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

  metricOf(family: Family): number {
    return family === 4 ? this.metric4 : this.metric6;
  }

  /** The metric of the prefix's route in the kernel as far as we know (ours unless adopted otherwise). */
  slotMetric(p: Prefix, i: number): number {
    return this.otherMetric.get(i) ?? (typeof p === 'number' ? this.metric4 : this.metric6);
  }

  /** The slot's kernel route is gone (or no longer ours to count on). */
  gone(i: number): void {
    this.slots.setInstalled(i, 0);
    this.otherMetric.delete(i);
  }

  /**
   * The slot's adopted route at another metric is to be rewritten at ours: the old one joins
   * the leftovers (deleted at the sweep, after ours is written), and the slot writes with create.
   */
  moveToOurMetric(p: Prefix, i: number): void {
    const m = this.otherMetric.get(i);
    if (m === undefined) return;
    this.leftovers.push({ prefix: p, metric: m });
    this.gone(i);
  }

  /** Delete the leftovers (routes of our protocol at another metric); resolves when the kernel answered. */
  async purge(): Promise<number> {
    if (this.leftovers.length === 0) return 0;
    const list = this.leftovers;
    this.leftovers = [];
    const b = new RouteBatch(list.length);
    for (const l of list) b.delete(l.prefix, l.metric);
    const failures = await this.queue.submit(b);
    for (const f of failures) {
      if (f.code === 'ESRCH' || f.code === 'ENOENT') continue;
      this.log?.warn({ prefix: list[f.index]?.prefix, code: f.code, message: f.message }, 'could not delete a route of our protocol at another metric');
    }
    const n = list.length - failures.length;
    this.counters.leftoversDeleted += n;
    return n;
  }

  markDirty(t: AnyTable, p: Prefix, i: number): void {
    const flags = this.slots.flags;
    if (flags[i]! & DIRTY) return;
    flags[i]! |= DIRTY;
    t.dirty.push(p, i);
    this.#hooks.dirtied(t, p, i);
  }

  unstale(i: number): void {
    if (!(this.slots.flags[i]! & STALE)) return;
    this.slots.flags[i]! &= ~STALE;
    this.#staleRoutes--;
  }

  /** Forget a prefix whose route is gone and not wanted. */
  forget(t: AnyTable, p: Prefix, i: number): void {
    this.unstale(i);
    this.otherMetric.delete(i);
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

/**
 * What the FIB asks of the kernel side (reconcile.ts: adoption, resync by dump, monitor
 * events). The FIB knows only this interface; fib/open.ts puts the two together, so that
 * neither fib.ts nor reconcile.ts imports the other.
 */
export interface KernelSync {
  onEvents(events: MonitorEvent[]): void;
  adopt(): Promise<{ routes: number; nexthops: number }>;
  endAdoption(): void;
  problems(): string[];
  resync(): Promise<void>;
  lookupHolders(): void;
  stop(): void;
}

export type KernelSyncFactory = (state: FibState, resyncDelayMs: number) => KernelSync;
