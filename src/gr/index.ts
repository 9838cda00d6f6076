// Graceful restart (RFC 4724, RFC 8538): the ONE place the agent asks what to do with routes
// when a session comes up, goes down or sends End-of-RIB, and what to advertise in OPEN.
//
//   agent start ─► gr.start()                 restarting speaker: adopt kernel routes as stale
//   OPEN built  ─► gr.capability(session)     restart time, R bit, F bits
//   Established ─► gr.sessionUp(session, n)
//   session down ─► gr.sessionDown(session, d) → families to keep stale (helper); the agent
//                                                then calls rib.peerDown(peer, {keepStale})
//   End-of-RIB  ─► gr.endOfRib(session, family)
//   peer gone   ─► gr.peerRemoved(session)
//   BPF / socket evidence ─► gr.peerHealth(events)   (fast unlock: issue 7)
//
// classic.ts is the simple classic behaviour (issue 4). Issue 7 replaces it with the full
// policy (fast unlock on peer-health evidence, selection deferral): implement this interface
// and change createGracefulRestart below; the agent needs no other change.
import type { Config } from '../config/index.js';
import type { Fib } from '../fib/index.js';
import type { PeerHealthEvent } from '../health/index.js';
import type { Logger } from '../log.js';
import type { Family } from '../net/ip.js';
import type { PeerHandle, Rib } from '../rib/index.js';
import type { LocalOpen, Negotiated, Session, SessionDown } from '../bgp/session/index.js';
import { ClassicGracefulRestart } from './classic.js';

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
  /** Peer-health evidence (PeerWatch); the classic policy ignores it. */
  peerHealth(events: readonly PeerHealthEvent[]): void;
  /** For /api/v1/peers: the peer is restarting (we keep its routes as helper). */
  peerRestarting(peer: GrPeer): boolean;
  /** We are restarting (adopted routes wait for the peers' End-of-RIB). */
  readonly restarting: boolean;
  /** /readyz lines while restart recovery holds the kernel out of sync */
  problems(): string[];
  stop(): void;
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
}

export function createGracefulRestart(o: GracefulRestartOptions): GracefulRestart {
  return new ClassicGracefulRestart(o);
}
