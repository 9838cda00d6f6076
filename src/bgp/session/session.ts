// One BGP peer: its connections (each with its own FSM), reconnecting with backoff,
// collision detection (RFC 4271 §6.8), the session's view state and lastError.
//
//   primary   the outgoing connection's FSM (none for passive peers). It persists across
//             attempts: Connect → (failure) Active → (ConnectRetry = backoff) Connect …
//   incoming  one FSM per accepted connection, started passively (events 5 then 17)
//
// The peer is Established when one connection is; the others are closed then (Cease/7 for
// those that sent an OPEN). The peer's state shown is the most advanced connection's, else
// the primary's (Active for a passive peer).
import { peerIdentity, type Family } from '../../net/ip.js';
import type { Logger } from '../../log.js';
import { AFI_IPV4, AFI_IPV6, type BgpError, CeaseSubcode, isCease, NotificationCode, REFRESH_BORR, REFRESH_EORR, type RouteRefreshMessage, SAFI_UNICAST, type UpdateMessage } from '../codec/index.js';
import { connect as transportConnect, type ConnectError } from '../transport/index.js';
import { type Cease, ceaseOnWire } from './cease.js';
import { Connection, type ConnectionHost, type Endpoint, type Notification } from './connection.js';
import { backoff, collisionWinner, type State, type Timers } from './fsm.js';
import { acceptOpen, type LocalOpen, localOpen, type Negotiated, type OpenVerdict } from './negotiation.js';
import { encodeOpen, type OpenMessage } from '../codec/index.js';
import { type LastError, notificationError, plainError, socketError } from './lasterror.js';
import { ipv4ToNumber } from '../../net/ip.js';

/** A peer's settings; PeerConfig has all of them. */
export interface PeerSettings {
  readonly address: string;
  readonly family: Family;
  readonly port: number;
  readonly asn: number;
  readonly ibgp: boolean;
  readonly password: string | undefined;
  readonly holdTime: number;
  /** keepalive interval when shorter than a third of the negotiated hold time (peer option, ROUTELET_KEEPALIVE_TIME) */
  readonly keepaliveTime?: number | undefined;
  /** TCP_USER_TIMEOUT on its connections, milliseconds; 0 or absent: off (peer option, ROUTELET_TCP_USER_TIMEOUT) */
  readonly tcpUserTimeout?: number;
  readonly passive: boolean;
  readonly ttlSecurity: number;
  readonly multihop: number;
  readonly gracefulRestart: boolean;
  readonly routeReflectorClient: boolean;
  readonly maxPrefixes: number | undefined;
  readonly description: string | undefined;
}

/** The session left Established. */
export interface SessionDown {
  readonly negotiated: Negotiated;
  /** the NOTIFICATION sent or received as it went down, if any */
  readonly notification: (Notification & { readonly direction: 'sent' | 'received' }) | null;
  readonly reason: string;
  /** the agent is stopping this session (shutdown, de-configuration) */
  readonly stopping: boolean;
}

/** What the session layer tells its owner (the agent wires these to the RIB and GR). */
export interface SessionEvents {
  established(s: Session, n: Negotiated, local: Endpoint): void;
  update(s: Session, m: UpdateMessage): void;
  /**
   * The Established connection handled everything it received so far inline, in its socket's
   * callback (a lone UPDATE, connection.ts): the changes its UPDATEs made can go on now.
   */
  caughtUp?(s: Session): void;
  /** ROUTE-REFRESH received: subtype 0 asks for our routes; 1/2 frame the peer's re-advertisement (RFC 7313) */
  routeRefresh(s: Session, family: Family, subtype: number): void;
  down(s: Session, d: SessionDown): void;
  stateChanged?(s: Session, from: State, to: State): void;
  /** a socket error on a connection to the peer (for peer-health evidence without BPF) */
  socketError?(s: Session, e: { code?: string; errno?: number }, phase: 'connect' | 'established', ports: { port: number; localPort: number }): void;
  /** no connection is left and the session is not up (dynamic neighbours are removed then) */
  idle?(s: Session): void;
}

/** What all sessions share. */
export interface SessionContext {
  readonly local: { asn: number; routerId: string; hostname?: string };
  readonly connectRetry: number;
  readonly connectRetryMax: number;
  /** the hold timer until the peer's OPEN arrives (RFC 4271 suggests 4 minutes) */
  readonly initialHold: number;
  /** source address for outgoing connections, per family (a specific ROUTELET_LISTEN_ADDRESS) */
  readonly bindAddress?: { 4?: string; 6?: string };
  /** path of a network namespace to connect from (tests, labs) */
  readonly netns?: string;
  /** our graceful restart capability for a peer, null when off for it */
  gracefulRestart(s: Session): LocalOpen['gracefulRestart'];
  readonly events: SessionEvents;
  readonly log: Logger;
}

const RANK: Readonly<Record<State, number>> = { Idle: 0, Connect: 1, Active: 1, OpenSent: 2, OpenConfirm: 3, Established: 4 };
const MAX_INCOMING = 3;
/**
 * The reason a connect in flight is cancelled with. abort() without one makes a DOMException
 * (a stack trace) per cancel: with thousands of peers whose connects hang, that was the
 * biggest single cost of the ConnectRetry timer (issue 12).
 */
const CONNECT_CANCELLED: Error = Object.freeze(new Error('connect cancelled'));
/** A session this young may lose a collision its peer saw in OpenConfirm (see opened()). */
const COLLISION_WINDOW_MS = 5000;
/** A connection in OpenSent this young is trusted to get the peer's OPEN (see losesCollision()). */
const OPEN_SENT_FRESH_MS = 5000;

export class Session implements ConnectionHost {
  readonly address: string;
  readonly dynamic: boolean;
  settings: PeerSettings;
  /** the outgoing connection (null for passive peers) */
  primary: Connection | null = null;
  readonly incoming = new Set<Connection>();
  /** the Established connection */
  current: Connection | null = null;
  lastError: LastError | null = null;
  /** ms since the epoch when the session became Established */
  establishedAt = 0;
  /** connections that failed in a row (drives the reconnect backoff); 0 once Established */
  failures = 0;
  /** times the session left Established */
  flaps = 0;
  /** bugs (exceptions other than BgpError) contained while handling this peer's messages */
  internalErrors = 0;
  /**
   * Peer-health evidence says the peer is dead (GR fast unlock, issue 7): reconnect at the base
   * ConnectRetry delay instead of a grown backoff, so a peer that comes back is seen at once.
   * Cleared when the session is Established.
   */
  retryFromBase = false;
  stopping = false;
  /** the last Negotiated of an Established session (kept after it goes down, for GR) */
  lastNegotiated: Negotiated | null = null;
  /**
   * A passive peer connected to all the same until the session is first Established (a
   * restarting node of the Kubernetes mesh: its peers' reconnect backoff would decide when it
   * recovers). A collision with the peer's own connection is resolved by RFC 4271 §6.8
   * (opened()); once Established, the session is passive again.
   */
  #connectFirst: boolean;
  #state: State = 'Idle';
  #restart: NodeJS.Timeout | undefined;
  #connect: AbortController | undefined;
  #connectGen = 0;
  readonly #log: Logger;

  constructor(
    settings: PeerSettings,
    private readonly ctx: SessionContext,
    opts: { dynamic?: boolean; connectFirst?: boolean } = {},
  ) {
    this.settings = settings;
    this.address = peerIdentity(settings.address)?.address ?? settings.address;
    this.dynamic = opts.dynamic ?? false;
    this.#connectFirst = (opts.connectFirst ?? false) && settings.passive && !this.dynamic;
    this.#log = ctx.log.child({ peer: this.address });
  }

  get state(): State {
    return this.#state;
  }

  get isEstablished(): boolean {
    return this.current !== null;
  }

  /** This side opens connections: an active peer, or a passive one until its first Established (connectFirst). */
  get connecting(): boolean {
    return !this.dynamic && (!this.settings.passive || this.#connectFirst);
  }

  /** Begin: connect (or, passive, wait for the peer). */
  start(): void {
    if (this.stopping) return;
    if (!this.connecting) {
      this.#recompute();
      return;
    }
    this.primary ??= new Connection('outgoing', this, { activeRetry: true });
    if (this.primary.state === 'Idle') this.primary.event({ type: 'AutomaticStart' });
  }

  #backoffFailures(): number {
    return this.retryFromBase ? Math.min(this.failures, 1) : this.failures;
  }

  /**
   * The peer's host is gone under the Established session (peer-health evidence: a reset, or
   * retransmissions with an unreachable soft error the socket never reports): close it now,
   * as a TCP failure, instead of waiting for the hold timer. No NOTIFICATION (nobody to read it).
   */
  abandon(why: LastError): boolean {
    const c = this.current;
    if (!c || this.stopping) return false;
    this.#setError(why);
    c.closeGently = false;
    c.event({ type: 'TcpConnectionFails' });
    return true;
  }

  /** All connections, the primary first when it has a socket or a connect in flight. */
  connections(): Connection[] {
    const out: Connection[] = [];
    if (this.primary && this.primary.state !== 'Idle' && this.primary.state !== 'Active') out.push(this.primary);
    for (const c of this.incoming) out.push(c);
    return out;
  }

  // ------------------------------------------------------------------ incoming connections

  /** An accepted connection from this peer (the Listener classified it). */
  accept(socket: import('node:net').Socket, local: Endpoint, remote: Endpoint): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    // a peer opening connection after connection without finishing any: keep the newest few
    const waiting = [...this.incoming].filter((c) => c.state === 'OpenSent');
    if (waiting.length >= MAX_INCOMING) this.#discard(waiting[0]!);
    const c = new Connection('incoming', this);
    this.incoming.add(c);
    c.attach(socket, local, remote);
    c.event({ type: 'AutomaticStartPassive' });
    c.event({ type: 'TcpConnectionConfirmed' });
  }

  #discard(c: Connection): void {
    this.incoming.delete(c);
    c.destroy();
  }

  // ------------------------------------------------------------------ ConnectionHost

  #timers: Timers = { connectRetry: 0, initialHold: 0 };

  timers(): Timers {
    // one object per session, brought up to date: this runs for every message received
    this.#timers.connectRetry = backoff(this.#backoffFailures(), this.ctx.connectRetry, this.ctx.connectRetryMax);
    this.#timers.initialHold = this.ctx.initialHold;
    return this.#timers;
  }

  localOpen(): LocalOpen {
    const s = this.settings;
    const o: LocalOpen = {
      asn: this.ctx.local.asn,
      routerId: this.ctx.local.routerId,
      holdTime: s.holdTime,
      ...(s.keepaliveTime !== undefined ? { keepaliveTime: s.keepaliveTime } : {}),
      transport: s.family,
      gracefulRestart: s.gracefulRestart ? this.ctx.gracefulRestart(this) : null,
    };
    if (this.ctx.local.hostname) o.hostname = this.ctx.local.hostname;
    return o;
  }

  openMessage(): Buffer {
    return encodeOpen(localOpen(this.localOpen()));
  }

  checkOpen(_c: Connection, m: OpenMessage): OpenVerdict {
    const v = acceptOpen(this.localOpen(), m, this.settings.asn);
    if (!v.ok) this.#log.warn({ code: v.code, subcode: v.subcode, reason: v.reason }, `OPEN from ${this.address} refused: ${v.reason}`);
    return v;
  }

  connect(c: Connection): void {
    this.#connect?.abort(CONNECT_CANCELLED);
    const ac = new AbortController();
    this.#connect = ac;
    const gen = ++this.#connectGen;
    const s = this.settings;
    const bind = this.ctx.bindAddress?.[s.family];
    transportConnect({
      peer: s,
      port: s.port,
      timeoutMs: 3_600_000, // the ConnectRetry timer bounds the attempt
      signal: ac.signal,
      onread: true,
      ...(bind ? { localAddress: bind } : {}),
      ...(this.ctx.netns ? { netns: this.ctx.netns } : {}),
    }).then(
      (o) => {
        if (gen !== this.#connectGen || c.state !== 'Connect' || this.stopping) {
          o.socket.destroy();
          return;
        }
        this.#connect = undefined;
        const local = { address: peerIdentity(o.local.address)?.address ?? o.local.address, port: o.local.port };
        c.attach(o.socket, local, { address: this.address, port: s.port });
        c.event({ type: 'TcpCrAcked' });
      },
      (e: ConnectError) => {
        if (gen !== this.#connectGen || ac.signal.aborted) return;
        this.#connect = undefined;
        this.#setError(socketError(e));
        this.ctx.events.socketError?.(this, e, 'connect', { port: s.port, localPort: 0 });
        this.failures++;
        if (c.state === 'Connect') c.event({ type: 'TcpConnectionFails' });
      },
    );
  }

  cancelConnect(): void {
    this.#connectGen++;
    this.#connect?.abort(CONNECT_CANCELLED);
    this.#connect = undefined;
  }

  connectTimedOut(): void {
    this.failures++;
    const e = { code: 'ETIMEDOUT' };
    this.#setError(socketError(e));
    this.ctx.events.socketError?.(this, e, 'connect', { port: this.settings.port, localPort: 0 });
  }

  /**
   * Collision detection when the peer's OPEN arrives on `c`, before `c` answers it with a
   * KEEPALIVE (RFC 4271 6.8): `c` loses to a connection of the other direction that the
   * higher BGP identifier initiated, when that one is in OpenConfirm, or in OpenSent and made
   * less than OPEN_SENT_FRESH_MS ago. 6.8 lets a speaker examine connections in OpenSent when
   * it knows the peer's identifier by other means: `c`'s OPEN gives it, for the same address.
   * Deciding after the KEEPALIVE let the peer establish on the connection we were closing; the
   * peer then kept that one by its own rule (an Established session wins: BIRD), closed the
   * other, and both died (test/session/collision.test.ts, under the suite's load). An older
   * connection in OpenSent is not trusted to get the peer's OPEN.
   */
  losesCollision(c: Connection): boolean {
    const { keep, rule } = this.#byIdentifier(c);
    if ((keep === 'ours') === (c.direction === 'outgoing')) return false;
    const now = Date.now();
    for (const o of this.connections()) {
      if (o === c || o.direction === c.direction) continue;
      if (o.state !== 'OpenConfirm' && !(o.state === 'OpenSent' && now - o.attachedAt < OPEN_SENT_FRESH_MS)) continue;
      this.#log.info({ kept: o.direction, closed: c.direction, rule: `${rule} (it is in ${o.state})` }, `connection collision with ${this.address} (RFC 4271 6.8): closing the ${c.direction} connection`);
      return true;
    }
    return false;
  }

  /** Which side's connection the BGP identifiers keep against `c`, the peer's OPEN on it (RFC 4271 6.8), and that rule in words. */
  #byIdentifier(c: Connection): { keep: 'ours' | 'theirs'; rule: string } {
    const keep = collisionWinner(ipv4ToNumber(this.ctx.local.routerId)!, ipv4ToNumber(c.negotiated!.routerId)!, this.ctx.local.asn, this.settings.asn);
    const higher = keep === 'ours' ? `${this.ctx.local.routerId} (ours)` : `${c.negotiated!.routerId} (the peer's)`;
    return { keep, rule: `BGP identifier ${higher} is higher: the connection ${keep === 'ours' ? 'we' : 'the peer'} initiated is kept` };
  }

  /**
   * Collision detection when `c` reaches OpenConfirm (RFC 4271 6.8), against the other
   * connections that have the peer's OPEN:
   *  - OpenConfirm: the connection initiated by the higher BGP identifier is kept;
   *  - Established, and the peer's new OPEN has the Restart State bit (RFC 4724 §4.2): the
   *    peer restarted, the old session is over (its routes become stale) and `c` goes on;
   *  - Established for less than COLLISION_WINDOW_MS: both sides connected at once and the
   *    peer may have seen that session only in OpenConfirm, deciding by identifier: decide the
   *    same way, so both keep the same connection;
   *  - Established for longer: the new connection is closed.
   */
  opened(c: Connection): void {
    const byIdentifier = (o: Connection): { loser: Connection; rule: string } => {
      if (o.direction === c.direction) return { loser: o, rule: 'two connections of the same direction: the newer one is kept' };
      const { keep, rule } = this.#byIdentifier(c);
      return { loser: (keep === 'ours') === (c.direction === 'outgoing') ? o : c, rule };
    };
    for (const o of this.connections()) {
      if (o === c) continue;
      let decision: { loser: Connection; rule: string };
      if (o.state === 'Established') {
        if (o.negotiated?.gracefulRestart && c.negotiated!.gracefulRestart?.restarting) {
          this.#log.info({ connection: c.id }, `${this.address} opened a new session with the Restart State bit while established: it restarted (RFC 4724)`);
          this.#setError(plainError('the peer restarted: a new connection replaced the established session'));
          o.closeGently = false;
          o.event({ type: 'TcpConnectionFails' });
          continue;
        }
        decision = Date.now() - this.establishedAt < COLLISION_WINDOW_MS ? byIdentifier(o) : { loser: c, rule: 'a connection is established already' };
      } else if (o.state === 'OpenConfirm') {
        decision = byIdentifier(o);
      } else continue;
      const { loser, rule } = decision;
      this.#log.info({ kept: loser === o ? c.direction : o.direction, closed: loser.direction, rule }, `connection collision with ${this.address} (RFC 4271 6.8): closing the ${loser.direction} connection`);
      loser.eventWithReason({ type: 'OpenCollisionDump' }, 'connection collision resolution');
      if (loser === c) return;
    }
  }

  established(c: Connection): void {
    this.current = c;
    clearTimeout(this.#restart);
    this.#restart = undefined;
    // connections still in OpenSent are judged when their OPEN arrives (opened())
    const p = this.primary;
    if (p && p !== c && (p.state === 'Connect' || p.state === 'Active')) p.event({ type: 'ManualStop' });
    this.lastNegotiated = c.negotiated;
    this.failures = 0;
    this.retryFromBase = false;
    this.#connectFirst = false;
    this.establishedAt = Date.now();
    const n = c.negotiated!;
    this.#log.info(
      { connection: c.direction, localAddress: c.local?.address, routerId: n.routerId, holdTime: n.holdTime, families: n.families, gracefulRestart: n.gracefulRestart !== null, hostname: n.hostname },
      `BGP session with ${this.address} established`,
    );
    this.ctx.events.established(this, n, c.local!);
  }

  update(c: Connection, m: UpdateMessage): void {
    if (c !== this.current) return;
    this.ctx.events.update(this, m);
  }

  caughtUp(c: Connection): void {
    if (c === this.current) this.ctx.events.caughtUp?.(this);
  }

  routeRefresh(c: Connection, m: RouteRefreshMessage): void {
    if (c !== this.current || m.safi !== SAFI_UNICAST) return;
    const family: Family | undefined = m.afi === AFI_IPV4 ? 4 : m.afi === AFI_IPV6 ? 6 : undefined;
    if (!family || !c.negotiated!.families.includes(family)) return;
    if (m.subtype !== 0 && m.subtype !== REFRESH_BORR && m.subtype !== REFRESH_EORR) return;
    this.ctx.events.routeRefresh(this, family, m.subtype);
  }

  internalError(c: Connection, error: unknown, message: Uint8Array | null, during: string): void {
    this.internalErrors++;
    this.#log.error(
      { err: error, connection: c.direction, state: c.state, during, message: message ? Buffer.from(message).toString('hex') : null },
      `BUG: internal error while ${during} from ${this.address}; the connection is reset (Cease), the agent goes on — please report this with the message octets`,
    );
  }

  ignored(_c: Connection, e: BgpError): void {
    this.#log.debug({ code: e.code }, `ignored a message from ${this.address}: ${e.message}`);
  }

  notification(c: Connection, direction: 'sent' | 'received', n: Notification, why?: BgpError | string, reply = false): void {
    const err = notificationError(direction, n, why);
    if (reply) {
      // RFC 4271 8.2.2 answers a NOTIFICATION in OpenSent with an FSM error: the received one stays the cause
      this.#log.debug({ code: n.code, subcode: n.subcode }, `${this.address}: ${err.text}`);
      return;
    }
    // a collision loser's Cease is routine, not the session's error
    if (!(isCease(n, CeaseSubcode.ConnectionCollisionResolution) && c !== this.current)) this.#setError(err);
    const level = direction === 'received' || (n.code !== NotificationCode.Cease && n.code !== NotificationCode.HoldTimerExpired) ? 'warn' : 'info';
    this.#log[level]({ connection: c.direction, code: n.code, subcode: n.subcode }, `${this.address}: ${err.text}`);
  }

  closed(c: Connection, error: NodeJS.ErrnoException | undefined): void {
    // in OpenSent the FSM goes back to Active without releasing: count the failure here
    if (c.state === 'OpenSent' && !this.stopping) this.failures++;
    if (error) {
      this.#setError(socketError(error));
      this.ctx.events.socketError?.(this, error, c.state === 'Established' ? 'established' : 'connect', { port: c.remote?.port ?? 0, localPort: c.local?.port ?? 0 });
    } else if (!c.lastNotification || c.lastNotification.direction !== 'received') {
      if (c.state === 'Established' || c === this.current || c.state === 'OpenConfirm' || c.state === 'OpenSent')
        this.#setError(plainError('connection closed by the peer without a NOTIFICATION'));
    }
  }

  ackTimeoutMs(): number {
    return this.settings.tcpUserTimeout ?? 0;
  }

  holdExpired(): void {
    // the NOTIFICATION sent next carries the words
  }

  released(c: Connection, routes: boolean): void {
    const collision = c.lastNotification?.direction === 'sent' && isCease(c.lastNotification, CeaseSubcode.ConnectionCollisionResolution);
    if (!collision && !this.stopping) this.failures++;
    if (routes && c === this.current) {
      this.current = null;
      this.flaps++;
      const n = c.negotiated!;
      const down: SessionDown = { negotiated: n, notification: c.lastNotification, reason: this.lastError?.text ?? 'session closed', stopping: this.stopping };
      this.#log.warn({ reason: down.reason, uptimeSeconds: Math.round((Date.now() - this.establishedAt) / 1000) }, `BGP session with ${this.address} down`);
      this.establishedAt = 0;
      this.ctx.events.down(this, down);
    }
  }

  stateChanged(c: Connection, from: State): void {
    if (c.direction === 'incoming' && (c.state === 'Idle' || (c.state === 'Active' && RANK[from] >= RANK.OpenSent))) this.#discard(c);
    if (this.primary?.state === 'Idle' && !this.current) {
      // a passive peer connected to first (connectFirst) and Established since: passive again
      if (!this.connecting) this.primary = null;
      else this.#scheduleRestart();
    }
    this.#recompute();
  }

  // ------------------------------------------------------------------ state

  #scheduleRestart(): void {
    if (this.stopping || this.#restart || this.current) return;
    const delay = this.failures === 0 ? 0 : backoff(this.#backoffFailures(), this.ctx.connectRetry, this.ctx.connectRetryMax) * 1000 * (0.75 + 0.25 * Math.random());
    this.#restart = setTimeout(() => {
      this.#restart = undefined;
      const p = this.primary;
      if (!p || this.stopping || this.current || p.state !== 'Idle') return;
      if (this.connections().some((o) => o.state === 'OpenConfirm')) {
        this.#scheduleRestart();
        return;
      }
      p.event({ type: 'AutomaticStart' });
    }, delay);
    this.#restart.unref();
  }

  #recompute(): void {
    let best: State | null = null;
    for (const c of this.connections()) if (best === null || RANK[c.state] > RANK[best]) best = c.state;
    let state: State;
    if (best !== null && RANK[best] >= RANK.OpenSent) state = best;
    else if (this.stopping) state = 'Idle';
    else if (!this.primary) state = 'Active';
    else state = this.primary.state;
    if (state === this.#state) return;
    const from = this.#state;
    this.#state = state;
    this.#log.info({ from, to: state, ...(this.lastError && state !== 'Established' ? { lastError: this.lastError.text } : {}) }, `BGP ${this.address}: ${from} → ${state}`);
    this.ctx.events.stateChanged?.(this, from, state);
    // the last connection went away (not a session that never had one, such as a new dynamic neighbour)
    if (RANK[from] >= RANK.OpenSent && this.connections().length === 0 && !this.current) this.ctx.events.idle?.(this);
  }

  #setError(e: LastError): void {
    this.lastError = e;
  }

  /** Record an error the session itself did not see (e.g. a TCP-MD5 key the kernel refused). */
  noteError(e: LastError): void {
    this.lastError = e;
  }

  /** Reset the Established session with a Cease (too many prefixes); it reconnects after the backoff. */
  reset(n: Cease, reason: string): void {
    const c = this.current;
    if (!c) return;
    this.#sendCease(c, n, reason);
  }

  /** Stop an Established connection with a Cease, wrapped in a Hard Reset as its N-bit calls for. */
  #sendCease(c: Connection, n: Cease, reason: string): void {
    const wire = ceaseOnWire(n, c.negotiated?.gracefulRestart?.notification ?? false);
    c.eventWithReason({ type: 'AutomaticStop', subcode: wire.subcode, ...(wire.data ? { data: wire.data } : {}) }, reason);
  }

  // ------------------------------------------------------------------ stopping

  /**
   * Stop every connection. An Established one gets `notification` (a Cease, wrapped in a Hard
   * Reset as `ceaseOnWire` decides), or is closed with a FIN and no NOTIFICATION when it is null. Connections
   * not yet Established are closed without one. Resolves once the sockets are closed (at
   * most `ms`).
   */
  async stop(notification: Cease | null, reason: string, ms = 1500): Promise<void> {
    this.stopping = true;
    clearTimeout(this.#restart);
    this.#restart = undefined;
    this.cancelConnect();
    const sockets: import('node:net').Socket[] = [];
    for (const c of new Set([...this.connections(), ...(this.primary ? [this.primary] : [])])) {
      if (c.socket) sockets.push(c.socket);
      if (c.state === 'Idle') continue;
      if (c.state === 'Established' && notification) {
        this.#sendCease(c, notification, reason);
      } else if (c.state === 'Established') {
        // graceful restart without the N-bit: close with a FIN and no NOTIFICATION (RFC 4724)
        this.#setError(plainError(`stopped: ${reason}`));
        c.closeGently = true;
        c.event({ type: 'TcpConnectionFails' });
      } else {
        c.eventWithReason({ type: 'ManualStop' }, reason);
      }
    }
    for (const c of this.incoming) c.destroy();
    this.incoming.clear();
    this.#recompute();
    await Promise.all(sockets.map((s) => Connection.whenClosed(s, ms)));
  }
}
