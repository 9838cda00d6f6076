// The source without BPF: the session layer hands over the errors Node gives it on its own
// sockets, and gets the same PeerHealthEvent the kernel programs produce. In BPF mode it
// still serves what no tracepoint can see (a connect() that fails at once, such as
// ENETUNREACH with no route: no socket ever leaves CLOSE), and duplicates of what the
// kernel already reported are dropped (Dedup).
import { formatIP, type Family } from '../net/ip.js';
import { classify, errnoName, errnoNumber, kindOfErrorCode, peerKeyOf, type PeerHealthEvent } from './events.js';
import { WatchError, parsePeerAddress } from './watchlist.js';

export interface SocketErrorReport {
  /** the peer's address */
  readonly address: string;
  /** remote port of the socket, if known */
  readonly port?: number;
  readonly localPort?: number;
  /** the error as Node gave it: `code` ('ECONNREFUSED') and/or `errno` (negative, or positive) */
  readonly error: { readonly code?: string | undefined; readonly errno?: number | undefined };
  /** where the session was: connecting (SYN_SENT) or established */
  readonly phase?: 'connect' | 'established';
  /** CLOCK_MONOTONIC ns; default now */
  readonly time?: bigint;
}

/** A PeerHealthEvent from a socket error the session layer saw. Throws WatchError on bad input. */
export function eventFromSocketError(r: SocketErrorReport): PeerHealthEvent {
  const a = typeof r?.address === 'string' ? parsePeerAddress(r.address) : undefined;
  if (!a) throw new WatchError(`reportSocketError: address ${JSON.stringify(r?.address)} is not an IP address`);
  const port = r.port ?? 0;
  const localPort = r.localPort ?? 0;
  for (const [n, v] of [['port', port], ['localPort', localPort]] as const)
    if (!Number.isInteger(v) || v < 0 || v > 65535) throw new WatchError(`reportSocketError: ${n} must be 0–65535, got ${v}`);
  const e = r.error ?? {};
  let n = typeof e.errno === 'number' && e.errno !== 0 ? Math.abs(e.errno) : undefined;
  if (n === undefined && typeof e.code === 'string') n = errnoNumber(e.code);
  const code = typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) ? e.code : n !== undefined ? errnoName(n) : null;
  if (!code) throw new WatchError('reportSocketError: error needs an errno code such as ECONNREFUSED');
  const kind = kindOfErrorCode(code);
  const established = r.phase === 'established';
  return {
    kind,
    evidence: classify(kind),
    peer: formatIP(a.family, a.bytes),
    peerKey: peerKeyOf(a.family as Family, a.bytes),
    family: a.family,
    port,
    localPort,
    errno: n !== undefined ? -n : 0,
    code,
    softCode: null,
    oldState: established ? 'ESTABLISHED' : 'SYN_SENT',
    newState: 'CLOSE',
    retransmits: 0,
    time: r.time ?? process.hrtime.bigint(),
    source: 'socket',
    neighbour: null,
    expired: false,
    socketCookie: 0n,
    hook: 'socket',
  };
}

/**
 * Drops an event when the other source reported the same thing (peer, port, kind, errno)
 * within `windowNs`. Events of one source are never dropped: two refused connects are two.
 */
export class Dedup {
  #seen = new Map<string, { source: PeerHealthEvent['source']; time: bigint }>();
  /**
   * Prune when the map reaches this size, then again at twice what was left: pruning goes over
   * every entry, and pruning on every event once there were 4,096 live ones (thousands of
   * peers failing at once) made each event cost as much as all the peers (issue 12).
   */
  #pruneAt = 4096;
  constructor(readonly windowNs: bigint) {}

  admit(e: PeerHealthEvent, now: bigint = process.hrtime.bigint()): boolean {
    if (this.#seen.size >= this.#pruneAt) {
      this.#prune(now);
      this.#pruneAt = Math.max(4096, this.#seen.size * 2);
    }
    const key = `${e.peer}|${e.port}|${e.kind}|${e.code ?? ''}`;
    const prev = this.#seen.get(key);
    if (prev && prev.source !== e.source && now - prev.time <= this.windowNs) return false;
    this.#seen.set(key, { source: e.source, time: now });
    return true;
  }

  #prune(now: bigint): void {
    for (const [k, v] of this.#seen) if (now - v.time > this.windowNs) this.#seen.delete(k);
  }
}
