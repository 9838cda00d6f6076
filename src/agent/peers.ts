// The peers the agent knows, by session and by RIB handle. An entry is made when the session
// layer creates a session (configured peer or dynamic neighbour) and dropped when it removes
// it; with it go the RIB peer, the graceful-restart state and the peer-health watch. The
// session events that concern only the RIB and graceful restart are handled here too.
import type { UpdateMessage } from '../bgp/codec/index.js';
import { plainError, type Negotiated, type Session, type Sessions } from '../bgp/session/index.js';
import { socketErrorText, type Listener } from '../bgp/transport/index.js';
import type { GracefulRestart } from '../gr/index.js';
import type { Logger } from '../log.js';
import type { Family } from '../net/ip.js';
import type { PeerHandle, Rib } from '../rib/index.js';
import type { PeerEntry } from './state.js';
import type { WatchList } from './watchlist.js';

export interface PeerTableOptions {
  /** read when a session comes or goes (made after this table) */
  rib: () => Rib;
  gr: () => GracefulRestart;
  sessions: () => Sessions;
  watchList: WatchList;
  /** true once the agent stops: the RIB keeps its peers (nothing is withdrawn) */
  stopping: () => boolean;
  log: Logger;
}

export class PeerTable {
  readonly entries = new Map<Session, PeerEntry>();
  readonly #sessions = new Map<PeerHandle, Session>();

  constructor(private readonly o: PeerTableOptions) {}

  /** The session of a RIB peer. */
  session(h: PeerHandle): Session | undefined {
    return this.#sessions.get(h);
  }

  /** The entry of a RIB peer. */
  ofHandle(h: PeerHandle): PeerEntry | undefined {
    const s = this.#sessions.get(h);
    return s && this.entries.get(s);
  }

  /** The session layer made a session: a RIB peer and an entry for it. */
  created(s: Session): void {
    const st = s.settings;
    const rib = this.o.rib().addPeer({ address: s.address, asn: st.asn, routeReflectorClient: st.routeReflectorClient, ...(st.maxPrefixes !== undefined ? { maxPrefixes: st.maxPrefixes } : {}) });
    this.#sessions.set(rib, s);
    this.entries.set(s, { session: s, rib, configured: !s.dynamic, updateErrors: {}, logged: new Set() });
    if (s.dynamic) this.o.watchList.dynamic(s.address, true);
  }

  /** The session layer removed a session: its entry, GR state and (unless stopping) RIB peer go. */
  removed(s: Session): void {
    const e = this.entries.get(s);
    if (!e) return;
    this.entries.delete(s);
    this.#sessions.delete(e.rib);
    this.o.gr().peerRemoved(e);
    if (!this.o.stopping()) this.o.rib().removePeer(e.rib);
    if (!s.dynamic) return;
    this.o.watchList.dynamic(s.address, false);
    this.o.log.info({ peer: s.address }, `dynamic neighbour ${s.address} removed`);
  }

  /** Count the RFC 7606 outcomes of an UPDATE; log each malformation once per session. */
  noteUpdateErrors(e: PeerEntry, m: UpdateMessage): void {
    for (const err of m.errors) {
      e.updateErrors[err.action] = (e.updateErrors[err.action] ?? 0) + 1;
      if (e.logged.has(err.code)) continue;
      e.logged.add(err.code);
      // once per malformation and session: a peer repeating it must not flood the log
      this.o.log.warn({ peer: e.session.address, code: err.code, action: err.action, rfc: err.rfc }, `malformed UPDATE from ${e.session.address}: ${err.message}`);
    }
  }

  /** Established: the RIB sends the peer its routes; graceful restart learns what was negotiated. */
  established(s: Session, n: Negotiated, localAddress: string): void {
    const e = this.entries.get(s);
    if (!e || this.o.stopping()) return;
    e.logged.clear();
    this.o.rib().peerUp(e.rib, { routerId: n.routerId, codec: n.codec, families: n.families, localAddress, enhancedRouteRefresh: n.enhancedRouteRefresh });
    this.o.gr().sessionUp(e, n);
  }

  /** ROUTE-REFRESH (RFC 2918), or its BoRR/EoRR demarcation (RFC 7313 subtypes 1 and 2). */
  routeRefresh(s: Session, family: Family, subtype: number): void {
    const e = this.entries.get(s);
    if (!e || this.o.stopping()) return;
    const rib = this.o.rib();
    if (subtype === 0) rib.routeRefresh(e.rib, family);
    else if (subtype === 1) rib.markStale(e.rib, [family]);
    else rib.sweepStale(e.rib, family);
  }

  /** A dynamic neighbour with no connection and no routes kept for it is removed. */
  maybeForget(s: Session): void {
    if (!s.dynamic || this.o.stopping() || s.isEstablished || s.connections().length > 0) return;
    const e = this.entries.get(s);
    if (!e) return;
    if (this.o.rib().peerCounts(e.rib).staleRoutes > 0) return;
    this.o.sessions().forget(s);
  }

  /** A TCP-MD5 key the kernel refused on the listening socket is the peer's lastError until it is up. */
  noteKeyRefusals(listener: Pick<Listener, 'keyStatus'>): void {
    for (const s of this.o.sessions().list()) {
      const k = listener.keyStatus(s.address);
      if (k?.state !== 'failed' || s.isEstablished) continue;
      s.noteError(plainError(`TCP-MD5 key refused by the kernel on the listening socket: ${socketErrorText(k)}`, `TCP-MD5 key refused: ${k.code}`, 'key-refused'));
    }
  }
}
