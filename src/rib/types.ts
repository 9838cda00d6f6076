// The RIB's public value types: what the session layer passes in, what the FIB and the
// HTTP API get out.
import type { CodecOptions, PathAttributes } from '../bgp/codec/index.js';
import type { Family } from '../net/ip.js';
import type { Prefix } from '../net/prefix.js';
import type { Logger } from '../log.js';
import type { ImportOptions, LocalAddresses, RejectKind } from './sanity.js';

export type { Family };

/** A next hop for the FIB: it decides how to install it (onlink, via, which device). */
export interface NextHop {
  readonly address: string;
  readonly family: Family;
}

/**
 * One change of the desired forwarding state of a prefix. `nextHops` is the multipath set
 * (best path first, distinct addresses, at most ecmpMaxPaths), or null: nothing to install
 * (no route left, or `local`: this node originates the prefix and forwards it itself).
 */
export interface FibChange {
  readonly prefix: Prefix;
  readonly nextHops: readonly NextHop[] | null;
  readonly local: boolean;
}

/**
 * Static facts about a neighbour, from configuration (or a dynamic neighbour's OPEN). The
 * import options (ImportOptions: allowDefault, allowLinkLocal, importPrefixes) are the
 * peer's import sanity limits (sanity.ts).
 */
export interface PeerOptions extends ImportOptions {
  /** the neighbour's address, canonical text (the final decision tie-break) */
  readonly address: string;
  readonly asn: number;
  /** RFC 4456 client; meaningful only when the RIB has a cluster ID */
  readonly routeReflectorClient?: boolean;
  /** the most prefixes (paths, with ADD-PATH) accepted from this peer; undefined = no limit */
  readonly maxPrefixes?: number;
  /** eBGP: how often our own AS may appear in AS_PATH (allowas-in); default 0 */
  readonly allowAsIn?: number;
  /** outbound policy; peers share an update group only with the same policy (by name) */
  readonly exportPolicy?: ExportPolicy;
  /** inbound policy, applied before the Adj-RIB-In */
  readonly importPolicy?: ImportPolicy;
}

/** What the session layer knows once a session is Established. */
export interface SessionInfo {
  /** the peer's BGP identifier from its OPEN (dotted quad) */
  readonly routerId: string;
  /** negotiated codec options (negotiate()); `ebgp` must match the peer's kind */
  readonly codec: CodecOptions;
  /** negotiated unicast families; End-of-RIB is sent for each */
  readonly families: readonly Family[];
  /** our address on this session: next-hop-self */
  readonly localAddress: string;
  /** next-hop-self per family when it differs from localAddress (an IPv6 next hop on an IPv4 session) */
  readonly nextHop4?: string;
  readonly nextHop6?: string;
  /** enhanced route refresh (RFC 7313) negotiated: answer refreshes with BoRR/EoRR */
  readonly enhancedRouteRefresh?: boolean;
}

/** Inbound policy: the set to keep (interned, e.g. with withAttributes), or null to reject. */
export type ImportPolicy = (prefix: Prefix, attrs: PathAttributes, peer: { readonly address: string; readonly asn: number }) => PathAttributes | null;

/**
 * Outbound policy, applied after the RFC transformations (next hop, AS_PATH, RR attributes).
 * It sees the update group's kind, not a single peer: every member receives the same bytes.
 */
export interface ExportPolicy {
  readonly name: string;
  apply(prefix: Prefix, attrs: PathAttributes, to: GroupRole): PathAttributes | null;
}

/** How a group's members relate to us: eBGP, RR client, RR non-client, or iBGP without RR. */
export type GroupRole = 'ebgp' | 'client' | 'nonclient' | 'ibgp';

/** The result of feeding one UPDATE. */
export type UpdateOutcome =
  | { readonly type: 'ok'; readonly rejected: number }
  | { readonly type: 'end-of-rib'; readonly family: Family }
  /**
   * The peer holds more than `maxPrefixes` (`limit`) after an announcement in `family`: the
   * session resets it (Cease/Maximum Number of Prefixes Reached, RFC 4486) and peerDown(peer)
   * follows without keeping stale routes. The rest of the UPDATE was not applied.
   */
  | { readonly type: 'max-prefixes'; readonly family: Family; readonly limit: number };

export interface PeerCounts {
  /** prefixes (paths) held from the peer before import policy and guards */
  readonly received: number;
  /** of those, the ones in the Adj-RIB-In after import policy and guards */
  readonly accepted: number;
  /** prefixes in the peer's Adj-RIB-Out (its update group's), once the peer was sent the table */
  readonly advertised: number;
  readonly staleRoutes: number;
  /** families whose End-of-RIB arrived in this session */
  readonly endOfRib: readonly Family[];
  /**
   * paths import sanity rejects now (kept visible in routes()), by reason; part of `received`.
   * Present (with `rejectedTotal`) once the peer had a path rejected by import sanity.
   */
  readonly rejected?: Readonly<Partial<Record<RejectKind, number>>>;
  /** import sanity rejections since the peer was added, by reason (a counter) */
  readonly rejectedTotal?: Readonly<Partial<Record<RejectKind, number>>>;
}

export interface RibEvents {
  /**
   * Encoded messages for one peer, in order. The same array (and the same Buffers) goes to
   * every member of an update group: do not modify it. The caller writes them to the socket
   * and handles backpressure.
   */
  send(peer: PeerHandle, messages: readonly Buffer[]): void;
  /** Desired forwarding changes, coalesced per flush (one entry per prefix). */
  fib?(changes: readonly FibChange[]): void;
  /** There is work for flush(): call it soon (setImmediate or a short timer). Called once per dirty period. */
  schedule?(): void;
  /** End-of-RIB received from a peer (graceful restart waits for these). */
  endOfRib?(peer: PeerHandle, family: Family): void;
}

export interface RibOptions {
  readonly asn: number;
  /** our BGP identifier, dotted quad */
  readonly routerId: string;
  /** set: route reflector (RFC 4456) with this cluster ID (dotted quad) */
  readonly clusterId?: string;
  /** paths per multipath set (ROUTELET_ECMP_MAX_PATHS); 1 disables multipath. Default 8 */
  readonly ecmpMaxPaths?: number;
  /** LOCAL_PREF of paths without one (eBGP-learned, originated). Default 100 */
  readonly defaultLocalPref?: number;
  /**
   * RFC 4271 9.1.2.1: the IGP cost to a next hop, or undefined when it is not resolvable.
   * Default: every next hop resolvable at cost 0. Call revalidateNextHops() when answers change.
   */
  readonly resolveNextHop?: (address: string, family: Family) => number | undefined;
  readonly events: RibEvents;
  /**
   * The node's own addresses and connected subnets for import sanity (the agent fills it from
   * os.networkInterfaces()); the RIB re-checks what it holds when it changes. Default: none.
   */
  readonly localAddresses?: LocalAddresses;
  /** for rare events (a peer over its prefix limit); never per route */
  readonly logger?: Logger;
}

/** A peer as the RIB knows it: the handle the session layer passes back in every call. */
export interface PeerHandle {
  readonly address: string;
  readonly asn: number;
  readonly ebgp: boolean;
  readonly routeReflectorClient: boolean;
}
