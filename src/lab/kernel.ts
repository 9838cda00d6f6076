// Watching a namespace's kernel routing table from OUTSIDE the speaker under test: an
// rtnetlink monitor (the addon's NetlinkMonitor, every protocol of one table) on top of one
// `ip -j route show` snapshot. routelet and BIRD are timed by the same watcher, so their
// figures compare: a route counts from the moment the kernel announces it.
//
//   const w = await KernelWatch.open(ns.name);
//   const t0 = performance.now();
//   start the speaker …
//   const at = await w.until((has) => has('10.244.2.128/26'), 60_000);   // ms since t0 via at - t0
//   w.close();
import { performance } from 'node:perf_hooks';
import { NetlinkMonitor } from '../native/netlink.js';
import { formatPrefix } from '../net/prefix.js';
import { sh } from './netns.js';

const MAIN = 254;

export interface KernelRouteLine {
  prefix: string;
  protocol: string;
  via: string[];
  dev: string[];
}

/** `ip -j route show table main` of a namespace, normalized. */
export function kernelRoutes(ns: string, table: number | 'main' = 'main'): KernelRouteLine[] {
  const raw = JSON.parse(sh('ip', ['-j', '-n', ns, 'route', 'show', 'table', String(table)]) || '[]') as {
    dst: string;
    protocol?: string;
    gateway?: string;
    dev?: string;
    nexthops?: { gateway?: string; dev?: string }[];
    type?: string;
  }[];
  return raw.map((r) => {
    const hops = r.nexthops ?? [{ gateway: r.gateway, dev: r.dev }];
    const dst = r.dst === 'default' ? '0.0.0.0/0' : r.dst.includes('/') ? r.dst : `${r.dst}/32`;
    return {
      prefix: dst,
      protocol: r.protocol ?? 'boot',
      via: hops.map((h) => h.gateway ?? (r.type && r.type !== 'unicast' ? r.type : 'direct')),
      dev: hops.map((h) => h.dev ?? ''),
    };
  });
}

type Has = (prefix: string) => boolean;
interface Waiter {
  check: (has: Has) => boolean;
  resolve: (at: number | undefined) => void;
  timer: NodeJS.Timeout;
}

export class KernelWatch {
  /** prefix → number of routes to it (any protocol, any metric) */
  readonly #count = new Map<string, number>();
  /** route identity as the kernel keys it in one table (prefix, metric) */
  readonly #present = new Set<string>();
  readonly #waiters = new Set<Waiter>();
  #monitor: NetlinkMonitor | undefined;
  /** changes seen, with their time (performance.now()) */
  readonly changes: { at: number; action: 'new' | 'delete'; prefix: string; protocol: number }[] = [];

  private constructor(readonly ns: string) {}

  static async open(ns: string): Promise<KernelWatch> {
    const w = new KernelWatch(ns);
    // monitor first, then the snapshot: events queued meanwhile are applied after it, in order
    w.#monitor = NetlinkMonitor.open({ netns: ns, table: MAIN }, (events) => {
      const at = performance.now();
      for (const e of events) {
        if (e.type === 'overflow') {
          w.#resync();
          continue;
        }
        if (e.type !== 'route' || e.route.table !== MAIN) continue;
        const r = e.route;
        const prefix = formatPrefix(r.prefix);
        w.changes.push({ at, action: r.action, prefix, protocol: r.protocol });
        w.#apply(r.action, `${prefix} ${r.metric}`, prefix);
      }
      w.#check(at);
    });
    w.#monitor.unref();
    w.#resync();
    return w;
  }

  #resync(): void {
    this.#count.clear();
    this.#present.clear();
    const raw = JSON.parse(sh('ip', ['-j', '-n', this.ns, 'route', 'show', 'table', 'main']) || '[]') as { dst: string; metric?: number }[];
    for (const r of raw) {
      const dst = r.dst === 'default' ? '0.0.0.0/0' : r.dst.includes('/') ? r.dst : `${r.dst}/32`;
      this.#apply('new', `${dst} ${r.metric ?? 0}`, dst);
    }
  }

  #apply(action: 'new' | 'delete', key: string, prefix: string): void {
    if (action === 'new') {
      if (this.#present.has(key)) return;
      this.#present.add(key);
      this.#count.set(prefix, (this.#count.get(prefix) ?? 0) + 1);
    } else {
      if (!this.#present.delete(key)) return;
      const n = (this.#count.get(prefix) ?? 1) - 1;
      if (n > 0) this.#count.set(prefix, n);
      else this.#count.delete(prefix);
    }
  }

  has(prefix: string): boolean {
    return (this.#count.get(prefix) ?? 0) > 0;
  }

  #check(at: number): void {
    for (const w of [...this.#waiters]) {
      if (!w.check((p) => this.has(p))) continue;
      clearTimeout(w.timer);
      this.#waiters.delete(w);
      w.resolve(at);
    }
  }

  /**
   * Resolves with the time (performance.now()) of the kernel change after which `check` first
   * held, or at once with the current time when it holds already; with undefined after timeoutMs.
   */
  until(check: (has: Has) => boolean, timeoutMs: number): Promise<number | undefined> {
    if (check((p) => this.has(p))) return Promise.resolve(performance.now());
    return new Promise((resolve) => {
      const w: Waiter = {
        check,
        resolve,
        timer: setTimeout(() => {
          this.#waiters.delete(w);
          resolve(undefined);
        }, timeoutMs),
      };
      this.#waiters.add(w);
    });
  }

  close(): void {
    this.#monitor?.close();
    this.#monitor = undefined;
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.resolve(undefined);
    }
    this.#waiters.clear();
  }
}
