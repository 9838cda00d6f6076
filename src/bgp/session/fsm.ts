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

/** One transition. Events a state does not name are handled as 8.2.2 says for "any other event". */
export function step(f: Fsm, e: Event, t: Timers): Step {
  const same = (actions: Action[] = []): Step => ({ fsm: f, actions });
  switch (f.state) {
    case 'Idle':
      switch (e.type) {
        case 'ManualStart':
        case 'AutomaticStart':
          return {
            fsm: { ...f, state: 'Connect', passive: false, connectRetryCounter: e.type === 'ManualStart' ? 0 : f.connectRetryCounter },
            actions: [start('connectRetry', t.connectRetry), { type: 'connect' }],
          };
        case 'ManualStartPassive':
        case 'AutomaticStartPassive':
          return {
            fsm: { ...f, state: 'Active', passive: true, connectRetryCounter: e.type === 'ManualStartPassive' ? 0 : f.connectRetryCounter },
            actions: [start('connectRetry', t.connectRetry)],
          };
        default:
          return same(); // 8.2.2: other events are ignored in Idle
      }

    case 'Connect':
      switch (e.type) {
        case 'ManualStart':
        case 'AutomaticStart':
        case 'ManualStartPassive':
        case 'AutomaticStartPassive':
          return same();
        case 'ManualStop':
          return toIdle(f, [], { count: 'reset', routes: false });
        case 'ConnectRetryTimerExpires':
          return same([{ type: 'drop' }, start('connectRetry', t.connectRetry), { type: 'connect' }]);
        case 'TcpCrAcked':
        case 'TcpConnectionConfirmed':
          return openSent(f, t);
        case 'TcpConnectionFails':
          if (f.activeRetry)
            return {
              fsm: { ...f, state: 'Active', connectRetryCounter: f.connectRetryCounter + 1 },
              actions: [{ type: 'drop' }, start('connectRetry', t.connectRetry)],
            };
          return toIdle(f, [], { count: 'inc', routes: false });
        default:
          return toIdle(f, [], { count: 'inc', routes: false });
      }

    case 'Active':
      switch (e.type) {
        case 'ManualStart':
        case 'AutomaticStart':
        case 'ManualStartPassive':
        case 'AutomaticStartPassive':
          return same();
        case 'ManualStop':
          return toIdle(f, [], { count: 'reset', routes: false });
        case 'ConnectRetryTimerExpires':
          // a passive session keeps waiting; an active one tries to connect (8.2.2)
          if (f.passive) return same([start('connectRetry', t.connectRetry)]);
          return { fsm: { ...f, state: 'Connect' }, actions: [start('connectRetry', t.connectRetry), { type: 'connect' }] };
        case 'TcpCrAcked':
        case 'TcpConnectionConfirmed':
          return openSent(f, t);
        case 'TcpConnectionFails':
          return toIdle(f, [], { count: 'inc', routes: false });
        default:
          return toIdle(f, [], { count: 'inc', routes: false });
      }

    case 'OpenSent':
      switch (e.type) {
        case 'ManualStart':
        case 'AutomaticStart':
        case 'ManualStartPassive':
        case 'AutomaticStartPassive':
        case 'TcpCrAcked':
        case 'TcpConnectionConfirmed': // a second connection is tracked by the driver (6.8)
          return same();
        case 'ManualStop':
          return toIdle(f, [notify(NotificationCode.Cease, CeaseSubcode.AdministrativeShutdown)], { count: 'reset', routes: false });
        case 'AutomaticStop':
          return toIdle(f, [notify(NotificationCode.Cease, e.subcode ?? CeaseSubcode.AdministrativeShutdown, e.data)], { count: 'inc', routes: false });
        case 'HoldTimerExpires':
          return toIdle(f, [notify(NotificationCode.HoldTimerExpired, UNSPECIFIC)], { count: 'inc', routes: false });
        case 'TcpConnectionFails':
          // 8.2.2: close, restart ConnectRetryTimer, keep listening, go to Active
          return {
            fsm: { ...f, state: 'Active' },
            actions: [stop('hold'), { type: 'drop' }, start('connectRetry', t.connectRetry)],
          };
        case 'BGPOpen': {
          const k = keepaliveTime(e.holdTime, e.keepaliveTime);
          const timers: Action[] = e.holdTime === 0 ? [stop('hold')] : [start('keepalive', k), start('hold', e.holdTime)];
          return {
            fsm: { ...f, state: 'OpenConfirm', holdTime: e.holdTime, keepaliveTime: k },
            actions: [stop('connectRetry'), { type: 'sendKeepalive' }, ...timers],
          };
        }
        case 'BGPHeaderErr':
        case 'BGPOpenMsgErr':
          return toIdle(f, [notify(e.code, e.subcode, e.data)], { count: 'inc', routes: false });
        case 'OpenCollisionDump':
          return toIdle(f, [notify(NotificationCode.Cease, CeaseSubcode.ConnectionCollisionResolution)], { count: 'inc', routes: false });
        case 'NotifMsgVerErr':
          return toIdle(f, [], { count: 'keep', routes: false });
        default:
          return toIdle(f, [notify(NotificationCode.FsmError, FsmErrorSubcode.OpenSent)], { count: 'inc', routes: false });
      }

    case 'OpenConfirm':
      switch (e.type) {
        case 'ManualStart':
        case 'AutomaticStart':
        case 'ManualStartPassive':
        case 'AutomaticStartPassive':
        case 'TcpCrAcked':
        case 'TcpConnectionConfirmed':
          return same();
        case 'ManualStop':
          return toIdle(f, [notify(NotificationCode.Cease, CeaseSubcode.AdministrativeShutdown)], { count: 'reset', routes: false });
        case 'AutomaticStop':
          return toIdle(f, [notify(NotificationCode.Cease, e.subcode ?? CeaseSubcode.AdministrativeShutdown, e.data)], { count: 'inc', routes: false });
        case 'HoldTimerExpires':
          return toIdle(f, [notify(NotificationCode.HoldTimerExpired, UNSPECIFIC)], { count: 'inc', routes: false });
        case 'KeepaliveTimerExpires':
          return same([{ type: 'sendKeepalive' }, start('keepalive', keepaliveOf(f))]);
        case 'TcpConnectionFails':
        case 'NotifMsg':
          return toIdle(f, [], { count: 'inc', routes: false });
        case 'NotifMsgVerErr':
          return toIdle(f, [], { count: 'keep', routes: false });
        case 'BGPHeaderErr':
        case 'BGPOpenMsgErr':
          return toIdle(f, [notify(e.code, e.subcode, e.data)], { count: 'inc', routes: false });
        case 'OpenCollisionDump':
          return toIdle(f, [notify(NotificationCode.Cease, CeaseSubcode.ConnectionCollisionResolution)], { count: 'inc', routes: false });
        case 'KeepAliveMsg':
          return {
            fsm: { ...f, state: 'Established' },
            actions: [...(f.holdTime === 0 ? [] : [start('hold', f.holdTime)]), { type: 'established' }],
          };
        default:
          return toIdle(f, [notify(NotificationCode.FsmError, FsmErrorSubcode.OpenConfirm)], { count: 'inc', routes: false });
      }

    case 'Established':
      switch (e.type) {
        case 'ManualStart':
        case 'AutomaticStart':
        case 'ManualStartPassive':
        case 'AutomaticStartPassive':
        case 'TcpCrAcked':
        case 'TcpConnectionConfirmed': // tracked by the driver until its OPEN (6.8)
          return same();
        case 'ManualStop':
          return toIdle(f, [notify(NotificationCode.Cease, CeaseSubcode.AdministrativeShutdown)], { count: 'reset', routes: true });
        case 'AutomaticStop':
          return toIdle(f, [notify(NotificationCode.Cease, e.subcode ?? CeaseSubcode.AdministrativeShutdown, e.data)], { count: 'inc', routes: true });
        case 'HoldTimerExpires':
          return toIdle(f, [notify(NotificationCode.HoldTimerExpired, UNSPECIFIC)], { count: 'inc', routes: true });
        case 'KeepaliveTimerExpires':
          return same([{ type: 'sendKeepalive' }, start('keepalive', keepaliveOf(f))]);
        case 'TcpConnectionFails':
        case 'NotifMsg':
        case 'NotifMsgVerErr':
          return toIdle(f, [], { count: 'inc', routes: true });
        case 'KeepAliveMsg':
          return same(f.holdTime === 0 ? [] : [start('hold', f.holdTime)]);
        case 'UpdateMsg':
          return same([{ type: 'processUpdate' }, ...(f.holdTime === 0 ? [] : [start('hold', f.holdTime)])]);
        case 'UpdateMsgErr':
        case 'BGPHeaderErr':
          return toIdle(f, [notify(e.code, e.subcode, e.data)], { count: 'inc', routes: true });
        case 'OpenCollisionDump':
          return toIdle(f, [notify(NotificationCode.Cease, CeaseSubcode.ConnectionCollisionResolution)], { count: 'inc', routes: true });
        default:
          return toIdle(f, [notify(NotificationCode.FsmError, FsmErrorSubcode.Established)], { count: 'inc', routes: true });
      }
  }
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
