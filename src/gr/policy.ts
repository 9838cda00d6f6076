// Graceful restart (RFC 4724, RFC 8538) in both roles, with fast unlock (issue 7): the policy
// behind the GracefulRestart interface (types.ts). What it does and why is in README.md (the
// two roles, fast unlock and its evidence, passive-peer probing, the trade-offs).
import type { Family } from '../net/ip.js';
import { parsePrefix } from '../net/prefix.js';
import { kindOfErrorCode, type PeerHealthEvent } from '../health/index.js';
import { CeaseSubcode, isCease, isHardReset } from '../bgp/codec/index.js';
import { plainError, type LocalOpen, type Negotiated, type SessionDown } from '../bgp/session/index.js';
import { describe, evidenceCode, judge, SILENT_REPEATS, strength } from './evidence.js';
import type { BfdDown, DeadPeer, GracefulRestart, GracefulRestartOptions, GrPeer } from './types.js';

interface Helping {
  /** families whose routes we keep stale */
  families: Set<Family>;
  timer: NodeJS.Timeout | undefined;
  /** the session is down (the peer is restarting) */
  down: boolean;
  /**
   * kept because collision resolution closed the connection (the peer did not restart): the
   * next connection's End-of-RIB ends it, whatever its Forwarding State bits say
   */
  collision: boolean;
}

type Session = GrPeer['session'];

export const PROBE_INTERVAL_MS = 2000;
export const PROBE_TIMEOUT_MS = 2000;
/** peers named in /readyz while the restart recovery waits for them; the rest are counted */
const MAX_NAMED = 20;

export class GracefulRestartPolicy implements GracefulRestart {
  restarting = false;
  readonly #o: GracefulRestartOptions;
  readonly #fast: boolean;
  readonly #helping = new Map<Session, Helping>();
  /** restarting speaker: End-of-RIB seen per peer in its current session */
  readonly #eor = new Map<Session, Set<Family>>();
  /** fast unlock and BFD: peers the evidence says are dead, until they are Established again */
  readonly #dead = new Map<Session, DeadPeer & { silent: number }>();
  /** peers whose socket evidence was set aside because their node is alive (logged once) */
  readonly #aliveNoted = new Set<Session>();
  readonly #probing = new Set<Session>();
  #probeTimer: NodeJS.Timeout | undefined;
  #waitTimer: NodeJS.Timeout | undefined;
  /**
   * Peers by address, for the evidence (events name a peer by its address). Kept, not rebuilt
   * per event: with 10,000 peers a rebuild per event made start-up quadratic (issue 12). It is
   * rebuilt only when an event names an address it does not hold (a peer added since).
   */
  #byAddress = new Map<string, GrPeer>();
  /** a restart-recovery check is due (one per turn of the event loop, whatever the events) */
  #checkScheduled = false;
  #startedAt = 0;
  #waitUntil = 0;
  #stopped = false;
  /** how the restart recovery ended, for the log, the API and the lab */
  recovery: { adopted: number; startedAt: number; endedAt: number; why: string; deleted: number } | null = null;

  constructor(o: GracefulRestartOptions) {
    this.#o = o;
    this.#fast = o.config.gr.enabled && o.config.gr.fastUnlock;
  }

  get fastUnlock(): boolean {
    return this.#fast;
  }

  async start(): Promise<void> {
    const { fib, config, log } = this.#o;
    if (this.#fast) this.#probeTimer = setInterval(() => this.#probe(), PROBE_INTERVAL_MS).unref();
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
    this.#startedAt = Date.now();
    this.#waitUntil = this.#startedAt + config.gr.wait * 1000;
    this.recovery = { adopted: adopted.routes, startedAt: this.#startedAt, endedAt: 0, why: '', deleted: 0 };
    this.#o.rib.deferEndOfRib();
    log.info(
      { adopted: adopted.routes, waitSeconds: config.gr.wait, fastUnlock: this.#fast },
      `restarting: ${adopted.routes} kernel routes kept as stale until every peer has sent End-of-RIB (at most ${config.gr.wait} s${this.#fast ? '; peers found dead are not waited for' : ''})`,
    );
    this.#waitTimer = setTimeout(() => void this.#finish('ROUTELET_GR_WAIT passed'), config.gr.wait * 1000);
    this.#waitTimer.unref();
    // peers we do not connect to are probed from the first moment (the connecting ones show their errors themselves)
    setImmediate(() => this.#probe());
  }

  capability(_peer: GrPeer): LocalOpen['gracefulRestart'] {
    // F bit: forwarding state preserved across our restart (the kernel kept our routes)
    return { restartTime: this.#o.config.gr.restartTime, restarting: this.restarting, forwarding: this.restarting };
  }

  sessionUp(peer: GrPeer, n: Negotiated): void {
    this.#eor.set(peer.session, new Set());
    if (this.#dead.delete(peer.session)) this.#o.log.info({ peer: peer.session.address }, `${peer.session.address} is back: Established`);
    const h = this.#helping.get(peer.session);
    if (!h) return;
    clearTimeout(h.timer);
    h.down = false;
    const keep = new Set(n.gracefulRestart?.families.filter((f) => f.forwarding || h.collision).map((f) => f.family) ?? []);
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
    this.#helping.delete(peer.session);
    let keep: Family[] = [];
    // A Cease/Connection Collision Resolution closed one of two connections to a live peer (both
    // sides connected at once, and the one established first lost: session.ts opened()); the
    // other is about to be established. Its routes are kept as stale, as for a connection that
    // just ended, not withdrawn and written again a moment later (test/gr/cycles.test.ts saw a
    // live peer's routes leave the kernel for 7–12 ms so).
    const collision = n !== null && isCease(n, CeaseSubcode.ConnectionCollisionResolution);
    if (!d.stopping && gr && gr.restartTime > 0 && (!n || collision || (gr.notification && !isHardReset(n))))
      keep = gr.families.map((f) => f.family).filter((f) => d.negotiated.families.includes(f));
    const dead = this.#dead.get(peer.session);
    if (keep.length && dead) {
      this.#o.log.info({ peer: peer.session.address, evidence: dead.evidence }, `fast unlock: ${peer.session.address} is dead (${dead.evidence}): its routes are withdrawn, not kept as stale`);
      keep = [];
    }
    if (keep.length === 0) return [];
    const seconds = Math.min(gr!.restartTime, this.#o.config.gr.restartTime);
    const h: Helping = { families: new Set(keep), timer: undefined, down: true, collision };
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
    this.#dead.delete(peer.session);
    this.#probing.delete(peer.session);
    if (this.#byAddress.get(peer.session.address)?.session === peer.session) this.#byAddress.delete(peer.session.address);
    if (this.restarting) this.#checkDone();
  }

  peerHealth(events: readonly PeerHealthEvent[]): void {
    if (!this.#fast || this.#stopped) return;
    let rebuilt = false;
    for (const e of events) {
      if (e.evidence !== 'dead') continue;
      let peer = this.#byAddress.get(e.peer);
      if (!peer && !rebuilt) {
        // once per batch at most: an address we do not know may be a peer added since
        this.#byAddress = new Map([...this.#o.peers()].map((p) => [p.session.address, p]));
        rebuilt = true;
        peer = this.#byAddress.get(e.peer);
      }
      if (peer) this.#evidence(peer, e);
    }
  }

  nodeDead(peer: GrPeer, evidence: string): void {
    if (!this.#fast || this.#stopped) return;
    const s = peer.session;
    if (s.isEstablished) return;
    const prior = this.#dead.get(s);
    this.#dead.set(s, { evidence, code: null, since: prior?.since ?? Date.now(), kind: 'node-health', silent: SILENT_REPEATS });
    s.retryFromBase = true;
    if (!prior) this.#o.log.info({ peer: s.address, evidence }, `fast unlock: the node of ${s.address} is dead (${evidence})${this.restarting ? ': no longer waiting for its End-of-RIB' : ''}`);
    const h = this.#helping.get(s);
    if (h?.down) for (const f of [...h.families]) this.#sweep(peer, f, `the node is dead: ${evidence}`);
    if (this.restarting) this.#checkDone();
  }

  peerRestarting(peer: GrPeer): boolean {
    return this.#helping.get(peer.session)?.down ?? false;
  }

  peerDead(peer: GrPeer): DeadPeer | null {
    const d = this.#dead.get(peer.session);
    return d ? { evidence: d.evidence, code: d.code, since: d.since, kind: d.kind } : null;
  }

  problems(): string[] {
    if (!this.restarting) return [];
    const waiting = this.#waitingFor();
    const left = Math.max(0, Math.round((this.#waitUntil - Date.now()) / 1000));
    // thousands of peers: the first few named, the rest counted
    const named = waiting.length > MAX_NAMED ? `${waiting.slice(0, MAX_NAMED).join(', ')} and ${waiting.length - MAX_NAMED} more peers` : waiting.join(', ');
    return [`graceful restart: the kernel keeps stale routes until End-of-RIB from ${waiting.length ? named : 'every peer'} (at most ${left} s more)`];
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#waitTimer);
    clearInterval(this.#probeTimer);
    for (const h of this.#helping.values()) clearTimeout(h.timer);
    this.#helping.clear();
  }

  // ------------------------------------------------------------------ evidence

  bfdDown(peer: GrPeer, down: BfdDown): void {
    if (this.#stopped) return;
    const s = peer.session;
    const log = this.#o.log;
    const mark = (): void => {
      const prior = this.#dead.get(s);
      this.#dead.set(s, { evidence: down.evidence, code: null, since: prior?.since ?? down.at, kind: 'bfd', silent: SILENT_REPEATS });
    };
    if (s.isEstablished) {
      // RFC 5882 §3.2 / §4.3.1: the forwarding path to the peer is gone under the session
      mark();
      log.warn({ peer: s.address, evidence: down.evidence, diag: down.diag }, `${down.evidence} for ${s.address}: closing its BGP session now, its routes are withdrawn`);
      s.abandon(plainError(`${down.evidence}`, 'BFD down', 'peer-dead'));
      return;
    }
    const h = this.#helping.get(s);
    if (h?.down) {
      // the session went down first (a restart the peer announced by closing it); RFC 5882
      // §4.3.2: with the C bit the forwarding plane failed too, without it BFD shares fate
      // with the restarting control plane and says nothing about forwarding
      if (!down.cpi) {
        log.info({ peer: s.address, evidence: down.evidence }, `${down.evidence} for ${s.address} while it restarts; its C bit is clear (BFD shares fate with its control plane): stale routes kept`);
        return;
      }
      mark();
      for (const f of [...h.families]) this.#sweep(peer, f, `${down.evidence} with the C bit set: its forwarding plane failed`);
      return;
    }
    if (this.restarting && peer.configured) {
      mark();
      log.info({ peer: s.address, evidence: down.evidence }, `${down.evidence} for ${s.address}: no longer waiting for its End-of-RIB`);
      this.#checkDone();
    }
  }

  #evidence(peer: GrPeer, e: PeerHealthEvent): void {
    const s = peer.session;
    const c = s.current;
    const verdict = judge(e, c?.local && c.remote ? { localPort: c.local.port, remotePort: c.remote.port } : null);
    if (verdict === 'ignore') return;
    if (verdict === 'dead' && this.#o.alive) {
      const alive = this.#o.alive(peer);
      if (alive) {
        if (!this.#aliveNoted.has(s)) this.#o.log.info({ peer: s.address, evidence: describe(e), alive }, `${s.address}: ${describe(e)}, but its node is alive (${alive}): restarting, its routes are kept`);
        this.#aliveNoted.add(s);
        return;
      }
    }
    this.#aliveNoted.delete(s);
    const words = describe(e);
    const prior = this.#dead.get(s);
    const silent = strength(e) === 'silent' ? (prior?.silent ?? 0) + 1 : SILENT_REPEATS;
    const mark = { evidence: words, code: evidenceCode(e), since: prior?.since ?? Date.now(), kind: e.kind, silent: Math.max(silent, prior?.silent ?? 0) };
    this.#dead.set(s, mark);
    s.retryFromBase = true;
    const log = this.#o.log;
    if (verdict === 'established-dead') {
      log.warn({ peer: s.address, evidence: words, kind: e.kind, source: e.source }, `fast unlock: the host of ${s.address} is gone under the Established session (${words}): closing it now`);
      // the session goes down (sessionDown sees the mark: nothing kept stale)
      s.abandon(plainError(`peer host gone: ${words}`, `host gone: ${e.kind}`, 'peer-dead'));
      return;
    }
    if (!prior) log.info({ peer: s.address, evidence: words, kind: e.kind, source: e.source }, `fast unlock: ${s.address} is dead (${words})${this.restarting ? ': no longer waiting for its End-of-RIB' : ''}`);
    const h = this.#helping.get(s);
    if (h?.down && mark.silent >= SILENT_REPEATS) for (const f of [...h.families]) this.#sweep(peer, f, `the peer is dead: ${words}`);
    if (this.restarting) this.#checkDone();
  }

  /** Probe the peers we wait for and do not connect to (passive, dynamic): restarting (their End-of-RIB) or helping (their stale routes). */
  #probe(): void {
    const probe = this.#o.probe;
    // probing is fast unlock: the classic policy (ROUTELET_GR_FAST_UNLOCK=off) waits for the peer
    if (!probe || this.#stopped || !this.#fast) return;
    for (const p of this.#o.peers()) {
      const s = p.session;
      if (s.connecting || s.isEstablished || s.connections().length > 0 || this.#probing.has(s)) continue;
      if (this.#dead.has(s) && (this.#dead.get(s)!.silent >= SILENT_REPEATS || !this.#helping.get(s)?.down)) continue;
      const waitedFor = this.restarting && p.configured;
      if (!waitedFor && !this.#helping.get(s)?.down) continue;
      this.#probing.add(s);
      probe(p, PROBE_TIMEOUT_MS).then(
        (code) => {
          this.#probing.delete(s);
          if (code === null || this.#stopped || s.isEstablished) return;
          this.#evidence(p, probeEvent(s.address, code));
        },
        () => this.#probing.delete(s),
      );
    }
  }

  // ------------------------------------------------------------------ helper, recovery

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
      if (this.#dead.has(p.session) && !p.session.isEstablished) continue;
      const seen = this.#eor.get(p.session);
      const n = p.session.current?.negotiated;
      // RFC 4724 §4.1: not waited for when restarting itself (R bit) or without the capability
      if (n && (!n.gracefulRestart || n.gracefulRestart.restarting)) continue;
      if (!seen || !n || !n.families.every((f) => seen.has(f))) out.push(p.session.address);
    }
    return out;
  }

  /**
   * Is the restart recovery done? Asked after each End-of-RIB, evidence and removal, but looked
   * at once per turn of the event loop: the look goes over every peer, the events may be
   * thousands (every unanswered peer at start-up), and per event that was quadratic.
   */
  #checkDone(): void {
    if (this.#checkScheduled) return;
    this.#checkScheduled = true;
    setImmediate(() => {
      this.#checkScheduled = false;
      if (this.restarting && !this.#stopped) this.#checkNow();
    });
  }

  #checkNow(): void {
    if (this.#waitingFor().length > 0) return;
    const dead = [...this.#o.peers()].filter((p) => p.configured && this.#dead.has(p.session)).map((p) => p.session.address);
    void this.#finish(dead.length ? `End-of-RIB received from every live configured peer; dead: ${dead.join(', ')}` : 'End-of-RIB received from every configured peer');
  }

  async #finish(why: string): Promise<void> {
    if (!this.restarting || this.#stopped) return;
    this.restarting = false;
    clearTimeout(this.#waitTimer);
    // the RIB's changes of this turn reach the FIB before the sweep looks at what is confirmed,
    // and our peers get the End-of-RIB held back since the start
    this.#o.flush?.();
    const released = this.#o.rib.releaseEndOfRib();
    if (released) this.#o.log.info({ peers: released }, `End-of-RIB sent to ${released} peers (held back during the restart)`);
    const fib = this.#o.fib;
    if (!fib) return;
    const { deleted } = await fib.sweep();
    const ms = Date.now() - this.#startedAt;
    if (this.recovery) Object.assign(this.recovery, { endedAt: Date.now(), why, deleted });
    this.#o.log.info({ deleted, why, ms }, `restart recovery done after ${ms} ms (${why}): ${deleted} stale kernel routes removed`);
  }
}

/** A probe's failure as a peer-health event (source 'socket'); no answer in time counts as a silent SYN. */
function probeEvent(address: string, code: string): PeerHealthEvent {
  const kind = code === 'ETIMEDOUT' ? 'syn-unanswered' : kindOfErrorCode(code);
  const family = address.includes(':') ? 6 : 4;
  return {
    kind,
    evidence: kind === 'error' ? 'info' : 'dead',
    peer: address,
    peerKey: parsePrefix(`${address}/${family === 4 ? 32 : 128}`)!,
    family,
    port: 0,
    localPort: 0,
    errno: 0,
    code,
    softCode: null,
    oldState: null,
    newState: null,
    retransmits: 0,
    time: process.hrtime.bigint(),
    source: 'socket',
    neighbour: null,
    expired: false,
    socketCookie: 0n,
    hook: 'socket',
  };
}
