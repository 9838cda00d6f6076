// FIB sync: the desired kernel routes (from the Loc-RIB) against the kernel's, through the
// addon's route queue. Knows routes and next hops, not BGP.
//
// - `set`/`remove` record what should be; a prefix changed many times before the next flush
//   (scheduled in a microtask when nothing is in flight, else with setImmediate, or
//   `flush()`) costs one kernel operation, and at most one operation per prefix is in flight.
//   A change of a next-hop set with few changes waiting goes first (the priority lane, README).
// - Results come back per route. A refusal is recorded (`failed: ENETUNREACH (gateway … not
//   reachable)`) and retried with exponential backoff; it is never thrown.
// - Graceful restart: `adopt()` takes over routes of our protocol found in the kernel as
//   stale; `set` (or `confirm`) confirms them; `sweep()` deletes what is still stale.
// - Routes deleted or replaced by someone else, links going down or up and addresses
//   changing are handled by reconcile.ts (policy described in src/fib/README.md); the state
//   both work on is state.ts.
// - `update` takes the RIB's changes as they come (feed.ts): the Fib is the RIB's sink.
import type { Logger } from '../log.js';
import { formatPrefix, prefix4Length, prefix6Length, prefixFamily, type Prefix } from '../net/prefix.js';
import {
  NetlinkMonitor,
  RouteBatch,
  RouteQueue,
  type Family,
  type Hop,
  type NexthopResult,
  type RouteFailure,
  type RouteResults,
} from '../native/netlink.js';
import { batchArray, LANE_MAX_OPS } from '../native/netlink.js';
import { Mark, mark } from '../sys/hops.js';
import { hopsMatch, NexthopTable, type NexthopSet } from './nexthops.js';
import { RouteFeed, type RouteChange } from './feed.js';
import { hostInterfaces, type HostInterfaces } from './interfaces.js';
import { describeHolder, describeRefusal } from './reasons.js';
import { FibState, type AnyTable, type KernelSync, type KernelSyncFactory } from './state.js';
import { DIRTY, NONE, SlotQueue, Slots, STALE, type Failure, type KernelState } from './table.js';
import { microtask } from '../sys/microtask.js';
import { noteBulkWork } from '../sys/workers.js';

export type { KernelState } from './table.js';
export type { NexthopSet } from './nexthops.js';

export interface FibOptions {
  /** network namespace (name from `ip netns add`, or a path); default: the agent's own */
  netns?: string;
  /** routing table number (CONTRACT: ROUTELET_KERNEL_TABLE) */
  table: number;
  /** rtm_protocol of our routes (CONTRACT: ROUTELET_KERNEL_PROTOCOL) */
  protocol: number;
  /**
   * RTA_PRIORITY of our routes (ROUTELET_KERNEL_METRIC; the agent's default is 32); undefined:
   * the kernel's default (IPv4 0, IPv6 1024). A route of another owner at the same table,
   * prefix and metric is never replaced (src/fib/README.md, "Kernel conventions").
   */
  metric?: number;
  /** kernel next-hop objects for next hops that name their device; 'auto' (default): when the kernel has them */
  nexthopObjects?: boolean | 'auto';
  /** paths of one ECMP route at most (CONTRACT: ROUTELET_ECMP_MAX_PATHS); default 8 */
  ecmpMaxPaths?: number;
  /** first retry of a refused route after this many ms, doubling up to retryMaxMs (1000 → 60000) */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** after link or address changes, compare with the kernel this many ms later (200) */
  resyncDelayMs?: number;
  /** watch netlink for others' changes, links and addresses (default true) */
  monitor?: boolean;
  /**
   * The interface list the monitor's address events (and lost notifications) mark stale
   * (src/fib/interfaces.ts); default: this process's own when netns is undefined, none otherwise.
   */
  interfaces?: HostInterfaces;
  /** route operations per batch handed to the queue (16384) */
  batchSize?: number;
  /** route operations in flight at most; more wait for answers, bounding memory (262144: about a second of kernel work, ~15 MB) */
  window?: number;
  log?: Logger;
}

export interface FibStats {
  routes: number;
  installed: number;
  pending: number;
  failed: number;
  stale: number;
  nexthopSets: number;
  inflight: number;
  /** route operations handed to the kernel */
  writes: number;
  /** routes put back after someone else deleted or replaced them */
  restored: number;
  /** routes not installed because a route of another owner holds their key (table, prefix, metric) */
  held: number;
  /** routes of our protocol at another metric (an earlier version's) deleted */
  leftoversDeleted: number;
  retries: number;
  resyncs: number;
}

/** Dirty prefixes of one next-hop set waiting, at most, for a change to go by the priority lane. */
const SMALL_FLOW = 16;

/** flowMarks keeps zeroed entries for at most this many next-hop sets when the queue drains */
const SMALL_FLOW_HANDLES = 64;
const zeroMark = (_: number, h: number, m: Map<number, number>): void => void m.set(h, 0);

/** A batch that also remembers the slot of each operation, so answers need no lookups. */
class FibBatch extends RouteBatch {
  readonly slots: number[];

  constructor(capacity: number) {
    super(capacity);
    this.slots = batchArray<number>(capacity);
  }
}

function checkPrefix(p: Prefix): void {
  if (typeof p === 'number') {
    if (!Number.isInteger(p) || p < 0 || p >= 2 ** 38 || prefix4Length(p) > 32) throw new RangeError(`not an IPv4 prefix: ${p}`);
  } else if (typeof p !== 'string' || p.length !== 17 || prefix6Length(p) > 128) {
    throw new RangeError('not an IPv6 prefix (the 17-character form of src/net/prefix.ts)');
  }
}

export class Fib {
  /** what the Reconciler shares with us (state.ts) */
  private readonly s: FibState;
  private readonly reconciler: KernelSync;
  private monitor: NetlinkMonitor | undefined;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly batchSize: number;
  private readonly eagerFlush: number;
  private readonly window: number;
  private inflightOps = 0;
  private flushScheduled = false;
  // The priority lane: dirty prefixes waiting per desired handle (next-hop set); a change
  // whose handle has few waiting also goes to `urgent` and is sent first, on the queue's lane,
  // so that a new pod's route never waits behind a table load via another next hop.
  // A mark that falls to 0 stays in the map (a Map emptied by delete shrinks, and grows again
  // at the next change: garbage at each lone change); they are all reset when the queue drains.
  private readonly flowMarks = new Map<number, number>();
  private urgent = new SlotQueue<Prefix>();
  /** the lane's other queue: flushUrgent swaps the two, so changes dirtied meanwhile queue apart */
  private urgentSpare = new SlotQueue<Prefix>();
  private urgentScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryTimerAt = Infinity;
  private settleWaiters: (() => void)[] = [];
  private readonly prefixWaiters = new Map<Prefix, ((s: KernelState | undefined) => void)[]>();
  /** the last refusal of a next-hop object definition, by handle */
  private readonly nexthopErrors = new Map<number, NexthopResult>();
  private closing = false;
  /** RIB changes → next-hop sets (feed.ts), made on first use */
  private feed: RouteFeed | undefined;

  private constructor(o: FibOptions, nexthopObjects: boolean, sync: KernelSyncFactory) {
    this.retryInitialMs = o.retryInitialMs ?? 1000;
    this.retryMaxMs = o.retryMaxMs ?? 60_000;
    this.batchSize = o.batchSize ?? 16384;
    this.eagerFlush = Math.max(1, Math.min(this.batchSize, 4096));
    this.window = Math.max(this.batchSize, o.window ?? 262_144);
    const queueOptions: Parameters<typeof RouteQueue.open>[0] = {
      table: o.table,
      protocol: o.protocol,
      nexthopObjects,
      onResults: (r) => this.applyResults(r),
      onEcho: (routes) => {
        // The devices the kernel resolved gateways to: which link going down concerns us.
        for (const r of routes) {
          const i = this.s.slotOf(r.prefix);
          const h = i === undefined ? 0 : this.s.slots.installed[i]!;
          if (h > 0) this.s.nexthops.learnDevices(h, r.hops.map((x) => x.ifindex).filter((x) => x > 0));
        }
      },
      onNexthop: (r) => {
        if (r.release) return;
        if (!r.errno) {
          this.nexthopErrors.delete(r.handle);
          return;
        }
        this.nexthopErrors.set(r.handle, r);
        this.s.log?.warn({ handle: r.handle, code: r.code, message: r.message }, 'kernel refused a next-hop object');
      },
    };
    if (o.netns !== undefined) queueOptions.netns = o.netns;
    if (o.metric !== undefined) queueOptions.metric = o.metric;
    const queue = RouteQueue.open(queueOptions);
    const nexthops = new NexthopTable(queue, o.ecmpMaxPaths ?? 8);
    this.s = new FibState(
      {
        queue,
        nexthops,
        slots: new Slots(nexthops),
        protocol: o.protocol,
        table: o.table,
        metric: o.metric,
        netns: o.netns,
        interfaces: o.interfaces ?? (o.netns === undefined ? hostInterfaces : undefined),
        log: o.log,
      },
      {
        // A long backlog goes to the kernel at once, so that it works while the caller goes on.
        dirtied: (t, p, i) => this.dirtied(t, p, i),
        retryAt: (at) => this.armRetry(at),
        wake: (p, state) => this.wake(p, state),
      },
    );
    this.reconciler = sync(this.s, o.resyncDelayMs ?? 200);
    if (o.monitor !== false) {
      const m: Parameters<typeof NetlinkMonitor.open>[0] = { table: o.table, ignorePortId: queue.portId };
      if (o.netns !== undefined) m.netns = o.netns;
      try {
        this.monitor = NetlinkMonitor.open(m, (events) => this.reconciler.onEvents(events));
      } catch (e) {
        void queue.close();
        throw e;
      }
      this.monitor.unref();
    }
  }

  /**
   * Open the route queue (and monitor) in the namespace, with `sync` as its kernel side (use
   * Fib.open from src/fib/index.ts, which gives it the Reconciler). Throws in Node's shape
   * (ENOENT, EPERM).
   */
  static async openWith(o: FibOptions, sync: KernelSyncFactory): Promise<Fib> {
    let objects = o.nexthopObjects ?? 'auto';
    if (objects === 'auto') {
      // Next-hop objects exist when the kernel can dump them (Linux 5.3 and later).
      const probe = RouteQueue.open({ table: o.table, protocol: o.protocol, ...(o.netns !== undefined ? { netns: o.netns } : {}) });
      objects = await probe.dumpNexthops().then(
        () => true,
        () => false,
      );
      await probe.close();
    }
    return new Fib(o, objects, sync);
  }

  // ------------------------------------------------------------ desired state (the RIB side)

  /** Intern a next-hop set, to hand to `set` for every prefix that shares it. */
  nexthopSet(family: Family, hops: readonly Hop[]): NexthopSet {
    return this.s.nexthops.intern(family, hops);
  }

  /** The prefix should be routed through these next hops (ECMP when several). */
  set(prefix: Prefix, nexthops: NexthopSet | readonly Hop[]): void {
    checkPrefix(prefix);
    const family = prefixFamily(prefix);
    const s = 'key' in nexthops ? this.s.nexthops.current(nexthops) : this.s.nexthops.intern(family, nexthops);
    if (s.family !== family) throw new RangeError(`next hops for IPv${s.family} routes given for ${formatPrefix(prefix)}`);
    const t = this.s.tableOf(prefix);
    let i = t.index.get(prefix);
    if (i === undefined) {
      i = this.s.slots.alloc();
      t.index.set(prefix, i);
    }
    if (this.s.slots.flags[i]! & STALE) this.confirmStale(prefix, i, s);
    if (this.s.slots.desired[i] === s.handle) return;
    this.s.slots.setDesired(i, s.handle);
    this.s.markDirty(t, prefix, i);
  }

  /**
   * The RIB's changes (the Fib is their sink): each prefix routed through its next hops, or
   * removed when it has none. A change refused here is logged once per reason, never thrown.
   */
  update(changes: readonly RouteChange[]): void {
    mark(Mark.fib);
    (this.feed ??= new RouteFeed(this, this.s.log)).apply(changes);
    // The RIB hands its changes over in one call: the priority lane's share goes now rather
    // than in the microtask (which then finds nothing), ahead of whatever the caller does next.
    if (this.urgent.length) this.flushUrgent();
  }

  /** The prefix should not be routed by us any more. */
  remove(prefix: Prefix): void {
    checkPrefix(prefix);
    const t = this.s.tableOf(prefix);
    const i = t.index.get(prefix);
    if (i === undefined) return;
    this.s.unstale(i);
    if (this.s.slots.desired[i] === 0) return;
    this.s.slots.setDesired(i, 0);
    this.s.markDirty(t, prefix, i);
  }

  // ------------------------------------------------------------ graceful restart

  /**
   * Take over the routes of our table and protocol (and our kernel next-hop objects) found in
   * the kernel, as stale: they stay, forwarding as they do, until confirmed by `set`/`confirm`
   * or deleted by `sweep`. Call once at start, before the RIB sets routes.
   */
  adopt(): Promise<{ routes: number; nexthops: number }> {
    return this.reconciler.adopt();
  }

  /** Keep a stale route exactly as the kernel has it. False when the prefix is not stale. */
  confirm(prefix: Prefix): boolean {
    const i = this.s.slotOf(prefix);
    if (i === undefined || !(this.s.slots.flags[i]! & STALE)) return false;
    this.s.unstale(i);
    // Found at another metric (an earlier version's): kept as it forwards, written again at ours.
    if (this.s.otherMetric.has(i) && this.s.slots.desired[i]! > 0) {
      this.s.moveToOurMetric(prefix, i);
      this.s.markDirty(this.s.tableOf(prefix), prefix, i);
    }
    return true;
  }

  /** Delete every route still stale; resolves when the kernel has answered. */
  async sweep(): Promise<{ deleted: number }> {
    this.reconciler.endAdoption();
    let deleted = 0;
    for (const t of this.s.tables()) {
      for (const [p, i] of t.index) {
        if (!(this.s.slots.flags[i]! & STALE)) continue;
        this.s.unstale(i);
        this.s.slots.setDesired(i, 0);
        this.s.markDirty(t, p, i);
        deleted++;
      }
    }
    await this.settled();
    // Routes of ours at another metric whose prefixes were written again at ours.
    deleted += await this.s.purge();
    this.s.nexthops.releaseUnused();
    return { deleted };
  }

  get staleCount(): number {
    return this.s.staleRoutes;
  }

  // ------------------------------------------------------------ state

  /** `installed`, `pending` or `failed: REASON`; undefined for a prefix we do not route. */
  state(prefix: Prefix): KernelState | undefined {
    const i = this.s.slotOf(prefix);
    return i === undefined ? undefined : this.s.slots.state(i);
  }

  isStale(prefix: Prefix): boolean {
    const i = this.s.slotOf(prefix);
    return i !== undefined && (this.s.slots.flags[i]! & STALE) !== 0;
  }

  /** One line per problem, for /readyz: failed routes (at most `limit`, then a count). */
  problems(limit = 20): string[] {
    const out: string[] = [];
    let more = 0;
    for (const t of this.s.tables()) {
      for (const p of t.failed) {
        const i = t.index.get(p);
        const f = i === undefined ? undefined : this.s.slots.failures.get(i);
        if (!f || f.handle !== this.s.slots.desired[i!]) continue;
        if (out.length < limit) out.push(`kernel route ${formatPrefix(p)} failed: ${f.reason}`);
        else more++;
      }
    }
    if (more) out.push(`… and ${more} more kernel routes failed`);
    out.push(...this.reconciler.problems());
    return out;
  }

  stats(): FibStats {
    let installed = 0;
    let pending = 0;
    let failed = 0;
    let held = 0;
    const { desired, installed: inst, inflight, failures } = this.s.slots;
    for (const t of this.s.tables()) {
      for (const i of t.index.values()) {
        const f = failures.get(i);
        if (f && f.handle === desired[i]) {
          failed++;
          if (f.held) held++;
        }
        else if (desired[i] === inst[i] && inflight[i] === NONE) installed++;
        else pending++;
      }
    }
    return {
      routes: this.s.t4.index.size + this.s.t6.index.size,
      installed,
      pending,
      failed,
      stale: this.s.staleRoutes,
      nexthopSets: this.s.nexthops.size,
      inflight: this.inflightOps,
      held,
      ...this.s.counters,
    };
  }

  /** Resolves with the prefix's state once nothing is queued or in flight for it. */
  whenSettled(prefix: Prefix): Promise<KernelState | undefined> {
    const i = this.s.slotOf(prefix);
    if (i === undefined) return Promise.resolve(undefined);
    if (!(this.s.slots.flags[i]! & DIRTY) && this.s.slots.inflight[i] === NONE) return Promise.resolve(this.s.slots.state(i));
    return new Promise((resolve) => {
      const list = this.prefixWaiters.get(prefix);
      if (list) list.push(resolve);
      else this.prefixWaiters.set(prefix, [resolve]);
    });
  }

  /** Resolves once every change so far has been answered by the kernel (failures included). */
  settled(): Promise<void> {
    if (this.isSettled()) return Promise.resolve();
    return new Promise((resolve) => this.settleWaiters.push(resolve));
  }

  /** Hand queued changes to the kernel now rather than at the next turn of the event loop. */
  flush(): void {
    this.flushNow();
  }

  /** The route-install path answers (for /livez): resolves with the round trip in ms. */
  ping(): Promise<number> {
    return this.s.queue.ping();
  }

  /** Compare with the kernel now: restore what is missing, rewrite what differs. */
  resync(): Promise<void> {
    return this.reconciler.resync();
  }

  /**
   * Stop. By default the routes stay in the kernel (graceful restart: forwarding goes on, the
   * next start adopts them); removeRoutes deletes ours first.
   */
  async close(o: { removeRoutes?: boolean } = {}): Promise<void> {
    if (this.closing) return;
    if (o.removeRoutes) {
      for (const t of this.s.tables()) for (const p of [...t.index.keys()]) this.remove(p);
      await this.settled();
      await this.s.purge();
      this.s.nexthops.releaseUnused();
    }
    this.closing = true;
    this.reconciler.stop();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.monitor?.close();
    this.monitor = undefined;
    await this.s.queue.close();
  }

  // ------------------------------------------------------------ flush and results

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closing) return;
    this.flushScheduled = true;
    // Nothing in flight: a lone change goes at the end of the caller's turn (a microtask), not a
    // turn of the event loop later; while bulk work is in flight, changes gather for a turn.
    if (this.inflightOps === 0) {
      // flushNow sends the lane's changes first: they need no microtask of their own
      this.urgentScheduled = true;
      microtask(this.scheduledFlush);
    } else setImmediate(this.scheduledFlush);
  }

  /** scheduleFlush's callback (made once: a closure a change is garbage on the lone change's path) */
  private readonly scheduledFlush = (): void => {
    // closed since: the queue takes nothing more (a submit would reject with no one to hear it)
    if (this.closing) this.flushScheduled = false;
    else this.flushNow();
  };

  /** The priority lane (see flowMarks): note a dirtied prefix, send it first when its handle has few waiting. */
  private dirtied(t: AnyTable, p: Prefix, i: number): void {
    const h = this.s.slots.desired[i]!;
    const marks = (this.flowMarks.get(h) ?? 0) + 1;
    this.flowMarks.set(h, marks);
    const urgent = marks <= SMALL_FLOW && !this.closing;
    if (urgent) this.urgent.push(p, i);
    // A long backlog goes to the kernel at once, so that it works while the caller goes on.
    if (this.s.dirtyCount >= this.eagerFlush && this.inflightOps < this.window && !this.closing) this.flushNow();
    else this.scheduleFlush();
    // unless a flush in a microtask takes them (scheduleFlush), the lane's changes do not wait
    // for a flush a turn away
    if (urgent && this.urgent.length && !this.urgentScheduled) {
      this.urgentScheduled = true;
      microtask(() => this.flushUrgent());
    }
  }
  /** The priority lane's changes, ahead of the FIFO and outside the window (a few per handle). */
  private flushUrgent(): void {
    this.urgentScheduled = false;
    if (!this.urgent.length || this.closing) return; // (closing: the FIFO entries remain)
    mark(Mark.fibFlush);
    const list = this.urgent;
    this.urgent = this.urgentSpare;
    this.urgentSpare = list;
    const n = list.length;
    const now = Date.now();
    let batch = new FibBatch(Math.min(n, LANE_MAX_OPS));
    for (let k = 0; k < n; k++) {
      const p = list.prefixes[k]!;
      this.take(this.s.tableOf(p), p, list.slots[k]!, batch, now);
      if (batch.length >= LANE_MAX_OPS || (k === n - 1 && batch.length > 0)) {
        this.send(batch);
        if (k < n - 1) batch = new FibBatch(Math.min(n - 1 - k, LANE_MAX_OPS));
      }
    }
    list.clear();
    this.checkSettled();
  }

  /** Put the dirty prefix p (slot i) into batch if the kernel needs a change for it. */
  private take(t: AnyTable, p: Prefix, i: number, batch: FibBatch, now: number): void {
    const S = this.s.slots;
    if (!(S.flags[i]! & DIRTY)) return; // forgotten since, or taken already
    S.flags[i]! &= ~DIRTY;
    const marks = this.flowMarks.get(S.desired[i]!);
    if (marks) this.flowMarks.set(S.desired[i]!, marks - 1);
    if (S.inflight[i] !== NONE) return; // looked at again when its answer comes
    const d = S.desired[i]!;
    if (d === S.installed[i] || d < 0) {
      if (d === 0) this.s.forget(t, p, i);
      else this.wake(p, S.state(i));
      return;
    }
    if (S.waiting(i, now)) return; // the retry timer comes back
    // Only a route we installed is replaced: any other is created (NLM_F_EXCL), so a route
    // of another owner at our key (a connected or static route) fails with EEXIST, untouched.
    if (d > 0) {
      if (S.installed[i] === 0) batch.create(p, d, this.s.nexthops.wantsEcho(d, now));
      else batch.replace(p, d, this.s.nexthops.wantsEcho(d, now));
    } else batch.delete(p, this.s.otherMetric.size ? this.s.otherMetric.get(i) : undefined);
    batch.slots[batch.length - 1] = i;
    S.setInflight(i, d);
  }

  private flushNow(): void {
    this.flushScheduled = false;
    this.flushUrgent();
    const now = Date.now();
    const S = this.s.slots;
    let left = Math.min(this.s.dirtyCount, Math.max(0, this.window - this.inflightOps));
    // A small first batch gets the kernel started while the rest is encoded. A batch is made
    // when a prefix needs one (most flushes after a lone change find it sent by the lane).
    let limit = Math.min(512, this.batchSize);
    let batch: FibBatch | undefined;
    let drained = true;
    for (const t of this.s.tables()) {
      const dirty = t.dirty;
      // At most `window` operations in flight: the rest waits for answers (bounded memory).
      while (dirty.head < dirty.length && this.inflightOps + (batch?.length ?? 0) < this.window) {
        const i = dirty.slots[dirty.head]!;
        const p = dirty.prefixes[dirty.head++]!;
        if (!(S.flags[i]! & DIRTY)) continue; // taken by the lane, or forgotten since
        batch ??= new FibBatch(Math.min(limit, left));
        left--;
        this.take(t, p, i, batch, now);
        if (batch.length >= limit) {
          this.sendFifo(batch);
          batch = undefined;
          limit = this.batchSize;
        }
      }
      if (dirty.head === dirty.length) dirty.clear();
      else drained = false;
    }
    if (batch) this.sendFifo(batch);
    if (drained) {
      S.recycle();
      this.resetFlowMarks();
    }
    this.s.nexthops.releaseUnused();
    this.checkSettled();
  }

  /**
   * Nothing waits: every mark goes back to 0 (marks of prefixes forgotten while dirty were
   * never taken). Kept as zeros while few, so that the next lone change finds its entry.
   */
  private resetFlowMarks(): void {
    if (this.flowMarks.size > SMALL_FLOW_HANDLES) this.flowMarks.clear();
    else this.flowMarks.forEach(zeroMark);
  }

  /** flushNow's batch (a method, not a closure: no garbage on the lone change's path) */
  private sendFifo(batch: FibBatch): void {
    if (batch.length === 0) return;
    if (batch.length >= 64) noteBulkWork(); // V8's workers may help (src/sys/workers.ts)
    // urgent: a small batch may take the queue's lane ahead of bulk work on its thread (no
    // prefix is in two unanswered batches: see inflight).
    this.send(batch);
  }

  /**
   * Hand a batch to the queue, urgent (the answers come through onResults): without a promise
   * per batch, counted in flight. The queue refusing it (closed under us) stays what it was
   * with submit(), a rejection nobody handles.
   */
  private send(batch: FibBatch): void {
    this.inflightOps += batch.length;
    this.s.counters.writes += batch.length;
    try {
      this.s.queue.send(batch, true);
    } catch (e) {
      void Promise.reject(e);
    }
  }

  private applyResults(r: RouteResults): void {
    const { start, count, failures } = r;
    if (!(r.batch instanceof FibBatch)) return; // the reconciler's own deletes (state.ts purge)
    const batch = r.batch;
    const now = Date.now();
    let f = 0;
    for (let k = start; k < start + count; k++) {
      let fail: RouteFailure | undefined;
      if (f < failures.length && failures[f]!.index === k) fail = failures[f++];
      this.applyOne(batch.slots[k]!, batch.prefixAt(k), batch.handleAt(k), fail, now);
    }
    this.inflightOps -= count;
    // Next hops no route uses any more go now, after the route changes that dropped them.
    this.s.nexthops.releaseUnused();
    // Keep the window full while changes wait.
    if (this.s.dirtyCount > 0 && this.inflightOps <= this.window / 2 && !this.closing) this.flushNow();
    this.checkSettled();
  }

  private applyOne(i: number, p: Prefix, wrote: number, fail: RouteFailure | undefined, now: number): void {
    const S = this.s.slots;
    if (S.inflight[i] === NONE) return;
    const t = this.s.tableOf(p);
    const gone = wrote === 0 && (fail?.code === 'ESRCH' || fail?.code === 'ENOENT');
    if (!fail || gone) {
      S.setInstalled(i, wrote);
      const prev = S.failures.get(i);
      if (prev) {
        if (prev.handle === wrote) this.s.log?.info({ prefix: formatPrefix(p), attempts: prev.attempts }, 'kernel route installed after retrying');
        S.failures.delete(i);
        t.failed.delete(p);
      }
    } else {
      const prev = S.failures.get(i);
      const attempts = prev && prev.handle === wrote ? prev.attempts + 1 : 1;
      if (prev) this.s.counters.retries++;
      const delay = Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** Math.min(attempts - 1, 20));
      // A route refused because its next-hop object is missing: say why the object was refused.
      const cause = (fail.code === 'EINVAL' && /nexthop id/i.test(fail.message) && this.objectRefusal(wrote)) || fail;
      // EEXIST answers only a create: a route of another owner holds the key; who, a dump tells.
      const held = wrote > 0 && fail.code === 'EEXIST';
      const reason = held
        ? describeHolder(formatPrefix(p), this.s.slotMetric(p, i), this.s.table, prev?.held?.protocol)
        : describeRefusal(cause, this.s.nexthops.get(wrote)?.hops ?? [], (x) => this.s.deviceNames.get(x) ?? `#${x}`);
      const failure: Failure = { errno: cause.errno, code: cause.code, message: cause.message, reason, handle: wrote, attempts, retryAt: now + delay };
      if (held) {
        failure.held = { protocol: prev?.held?.protocol };
        this.reconciler.lookupHolders();
      }
      this.s.recordFailure(t, p, i, failure);
      if (attempts === 1) this.s.log?.warn({ prefix: formatPrefix(p), reason }, 'kernel refused a route');
    }
    S.setInflight(i, NONE);
    const d = S.desired[i]!;
    if (d === 0 && S.installed[i] === 0) {
      this.s.forget(t, p, i);
      return;
    }
    if (d !== S.installed[i] && !S.waiting(i, now)) {
      this.s.markDirty(t, p, i);
      return;
    }
    this.wake(p, S.state(i));
  }

  /** Why the kernel refused the next-hop object of handle (or of one of its members). */
  private objectRefusal(handle: number): NexthopResult | undefined {
    const own = this.nexthopErrors.get(handle);
    if (own && !(own.code === 'EINVAL' && /nexthop id/i.test(own.message))) return own;
    for (const m of this.s.nexthops.memberHandles(handle)) {
      const r = this.nexthopErrors.get(m);
      if (r) return r;
    }
    return own;
  }

  private armRetry(at: number): void {
    if (this.closing || at >= this.retryTimerAt) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimerAt = at;
    this.retryTimer = setTimeout(() => this.retryDue(), Math.max(0, at - Date.now()));
    this.retryTimer.unref();
  }

  private retryDue(): void {
    this.retryTimer = undefined;
    this.retryTimerAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const t of this.s.tables()) {
      for (const p of t.failed) {
        const i = t.index.get(p);
        const f = i === undefined ? undefined : this.s.slots.failures.get(i);
        if (!f) {
          t.failed.delete(p);
          continue;
        }
        if (f.retryAt <= now) this.s.markDirty(t, p, i!);
        else next = Math.min(next, f.retryAt);
      }
    }
    if (next < Infinity) this.armRetry(next);
  }

  private confirmStale(p: Prefix, i: number, s: NexthopSet): void {
    this.s.unstale(i);
    if (this.s.otherMetric.has(i)) {
      // Found at another metric (an earlier version's): written again at ours, the old one
      // deleted at the sweep (it forwards until then).
      this.s.moveToOurMetric(p, i);
      this.s.markDirty(this.s.tableOf(p), p, i);
      return;
    }
    // An inline route that already forwards as asked needs no rewrite.
    const installed = this.s.slots.installed[i]!;
    if (installed > 0 && installed !== s.handle && !this.s.nexthops.isAdoptedObject(installed)) {
      const inst = this.s.nexthops.get(installed);
      const asKernel = inst?.hops.map((h) => ({ ifindex: h.ifindex ?? 0, onlink: h.onlink === true, weight: h.weight ?? 1, ...(h.gateway !== undefined ? { gateway: h.gateway } : {}) }));
      if (asKernel && hopsMatch(s, asKernel)) this.s.slots.setInstalled(i, s.handle);
    }
  }

  private wake(p: Prefix, state: KernelState | undefined): void {
    if (this.prefixWaiters.size === 0) return;
    const list = this.prefixWaiters.get(p);
    if (!list) return;
    this.prefixWaiters.delete(p);
    for (const w of list) w(state);
  }

  private isSettled(): boolean {
    return this.inflightOps === 0 && this.s.dirtyCount === 0 && !this.flushScheduled;
  }

  private checkSettled(): void {
    if (this.settleWaiters.length === 0 || !this.isSettled()) return;
    const ws = this.settleWaiters;
    this.settleWaiters = [];
    for (const w of ws) w();
  }
}
