// The RFC 4271 section 8 state machine, transition by transition, without sockets.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoff, collisionWinner, initial, keepaliveTime, step, type Action, type Event, type Fsm, type State } from '../../src/bgp/session/fsm.js';

const T = { connectRetry: 5, initialHold: 240 };
const run = (events: Event[], from: Fsm = initial()) => {
  let f = from;
  const all: Action[][] = [];
  for (const e of events) {
    const s = step(f, e, T);
    f = s.fsm;
    all.push(s.actions);
  }
  return { fsm: f, actions: all, last: all[all.length - 1] ?? [] };
};
const types = (a: Action[]) => a.map((x) => (x.type === 'startTimer' || x.type === 'stopTimer' ? `${x.type}:${x.timer}` : x.type));
const notification = (a: Action[]) => a.find((x) => x.type === 'sendNotification') as Extract<Action, { type: 'sendNotification' }> | undefined;

const toEstablished: Event[] = [{ type: 'ManualStart' }, { type: 'TcpCrAcked' }, { type: 'BGPOpen', holdTime: 9 }, { type: 'KeepAliveMsg' }];
const stateAfter = (events: Event[]): State => run(events).fsm.state;

describe('BGP FSM (RFC 4271 8.2.2)', () => {
  it('Idle → Connect → OpenSent → OpenConfirm → Established with the RFC actions', () => {
    const r = run(toEstablished);
    expect(r.actions.map(types)).toEqual([
      ['startTimer:connectRetry', 'connect'],
      ['stopTimer:connectRetry', 'sendOpen', 'startTimer:hold'],
      ['stopTimer:connectRetry', 'sendKeepalive', 'startTimer:keepalive', 'startTimer:hold'],
      ['startTimer:hold', 'established'],
    ]);
    expect(r.fsm).toMatchObject({ state: 'Established', holdTime: 9 });
    expect(r.actions[1]).toContainEqual({ type: 'startTimer', timer: 'hold', seconds: 240 });
    expect(r.actions[2]).toContainEqual({ type: 'startTimer', timer: 'keepalive', seconds: 3 });
  });

  it('passive start waits in Active and completes on an incoming connection', () => {
    expect(stateAfter([{ type: 'ManualStartPassive' }])).toBe('Active');
    const r = run([{ type: 'ManualStartPassive' }, { type: 'ConnectRetryTimerExpires' }]);
    expect(r.fsm.state).toBe('Active');
    expect(types(r.last)).not.toContain('connect');
    expect(stateAfter([{ type: 'ManualStartPassive' }, { type: 'TcpConnectionConfirmed' }])).toBe('OpenSent');
  });

  it('an active session in Active connects again when ConnectRetry expires', () => {
    const r = run([{ type: 'ManualStart' }, { type: 'TcpCrAcked' }, { type: 'TcpConnectionFails' }, { type: 'ConnectRetryTimerExpires' }]);
    expect(r.actions[2]!.map((a) => a.type)).toContain('drop');
    expect(r.fsm.state).toBe('Connect');
    expect(types(r.last)).toEqual(['startTimer:connectRetry', 'connect']);
  });

  it('Connect retries on ConnectRetryTimer, fails to Idle counting the failure', () => {
    const retry = run([{ type: 'ManualStart' }, { type: 'ConnectRetryTimerExpires' }]);
    expect(retry.fsm.state).toBe('Connect');
    expect(types(retry.last)).toEqual(['drop', 'startTimer:connectRetry', 'connect']);
    const fail = run([{ type: 'ManualStart' }, { type: 'TcpConnectionFails' }]);
    expect(fail.fsm).toMatchObject({ state: 'Idle', connectRetryCounter: 1 });
  });

  it('activeRetry (routelet): a failed connect waits in Active for ConnectRetry, then connects again', () => {
    const from = initial({ activeRetry: true });
    const r = run([{ type: 'AutomaticStart' }, { type: 'TcpConnectionFails' }], from);
    expect(r.fsm).toMatchObject({ state: 'Active', connectRetryCounter: 1, passive: false });
    expect(types(r.last)).toEqual(['drop', 'startTimer:connectRetry']);
    const again = run([{ type: 'ConnectRetryTimerExpires' }], r.fsm);
    expect(again.fsm.state).toBe('Connect');
    expect(types(again.last)).toEqual(['startTimer:connectRetry', 'connect']);
    // without it, RFC 4271 8.2.2 Connect/event 18: Idle
    expect(run([{ type: 'AutomaticStart' }, { type: 'TcpConnectionFails' }]).fsm.state).toBe('Idle');
    // a session error still goes to Idle
    const est = run([{ type: 'AutomaticStart' }, { type: 'TcpCrAcked' }, { type: 'BGPOpen', holdTime: 9 }, { type: 'KeepAliveMsg' }, { type: 'HoldTimerExpires' }], from);
    expect(est.fsm.state).toBe('Idle');
    expect(est.fsm.activeRetry).toBe(true);
  });

  it('hold time 0 runs no keepalive or hold timer', () => {
    const r = run([{ type: 'ManualStart' }, { type: 'TcpCrAcked' }, { type: 'BGPOpen', holdTime: 0 }, { type: 'KeepAliveMsg' }, { type: 'UpdateMsg' }]);
    expect(r.fsm).toMatchObject({ state: 'Established', holdTime: 0 });
    expect(types(r.actions[2]!)).toEqual(['stopTimer:connectRetry', 'sendKeepalive', 'stopTimer:hold']);
    expect(types(r.last)).toEqual(['processUpdate']);
    expect(keepaliveTime(0)).toBe(0);
    expect(keepaliveTime(90)).toBe(30);
    expect(keepaliveTime(3)).toBe(1);
  });

  it('a configured keepalive interval applies when shorter than a third of the hold time, never under 1 s', () => {
    const r = run([{ type: 'ManualStart' }, { type: 'TcpCrAcked' }, { type: 'BGPOpen', holdTime: 90, keepaliveTime: 1 }, { type: 'KeepAliveMsg' }, { type: 'KeepaliveTimerExpires' }]);
    expect(r.fsm).toMatchObject({ state: 'Established', holdTime: 90, keepaliveTime: 1 });
    expect(r.actions[2]).toContainEqual({ type: 'startTimer', timer: 'keepalive', seconds: 1 });
    expect(r.last).toEqual([{ type: 'sendKeepalive' }, { type: 'startTimer', timer: 'keepalive', seconds: 1 }]);
    expect(keepaliveTime(90, 100)).toBe(30);
    expect(keepaliveTime(90, 0.5)).toBe(30);
    expect(keepaliveTime(0, 1)).toBe(0);
  });

  it('hold timer expiry sends NOTIFICATION code 4 and releases routes only from Established', () => {
    const est = run([...toEstablished, { type: 'HoldTimerExpires' }]);
    expect(est.fsm.state).toBe('Idle');
    expect(notification(est.last)).toEqual({ type: 'sendNotification', code: 4, subcode: 0 });
    expect(est.last).toContainEqual({ type: 'release', routes: true });
    const sent = run([{ type: 'ManualStart' }, { type: 'TcpCrAcked' }, { type: 'HoldTimerExpires' }]);
    expect(notification(sent.last)?.code).toBe(4);
    expect(sent.last).toContainEqual({ type: 'release', routes: false });
  });

  it('unexpected messages are FSM errors with the RFC 6608 subcode of the state', () => {
    expect(notification(run([{ type: 'ManualStart' }, { type: 'TcpCrAcked' }, { type: 'KeepAliveMsg' }]).last)).toEqual({ type: 'sendNotification', code: 5, subcode: 1 });
    expect(notification(run([{ type: 'ManualStart' }, { type: 'TcpCrAcked' }, { type: 'BGPOpen', holdTime: 9 }, { type: 'UpdateMsg' }]).last)).toEqual({ type: 'sendNotification', code: 5, subcode: 2 });
    expect(notification(run([...toEstablished, { type: 'BGPOpen', holdTime: 9 }]).last)).toEqual({ type: 'sendNotification', code: 5, subcode: 3 });
  });

  it('OPEN and header errors send their own NOTIFICATION', () => {
    const r = run([{ type: 'ManualStart' }, { type: 'TcpCrAcked' }, { type: 'BGPOpenMsgErr', code: 2, subcode: 2, data: new Uint8Array([0xfd, 0xe9]) }]);
    expect(r.fsm.state).toBe('Idle');
    expect(notification(r.last)).toEqual({ type: 'sendNotification', code: 2, subcode: 2, data: new Uint8Array([0xfd, 0xe9]) });
    const u = run([...toEstablished, { type: 'UpdateMsgErr', code: 3, subcode: 1 }]);
    expect(notification(u.last)).toMatchObject({ code: 3, subcode: 1 });
    expect(u.last).toContainEqual({ type: 'release', routes: true });
  });

  it('a collision loser sends Cease / Connection Collision Resolution', () => {
    const r = run([{ type: 'ManualStart' }, { type: 'TcpCrAcked' }, { type: 'BGPOpen', holdTime: 9 }, { type: 'OpenCollisionDump' }]);
    expect(r.fsm.state).toBe('Idle');
    expect(notification(r.last)).toEqual({ type: 'sendNotification', code: 6, subcode: 7 });
  });

  it('a NOTIFICATION received ends the session without sending one', () => {
    const r = run([...toEstablished, { type: 'NotifMsg' }]);
    expect(r.fsm.state).toBe('Idle');
    expect(notification(r.last)).toBeUndefined();
    expect(r.fsm.connectRetryCounter).toBe(1);
    const v = run([{ type: 'ManualStart' }, { type: 'TcpCrAcked' }, { type: 'NotifMsgVerErr' }]);
    expect(v.fsm.connectRetryCounter).toBe(0);
  });

  it('TCP failure in OpenSent goes back to Active and keeps listening', () => {
    const r = run([{ type: 'ManualStart' }, { type: 'TcpCrAcked' }, { type: 'TcpConnectionFails' }]);
    expect(r.fsm.state).toBe('Active');
    expect(types(r.last)).toEqual(['stopTimer:hold', 'drop', 'startTimer:connectRetry']);
  });

  it('ManualStop sends Cease/Administrative Shutdown and resets the counter; AutomaticStop carries its subcode', () => {
    const m = run([{ type: 'ManualStart' }, { type: 'TcpConnectionFails' }, { type: 'AutomaticStart' }, { type: 'TcpCrAcked' }, { type: 'BGPOpen', holdTime: 9 }, { type: 'KeepAliveMsg' }, { type: 'ManualStop' }]);
    expect(m.fsm).toMatchObject({ state: 'Idle', connectRetryCounter: 0 });
    expect(notification(m.last)).toEqual({ type: 'sendNotification', code: 6, subcode: 2 });
    const data = new TextEncoder().encode('maintenance');
    const a = run([...toEstablished, { type: 'AutomaticStop', subcode: 3, data }]);
    expect(notification(a.last)).toEqual({ type: 'sendNotification', code: 6, subcode: 3, data });
  });

  it('keepalives are sent on the keepalive timer in OpenConfirm and Established', () => {
    const r = run([...toEstablished, { type: 'KeepaliveTimerExpires' }]);
    expect(types(r.last)).toEqual(['sendKeepalive', 'startTimer:keepalive']);
    expect(r.fsm.state).toBe('Established');
  });

  it('ManualStart resets the retry counter, AutomaticStart keeps it', () => {
    const failed = run([{ type: 'ManualStart' }, { type: 'TcpConnectionFails' }]).fsm;
    expect(run([{ type: 'AutomaticStart' }], failed).fsm.connectRetryCounter).toBe(1);
    expect(run([{ type: 'ManualStart' }], failed).fsm.connectRetryCounter).toBe(0);
  });

  it('collision: the higher BGP identifier keeps the connection it initiated', () => {
    expect(collisionWinner(0x0a000002, 0x0a000001)).toBe('ours');
    expect(collisionWinner(0x0a000001, 0x0a000002)).toBe('theirs');
    expect(collisionWinner(0xc0000001, 0x0a000002)).toBe('ours'); // unsigned comparison
    expect(collisionWinner(7, 7, 65001, 65000)).toBe('ours');
  });

  it('reconnect backoff doubles from the base to the maximum', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 40].map((n) => backoff(n, 5, 60))).toEqual([5, 5, 10, 20, 40, 60, 60, 60]);
  });

  it('for any event sequence: every state is valid, Idle holds no timers and no connection', () => {
    const event = fc.oneof(
      ...(['ManualStart', 'ManualStop', 'AutomaticStart', 'ManualStartPassive', 'AutomaticStartPassive', 'AutomaticStop', 'ConnectRetryTimerExpires', 'HoldTimerExpires', 'KeepaliveTimerExpires', 'TcpCrAcked', 'TcpConnectionConfirmed', 'TcpConnectionFails', 'OpenCollisionDump', 'NotifMsgVerErr', 'NotifMsg', 'KeepAliveMsg', 'UpdateMsg'] as const).map((type) => fc.constant({ type } as Event)),
      fc.integer({ min: 0, max: 65535 }).filter((h) => h === 0 || h >= 3).map((holdTime) => ({ type: 'BGPOpen', holdTime }) as Event),
      fc.constant({ type: 'BGPOpenMsgErr', code: 2, subcode: 2 } as Event),
      fc.constant({ type: 'UpdateMsgErr', code: 3, subcode: 1 } as Event),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), (events) => {
        let f = initial();
        const running = new Set<string>();
        let connected = false;
        for (const e of events) {
          const { fsm, actions } = step(f, e, T);
          for (const a of actions) {
            if (a.type === 'startTimer') running.add(a.timer);
            if (a.type === 'stopTimer') running.delete(a.timer);
            if (a.type === 'connect') connected = true;
            if (a.type === 'drop') connected = false;
            if (a.type === 'established') expect(f.state).toBe('OpenConfirm');
            if (a.type === 'release') expect(a.routes).toBe(f.state === 'Established');
            if (a.type === 'sendNotification') expect([1, 2, 3, 4, 5, 6]).toContain(a.code);
          }
          if (fsm.state === 'Idle' && f.state !== 'Idle') {
            expect([...running]).toEqual([]);
            expect(connected).toBe(false);
          }
          expect(fsm.connectRetryCounter).toBeGreaterThanOrEqual(0);
          f = fsm;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
