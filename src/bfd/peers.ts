// BFD toward the agent's configured peers (issue 14): one BfdService (native thread, see
// src/native/bfd.ts) and one BFD session per configured peer with BFD on, made when the peer
// is configured (BFD may come Up before BGP) and removed with it. Single hop (RFC 5881) for
// peers without `multihop`, multihop (RFC 5883) for the others. Our source address is
// ROUTELET_LISTEN_ADDRESS when it is a specific address of the peer's family, else the BGP
// session's local address once it is known (the BFD session is made again with it while it
// is not Up), else unbound (the kernel's routing chooses). A peer's `bfdAuth` (peers file only)
// goes to the addon, which fixes it at creation: a changed one makes the BFD session again. Its
// key is never logged nor shown; the view carries its type and key ID.
//
// Effect: only an Up session that goes Down for a reason other than an administrative
// shutdown (event `failure`, RFC 5882 §3.2) is reported, to the graceful-restart policy
// (GracefulRestart.bfdDown): a peer that never answers BFD is never harmed. Closing the
// service (agent stop) tells every peer AdminDown, which RFC 5882 says is not a failure.
import { isIP } from 'node:net';
import type { BfdAuthConfig, Config, PeerConfig } from '../config/index.js';
import type { BfdDown } from '../gr/index.js';
import type { Logger } from '../log.js';
import type { BfdPeerView } from '../api/types.js';
import { BfdDiag, BfdService, type BfdSession, type BfdState, type BfdStateEvent } from '../native/bfd.js';

/** A peer's BFD settings, resolved against ROUTELET_BFD*. */
export interface BfdPeerSettings {
  readonly enabled: boolean;
  readonly intervalMs: number;
  readonly multiplier: number;
  readonly multihop: boolean;
  /** RFC 5880 §6.7; the key is a secret: never logged, never in a view */
  readonly auth: BfdAuthConfig | undefined;
}

export function bfdSettings(defaults: Config['bfd'], p: PeerConfig): BfdPeerSettings {
  return {
    enabled: p.bfd ?? defaults.enabled,
    intervalMs: p.bfdInterval ?? defaults.interval,
    multiplier: p.bfdMultiplier ?? defaults.multiplier,
    multihop: p.multihop > 0,
    auth: p.bfdAuth,
  };
}

/** The same authentication (type, key ID and key): else the BFD session is made again (the addon fixes it at creation). */
function sameAuth(a: BfdAuthConfig | undefined, b: BfdAuthConfig | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.type === b.type && a.keyId === b.keyId && a.key === b.key);
}

/** What may be said of a peer's authentication: type and key ID, never the key. */
function authWords(a: BfdAuthConfig | undefined): string {
  return a ? `, ${a.type} key ID ${a.keyId}` : '';
}

export type { BfdPeerView };

/** The BFD reads of AgentState: the view and the metrics. */
export interface BfdRead {
  peer(address: string): BfdPeerView | null;
  /** sessions by state */
  states(): Record<BfdState, number>;
  /** state changes by from and to */
  transitions(): ReadonlyMap<string, number>;
  /** Up → Down failures (detections), by peer */
  detections(): ReadonlyMap<string, number>;
}

export interface BfdPeersOptions {
  config: Pick<Config, 'bfd' | 'listen'>;
  log: Logger;
  /** an Up session went Down, not administratively: the peer's BGP session and routes go */
  failure(address: string, down: BfdDown): void;
}

const DIAG_WORDS = new Map<number, string>(Object.entries(BfdDiag).map(([k, v]) => [v, k.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)]));

/** `control detection time expired` */
export function diagWords(diag: number): string {
  return DIAG_WORDS.get(diag) ?? `diagnostic ${diag}`;
}

interface Entry {
  id: number;
  settings: BfdPeerSettings;
  local: string | undefined;
}

export class BfdPeers implements BfdRead {
  readonly #o: BfdPeersOptions;
  #service: BfdService | null = null;
  readonly #byAddress = new Map<string, Entry>();
  readonly #byId = new Map<number, string>();
  readonly #transitions = new Map<string, number>();
  readonly #detections = new Map<string, number>();
  /** peers with BFD on, by address; a session is made once their BGP session has been Established */
  readonly #wanted = new Map<string, BfdPeerSettings>();
  /** configured peers whose BGP session has been Established, with its local address */
  readonly #reached = new Map<string, string>();
  #closed = false;

  constructor(o: BfdPeersOptions) {
    this.#o = o;
  }

  /**
   * Make, remove or re-time the BFD sessions so that they follow `peers` (the configured ones).
   * A peer's BFD session is made once its BGP session has been Established (established()):
   * thousands of configured peers that never answer cost no socket each, and a BFD session
   * matters only once it has been Up (RFC 5882 §3.2).
   */
  sync(peers: readonly PeerConfig[]): void {
    if (this.#closed) return;
    const want = this.#wanted;
    want.clear();
    for (const p of peers) {
      const s = bfdSettings(this.#o.config.bfd, p);
      if (s.enabled) want.set(p.address, s);
    }
    // every configured peer's reach is kept, BFD or not: BFD turned on for a peer whose BGP
    // session is up starts its BFD session now, not at the next BGP establishment
    const configured = new Set(peers.map((p) => p.address));
    for (const a of [...this.#reached.keys()]) if (!configured.has(a)) this.#reached.delete(a);
    for (const [address, e] of [...this.#byAddress]) {
      const s = want.get(address);
      if (!s || s.multihop !== e.settings.multihop) {
        this.#remove(address);
        continue;
      }
      if (!sameAuth(s.auth, e.settings.auth)) {
        // the peer hears AdminDown (not a failure), then a new session with the new key
        this.#remove(address);
        this.#o.log.info({ peer: address, auth: s.auth ? { type: s.auth.type, keyId: s.auth.keyId } : null }, `BFD with ${address}: authentication changed${authWords(s.auth) || ' (now none)'}`);
        continue;
      }
      if (s.intervalMs !== e.settings.intervalMs || s.multiplier !== e.settings.multiplier) {
        // RFC 5880 §6.8.3: an Up session runs a poll sequence; the BGP session is not touched
        this.#service!.setTimers(e.id, { desiredMinTxMs: s.intervalMs, requiredMinRxMs: s.intervalMs, multiplier: s.multiplier });
        e.settings = s;
        this.#o.log.info({ peer: address, intervalMs: s.intervalMs, multiplier: s.multiplier }, `BFD with ${address} re-timed: ${s.intervalMs} ms × ${s.multiplier}`);
      }
    }
    for (const [address, s] of want) if (!this.#byAddress.has(address) && this.#reached.has(address)) this.#add(address, s, this.#source(address));
  }

  /**
   * The BGP session with `address` is Established from `local`: its BFD session starts now, or
   * takes `local` as its source if it had none and is not Up.
   */
  established(address: string, local: string): void {
    if (this.#closed) return;
    this.#reached.set(address, local);
    const e = this.#byAddress.get(address);
    if (!e) {
      const s = this.#wanted.get(address);
      if (s) this.#add(address, s, this.#source(address));
      return;
    }
    if (e.local !== undefined || isIP(local) !== isIP(address)) return;
    if (this.#service?.session(e.id)?.state === 'up') return;
    this.#remove(address);
    this.#add(address, e.settings, local);
  }

  /** The BFD session's source: ROUTELET_LISTEN_ADDRESS if specific, else the BGP session's local address. */
  #source(address: string): string | undefined {
    const l = this.#o.config.listen.address;
    if (l !== '::' && l !== '0.0.0.0' && isIP(l) === isIP(address)) return l;
    const local = this.#reached.get(address);
    return local !== undefined && isIP(local) === isIP(address) ? local : undefined;
  }

  #add(address: string, s: BfdPeerSettings, local: string | undefined): void {
    this.#service ??= new BfdService({ onEvents: (evs) => this.#events(evs) });
    try {
      const id = this.#service.addSession({
        peer: address,
        ...(local !== undefined ? { local } : {}),
        multihop: s.multihop,
        desiredMinTxMs: s.intervalMs,
        requiredMinRxMs: s.intervalMs,
        multiplier: s.multiplier,
        ...(s.auth ? { auth: { type: s.auth.type, keyId: s.auth.keyId, key: s.auth.key } } : {}),
      });
      this.#byAddress.set(address, { id, settings: s, local });
      this.#byId.set(id, address);
      const auth = s.auth ? { type: s.auth.type, keyId: s.auth.keyId } : null;
      this.#o.log.info({ peer: address, id, local: local ?? null, multihop: s.multihop, intervalMs: s.intervalMs, multiplier: s.multiplier, auth }, `BFD with ${address}: ${s.multihop ? 'multihop' : 'single hop'}, ${s.intervalMs} ms × ${s.multiplier}${authWords(s.auth)}`);
    } catch (e) {
      this.#o.log.error({ peer: address, err: (e as Error).message }, `BFD with ${address} could not start: ${(e as Error).message}`);
    }
  }

  #remove(address: string): void {
    const e = this.#byAddress.get(address);
    if (!e) return;
    this.#service?.removeSession(e.id);
    this.#byAddress.delete(address);
    this.#byId.delete(e.id);
  }

  #events(evs: readonly BfdStateEvent[]): void {
    for (const ev of evs) {
      const key = `${ev.from}>${ev.to}`;
      this.#transitions.set(key, (this.#transitions.get(key) ?? 0) + 1);
      const address = this.#byId.get(ev.id);
      if (address === undefined || this.#closed) continue;
      const words = diagWords(ev.diag);
      this.#o.log.info({ peer: address, from: ev.from, to: ev.to, diag: ev.diag, remoteState: ev.remoteState, remoteDiag: ev.remoteDiag, failure: ev.failure }, `BFD with ${address}: ${ev.from} → ${ev.to}${ev.to === 'up' ? '' : ` (${words})`}`);
      if (!ev.failure) continue;
      this.#detections.set(address, (this.#detections.get(address) ?? 0) + 1);
      const cpi = this.#service?.session(ev.id)?.remoteCpi ?? false;
      this.#o.failure(address, { evidence: `BFD down (${words})`, diag: ev.diag, cpi, at: ev.at });
    }
  }

  #session(address: string): BfdSession | undefined {
    const e = this.#byAddress.get(address);
    return e && this.#service?.session(e.id);
  }

  peer(address: string): BfdPeerView | null {
    const s = this.#session(address);
    if (!s) return null;
    const d = s.lastDown;
    const auth = this.#byAddress.get(address)!.settings.auth;
    return {
      state: s.state,
      remoteState: s.remoteState,
      localDiscriminator: s.localDiscriminator,
      remoteDiscriminator: s.remoteDiscriminator,
      multihop: s.multihop,
      txIntervalMs: s.txIntervalMs,
      rxIntervalMs: s.rxIntervalMs,
      multiplier: s.multiplier,
      remoteMultiplier: s.remoteMultiplier,
      detectionTimeMs: s.detectionTimeMs,
      remoteCpi: s.remoteCpi,
      upSince: s.upSince ? new Date(s.upSince).toISOString() : null,
      auth: auth ? { type: auth.type, keyId: auth.keyId } : null,
      authFailures: s.rxAuthFailures,
      lastDown: d ? { at: new Date(d.at).toISOString(), diag: d.diag, diagnostic: diagWords(d.diag), remoteDiag: d.remoteDiag, failure: d.failure } : null,
    };
  }

  states(): Record<BfdState, number> {
    const out: Record<BfdState, number> = { adminDown: 0, down: 0, init: 0, up: 0 };
    if (this.#service && !this.#closed) for (const s of this.#service.sessions()) if (this.#byId.has(s.id)) out[s.state]++;
    return out;
  }

  transitions(): ReadonlyMap<string, number> {
    return this.#transitions;
  }

  detections(): ReadonlyMap<string, number> {
    return this.#detections;
  }

  /** Every peer is told AdminDown (not a failure: RFC 5882 §3.2), then the thread stops. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#service?.close();
  }
}
