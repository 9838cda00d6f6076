// One TCP connection of a BGP session and its own FSM instance (RFC 4271 §8.0: one per
// connection). It performs the FSM's actions — writes, timers, dropping the socket — and
// feeds events back; everything that concerns the peer as a whole (collision detection,
// routes, reconnecting) is the host's (session.ts).
//
// Reading: the socket callback cuts frames (Framer.push) and queues them; a lone small message
// is decoded and dispatched there and then, anything more from setImmediate, a bounded number
// of messages per turn, with the socket paused while too many frames wait. Writing: messages
// (often the same Buffers for a whole update group) are written as they are, never copied,
// corked into one writev per batch; when more than WRITE_LIMIT bytes wait in the socket,
// further messages wait in our own queue until 'drain'.
//
// A bug is contained to its peer: an exception other than BgpError raised while a message of
// the peer is framed, decoded or handled (by the FSM, the session, or what the agent does with
// an UPDATE: the RIB import) resets that connection with Cease/Unspecific and is reported to
// the host with the message's octets (internalError); it never leaves the event loop, where
// it would end the process and every other session with it.
import type { Socket } from 'node:net';
import {
  BASE_OPTIONS,
  BgpError,
  type CodecOptions,
  decodeMessage,
  encodeKeepalive,
  encodeNotification,
  type Frame,
  isVersionError,
  Framer,
  maxMessageLength,
  type Message,
  type OpenMessage,
  type RouteRefreshMessage,
  sharedInterner,
  type UpdateMessage,
} from '../codec/index.js';
import { Mark, mark } from '../../sys/hops.js';
import { ackSilence, receive, silenceError } from '../transport/index.js';
import { type Action, type Event, type Fsm, initial, type State, step, type Timer, type Timers } from './fsm.js';
import type { Negotiated, OpenVerdict } from './negotiation.js';
import { FsmTimers } from './timers.js';
import { noteBulkWork } from '../../sys/workers.js';

export type Direction = 'outgoing' | 'incoming';

export interface Endpoint {
  address: string;
  port: number;
}

export interface Notification {
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
}

/** What a connection asks of its session. */
export interface ConnectionHost {
  timers(): Timers;
  /** our OPEN for this connection */
  openMessage(c: Connection): Buffer;
  /** accept the peer's OPEN (and negotiate), or name the NOTIFICATION to refuse it with */
  checkOpen(c: Connection, m: OpenMessage): OpenVerdict;
  /** the FSM's 'connect' action (outgoing connection only); attach() and TcpCrAcked follow */
  connect(c: Connection): void;
  /** the FSM dropped a connection still being made */
  cancelConnect(c: Connection): void;
  /** ConnectRetry expired while the TCP connection was still being made */
  connectTimedOut(c: Connection): void;
  /**
   * An acceptable OPEN on `c`, before it is answered: whether `c` loses a collision (§6.8) with
   * a connection of the other direction that is in OpenSent or OpenConfirm. It is then closed
   * with Cease/Connection Collision Resolution and never sends its KEEPALIVE.
   */
  losesCollision?(c: Connection): boolean;
  /** OpenConfirm reached (an acceptable OPEN): collision detection (§6.8) */
  opened(c: Connection): void;
  established(c: Connection): void;
  update(c: Connection, m: UpdateMessage): void;
  /**
   * Every message received so far was handled inline, in the socket's data callback (a lone
   * UPDATE): what it changed can go on at once, before the callback returns, rather than in a
   * microtask after Node's stream machinery has unwound. Not called for the shared drain.
   */
  caughtUp?(c: Connection): void;
  routeRefresh(c: Connection, m: RouteRefreshMessage): void;
  /** a message the codec says to ignore (an unknown ROUTE-REFRESH subtype) */
  ignored(c: Connection, e: BgpError): void;
  /** a NOTIFICATION sent or received; `error` is the codec's or the FSM's reason when we send one */
  notification(c: Connection, direction: 'sent' | 'received', n: Notification, error?: BgpError | string, reply?: boolean): void;
  /** the socket closed under us (error, or the peer closed it) */
  closed(c: Connection, error: NodeJS.ErrnoException | undefined): void;
  /** the hold timer expired */
  holdExpired(c: Connection): void;
  /** the FSM left for Idle: resources released; `routes` when it left Established */
  released(c: Connection, routes: boolean): void;
  stateChanged(c: Connection, from: State): void;
  /** TCP user timeout of the peer, milliseconds (0: none): the connection checks its ACKs itself too */
  ackTimeoutMs?(): number;
  /**
   * A bug: `error` (not a BgpError) was thrown while handling `message` (the whole message as
   * received; the chunk of octets when framing failed; null when no message was being
   * handled). The connection resets itself (INTERNAL_ERROR_NOTIFICATION) after this returns.
   */
  internalError(c: Connection, error: unknown, message: Uint8Array | null, during: string): void;
}

/**
 * The NOTIFICATION that resets a connection after a bug of ours: Cease (RFC 4271 §6.7: we
 * close the connection though the peer did nothing wrong — an UPDATE or OPEN Message Error
 * would blame a message that may be valid) with subcode 0, Unspecific (§4.5: no subcode
 * fits; RFC 4486 has none for an internal error).
 */
export const INTERNAL_ERROR_NOTIFICATION = { code: 6, subcode: 0 } as const;

/** Bugs contained in this process (all connections); each session counts its own too. */
export const internalErrors = { count: 0 };

/** Bytes waiting in the socket beyond which further messages wait in our own queue. */
const WRITE_LIMIT = 1 << 20;
/** Frames waiting to be decoded beyond which the socket is paused. */
const INBOX_LIMIT = 4096;
/** Messages handled per turn of the event loop, per connection. */
const TURN_BUDGET = 512;
/**
 * Message octets handled per turn, per connection: a full-table feed (UPDATEs of hundreds of
 * prefixes) takes its turn in slices of about this much, so that another peer's lone UPDATE
 * is decoded, and its route installed, within a slice rather than after the whole feed.
 */
const TURN_BYTES = 8 * 1024;

/**
 * At most this many frames, of at most INLINE_BYTES octets in all, are decoded in the socket's
 * data callback itself when nothing else of the connection waits (a lone UPDATE, a KEEPALIVE);
 * more take the shared drain and its per-turn budgets.
 */
const INLINE_FRAMES = 4;
const INLINE_BYTES = 4096;

const KEEPALIVE = encodeKeepalive();
const TYPE_NAMES = ['', 'OPEN', 'UPDATE', 'NOTIFICATION', 'KEEPALIVE', 'ROUTE-REFRESH'];
const typeName = (t: number): string => TYPE_NAMES[t] ?? `message type ${t}`;

let nextId = 1;

/** The first announced IPv4 prefix of an UPDATE (its hop mark's value), or -1. */
function firstPrefix4(m: UpdateMessage): number {
  const r = m.reach[0];
  return r?.family === 4 && r.prefixes.length ? (r.prefixes[0] as number) : -1;
}

// One setImmediate drains every connection with frames waiting, in turn (a connection over
// its budget goes to the back of the queue), rather than one immediate per connection.
const ready = new Set<Connection>();
let drainScheduled = false;

function drainAll(): void {
  drainScheduled = false;
  const batch = [...ready];
  ready.clear();
  for (const c of batch) c.drainSafely();
  if (ready.size && !drainScheduled) {
    drainScheduled = true;
    setImmediate(drainAll);
  }
}

function scheduleDrain(c: Connection): void {
  noteBulkWork(); // more than a lone message waits: V8's workers may help (src/sys/workers.ts)
  ready.add(c);
  if (!drainScheduled) {
    drainScheduled = true;
    setImmediate(drainAll);
  }
}

export interface ConnectionStats {
  messagesIn: number;
  messagesOut: number;
  updatesIn: number;
  updatesOut: number;
}

export class Connection {
  readonly id = nextId++;
  fsm: Fsm;
  socket: Socket | null = null;
  local: Endpoint | null = null;
  remote: Endpoint | null = null;
  /** the accepted OPEN exchange, from OpenConfirm on */
  negotiated: Negotiated | null = null;
  remoteOpen: OpenMessage | null = null;
  options: CodecOptions = BASE_OPTIONS;
  /** the last NOTIFICATION sent or received on the current TCP connection */
  lastNotification: (Notification & { direction: 'sent' | 'received' }) | null = null;
  /** set before dropping: close with FIN (after a NOTIFICATION, or a graceful stop) */
  closeGently = false;
  readonly stats: ConnectionStats = { messagesIn: 0, messagesOut: 0, updatesIn: 0, updatesOut: 0 };
  /** when (ms) the socket was attached */
  attachedAt = 0;

  readonly #timers: FsmTimers;
  #framer = new Framer();
  #inbox: Frame[] = [];
  #inHead = 0;
  #rxError: BgpError | null = null;
  /** a bug of the framer on a chunk: handled after the frames before it */
  #rxBug: { error: unknown; chunk: Uint8Array } | null = null;
  #eof = false;
  #socketError: NodeJS.ErrnoException | undefined;
  #paused = false;
  #out: Buffer[] = [];
  #outHead = 0;
  #blocked = false;
  #current: UpdateMessage | null = null;
  #gen = 0;

  constructor(
    readonly direction: Direction,
    private readonly host: ConnectionHost,
    opts: { activeRetry?: boolean } = {},
  ) {
    this.fsm = initial(opts);
    this.#timers = new FsmTimers((t) => {
      try {
        this.#timerFired(t);
      } catch (e) {
        this.#internalError(e, null, `handling the ${t} timer`);
      }
    });
  }

  get state(): State {
    return this.fsm.state;
  }

  /** bytes and messages waiting to be written */
  get queued(): number {
    return (this.socket?.writableLength ?? 0) + (this.#out.length - this.#outHead);
  }

  // ------------------------------------------------------------------ the FSM

  /** Feed one event; the FSM's actions are performed before this returns. */
  event(e: Event): void {
    const from = this.fsm.state;
    const { fsm, actions } = step(this.fsm, e, this.host.timers());
    this.fsm = fsm;
    const gen = ++this.#gen;
    for (const a of actions) {
      // an action may feed another event to this connection (a session stopping inside
      // update()); the rest of this step's actions are then stale
      if (gen !== this.#gen) return;
      this.#perform(a);
    }
    if (gen === this.#gen && fsm.state !== from) this.host.stateChanged(this, from);
  }

  #perform(a: Action): void {
    switch (a.type) {
      case 'connect':
        this.host.connect(this);
        return;
      case 'drop':
        this.#drop();
        return;
      case 'sendOpen':
        this.send([this.host.openMessage(this)]);
        return;
      case 'sendKeepalive':
        this.send([KEEPALIVE]);
        return;
      case 'sendNotification': {
        const n: Notification = { code: a.code, subcode: a.subcode, data: a.data ?? new Uint8Array(0) };
        this.sendNotification(n, this.#why);
        return;
      }
      case 'startTimer':
        this.#timers.start(a.timer, a.seconds);
        return;
      case 'stopTimer':
        this.#timers.stop(a.timer);
        return;
      case 'established':
        this.host.established(this);
        return;
      case 'processUpdate':
        if (this.#current) this.host.update(this, this.#current);
        return;
      case 'release':
        this.host.released(this, a.routes);
        return;
    }
  }

  #why: BgpError | string | undefined;

  /** Feed an event that sends a NOTIFICATION, recording why (for lastError). */
  eventWithReason(e: Event, why: BgpError | string): void {
    this.#why = why;
    try {
      this.event(e);
    } finally {
      this.#why = undefined;
    }
  }

  sendNotification(n: Notification, why?: BgpError | string): void {
    const s = this.socket;
    if (!s || s.destroyed) return;
    const reply = this.lastNotification?.direction === 'received';
    if (!reply) this.lastNotification = { ...n, direction: 'sent' };
    this.#out.length = 0;
    this.#outHead = 0;
    this.#blocked = false;
    s.write(encodeNotification(n, maxMessageLength(this.options)));
    this.stats.messagesOut++;
    this.closeGently = true;
    this.host.notification(this, 'sent', n, why, reply);
  }

  #timerFired(t: Timer): void {
    switch (t) {
      case 'hold':
        // frames of the peer wait to be decoded: it is alive, we are behind
        if (this.#inHead < this.#inbox.length) {
          this.#timers.start('hold', this.fsm.holdTime || 240);
          return;
        }
        this.host.holdExpired(this);
        this.eventWithReason({ type: 'HoldTimerExpires' }, 'hold timer expired');
        return;
      case 'keepalive':
        this.event({ type: 'KeepaliveTimerExpires' });
        return;
      case 'connectRetry':
        if (this.fsm.state === 'Connect') this.host.connectTimedOut(this);
        this.event({ type: 'ConnectRetryTimerExpires' });
        return;
    }
  }

  /** Restart the hold timer (a message that proves the peer alive, outside the FSM's list). */
  touchHold(): void {
    if (this.fsm.state === 'Established' && this.fsm.holdTime > 0) this.#timers.start('hold', this.fsm.holdTime);
  }

  // ------------------------------------------------------------------ the socket

  /** Take a connected socket; the caller then feeds TcpCrAcked or TcpConnectionConfirmed. */
  attach(socket: Socket, local: Endpoint, remote: Endpoint): void {
    this.socket = socket;
    this.local = local;
    this.remote = remote;
    this.attachedAt = Date.now();
    this.negotiated = null;
    this.remoteOpen = null;
    this.options = BASE_OPTIONS;
    this.lastNotification = null;
    this.closeGently = false;
    this.#framer = new Framer();
    this.#inbox = [];
    this.#inHead = 0;
    this.#rxError = null;
    this.#rxBug = null;
    this.#eof = false;
    this.#socketError = undefined;
    this.#paused = false;
    this.#out = [];
    this.#outHead = 0;
    this.#blocked = false;
    socket.setNoDelay(true);
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (this.socket === socket) this.#socketError ??= e;
    });
    receive(socket, (chunk: Buffer) => {
      mark(Mark.data);
      if (this.socket !== socket || this.#rxError || this.#rxBug) return;
      try {
        const frames = this.#framer.push(chunk);
        for (let i = 0; i < frames.length; i++) this.#inbox.push(frames[i]!);
        mark(Mark.framed);
      } catch (e) {
        if (e instanceof BgpError) this.#rxError = e;
        else this.#rxBug = { error: e, chunk: Buffer.from(chunk) };
        socket.pause();
      }
      if (this.#inbox.length - this.#inHead > INBOX_LIMIT && !this.#paused) {
        this.#paused = true;
        socket.pause();
      }
      if (this.#inlineOk()) {
        this.drainSafely();
        if (this.socket === socket && this.#inbox.length === 0 && this.fsm.state === 'Established') this.host.caughtUp?.(this);
      } else this.#schedule();
    });
    socket.once('close', () => {
      if (this.socket !== socket) return;
      this.#eof = true;
      this.#schedule();
    });
  }

  #schedule(): void {
    scheduleDrain(this);
  }

  /**
   * drainFrames(), with anything it lets escape contained (the end of a connection's input:
   * closing and releasing its routes); messages are contained one by one inside it.
   */
  drainSafely(): void {
    try {
      this.drainFrames();
    } catch (e) {
      this.#internalError(e, null, 'ending the connection');
    }
  }

  /**
   * A lone message (or a few, of at most INLINE_BYTES; or none yet, the first part of one) with
   * nothing of this connection waiting for the shared drain: decode and dispatch it in the data
   * callback itself, a turn of the event loop sooner. A backlog, a paused socket or a framing
   * error takes the drain as before.
   */
  #inlineOk(): boolean {
    if (this.#rxError || this.#rxBug || this.#paused || ready.has(this)) return false;
    const n = this.#inbox.length - this.#inHead;
    if (n > INLINE_FRAMES) return false;
    let bytes = 0;
    for (let i = this.#inHead; i < this.#inbox.length; i++) bytes += this.#inbox[i]!.raw.length;
    return bytes <= INLINE_BYTES;
  }

  /** Decode and dispatch waiting frames, at most TURN_BUDGET and TURN_BYTES (the shared drain calls this). */
  drainFrames(): void {
    const socket = this.socket;
    let n = 0;
    let bytes = 0;
    while (this.#inHead < this.#inbox.length) {
      if (this.socket !== socket || this.fsm.state === 'Idle') {
        this.#inbox = [];
        this.#inHead = 0;
        return;
      }
      if (n++ >= TURN_BUDGET || bytes >= TURN_BYTES) {
        this.#schedule();
        return;
      }
      const f = this.#inbox[this.#inHead]!;
      bytes += f.raw.length;
      this.#inbox[this.#inHead++] = undefined as unknown as Frame;
      this.#handle(f);
    }
    this.#inbox = [];
    this.#inHead = 0;
    if (this.socket !== socket || !socket) return;
    if (this.#rxBug && this.fsm.state !== 'Idle') {
      const b = this.#rxBug;
      this.#rxBug = null;
      this.#internalError(b.error, b.chunk, 'framing');
      return;
    }
    if (this.#rxError && this.fsm.state !== 'Idle') {
      const e = this.#rxError;
      this.#rxError = null;
      this.#decodeError(e);
      return;
    }
    if (this.#eof) {
      this.socket = null;
      this.host.closed(this, this.#socketError);
      this.event({ type: 'TcpConnectionFails' });
      return;
    }
    if (this.#paused) {
      this.#paused = false;
      socket.resume();
    }
  }

  #handle(f: Frame): void {
    let m: Message | BgpError;
    try {
      m = decodeMessage(f, this.options, sharedInterner);
    } catch (e) {
      if (e instanceof BgpError) this.#decodeError(e);
      else this.#internalError(e, f.raw, `decoding ${typeName(f.type)}`);
      return;
    }
    if (!(m instanceof BgpError) && m.type === 'update') mark(Mark.decoded, firstPrefix4(m));
    try {
      this.#dispatch(m);
    } catch (e) {
      // decoding is done: whatever the handlers throw, a BgpError included, is ours
      this.#internalError(e, f.raw, `handling ${typeName(f.type)}`);
    }
  }

  /**
   * Contain a bug: report it, then reset this connection with INTERNAL_ERROR_NOTIFICATION
   * (the FSM's AutomaticStop: a NOTIFICATION from OpenSent on, routes released as for any
   * reset). Should the reset throw too, the socket is dropped regardless.
   */
  #internalError(error: unknown, message: Uint8Array | null, during: string): void {
    internalErrors.count++;
    try {
      this.host.internalError(this, error, message === null ? null : Buffer.from(message), during);
    } catch {
      // reporting must not stop the reset
    }
    const why = `internal error while ${during}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
    try {
      if (this.fsm.state !== 'Idle') this.eventWithReason({ type: 'AutomaticStop', subcode: INTERNAL_ERROR_NOTIFICATION.subcode }, why);
    } catch (again) {
      try {
        this.host.internalError(this, again, null, 'resetting after an internal error');
      } catch {
        // as above
      }
    }
    if (this.socket) {
      this.#gen++;
      this.#drop();
    }
  }

  #dispatch(m: Message | BgpError): void {
    this.stats.messagesIn++;
    if (m instanceof BgpError) {
      this.host.ignored(this, m);
      return;
    }
    switch (m.type) {
      case 'open':
        this.#onOpen(m);
        return;
      case 'keepalive':
        this.event({ type: 'KeepAliveMsg' });
        return;
      case 'update':
        this.stats.updatesIn++;
        this.#current = m;
        try {
          this.event({ type: 'UpdateMsg' });
        } finally {
          this.#current = null;
        }
        return;
      case 'notification':
        this.lastNotification = { ...m, direction: 'received' };
        this.host.notification(this, 'received', m);
        this.event({ type: isVersionError(m) ? 'NotifMsgVerErr' : 'NotifMsg' });
        return;
      case 'route-refresh':
        if (this.fsm.state !== 'Established') return;
        this.touchHold();
        this.host.routeRefresh(this, m);
        return;
    }
  }

  #onOpen(m: OpenMessage): void {
    if (this.fsm.state !== 'OpenSent') {
      this.eventWithReason({ type: 'BGPOpen', holdTime: m.holdTime }, `OPEN received in ${this.fsm.state}`);
      return;
    }
    this.remoteOpen = m;
    const v = this.host.checkOpen(this, m);
    if (!v.ok) {
      this.eventWithReason({ type: 'BGPOpenMsgErr', code: v.code, subcode: v.subcode, data: v.data }, v.reason);
      return;
    }
    this.negotiated = v.negotiated;
    this.options = v.negotiated.codec;
    this.#framer.extendedMessage = v.negotiated.codec.extendedMessage;
    if (this.host.losesCollision?.(this)) {
      this.eventWithReason({ type: 'OpenCollisionDump' }, 'connection collision resolution');
      return;
    }
    this.event({ type: 'BGPOpen', holdTime: v.negotiated.holdTime, keepaliveTime: v.negotiated.keepaliveTime });
    if ((this.fsm.state as State) === 'OpenConfirm') this.host.opened(this);
  }

  #decodeError(e: BgpError): void {
    const n = e.notification;
    const data = n.data;
    if (e.code.startsWith('HEADER_')) this.eventWithReason({ type: 'BGPHeaderErr', code: n.code, subcode: n.subcode, data }, e);
    else if (e.code.startsWith('OPEN_')) this.eventWithReason({ type: 'BGPOpenMsgErr', code: n.code, subcode: n.subcode, data }, e);
    else this.eventWithReason({ type: 'UpdateMsgErr', code: n.code, subcode: n.subcode, data }, e);
  }

  /** Write messages as they are (shared Buffers are never copied or changed). */
  send(msgs: readonly Buffer[]): void {
    const s = this.socket;
    if (!s || s.destroyed || msgs.length === 0) return;
    if (this.#blocked) {
      for (let i = 0; i < msgs.length; i++) this.#out.push(msgs[i]!);
      return;
    }
    this.#write(s, msgs, 0);
    this.#armAckCheck();
  }

  // ROUTELET_TCP_USER_TIMEOUT, checked by us as well as by the kernel (see transport/ackwatch.ts):
  // after a write, once per timeout, a peer that acknowledged nothing for that long while data
  // is outstanding gets its connection closed with ETIMEDOUT
  #ackCheck: NodeJS.Timeout | undefined;

  #armAckCheck(delayMs?: number): void {
    if (this.#ackCheck) return;
    const ms = this.host.ackTimeoutMs?.() ?? 0;
    if (ms > 0) this.#ackCheck = setTimeout(this.#checkAcks, delayMs ?? ms).unref();
  }

  readonly #checkAcks = (): void => {
    this.#ackCheck = undefined;
    const s = this.socket;
    const ms = this.host.ackTimeoutMs?.() ?? 0;
    if (!s || s.destroyed || ms <= 0) return;
    const silence = ackSilence(s);
    if (!silence) return;
    if (silence.sinceAckMs >= ms) {
      s.destroy(silenceError(silence, ms));
      return;
    }
    // an ACK came, and more is outstanding: look again once that may have been answered
    this.#armAckCheck(ms);
  };

  #write(s: Socket, list: readonly Buffer[], from: number): void {
    let i = from;
    if (list.length - from === 1) {
      // one message (a KEEPALIVE): a plain write, no writev
      const b = list[from]!;
      s.write(b);
      this.stats.messagesOut++;
      if (b[18] === 2) this.stats.updatesOut++;
      if (s.writableLength >= WRITE_LIMIT && !this.#blocked) {
        this.#blocked = true;
        s.once('drain', this.#onDrain);
      }
      return;
    }
    s.cork();
    for (; i < list.length; i++) {
      const b = list[i]!;
      s.write(b);
      this.stats.messagesOut++;
      if (b[18] === 2) this.stats.updatesOut++;
      if (s.writableLength >= WRITE_LIMIT) {
        i++;
        break;
      }
    }
    s.uncork();
    if (i < list.length || s.writableLength >= WRITE_LIMIT) {
      for (; i < list.length; i++) this.#out.push(list[i]!);
      if (!this.#blocked) {
        this.#blocked = true;
        s.once('drain', this.#onDrain);
      }
    }
  }

  readonly #onDrain = (): void => {
    this.#blocked = false;
    const s = this.socket;
    if (!s || s.destroyed) return;
    const pending = this.#out;
    const head = this.#outHead;
    this.#out = [];
    this.#outHead = 0;
    if (head < pending.length) this.#write(s, pending, head);
  };

  #drop(): void {
    this.#timers.stopAll();
    clearTimeout(this.#ackCheck);
    this.#ackCheck = undefined;
    const s = this.socket;
    if (!s) {
      if (this.direction === 'outgoing') this.host.cancelConnect(this);
      return;
    }
    this.socket = null;
    this.#inbox = [];
    this.#inHead = 0;
    this.#out = [];
    this.#outHead = 0;
    this.#blocked = false;
    if (this.closeGently && !s.destroyed) {
      s.end();
      setTimeout(() => s.destroy(), 2000).unref();
    } else s.destroy();
  }

  /** Stop timers and close the socket at once, without any event (the session is going away). */
  destroy(): void {
    this.#gen++;
    this.#timers.stopAll();
    clearTimeout(this.#ackCheck);
    this.#ackCheck = undefined;
    const s = this.socket;
    this.socket = null;
    if (s && !s.destroyed) {
      if (this.closeGently) {
        s.end();
        setTimeout(() => s.destroy(), 2000).unref();
      } else s.destroy();
    }
  }

  /** Resolves when the current socket has closed (or at once when there is none). */
  static whenClosed(s: Socket | null, ms: number): Promise<void> {
    if (!s || s.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        s.destroy();
        resolve();
      }, ms);
      t.unref();
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
