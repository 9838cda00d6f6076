// The three timers of one FSM instance (RFC 4271 §8: ConnectRetry, Hold, Keepalive), as
// Node timers. ConnectRetry and Keepalive are jittered by 0.75–1.0 (§10); the Hold timer,
// restarted on every KEEPALIVE and UPDATE, is re-armed in place (Timeout.refresh) when its
// duration does not change, which costs no allocation.
import type { Timer } from './fsm.js';

const JITTERED: Readonly<Record<Timer, boolean>> = { connectRetry: true, hold: false, keepalive: true };

export class FsmTimers {
  #handles: Record<Timer, NodeJS.Timeout | undefined> = { connectRetry: undefined, hold: undefined, keepalive: undefined };
  #ms: Record<Timer, number> = { connectRetry: 0, hold: 0, keepalive: 0 };
  #armed: Record<Timer, boolean> = { connectRetry: false, hold: false, keepalive: false };

  constructor(private readonly fire: (t: Timer) => void) {}

  start(t: Timer, seconds: number): void {
    if (!(seconds > 0)) {
      this.stop(t);
      return;
    }
    const ms = JITTERED[t] ? Math.round(seconds * 1000 * (0.75 + 0.25 * Math.random())) : seconds * 1000;
    const h = this.#handles[t];
    if (h && !JITTERED[t] && this.#ms[t] === ms) {
      h.refresh();
      this.#armed[t] = true;
      return;
    }
    if (h) clearTimeout(h);
    this.#ms[t] = ms;
    this.#armed[t] = true;
    const handle = setTimeout(() => {
      this.#armed[t] = false;
      this.fire(t);
    }, ms);
    handle.unref();
    this.#handles[t] = handle;
  }

  stop(t: Timer): void {
    const h = this.#handles[t];
    if (h) clearTimeout(h);
    this.#handles[t] = undefined;
    this.#armed[t] = false;
  }

  running(t: Timer): boolean {
    return this.#armed[t];
  }

  stopAll(): void {
    this.stop('connectRetry');
    this.stop('hold');
    this.stop('keepalive');
  }
}
