// The FIB as a sink of RIB changes: each change (a prefix and its best next hops, or none)
// becomes a kernel route through `set`/`remove`. The BGP next hop is the gateway; a next
// hop on one of our connected subnets names its device (devices.ts), so the FIB can program
// a kernel next-hop object. Next-hop sets are interned once per distinct list and reused for
// every prefix that shares it (a thousand prefixes behind one router cost one lookup each).
import type { Logger } from '../log.js';
import { prefixFamily, type Prefix } from '../net/prefix.js';
import type { Family, Hop } from '../native/netlink.js';
import { ConnectedDevices } from './devices.js';
import type { NexthopSet } from './nexthops.js';

/**
 * One prefix's new forwarding, as the RIB hands it over (src/rib FibChange has this shape):
 * its next hops (ECMP when several), or null or none when the prefix leaves the kernel.
 */
export interface RouteChange {
  readonly prefix: Prefix;
  readonly nextHops: readonly { readonly address: string }[] | null;
}

/** The part of the Fib a feed writes to. */
export interface RouteSink {
  nexthopSet(family: Family, hops: readonly Hop[]): NexthopSet;
  set(prefix: Prefix, nexthops: NexthopSet): void;
  remove(prefix: Prefix): void;
}

/** Interned sets kept at most; past this the cache starts again (sets stay valid in the Fib). */
const MAX_CACHED_SETS = 100_000;

export class RouteFeed {
  readonly #hopSets = new Map<string, NexthopSet>();
  /**
   * The set of a frozen next-hop list, as of an interfaces generation: the RIB hands every
   * single-path route of one attribute set the same frozen list (src/rib/attrs.ts nextHops), so
   * a table load finds its set without building the key string and hashing it once per prefix.
   */
  readonly #byList = new WeakMap<readonly { readonly address: string }[], { set: NexthopSet; family: Family; generation: number }>();
  /** refusal messages already logged: a broken route logs once, not once per prefix */
  readonly #errors = new Set<string>();

  constructor(
    private readonly sink: RouteSink,
    private readonly log: Logger | undefined,
    private readonly devices = new ConnectedDevices(),
  ) {}

  /** Apply the RIB's changes; a change the FIB refuses is logged (once per message) and skipped. */
  apply(changes: readonly RouteChange[]): void {
    for (const c of changes) {
      try {
        if (c.nextHops === null || c.nextHops.length === 0) this.sink.remove(c.prefix);
        else this.sink.set(c.prefix, this.hopSet(prefixFamily(c.prefix), c.nextHops));
      } catch (e) {
        const key = (e as Error).message;
        if (this.#errors.has(key)) continue;
        this.#errors.add(key);
        this.log?.error({ err: e }, `a route could not be given to the kernel: ${key}`);
      }
    }
  }

  /** The interned next-hop set of these BGP next hops (each with its device when connected). */
  hopSet(family: Family, hops: readonly { readonly address: string }[]): NexthopSet {
    const generation = this.devices.generation;
    const known = this.#byList.get(hops);
    if (known !== undefined && known.generation === generation && known.family === family) return known.set;
    let key = `${family}`;
    for (const h of hops) key += `|${h.address}%${this.devices.deviceFor(h.address)}`;
    let set = this.#hopSets.get(key);
    if (!set) {
      set = this.sink.nexthopSet(
        family,
        hops.map((h) => {
          const ifindex = this.devices.deviceFor(h.address);
          return ifindex ? { gateway: h.address, ifindex } : { gateway: h.address };
        }),
      );
      if (this.#hopSets.size > MAX_CACHED_SETS) this.#hopSets.clear();
      this.#hopSets.set(key, set);
    }
    // (a list made for one route, an ECMP route's, is not frozen: not worth an entry)
    if (Object.isFrozen(hops)) this.#byList.set(hops, { set, family, generation });
    return set;
  }
}
