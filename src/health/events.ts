// Peer-health events: what the GR policy consumes, from the BPF programs or, without BPF,
// from the errors Node sees on the agent's own sockets. One type for both sources.
//
// Which evidence means "the peer is dead" (fast unlock acts on it at once):
//   refused          connection refused (RST to our SYN): nothing listens, host is up but BGP is not
//   unreachable      EHOSTUNREACH / ENETUNREACH / EHOSTDOWN / ENETDOWN / EACCES on the socket
//                    (ICMP from a router, or our own neighbour resolution failing)
//   timeout          ETIMEDOUT: connect or retransmission retries exhausted
//   reset            RST received on a synchronized connection
//   host-gone        an RTO retransmission on an established session while the socket holds
//                    an unreachable soft error (ICMP host-unreachable the application never sees)
//   syn-unanswered   our SYN retransmitted without any answer (the peer drops silently);
//                    within about a second of the connect
//   neighbour-failed the ARP/NDP entry of the peer, or of its gateway, went FAILED
//   rto (expired)    the RTO callback says the retry limit is reached
// Suspect (a policy may count them, one alone proves nothing):
//   rto              a retransmission timeout on an established session, no soft error
//                    (silent loss: congestion, or a peer that vanished without ICMP)
// Informational:
//   state            TCP state changes of sockets to the peer
//   md5-mismatch / md5-required / md5-unexpected   the peer is alive, its segments fail
//                    TCP-MD5 (a key differs or is missing on one side)
//   error            any other socket error, errno given
import { constants } from 'node:os';
import { formatIP, type Family } from '../net/ip.js';
import { prefix4, prefix6, type Prefix } from '../net/prefix.js';
import { KINDS, PW_EV_AT_CLOSE, PW_EV_EXPIRED, PW_EV_SOCKOPS, type PeerHealthKind, type RawEvent } from './bpfrecords.js';

export { KINDS, type PeerHealthKind };

export type Evidence = 'dead' | 'suspect' | 'info';

/** Linux TCP states by their kernel number (TCP_ESTABLISHED = 1 …). */
export const TCP_STATES = [
  '',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
  'BOUND_INACTIVE',
] as const;
export type TcpState = Exclude<(typeof TCP_STATES)[number], ''>;

export function tcpStateName(n: number): TcpState | null {
  const s = TCP_STATES[n];
  return s ? s : null;
}

const errnoNames = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) if (!errnoNames.has(n)) errnoNames.set(n, name);
// Linux numbers Node's table lacks but libuv names (uv_err_name)
for (const [n, name] of [[112, 'EHOSTDOWN'], [64, 'ENONET'], [121, 'EREMOTEIO']] as const)
  if (!errnoNames.has(n)) errnoNames.set(n, name);
const errnoNumbers = new Map<string, number>([...errnoNames].map(([n, name]) => [name, n]));

/** The name of a positive errno ("ECONNREFUSED"), or null for 0. */
export function errnoName(n: number): string | null {
  if (n === 0) return null;
  return errnoNames.get(Math.abs(n)) ?? `E${Math.abs(n)}`;
}

/** The positive errno of a name, or undefined. */
export function errnoNumber(code: string): number | undefined {
  return errnoNumbers.get(code);
}

export interface PeerHealthEvent {
  readonly kind: PeerHealthKind;
  readonly evidence: Evidence;
  /** canonical text of the peer's address */
  readonly peer: string;
  /** the peer's address in compact form (src/net/prefix.ts): a /32 or /128 host prefix */
  readonly peerKey: Prefix;
  readonly family: Family;
  /** remote port of the socket or segment (0 for neighbour evidence) */
  readonly port: number;
  readonly localPort: number;
  /** negative errno as Node reports system errors; 0 when none */
  readonly errno: number;
  /** errno name ('ECONNREFUSED'), or null */
  readonly code: string | null;
  /** the socket's soft error (sk_err_soft) by name, or null */
  readonly softCode: string | null;
  readonly oldState: TcpState | null;
  readonly newState: TcpState | null;
  /** retransmission timeouts of the socket so far (icsk_retransmits) */
  readonly retransmits: number;
  /** CLOCK_MONOTONIC nanoseconds of the kernel event (compare with process.hrtime.bigint()) */
  readonly time: bigint;
  /** 'bpf': the kernel programs saw it; 'socket': the session layer reported an error Node gave it */
  readonly source: 'bpf' | 'socket';
  /** neighbour-failed: the address whose neighbour entry failed (the peer itself, or its gateway) */
  readonly neighbour: string | null;
  /** rto: the retry limit is reached (ETIMEDOUT or the soft error follows) */
  readonly expired: boolean;
  /** the kernel's socket cookie (SO_COOKIE), 0n when unknown */
  readonly socketCookie: bigint;
  /** where it was seen: the tracepoint, 'sockops' (RTO callback), or 'socket' (session report) */
  readonly hook: Hook;
}

export type Hook =
  | 'inet_sk_error_report'
  | 'inet_sock_set_state'
  | 'tcp_receive_reset'
  | 'tcp_retransmit_skb'
  | 'sockops'
  | 'neigh'
  | 'tcp_hash_md5'
  | 'socket';

function hookOf(kind: PeerHealthKind, flags: number): Hook {
  switch (kind) {
    case 'state':
      return 'inet_sock_set_state';
    case 'reset':
      return 'tcp_receive_reset';
    case 'rto':
    case 'host-gone':
    case 'syn-unanswered':
      return flags & PW_EV_SOCKOPS ? 'sockops' : 'tcp_retransmit_skb';
    case 'neighbour-failed':
      return 'neigh';
    case 'md5-mismatch':
    case 'md5-required':
    case 'md5-unexpected':
      return 'tcp_hash_md5';
    default:
      return flags & PW_EV_AT_CLOSE ? 'inet_sock_set_state' : 'inet_sk_error_report';
  }
}

const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EACCES']);

/** How much an event says about the peer being dead (see the table at the top of this file). */
export function classify(kind: PeerHealthKind, expired = false): Evidence {
  switch (kind) {
    case 'refused':
    case 'unreachable':
    case 'timeout':
    case 'reset':
    case 'host-gone':
    case 'syn-unanswered':
    case 'neighbour-failed':
      return 'dead';
    case 'rto':
      return expired ? 'dead' : 'suspect';
    default:
      return 'info';
  }
}

/** The kind of a socket error by its code, as the kernel programs classify sk_err. */
export function kindOfErrorCode(code: string): PeerHealthKind {
  if (code === 'ECONNREFUSED') return 'refused';
  if (UNREACHABLE.has(code)) return 'unreachable';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  return 'error';
}

export function peerKeyOf(family: Family, bytes: Uint8Array): Prefix {
  if (family === 4) return prefix4((((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0), 32);
  return prefix6(bytes, 128);
}

/** A typed event from a kernel record; `peer` overrides the address (gateway attribution). */
export function fromRaw(r: RawEvent, peer?: { address: string; family: Family; bytes: Uint8Array }): PeerHealthEvent {
  const kind = KINDS[r.kind] ?? 'error';
  const own = formatIP(r.family, r.addr);
  const expired = (r.flags & PW_EV_EXPIRED) !== 0;
  const neighbourKind = kind === 'neighbour-failed';
  return {
    kind,
    evidence: classify(kind, expired),
    peer: peer?.address ?? own,
    peerKey: peer ? peerKeyOf(peer.family, peer.bytes) : peerKeyOf(r.family, r.addr),
    family: peer?.family ?? r.family,
    port: r.rport,
    localPort: r.lport,
    errno: r.err ? -Math.abs(r.err) : 0,
    code: errnoName(r.err),
    softCode: errnoName(r.softErr),
    oldState: neighbourKind ? null : tcpStateName(r.oldstate),
    newState: neighbourKind ? null : tcpStateName(r.newstate),
    retransmits: r.retransmits,
    time: r.tsNs,
    source: 'bpf',
    neighbour: neighbourKind ? own : null,
    expired,
    socketCookie: r.cookie,
    hook: hookOf(kind, r.flags),
  };
}
