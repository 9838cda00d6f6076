// The three timers of one FSM instance (RFC 4271 §8: ConnectRetry, Hold, Keepalive).
//
// They are deadlines, not Node timers: one shared clock ticks every TICK_MS while any timer
// is armed and fires those due. With thousands of sessions this is what keeps idle cost low:
// restarting the Hold timer on every KEEPALIVE and UPDATE is one assignment, and the
// keepalives of all sessions falling due in one tick go out in one wake-up instead of one
// wake-up per session. Timers fire up to TICK_MS late, well inside what RFC 4271 needs
// (hold times are at least 3 s). ConnectRetry and Keepalive are jittered by 0.75–1.0 (§10).
import type { Timer } from './fsm.js';

/** Granularity of the shared clock (ms). */
export const TICK_MS = 500;

const JITTERED: Readonly<Record<Timer, boolean>> = { connectRetry: true, hold: false, keepalive: true };
const TIMERS: readonly Timer[] = ['connectRetry', 'hold', 'keepalive'];

/** Every FsmTimers with an armed timer; the clock runs while it is not empty. */
const armed = new Set<FsmTimers>();
let interval: NodeJS.Timeout | undefined;

/**
 * Sessions whose timers fire in one turn of the event loop; the others due fire in the next
 * turns, at once. Ten thousand peers that do not answer have their ConnectRetry timers fall
 * due a few thousand per tick, and firing them all in one go (each a new connect) held the
 * event loop, and HTTP with it, for seconds (issue 12).
 */
export const FIRES_PER_TURN = 100;

let backlog: FsmTimers[] = [];
let draining = false;

function tick(): void {
  const now = Date.now();
  if (!draining) {
    for (const t of armed) if (t.next <= now) backlog.push(t);
    if (backlog.length) drain();
  }
  if (armed.size === 0 && interval && !draining) {
    clearInterval(interval);
    interval = undefined;
  }
}

function drain(): void {
  const batch = backlog.length > FIRES_PER_TURN ? backlog.splice(0, FIRES_PER_TURN) : backlog.splice(0);
  const now = Date.now();
  for (const t of batch) if (t.next <= now) t.fireDue(now);
  draining = backlog.length > 0;
  if (draining) setImmediate(drain);
}

function arm(t: FsmTimers): void {
  armed.add(t);
  if (!interval) {
    interval = setInterval(tick, TICK_MS);
    interval.unref();
  }
}

export class FsmTimers {
  /** deadline (ms since the epoch) per timer; 0 when not running */
  #due: Record<Timer, number> = { connectRetry: 0, hold: 0, keepalive: 0 };
  /** the earliest deadline (Infinity when none): the clock compares only this */
  next = Infinity;

  #recompute(): void {
    const d = this.#due;
    let n = Infinity;
    if (d.connectRetry !== 0 && d.connectRetry < n) n = d.connectRetry;
    if (d.hold !== 0 && d.hold < n) n = d.hold;
    if (d.keepalive !== 0 && d.keepalive < n) n = d.keepalive;
    this.next = n;
  }

  constructor(private readonly fire: (t: Timer) => void) {}

  start(t: Timer, seconds: number): void {
    if (!(seconds > 0)) {
      this.stop(t);
      return;
    }
    const ms = JITTERED[t] ? seconds * 1000 * (0.75 + 0.25 * Math.random()) : seconds * 1000;
    const due = Date.now() + ms;
    const was = this.#due[t];
    this.#due[t] = due;
    if (due < this.next) this.next = due;
    else if (was === this.next) this.#recompute();
    arm(this);
  }

  stop(t: Timer): void {
    if (this.#due[t] === 0) return;
    this.#due[t] = 0;
    this.#recompute();
    if (this.next === Infinity) armed.delete(this);
  }

  running(t: Timer): boolean {
    return this.#due[t] !== 0;
  }

  /** ms until the timer fires, or undefined when it is not running */
  remaining(t: Timer): number | undefined {
    return this.#due[t] === 0 ? undefined : Math.max(0, this.#due[t] - Date.now());
  }

  stopAll(): void {
    this.#due.connectRetry = 0;
    this.#due.hold = 0;
    this.#due.keepalive = 0;
    this.next = Infinity;
    armed.delete(this);
  }

  /** Fire the timers due by `now` (the shared clock calls this). */
  fireDue(now: number): void {
    for (const t of TIMERS) {
      const due = this.#due[t];
      if (due === 0 || due > now) continue;
      this.stop(t);
      this.fire(t);
    }
  }
}
