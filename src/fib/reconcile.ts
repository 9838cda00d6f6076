// Keeping the FIB's belief about the kernel true: adoption of an earlier run's routes, resync
// by dump, and the policy for what the netlink monitor reports (see src/fib/README.md).
import type { Prefix } from '../net/prefix.js';
import { formatPrefix } from '../net/prefix.js';
import { decodeRoutes, MAX_HANDLE, type KernelRoute, type MonitorEvent } from '../native/netlink.js';
import { hopsMatch, kernelHops, type NexthopSet } from './nexthops.js';
import { routesAtMetric } from './holders.js';
import { describeHolder } from './reasons.js';
import type { AnyTable, FibState } from './state.js';
import { NONE, SEEN, STALE, UNKNOWN } from './table.js';

const RTN_UNICAST = 1;
const EEXIST = 17;
/** restores of one prefix within a minute before we back off from the other writer */
const RESTORES_BEFORE_BACKOFF = 5;

/** The handle's routes use a kernel next-hop object (mirrors native/route_wire.cc). */
const usesObject = (s: NexthopSet): boolean => s.hops.every((h) => (h.ifindex ?? 0) !== 0);

export class Reconciler {
  private adopting = false;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastError: string | undefined;
  /** link state by ifindex: up and running */
  private readonly links = new Map<number, boolean>();
  private readonly interference = new Map<Prefix, { count: number; since: number }>();
  /** devices our routes went out of at the last dump */
  private routeDevices = new Set<number>();
  /** a dump to name the holders of routes refused with EEXIST is scheduled or running */
  private lookingUp = false;
  private lookupAgain = false;
  /** iproute2 is not there (a slim image): holders found before the agent stay unnamed */
  private noIp = false;

  constructor(
    /** what the Reconciler shares with the Fib (state.ts) */
    private readonly fib: FibState,
    private readonly resyncDelayMs: number,
  ) {}

  problems(): string[] {
    return this.lastError ? [`kernel route resync failed: ${this.lastError}`] : [];
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  endAdoption(): void {
    this.adopting = false;
  }

  // ------------------------------------------------------------ adoption (graceful restart)

  async adopt(): Promise<{ routes: number; nexthops: number }> {
    this.adopting = true;
    const { fib } = this;
    const q = fib.queue;
    const [objects, r4, r6] = await Promise.all([
      q.nexthopObjects ? q.dumpNexthops() : Promise.resolve([]),
      q.dumpRouteRecords(4),
      q.dumpRouteRecords(6),
    ]);
    // Objects and routes are taken over in one go: no flush may release an adopted object
    // before the routes that use it hold it.
    const objs = q.nexthopObjects ? fib.nexthops.adoptObjects(objects, q.nexthopIdBase, fib.protocol) : new Map<number, NexthopSet>();
    let routes = 0;
    for (const buf of [r4, r6]) {
      for (const r of decodeRoutes(buf)) {
        if (r.table !== fib.table) continue;
        if (r.protocol !== fib.protocol) {
          // What holds prefixes at our metric (a connected or static route), to say so.
          if (r.metric === fib.metricOf(r.family)) this.foreignAt.set(r.prefix, r.protocol);
          continue;
        }
        for (const h of r.hops) if (h.ifindex) this.routeDevices.add(h.ifindex);
        if (this.adoptRoute(r, objs)) routes++;
      }
    }
    // Routes at another metric of prefixes adopted at ours are deleted at the sweep: count them
    // so that a sweep follows.
    routes += fib.leftovers.length;
    fib.log?.info({ routes, nexthopObjects: objs.size }, 'adopted kernel routes of our protocol as stale');
    return { routes, nexthops: objs.size };
  }

  private adoptRoute(r: KernelRoute, objs: Map<number, NexthopSet>): boolean {
    const { fib } = this;
    const t = fib.tableOf(r.prefix);
    const S = fib.slots;
    const handle = this.handleFor(r, objs);
    const i = t.index.get(r.prefix);
    const ours = r.metric === fib.metricOf(r.family);
    if (!ours) {
      // Of our protocol at another metric (an earlier version's, or a hand's): adopted as stale
      // where the prefix is free; else deleted at the sweep.
      if (i === undefined) {
        fib.otherMetric.set(fib.newSlot(t, r.prefix, handle, true), r.metric);
        return true;
      }
      fib.leftovers.push({ prefix: r.prefix, metric: r.metric });
      return false;
    }
    if (i !== undefined && fib.otherMetric.has(i) && S.inflight[i] === NONE) {
      // The prefix was adopted at another metric first; the route at ours is the one to keep.
      fib.moveToOurMetric(r.prefix, i);
      S.setInstalled(i, handle);
      if (!(S.flags[i]! & STALE) && S.desired[i] !== handle) fib.markDirty(t, r.prefix, i);
      return false;
    }
    if (i !== undefined) {
      // The RIB got there first: it is not stale, but now we know what the kernel has.
      if (S.inflight[i] === NONE && S.installed[i] === 0) {
        S.setInstalled(i, handle);
        if (S.desired[i] !== handle) fib.markDirty(t, r.prefix, i);
      }
      return false;
    }
    fib.newSlot(t, r.prefix, handle, true);
    return true;
  }

  private handleFor(r: KernelRoute, objs: Map<number, NexthopSet>): number {
    if (r.type !== RTN_UNICAST || r.hops.length === 0) return UNKNOWN;
    if (r.nhid) return objs.get(r.nhid)?.handle ?? UNKNOWN;
    try {
      return this.fib.nexthops.intern(r.family, kernelHops(r.hops)).handle;
    } catch {
      return UNKNOWN;
    }
  }

  // ------------------------------------------------------------ resync by dump

  resync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.resyncOnce();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private scheduleResync(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.resync().then(
        () => {
          this.lastError = undefined;
        },
        (e: Error) => {
          this.lastError = e.message;
          this.fib.log?.error({ err: e }, 'kernel route resync failed');
        },
      );
    }, this.resyncDelayMs);
    this.timer.unref();
  }

  private async resyncOnce(): Promise<void> {
    const { fib } = this;
    const q = fib.queue;
    fib.counters.resyncs++;
    const [objects, r4, r6] = await Promise.all([
      q.nexthopObjects ? q.dumpNexthops() : Promise.resolve([]),
      q.dumpRouteRecords(4),
      q.dumpRouteRecords(6),
    ]);
    if (this.stopped) return;
    if (q.nexthopObjects) {
      // Objects go with their device when it goes down: define again what routes need.
      const present = new Set(objects.filter((o) => o.protocol === fib.protocol).map((o) => o.id));
      const missing: number[] = [];
      for (const [s, refs] of fib.nexthops.entries()) {
        if (refs > 0 && usesObject(s) && !present.has(q.nexthopIdBase + s.handle)) missing.push(s.handle);
      }
      if (missing.length) fib.nexthops.redefine(missing);
    }
    this.routeDevices = new Set();
    const [t4, t6] = fib.tables();
    this.reconcile(t4, r4);
    this.reconcile(t6, r6);
  }

  private reconcile(t: AnyTable, records: Buffer): void {
    const { fib } = this;
    const S = fib.slots;
    for (const r of decodeRoutes(records)) {
      if (r.table !== fib.table) continue;
      if (r.protocol !== fib.protocol) {
        if (r.metric === fib.metricOf(r.family)) this.foreignAt.set(r.prefix, r.protocol);
        continue;
      }
      for (const h of r.hops) if (h.ifindex) this.routeDevices.add(h.ifindex);
      const i = t.index.get(r.prefix);
      if (i !== undefined && r.metric !== fib.slotMetric(r.prefix, i)) {
        this.otherMetricOfOurs(t, r);
        continue;
      }
      if (i === undefined) {
        this.unknownOfOurs(t, r);
        const j = t.index.get(r.prefix);
        if (j !== undefined) S.flags[j]! |= SEEN;
        continue;
      }
      S.flags[i]! |= SEEN;
      if (S.inflight[i] !== NONE) continue;
      const installed = S.installed[i]!;
      if (installed === 0) {
        S.setInstalled(i, UNKNOWN); // a route we thought gone is there
        this.rewrite(t, r.prefix, i);
      } else if (installed > 0 && !this.formMatches(fib.nexthops.get(installed), r)) {
        S.setInstalled(i, UNKNOWN);
        this.rewrite(t, r.prefix, i);
      }
    }
    for (const [p, i] of t.index) {
      const seen = (S.flags[i]! & SEEN) !== 0;
      S.flags[i]! &= ~SEEN;
      if (seen || S.inflight[i] !== NONE || S.installed[i] === 0) continue;
      // Gone from the kernel (IPv4 routes of a device that went down go without a word).
      fib.gone(i);
      if (S.flags[i]! & STALE || S.desired[i] === 0) fib.forget(t, p, i);
      else this.restore(t, p, i, 'missing from the kernel');
    }
  }

  private formMatches(s: NexthopSet | undefined, r: KernelRoute): boolean {
    if (!s || r.type !== RTN_UNICAST || !hopsMatch(s, r.hops)) return false;
    const q = this.fib.queue;
    return r.nhid === 0 || (r.nhid > q.nexthopIdBase && r.nhid - q.nexthopIdBase <= MAX_HANDLE);
  }

  /** Our route's kernel form differs from what we wrote: write ours again (stale ones stay as found). */
  private rewrite(t: AnyTable, p: Prefix, i: number): void {
    if (this.fib.slots.flags[i]! & STALE) {
      this.fib.slots.setDesired(i, UNKNOWN);
      return;
    }
    this.restore(t, p, i, 'changed by another writer');
  }

  /** A route of our protocol that we did not write: adopted while adopting, else deleted. */
  private unknownOfOurs(t: AnyTable, r: KernelRoute): void {
    const { fib } = this;
    if (this.adopting) {
      const i = fib.newSlot(t, r.prefix, this.handleFor(r, new Map()), true);
      if (r.metric !== fib.metricOf(r.family)) fib.otherMetric.set(i, r.metric);
      return;
    }
    if (r.metric !== fib.metricOf(r.family)) {
      this.otherMetricOfOurs(t, r);
      return;
    }
    fib.log?.warn({ prefix: formatPrefix(r.prefix), protocol: r.protocol }, 'deleting a kernel route of our protocol that the agent did not write');
    const i = fib.newSlot(t, r.prefix, UNKNOWN, false);
    fib.slots.setDesired(i, 0);
    fib.markDirty(t, r.prefix, i);
  }

  /**
   * A route of our protocol at a metric other than the one we hold the prefix at: adopted while
   * adopting (deleted at the sweep), else deleted now, at its own metric.
   */
  private otherMetricOfOurs(t: AnyTable, r: KernelRoute): void {
    const { fib } = this;
    if (t.index.get(r.prefix) === undefined && this.adopting) {
      this.unknownOfOurs(t, r);
      return;
    }
    if (fib.leftovers.some((l) => l.prefix === r.prefix && l.metric === r.metric)) return;
    fib.leftovers.push({ prefix: r.prefix, metric: r.metric });
    if (this.adopting) return; // the sweep deletes it
    fib.log?.warn({ prefix: formatPrefix(r.prefix), metric: r.metric }, 'deleting a kernel route of our protocol at another metric');
    fib.purge().catch((e: Error) => fib.log?.warn({ err: e }, 'could not delete routes of our protocol at another metric'));
  }

  // ------------------------------------------------------------ routes of others at our key

  /** rtm_protocol of routes of others at our table and metric, by prefix, as last seen */
  private readonly foreignAt = new Map<Prefix, number>();

  /**
   * A route we would install is held by another owner: name the holder in its reason, from
   * what the monitor saw or a dump (one at a time, coalesced). A holder of our own protocol
   * (a route of an earlier run we did not adopt) is ours: replaced.
   */
  lookupHolders(): void {
    if (this.noIp) return;
    if (this.lookingUp) {
      this.lookupAgain = true;
      return;
    }
    this.lookingUp = true;
    setImmediate(() => {
      this.lookupOnce().then(
        () => this.lookupDone(),
        (e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') this.noIp = true;
          this.fib.log?.warn({ err: e }, 'could not list routes (ip -j route show) to name the holders of refused routes');
          this.lookupDone();
        },
      );
    });
  }

  private lookupDone(): void {
    this.lookingUp = false;
    if (this.lookupAgain && !this.stopped) {
      this.lookupAgain = false;
      this.lookupHolders();
    }
  }

  private async lookupOnce(): Promise<void> {
    const { fib } = this;
    if (this.stopped) return;
    const families = fib.tables().map((t) => [...t.failed].some((p) => this.heldUnnamed(t, p)));
    const read = (f: 4 | 6) => routesAtMetric(fib.netns, f, fib.table, fib.metricOf(f));
    const [r4, r6] = await Promise.all([families[0] ? read(4) : null, families[1] ? read(6) : null]);
    if (this.stopped) return;
    for (const [k, holders] of [r4, r6].entries()) {
      if (!holders) continue;
      const t = fib.tables()[k]!;
      for (const p of t.failed) {
        const i = t.index.get(p)!;
        const f = fib.slots.failures.get(i);
        if (!f?.held || f.held.protocol !== undefined) continue;
        const protocol = holders.get(p);
        // none: gone meanwhile (the monitor's delete or the retry installs ours)
        if (protocol === undefined) continue;
        if (protocol === fib.protocol) {
          // ours after all (an earlier run's route at our metric): replace it
          fib.slots.failures.delete(i);
          t.failed.delete(p);
          fib.slots.setInstalled(i, UNKNOWN);
          fib.markDirty(t, p, i);
        } else this.nameHolder(p, i, protocol);
      }
    }
  }

  private heldUnnamed(t: AnyTable, p: Prefix): boolean {
    const i = t.index.get(p);
    const f = i === undefined ? undefined : this.fib.slots.failures.get(i);
    if (!f?.held || f.held.protocol !== undefined) return false;
    const known = this.foreignAt.get(p);
    if (known !== undefined) {
      this.nameHolder(p, i!, known);
      return false;
    }
    return true;
  }

  private nameHolder(p: Prefix, i: number, protocol: number): void {
    const f = this.fib.slots.failures.get(i);
    if (!f?.held) return;
    f.held.protocol = protocol;
    f.reason = describeHolder(formatPrefix(p), this.fib.slotMetric(p, i), this.fib.table, protocol);
  }

  /** Our route at prefix stays out: a route of another owner holds the key. Retried with backoff, with create. */
  private heldBy(t: AnyTable, p: Prefix, i: number, protocol: number): void {
    const { fib } = this;
    const prev = fib.slots.failures.get(i);
    const attempts = prev?.held ? prev.attempts + 1 : 1;
    fib.log?.warn({ prefix: formatPrefix(p), protocol }, 'a route of another protocol replaced ours: not written over it');
    fib.recordFailure(t, p, i, {
      errno: EEXIST,
      code: 'EEXIST',
      message: '',
      reason: describeHolder(formatPrefix(p), fib.slotMetric(p, i), fib.table, protocol),
      handle: fib.slots.desired[i]!,
      attempts,
      retryAt: Date.now() + Math.min(60_000, 1000 * 2 ** Math.min(attempts - 1, 6)),
      held: { protocol },
    });
  }

  private restore(t: AnyTable, p: Prefix, i: number, why: string): void {
    const { fib } = this;
    fib.counters.restored++;
    const now = Date.now();
    let h = this.interference.get(p);
    if (!h || now - h.since > 60_000) {
      if (this.interference.size > 10_000) for (const [k, v] of this.interference) if (now - v.since > 60_000) this.interference.delete(k);
      h = { count: 0, since: now };
      this.interference.set(p, h);
    }
    h.count++;
    if (h.count === 1) fib.log?.info({ prefix: formatPrefix(p), why }, 'restoring kernel route');
    if (h.count > RESTORES_BEFORE_BACKOFF) {
      const n = h.count - RESTORES_BEFORE_BACKOFF;
      fib.recordFailure(t, p, i, {
        errno: EEXIST,
        code: 'EEXIST',
        message: '',
        reason: 'EEXIST (another writer keeps deleting or replacing this route; restoring with backoff)',
        handle: fib.slots.desired[i]!,
        attempts: n,
        retryAt: now + Math.min(60_000, 1000 * 2 ** Math.min(n - 1, 6)),
      });
      return;
    }
    fib.markDirty(t, p, i);
  }

  // ------------------------------------------------------------ the monitor

  onEvents(events: MonitorEvent[]): void {
    let changed = false;
    let better = false;
    let interfaces = false;
    for (const ev of events) {
      switch (ev.type) {
        case 'route':
          this.onRoute(ev.route);
          break;
        case 'link': {
          if (ev.name) this.fib.deviceNames.set(ev.ifindex, ev.name);
          const running = ev.action === 'new' && ev.up && ev.running;
          const was = this.links.get(ev.ifindex);
          if (ev.action === 'delete') this.links.delete(ev.ifindex);
          else this.links.set(ev.ifindex, running);
          if (was === undefined ? !running : was !== running) {
            // Down: the kernel drops IPv4 routes and next-hop objects of the device without
            // a word; look only when routes of ours may go out of it (pods' veths come and go).
            if (!running && this.carries(ev.ifindex)) changed = true;
            if (running) better = true;
          }
          break;
        }
        case 'address':
          // A new address may make a refused gateway reachable. Removing one takes none of
          // our routes with it (they carry no preferred source), so it needs no resync.
          if (ev.action === 'new' && !(ev.family === 6 && /^fe[89ab]/i.test(ev.address))) better = true;
          interfaces = true;
          break;
        case 'nexthop': {
          const base = this.fib.queue.nexthopIdBase;
          if (ev.action === 'delete' && ev.id > base && ev.id - base <= MAX_HANDLE) changed = true;
          break;
        }
        case 'overflow':
          this.fib.log?.warn('netlink monitor lost notifications; comparing with the kernel');
          changed = true;
          interfaces = true;
          break;
      }
    }
    // the interface list is read again when next needed
    if (interfaces) this.fib.interfaces?.changed();
    if (better) {
      // A device came up or an address appeared: what failed may work now.
      this.redefineFailedNexthops();
      this.fib.retryFailedNow();
    }
    if (changed) this.scheduleResync();
  }

  /** May routes of ours go out of this device? */
  private carries(ifindex: number): boolean {
    return this.routeDevices.has(ifindex) || this.fib.nexthops.usesDevice(ifindex);
  }

  private redefineFailedNexthops(): void {
    const handles = new Set<number>();
    for (const t of this.fib.tables()) {
      for (const p of t.failed) {
        const i = t.index.get(p);
        const h = i === undefined ? 0 : this.fib.slots.desired[i]!;
        if (h > 0) handles.add(h);
      }
    }
    if (handles.size && this.fib.queue.nexthopObjects) this.fib.nexthops.redefine(handles);
  }

  private onRoute(r: KernelRoute): void {
    const { fib } = this;
    if (r.table !== fib.table) return;
    const t = fib.tableOf(r.prefix);
    const S = fib.slots;
    const i = t.index.get(r.prefix);
    const settled = i !== undefined && S.inflight[i] === NONE;
    if (r.protocol !== fib.protocol) {
      this.onForeignRoute(t, r, i, settled);
      return;
    }
    if (i !== undefined && r.metric !== fib.slotMetric(r.prefix, i)) {
      if (r.action === 'new') this.otherMetricOfOurs(t, r);
      return;
    }
    if (r.action === 'delete') {
      if (!settled || S.installed[i] === 0) return;
      fib.gone(i);
      if (S.flags[i]! & STALE || S.desired[i] === 0) fib.forget(t, r.prefix, i);
      else this.restore(t, r.prefix, i, 'deleted by another writer');
      return;
    }
    if (i === undefined) {
      this.unknownOfOurs(t, r);
      return;
    }
    if (!settled) return;
    const installed = S.installed[i]!;
    if (installed > 0 && this.formMatches(fib.nexthops.get(installed), r)) return;
    S.setInstalled(i, UNKNOWN);
    this.rewrite(t, r.prefix, i);
  }

  /**
   * A route of another protocol in our table. At our metric it holds the key our route needs:
   * one that replaced ours (NLM_F_REPLACE) is not written over; our route waits, failed, and is
   * created (exclusively) again when the other goes, or at its retry.
   */
  private onForeignRoute(t: AnyTable, r: KernelRoute, i: number | undefined, settled: boolean): void {
    const { fib } = this;
    const S = fib.slots;
    if (r.metric !== fib.metricOf(r.family)) return;
    if (r.action === 'delete') {
      this.foreignAt.delete(r.prefix);
      const f = i === undefined ? undefined : S.failures.get(i);
      if (f?.held && S.installed[i!] === 0) {
        // the holder went: ours now
        f.retryAt = 0;
        f.attempts = 0;
        fib.markDirty(t, r.prefix, i!);
      }
      return;
    }
    this.foreignAt.set(r.prefix, r.protocol);
    if (i === undefined) return;
    const f = S.failures.get(i);
    if (f?.held) this.nameHolder(r.prefix, i, r.protocol);
    if (!settled || !r.replace || S.installed[i] === 0 || fib.otherMetric.has(i)) return;
    fib.gone(i);
    if (S.flags[i]! & STALE) fib.forget(t, r.prefix, i);
    else this.heldBy(t, r.prefix, i, r.protocol);
  }
}
