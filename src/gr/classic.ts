// The classic graceful restart, as a speaker without any peer-health evidence does it.
// PLACEHOLDER POLICY (issue 4) — issue 7 replaces it (see index.ts); kept small on purpose.
//
// Helper (RFC 4724 §4.2, RFC 8538 §4): when a session that negotiated GR goes down by a TCP
// failure, or by a NOTIFICATION other than Hard Reset when both sides sent the N-bit, the
// peer's routes of the families it listed stay, stale, for min(its restart time,
// ROUTELET_GR_RESTART_TIME); then they are swept. When the peer is back: families missing
// from its new GR capability or without the F bit are swept at once, the others at its
// End-of-RIB (or ROUTELET_GR_RESTART_TIME later).
//
// Restarting speaker (RFC 4724 §4.1): at start the FIB adopts the kernel's routes of our
// protocol as stale; when it found any, we are restarting (R bit, F bits in our OPENs). The
// FIB is swept once every configured peer has sent End-of-RIB for each family of its
// session, or ROUTELET_GR_WAIT passed. With ROUTELET_GR=off adopted routes are swept at once.
import type { Family } from '../net/ip.js';
import type { PeerHealthEvent } from '../health/index.js';
import type { LocalOpen, Negotiated, SessionDown } from '../bgp/session/index.js';
import type { GracefulRestart, GracefulRestartOptions, GrPeer } from './index.js';

interface Helping {
  /** families whose routes we keep stale */
  families: Set<Family>;
  timer: NodeJS.Timeout | undefined;
  /** the session is down (the peer is restarting) */
  down: boolean;
}

const HARD_RESET = 9;

export class ClassicGracefulRestart implements GracefulRestart {
  restarting = false;
  readonly #o: GracefulRestartOptions;
  readonly #helping = new Map<GrPeer['session'], Helping>();
  /** restarting speaker: End-of-RIB seen per configured peer in its current session */
  readonly #eor = new Map<GrPeer['session'], Set<Family>>();
  #waitTimer: NodeJS.Timeout | undefined;
  #waitUntil = 0;
  #stopped = false;

  constructor(o: GracefulRestartOptions) {
    this.#o = o;
  }

  async start(): Promise<void> {
    const { fib, config, log } = this.#o;
    if (!fib) return;
    const adopted = await fib.adopt();
    if (!config.gr.enabled) {
      if (adopted.routes) {
        const { deleted } = await fib.sweep();
        log.info({ deleted }, 'graceful restart off: routes of an earlier run removed from the kernel');
      }
      return;
    }
    if (adopted.routes === 0) return;
    this.restarting = true;
    this.#waitUntil = Date.now() + config.gr.wait * 1000;
    log.info({ adopted: adopted.routes, waitSeconds: config.gr.wait }, `restarting: ${adopted.routes} kernel routes kept as stale until every peer has sent End-of-RIB (at most ${config.gr.wait} s)`);
    this.#waitTimer = setTimeout(() => void this.#finish('ROUTELET_GR_WAIT passed'), config.gr.wait * 1000);
    this.#waitTimer.unref();
  }

  capability(_peer: GrPeer): LocalOpen['gracefulRestart'] {
    // F bit: forwarding state preserved across our restart (the kernel kept our routes)
    return { restartTime: this.#o.config.gr.restartTime, restarting: this.restarting, forwarding: this.restarting };
  }

  sessionUp(peer: GrPeer, n: Negotiated): void {
    this.#eor.set(peer.session, new Set());
    const h = this.#helping.get(peer.session);
    if (!h) return;
    clearTimeout(h.timer);
    h.down = false;
    const keep = new Set(n.gracefulRestart?.families.filter((f) => f.forwarding).map((f) => f.family) ?? []);
    for (const f of [...h.families]) {
      if (keep.has(f) && n.families.includes(f)) continue;
      this.#sweep(peer, f, 'the peer did not preserve forwarding for the family');
    }
    if (h.families.size === 0) return;
    h.timer = setTimeout(() => {
      for (const f of [...h.families]) this.#sweep(peer, f, 'no End-of-RIB within ROUTELET_GR_RESTART_TIME');
    }, this.#o.config.gr.restartTime * 1000);
    h.timer.unref();
  }

  sessionDown(peer: GrPeer, d: SessionDown): Family[] {
    this.#eor.delete(peer.session);
    const gr = d.negotiated.gracefulRestart;
    const n = d.notification;
    const prior = this.#helping.get(peer.session);
    if (prior) clearTimeout(prior.timer);
    let keep: Family[] = [];
    if (!d.stopping && gr && gr.restartTime > 0 && (!n || (gr.notification && !(n.code === 6 && n.subcode === HARD_RESET))))
      keep = gr.families.map((f) => f.family).filter((f) => d.negotiated.families.includes(f));
    if (keep.length === 0) {
      this.#helping.delete(peer.session);
      return [];
    }
    const seconds = Math.min(gr!.restartTime, this.#o.config.gr.restartTime);
    const h: Helping = { families: new Set(keep), timer: undefined, down: true };
    h.timer = setTimeout(() => {
      for (const f of [...h.families]) this.#sweep(peer, f, `restart time (${seconds} s) passed`);
    }, seconds * 1000);
    h.timer.unref();
    this.#helping.set(peer.session, h);
    this.#o.log.info({ peer: peer.session.address, families: keep, seconds }, `graceful restart helper: keeping the routes of ${peer.session.address} as stale for up to ${seconds} s`);
    return keep;
  }

  endOfRib(peer: GrPeer, family: Family): void {
    const h = this.#helping.get(peer.session);
    if (h?.families.has(family) && !h.down) this.#sweep(peer, family, 'End-of-RIB');
    const seen = this.#eor.get(peer.session);
    if (seen) {
      seen.add(family);
      if (this.restarting) this.#checkDone();
    }
  }

  peerRemoved(peer: GrPeer): void {
    const h = this.#helping.get(peer.session);
    if (h) clearTimeout(h.timer);
    this.#helping.delete(peer.session);
    this.#eor.delete(peer.session);
    if (this.restarting) this.#checkDone();
  }

  peerHealth(_events: readonly PeerHealthEvent[]): void {
    // the classic behaviour has no evidence of dead peers: it waits (issue 7 acts on it)
  }

  peerRestarting(peer: GrPeer): boolean {
    return this.#helping.get(peer.session)?.down ?? false;
  }

  problems(): string[] {
    if (!this.restarting) return [];
    const waiting = this.#waitingFor();
    const left = Math.max(0, Math.round((this.#waitUntil - Date.now()) / 1000));
    return [`graceful restart: the kernel keeps stale routes until End-of-RIB from ${waiting.length ? waiting.join(', ') : 'every peer'} (at most ${left} s more)`];
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#waitTimer);
    for (const h of this.#helping.values()) clearTimeout(h.timer);
    this.#helping.clear();
  }

  // ------------------------------------------------------------------

  #sweep(peer: GrPeer, family: Family, why: string): void {
    const h = this.#helping.get(peer.session);
    if (!h || !h.families.delete(family) || this.#stopped) return;
    const n = this.#o.rib.sweepStale(peer.rib, family);
    this.#o.log.info({ peer: peer.session.address, family, routes: n, why }, `graceful restart helper: stale IPv${family} routes of ${peer.session.address} swept (${why})`);
    if (h.families.size === 0) {
      clearTimeout(h.timer);
      this.#helping.delete(peer.session);
      this.#o.swept?.(peer);
    }
  }

  #waitingFor(): string[] {
    const out: string[] = [];
    for (const p of this.#o.peers()) {
      if (!p.configured) continue;
      const seen = this.#eor.get(p.session);
      const n = p.session.current?.negotiated;
      if (!seen || !n || !n.families.every((f) => seen.has(f))) out.push(p.session.address);
    }
    return out;
  }

  #checkDone(): void {
    if (this.#waitingFor().length === 0) void this.#finish('End-of-RIB received from every configured peer');
  }

  async #finish(why: string): Promise<void> {
    if (!this.restarting || this.#stopped) return;
    this.restarting = false;
    clearTimeout(this.#waitTimer);
    const fib = this.#o.fib;
    if (!fib) return;
    const { deleted } = await fib.sweep();
    this.#o.log.info({ deleted, why }, `restart recovery done (${why}): ${deleted} stale kernel routes removed`);
  }
}
