// What one peer-health event means for graceful restart (pure: no state, no I/O).
//
// The events and their evidence class come from src/health/events.ts. Here only the dead ones
// matter, judged against the peer's session:
//
//   the peer is Established      and the event concerns that connection (same ports), or the
//                                neighbour entry of the peer or its gateway FAILED:
//                                  → 'established-dead': the host is gone under the session
//                                    (reset, host-gone, ETIMEDOUT, RTO limit, neighbour FAILED)
//                                an event about another socket (a colliding attempt, an old
//                                connection) says nothing about the live session → ignored
//   the peer is not Established  → 'dead': refused, unreachable, host-gone, neighbour FAILED,
//                                  timeout, SYN unanswered
//                                → a reset is ignored: an RST on a synchronized connection
//                                  comes from a live TCP stack (a BGP daemon still in Idle
//                                  after a NOTIFICATION accepts and resets, GoBGP does; a
//                                  crashed daemon's kernel resets the old connection). Taking
//                                  it as death swept a live peer's routes from the kernel.
//
// Strength. 'answered' evidence is something the network said (RST, ICMP, ARP/NDP failure,
// retry limits): enough for both roles. 'silent' evidence is a single SYN retransmission with
// no answer — one lost SYN looks the same. The restarting speaker may act on it (RFC 4724
// lets it stop waiting; the peer re-advertises when it comes), the helper keeps a peer's stale
// routes until the silence repeats (SILENT_REPEATS), because dropping them breaks forwarding
// through a peer that is in fact restarting.
import type { PeerHealthEvent } from '../health/index.js';

export type Verdict = 'ignore' | 'established-dead' | 'dead';
export type Strength = 'answered' | 'silent';

/** syn-unanswered events in a row before the helper drops a peer's stale routes */
export const SILENT_REPEATS = 2;

export interface SessionPorts {
  readonly localPort: number;
  readonly remotePort: number;
}

const ESTABLISHED_DEAD = new Set<PeerHealthEvent['kind']>(['reset', 'host-gone', 'timeout', 'unreachable', 'rto', 'neighbour-failed']);

/** `established`: the ports of the peer's Established connection, or null when it has none. */
export function judge(e: PeerHealthEvent, established: SessionPorts | null): Verdict {
  if (e.evidence !== 'dead') return 'ignore';
  if (!established) return e.kind === 'reset' ? 'ignore' : 'dead';
  if (e.kind === 'neighbour-failed') return 'established-dead';
  const same = e.localPort === established.localPort && e.port === established.remotePort;
  return same && ESTABLISHED_DEAD.has(e.kind) ? 'established-dead' : 'ignore';
}

export function strength(e: PeerHealthEvent): Strength {
  return e.kind === 'syn-unanswered' ? 'silent' : 'answered';
}

/** Evidence told by words of its own rather than by its socket error (see describe). */
const WORDED: ReadonlySet<PeerHealthEvent['kind']> = new Set(['host-gone', 'syn-unanswered', 'neighbour-failed', 'rto']);

/** The socket error the evidence is, as describe names it; null when it is told in words. */
export function evidenceCode(e: PeerHealthEvent): string | null {
  return WORDED.has(e.kind) ? null : e.code;
}

/** The evidence in words for logs and the API: `ECONNREFUSED (bpf inet_sk_error_report)`. */
export function describe(e: PeerHealthEvent): string {
  const what =
    e.kind === 'host-gone'
      ? `host gone (retransmissions${e.softCode ? ` with ${e.softCode}` : ''})`
      : e.kind === 'syn-unanswered'
        ? 'SYN unanswered'
        : e.kind === 'neighbour-failed'
          ? `neighbour ${e.neighbour ?? ''} FAILED`.replace('  ', ' ')
          : e.kind === 'rto'
            ? 'retransmission limit reached'
            : (evidenceCode(e) ?? e.kind);
  return `${what} (${e.source === 'bpf' ? `bpf ${e.hook}` : 'socket error'})`;
}
