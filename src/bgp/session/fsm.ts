// The BGP finite state machine of RFC 4271 section 8, one instance per TCP connection
// (8.0: "one for each configured peer plus one for each incoming TCP connection"), written as
// (state, event) → (state, actions). It is pure: no sockets, no clocks, no logging. The
// session driver performs the actions (send, connect, drop, timers) and feeds events back.
//
// Optional session attributes of 8.1.1 that routelet implements: passive TCP establishment
// (events 4/5) and collision detection (6.8, decided by the driver, delivered here as
// OpenCollisionDump). DelayOpen, DampPeerOscillations and SendNOTIFICATIONwithoutOPEN are
// not used; reconnect backoff is the driver's (IdleHold, from the ConnectRetryCounter).

import { CeaseSubcode, FsmErrorSubcode, NotificationCode, UNSPECIFIC } from '../codec/notification.js';

export type State = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

/** Events by their RFC 4271 names (section 8.1), with the data the transition needs. */
export type Event =
  | { type: 'ManualStart' } // 1
  | { type: 'ManualStop' } // 2
  | { type: 'AutomaticStart' } // 3
  | { type: 'ManualStartPassive' } // 4
  | { type: 'AutomaticStartPassive' } // 5
  | { type: 'AutomaticStop'; subcode?: number; data?: Uint8Array } // 8
  | { type: 'ConnectRetryTimerExpires' } // 9
  | { type: 'HoldTimerExpires' } // 10
  | { type: 'KeepaliveTimerExpires' } // 11
  | { type: 'TcpCrAcked' } // 16: our outgoing connection completed
  | { type: 'TcpConnectionConfirmed' } // 17: an incoming connection was accepted
  | { type: 'TcpConnectionFails' } // 18
  | { type: 'BGPOpen'; holdTime: number; keepaliveTime?: number } // 19: a valid OPEN; the negotiated hold time (and keepalive interval, default a third of it)
  | { type: 'BGPHeaderErr'; code: number; subcode: number; data?: Uint8Array } // 21
  | { type: 'BGPOpenMsgErr'; code: number; subcode: number; data?: Uint8Array } // 22
  | { type: 'OpenCollisionDump' } // 23
  | { type: 'NotifMsgVerErr' } // 24
  | { type: 'NotifMsg' } // 25
  | { type: 'KeepAliveMsg' } // 26
  | { type: 'UpdateMsg' } // 27
  | { type: 'UpdateMsgErr'; code: number; subcode: number; data?: Uint8Array }; // 28

export type EventType = Event['type'];
export type Timer = 'connectRetry' | 'hold' | 'keepalive';

export type Action =
  | { type: 'connect' } // initiate the TCP connection
  | { type: 'drop' } // drop the TCP connection
  | { type: 'sendOpen' }
  | { type: 'sendKeepalive' }
  | { type: 'sendNotification'; code: number; subcode: number; data?: Uint8Array }
  | { type: 'startTimer'; timer: Timer; seconds: number }
  | { type: 'stopTimer'; timer: Timer }
  | { type: 'established' } // the session is up: exchange routes
  | { type: 'processUpdate' }
  /** left Established (or never got there): release resources, routes per GR policy */
  | { type: 'release'; routes: boolean };

export interface Fsm {
  readonly state: State;
  /** 8.0: counts failed attempts; the driver derives its reconnect backoff from it */
  readonly connectRetryCounter: number;
  /** negotiated hold time in seconds, 0 = no keepalives and no hold timer */
  readonly holdTime: number;
  /** keepalive interval in seconds (a third of the hold time unless configured shorter); 0 with hold time 0 */
  readonly keepaliveTime?: number;
  /** the connection was started passively (events 4/5): Active rather than Connect */
  readonly passive: boolean;
  /**
   * routelet's reconnect behaviour (an optional session attribute, as 8.1.1 allows): a failed
   * outgoing connection (Connect, event 18) waits in Active for the ConnectRetryTimer — set by
   * the driver to the reconnect backoff — and connects again when it expires, instead of
   * going to Idle. This is 8.2.2's Connect/event 18 branch for a running DelayOpenTimer, and
   * what BIRD, FRR and GoBGP show as "Active" between attempts. Off in initial() by default.
   */
  readonly activeRetry?: boolean;
}

export interface Timers {
  /** ConnectRetryTime, seconds (the driver passes its current backoff) */
  connectRetry: number;
  /** the "large value" of the HoldTimer until the OPEN arrives; RFC suggests 4 minutes */
  initialHold: number;
}

export function initial(opts: { activeRetry?: boolean } = {}): Fsm {
  const f: Fsm = { state: 'Idle', connectRetryCounter: 0, holdTime: 0, passive: false };
  return opts.activeRetry ? { ...f, activeRetry: true } : f;
}

export interface Step {
  fsm: Fsm;
  actions: Action[];
}

/** The interval negotiated with the OPEN (a third of the hold time unless configured shorter). */
const keepaliveOf = (f: Fsm): number => f.keepaliveTime ?? keepaliveTime(f.holdTime);

const stop = (timer: Timer): Action => ({ type: 'stopTimer', timer });
const start = (timer: Timer, seconds: number): Action => ({ type: 'startTimer', timer, seconds });
const notify = (code: number, subcode: number, data?: Uint8Array): Action =>
  data === undefined ? { type: 'sendNotification', code, subcode } : { type: 'sendNotification', code, subcode, data };

/**
 * Keepalive interval: one third of the hold time (4.4), at least one second; a configured
 * interval (`wanted`) applies when shorter — 4.4 allows any, but not under one second.
 */
export function keepaliveTime(holdTime: number, wanted?: number): number {
  if (holdTime === 0) return 0;
  const third = Math.max(1, Math.floor(holdTime / 3));
  return wanted !== undefined && wanted >= 1 ? Math.min(third, Math.floor(wanted)) : third;
}

/**
 * Leave for Idle: the common tail of most error transitions in 8.2.2 — ConnectRetryTimer to
 * zero, release resources (and routes), drop the TCP connection, count the failure.
 */
function toIdle(f: Fsm, pre: Action[], opts: { count: 'inc' | 'reset' | 'keep'; routes: boolean }): Step {
  const counter = opts.count === 'inc' ? f.connectRetryCounter + 1 : opts.count === 'reset' ? 0 : f.connectRetryCounter;
  return {
    fsm: { ...f, state: 'Idle', connectRetryCounter: counter, holdTime: 0 },
    actions: [...pre, stop('connectRetry'), stop('hold'), stop('keepalive'), { type: 'release', routes: opts.routes }, { type: 'drop' }],
  };
}

function openSent(f: Fsm, t: Timers): Step {
  return {
    fsm: { ...f, state: 'OpenSent' },
    actions: [stop('connectRetry'), { type: 'sendOpen' }, start('hold', t.initialHold)],
  };
}

// The transitions as one table of rows per state; rows several states share are written once
// and spread into each. An event a state has no row for takes the state's `other` row: 8.2.2's
// "any other event".

type Row<E extends Event = Event> = (f: Fsm, e: E, t: Timers) => Step;
type Rows = { readonly [K in EventType]?: Row<Extract<Event, { type: K }>> };

const same = (f: Fsm, actions: Action[] = []): Step => ({ fsm: f, actions });
const ignore: Row = (f) => same(f);
/** Routes are released with the connection only when it was Established. */
const routes = (f: Fsm): boolean => f.state === 'Established';
const fail: Row = (f) => toIdle(f, [], { count: 'inc', routes: routes(f) });
/** A malformed message: its NOTIFICATION, then Idle. */
const malformed: Row<Extract<Event, { type: 'BGPHeaderErr' | 'BGPOpenMsgErr' | 'UpdateMsgErr' }>> = (f, e) => toIdle(f, [notify(e.code, e.subcode, e.data)], { count: 'inc', routes: routes(f) });
const keepalive: Row = (f) => same(f, [{ type: 'sendKeepalive' }, start('keepalive', keepaliveOf(f))]);

/** Start events are ignored in every state but Idle. */
const STARTS: Rows = { ManualStart: ignore, AutomaticStart: ignore, ManualStartPassive: ignore, AutomaticStartPassive: ignore };

/** Connect and Active: no BGP message yet, so leaving sends no NOTIFICATION. */
const CONNECTING: Rows = {
  ...STARTS,
  ManualStop: (f) => toIdle(f, [], { count: 'reset', routes: false }),
  TcpCrAcked: (f, _e, t) => openSent(f, t),
  TcpConnectionConfirmed: (f, _e, t) => openSent(f, t),
};

/** OpenSent, OpenConfirm and Established: our OPEN went out, so leaving sends a NOTIFICATION. */
const OPENED: Rows = {
  ...STARTS,
  // a second connection is tracked by the driver until its OPEN (6.8)
  TcpCrAcked: ignore,
  TcpConnectionConfirmed: ignore,
  ManualStop: (f) => toIdle(f, [notify(NotificationCode.Cease, CeaseSubcode.AdministrativeShutdown)], { count: 'reset', routes: routes(f) }),
  AutomaticStop: (f, e) => toIdle(f, [notify(NotificationCode.Cease, e.subcode ?? CeaseSubcode.AdministrativeShutdown, e.data)], { count: 'inc', routes: routes(f) }),
  HoldTimerExpires: (f) => toIdle(f, [notify(NotificationCode.HoldTimerExpired, UNSPECIFIC)], { count: 'inc', routes: routes(f) }),
  BGPHeaderErr: malformed,
  OpenCollisionDump: (f) => toIdle(f, [notify(NotificationCode.Cease, CeaseSubcode.ConnectionCollisionResolution)], { count: 'inc', routes: routes(f) }),
};

/** 8.2.2 for a state from OpenSent on: an event it does not name is an FSM error (RFC 6608 subcode per state). */
const fsmError =
  (subcode: number) =>
  (f: Fsm): Step =>
    toIdle(f, [notify(NotificationCode.FsmError, subcode)], { count: 'inc', routes: routes(f) });

const TABLE: Readonly<Record<State, { readonly rows: Rows; readonly other: (f: Fsm) => Step }>> = {
  Idle: {
    rows: {
      ManualStart: (f, _e, t) => ({ fsm: { ...f, state: 'Connect', passive: false, connectRetryCounter: 0 }, actions: [start('connectRetry', t.connectRetry), { type: 'connect' }] }),
      AutomaticStart: (f, _e, t) => ({ fsm: { ...f, state: 'Connect', passive: false }, actions: [start('connectRetry', t.connectRetry), { type: 'connect' }] }),
      ManualStartPassive: (f, _e, t) => ({ fsm: { ...f, state: 'Active', passive: true, connectRetryCounter: 0 }, actions: [start('connectRetry', t.connectRetry)] }),
      AutomaticStartPassive: (f, _e, t) => ({ fsm: { ...f, state: 'Active', passive: true }, actions: [start('connectRetry', t.connectRetry)] }),
    },
    other: (f) => same(f), // 8.2.2: other events are ignored in Idle
  },

  Connect: {
    rows: {
      ...CONNECTING,
      ConnectRetryTimerExpires: (f, _e, t) => same(f, [{ type: 'drop' }, start('connectRetry', t.connectRetry), { type: 'connect' }]),
      TcpConnectionFails: (f, e, t) =>
        f.activeRetry ? { fsm: { ...f, state: 'Active', connectRetryCounter: f.connectRetryCounter + 1 }, actions: [{ type: 'drop' }, start('connectRetry', t.connectRetry)] } : fail(f, e, t),
    },
    other: (f) => toIdle(f, [], { count: 'inc', routes: false }),
  },

  Active: {
    rows: {
      ...CONNECTING,
      // a passive session keeps waiting; an active one tries to connect (8.2.2)
      ConnectRetryTimerExpires: (f, _e, t) =>
        f.passive ? same(f, [start('connectRetry', t.connectRetry)]) : { fsm: { ...f, state: 'Connect' }, actions: [start('connectRetry', t.connectRetry), { type: 'connect' }] },
      // TcpConnectionFails: Idle, as any other event
    },
    other: (f) => toIdle(f, [], { count: 'inc', routes: false }),
  },

  OpenSent: {
    rows: {
      ...OPENED,
      // 8.2.2: close, restart ConnectRetryTimer, keep listening, go to Active
      TcpConnectionFails: (f, _e, t) => ({ fsm: { ...f, state: 'Active' }, actions: [stop('hold'), { type: 'drop' }, start('connectRetry', t.connectRetry)] }),
      BGPOpen: (f, e) => {
        const k = keepaliveTime(e.holdTime, e.keepaliveTime);
        const timers: Action[] = e.holdTime === 0 ? [stop('hold')] : [start('keepalive', k), start('hold', e.holdTime)];
        return { fsm: { ...f, state: 'OpenConfirm', holdTime: e.holdTime, keepaliveTime: k }, actions: [stop('connectRetry'), { type: 'sendKeepalive' }, ...timers] };
      },
      BGPOpenMsgErr: malformed,
      NotifMsgVerErr: (f) => toIdle(f, [], { count: 'keep', routes: false }),
    },
    other: fsmError(FsmErrorSubcode.OpenSent),
  },

  OpenConfirm: {
    rows: {
      ...OPENED,
      KeepaliveTimerExpires: keepalive,
      TcpConnectionFails: fail,
      NotifMsg: fail,
      NotifMsgVerErr: (f) => toIdle(f, [], { count: 'keep', routes: false }),
      BGPOpenMsgErr: malformed,
      KeepAliveMsg: (f) => ({ fsm: { ...f, state: 'Established' }, actions: [...(f.holdTime === 0 ? [] : [start('hold', f.holdTime)]), { type: 'established' }] }),
    },
    other: fsmError(FsmErrorSubcode.OpenConfirm),
  },

  Established: {
    rows: {
      ...OPENED,
      KeepaliveTimerExpires: keepalive,
      TcpConnectionFails: fail,
      NotifMsg: fail,
      NotifMsgVerErr: fail,
      KeepAliveMsg: (f) => same(f, f.holdTime === 0 ? [] : [start('hold', f.holdTime)]),
      UpdateMsg: (f) => same(f, [{ type: 'processUpdate' }, ...(f.holdTime === 0 ? [] : [start('hold', f.holdTime)])]),
      UpdateMsgErr: malformed,
    },
    other: fsmError(FsmErrorSubcode.Established),
  },
};

/** One transition. Events a state does not name are handled as 8.2.2 says for "any other event". */
export function step(f: Fsm, e: Event, t: Timers): Step {
  const s = TABLE[f.state];
  const row = s.rows[e.type] as Row | undefined;
  return row ? row(f, e, t) : s.other(f);
}

/**
 * Connection collision (RFC 4271 6.8): of two connections with the same peer, the one
 * initiated by the speaker with the higher BGP Identifier survives. Identifiers compare as
 * unsigned 32-bit integers (RFC 6286 for equal identifiers across ASes: the higher AS wins).
 * Returns which connection to keep: the one we initiated ('ours') or the peer's ('theirs').
 */
export function collisionWinner(localId: number, remoteId: number, localAs = 0, remoteAs = 0): 'ours' | 'theirs' {
  if (localId !== remoteId) return localId > remoteId ? 'ours' : 'theirs';
  return localAs > remoteAs ? 'ours' : 'theirs';
}

/** Reconnect delay after `failures` consecutive failures: base doubling up to max (seconds). */
export function backoff(failures: number, base: number, max: number): number {
  if (failures <= 0) return base;
  return Math.min(max, base * 2 ** Math.min(failures - 1, 30));
}
