// What graceful restart offers the agent and what it needs from it: the interfaces alone, so that
// index.ts (which builds the policy) and policy.ts (which implements it) both depend on this
// module and not on each other. How it works: README.md.
import type { Config } from '../config/index.js';
import type { Fib } from '../fib/index.js';
import type { PeerHealthEvent } from '../health/index.js';
import type { Logger } from '../log.js';
import type { Family } from '../net/ip.js';
import type { PeerHandle, Rib } from '../rib/index.js';
import type { LocalOpen, Negotiated, Session, SessionDown } from '../bgp/session/index.js';

/** A peer as the GR policy sees it: its session and its RIB handle. */
export interface GrPeer {
  readonly session: Session;
  readonly rib: PeerHandle;
  /** configured (not a dynamic neighbour): the restarting speaker waits for its End-of-RIB */
  readonly configured: boolean;
}

export interface GracefulRestart {
  /** Before any session starts: adopt the kernel's routes of our protocol; decide whether we restart. */
  start(): Promise<void>;
  /** Our capability for this peer's OPEN (restart time, R bit, F bit), or null when GR is off for it. */
  capability(peer: GrPeer): LocalOpen['gracefulRestart'];
  sessionUp(peer: GrPeer, n: Negotiated): void;
  /** The session left Established: the families whose routes the RIB keeps, marked stale. */
  sessionDown(peer: GrPeer, d: SessionDown): Family[];
  endOfRib(peer: GrPeer, family: Family): void;
  /** The peer is removed (de-configured, or a dynamic neighbour gone): drop its timers. */
  peerRemoved(peer: GrPeer): void;
  /**
   * BFD (src/bfd): the peer's BFD session was Up and went Down for a reason other than an
   * administrative shutdown (RFC 5882 §3.2). Established: the session closes now, its routes
   * are withdrawn, not kept stale. Helping (the BGP session already down): the stale routes
   * go when the peer's C bit was set, and stay (restart time) when it was clear. Restarting:
   * the peer is not waited for. Acts with graceful restart on or off, fast unlock or not.
   */
  bfdDown(peer: GrPeer, down: BfdDown): void;
  /** Peer-health evidence (PeerWatch); the classic policy ignores it. */
  peerHealth(events: readonly PeerHealthEvent[]): void;
  /**
   * Evidence from the Kubernetes API that the peer's node is dead (its Lease expired, Ready
   * False/Unknown, being deleted): taken like answered socket evidence while the session is
   * down — no more waiting for its End-of-RIB, its stale routes dropped; ignored while it is
   * Established (BGP stays authoritative). The classic policy ignores it.
   */
  nodeDead(peer: GrPeer, evidence: string): void;
  /** For /api/v1/peers: the peer is restarting (we keep its routes as helper). */
  peerRestarting(peer: GrPeer): boolean;
  /** Fast unlock: the evidence that the peer is dead, until it is Established again; else null. */
  peerDead(peer: GrPeer): DeadPeer | null;
  /** ROUTELET_GR and ROUTELET_GR_FAST_UNLOCK both on */
  readonly fastUnlock: boolean;
  /** Our own restart recovery: adopted routes, when it ended and why (null: no recovery ran). */
  readonly recovery: Recovery | null;
  /** We are restarting (adopted routes wait for the peers' End-of-RIB). */
  readonly restarting: boolean;
  /** /readyz lines while restart recovery holds the kernel out of sync */
  problems(): string[];
  stop(): void;
}

export interface DeadPeer {
  /** in words: `ECONNREFUSED (bpf inet_sk_error_report)` */
  readonly evidence: string;
  /** the socket error the evidence is (ECONNREFUSED…); null when it is described otherwise (host gone, SYN unanswered, …) */
  readonly code: string | null;
  /** ms since the epoch of the first evidence */
  readonly since: number;
  readonly kind: PeerHealthEvent['kind'] | 'bfd' | 'node-health';
}

/** A BFD failure of a peer, as src/bfd reports it. */
export interface BfdDown {
  /** in words: `BFD down (control detection time expired)` */
  readonly evidence: string;
  /** our RFC 5880 diagnostic with the change */
  readonly diag: number;
  /** the peer's C bit (control-plane independent) in its last packets */
  readonly cpi: boolean;
  /** ms since the epoch, on the BFD thread */
  readonly at: number;
}

export interface Recovery {
  readonly adopted: number;
  /** ms since the epoch; endedAt 0 while it runs */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly why: string;
  readonly deleted: number;
}

export interface GracefulRestartOptions {
  config: Pick<Config, 'gr' | 'kernel'>;
  rib: Rib;
  fib: Fib | null;
  /** the configured peers, at the time of asking */
  peers(): Iterable<GrPeer>;
  log: Logger;
  /** stale routes of a peer were swept (a dynamic neighbour may be removed then) */
  swept?(peer: GrPeer): void;
  /** hand the RIB's pending changes to the FIB now (before a sweep judges what is confirmed) */
  flush?(): void;
  /**
   * Fast unlock: open a TCP connection to a passive peer and close it; resolves with null when
   * it answered, else the errno name (`ECONNREFUSED`, `EHOSTUNREACH`, `ETIMEDOUT` after timeoutMs).
   */
  probe?(peer: GrPeer, timeoutMs: number): Promise<string | null>;
  /**
   * Evidence that the peer's host is alive and restarting (the Kubernetes mode: its node's Lease
   * is fresh and Ready is True): a reason in words, else null. While it holds, socket evidence
   * that only says BGP is not running there (refused, SYN unanswered) does not drop the peer's
   * stale routes: it is restarting, and keeps them for its restart time.
   */
  alive?(peer: GrPeer): string | null;
}
