// Facade of the BFD part of the addon (native/bfd.cc, packets in native/bfd_packet.cc):
// RFC 5880 asynchronous mode, single hop (RFC 5881, UDP 3784, TTL 255 sent and checked) and
// multihop (RFC 5883, UDP 4784), IPv4 and IPv6, on a native thread of its own. Timers and
// packets never wait for the JavaScript event loop: a loop blocked for seconds does not make
// a healthy peer look dead. State changes arrive in batches (onEvents), like the BPF events.
//
//   const bfd = new BfdService({ netns: 'ns1', onEvents: (evs) => … })
//   const id = bfd.addSession({ peer: '10.0.0.2', ifname: 'eth0', desiredMinTxMs: 300, requiredMinRxMs: 300, multiplier: 3 })
//   bfd.sessions()   // state, discriminators, negotiated intervals, detection time, last down
//   bfd.close()
//
// Per RFC 5882 only an Up session that goes Down for a reason other than an administrative
// shutdown (ours, or the peer's AdminDown) is a failure: events say so in `failure`.
import { addon, checkInt } from './addon.js';
import { netnsPath } from './netlink.js';
import { isIP } from 'node:net';

export type BfdState = 'adminDown' | 'down' | 'init' | 'up';

/** RFC 5880 §4.1 diagnostic codes */
export const BfdDiag = {
  none: 0,
  controlDetectionTimeExpired: 1,
  echoFunctionFailed: 2,
  neighborSignaledSessionDown: 3,
  forwardingPlaneReset: 4,
  pathDown: 5,
  concatenatedPathDown: 6,
  administrativelyDown: 7,
  reverseConcatenatedPathDown: 8,
} as const;

export type BfdAuthType = 'simple' | 'keyed-md5' | 'meticulous-keyed-md5' | 'keyed-sha1' | 'meticulous-keyed-sha1';

export interface BfdAuth {
  type: BfdAuthType;
  keyId: number;
  /** the password (simple, ≤ 16 bytes) or the secret (MD5 ≤ 16, SHA1 ≤ 20 bytes) */
  key: string | Buffer;
}

export interface BfdSessionOptions {
  /** the peer's address (IPv4 or IPv6; a link-local IPv6 peer needs `ifname`) */
  peer: string;
  /** our source address (default: chosen by the kernel's routing) */
  local?: string;
  /** RFC 5883 multihop (UDP 4784, no TTL check) instead of single hop (UDP 3784, TTL 255) */
  multihop?: boolean;
  /** bind the session to this interface (single hop) */
  ifname?: string;
  /** default 300 */
  desiredMinTxMs?: number;
  /** default 300 */
  requiredMinRxMs?: number;
  /** default 3 */
  multiplier?: number;
  auth?: BfdAuth;
}

export interface BfdTimers {
  desiredMinTxMs?: number;
  requiredMinRxMs?: number;
  multiplier?: number;
}

export interface BfdLastDown {
  /** ms since the epoch */
  at: number;
  from: BfdState;
  diag: number;
  remoteState: BfdState;
  remoteDiag: number;
  /** an Up session lost for a reason other than an administrative shutdown on either side */
  failure: boolean;
}

export interface BfdSession {
  /** our discriminator, which is also the session's id here */
  id: number;
  peer: string;
  local: string | null;
  ifname: string | null;
  multihop: boolean;
  family: 4 | 6;
  state: BfdState;
  remoteState: BfdState;
  diag: number;
  remoteDiag: number;
  adminDown: boolean;
  localDiscriminator: number;
  remoteDiscriminator: number;
  /** as configured */
  desiredMinTxMs: number;
  requiredMinRxMs: number;
  multiplier: number;
  /** what our packets say now: at least 1000 while the session is not Up (slow start) */
  advertisedMinTxMs: number;
  remoteDesiredMinTxMs: number;
  remoteRequiredMinRxMs: number;
  remoteMultiplier: number;
  /** the peer's C bit (control plane independent) */
  remoteCpi: boolean;
  /** negotiated: our transmit interval (before jitter) */
  txIntervalMs: number;
  /** negotiated: the interval we expect the peer's packets at */
  rxIntervalMs: number;
  /** remote multiplier × rxIntervalMs (RFC 5880 §6.8.4) */
  detectionTimeMs: number;
  pollActive: boolean;
  /** poll sequences started */
  polls: number;
  auth: 'none' | BfdAuthType;
  /** ms since the epoch, while Up */
  upSince: number | null;
  lastDown: BfdLastDown | null;
  txPackets: number;
  rxPackets: number;
  rxAuthFailures: number;
  txErrors: number;
  lastTxError: string | null;
}

export interface BfdStateEvent {
  type: 'state';
  id: number;
  peer: string;
  local: string | null;
  ifname: string | null;
  multihop: boolean;
  from: BfdState;
  to: BfdState;
  /** our diagnostic with this change (7: we shut it down; 1: detection time expired; 3: the peer said Down) */
  diag: number;
  remoteState: BfdState;
  remoteDiag: number;
  /** Up → Down not caused by an administrative shutdown on either side (RFC 5882 §3.2) */
  failure: boolean;
  /** ms since the epoch, taken on the BFD thread when the change happened */
  at: number;
}

export interface BfdStats {
  rxPackets: number;
  /** single-hop packets dropped for a TTL / hop limit other than 255 */
  rxBadTtl: number;
  rxMalformed: number;
  rxNoSession: number;
  rxAuthFailures: number;
}

// ---------------------------------------------------------------- raw slice of the addon

interface RawService {
  addSession(o: BfdSessionOptions): number;
  removeSession(id: number): boolean;
  setAdminDown(id: number, down: boolean): boolean;
  setTimers(id: number, t: BfdTimers): boolean;
  sessions(): BfdSession[];
  stats(): BfdStats;
  close(): void;
  ref(): void;
  unref(): void;
}

interface BfdAddon {
  BfdService: new (options: { netns?: string }, onEvents: (events: BfdStateEvent[]) => void) => RawService;
}

export interface BfdServiceOptions {
  /** a network namespace name (`ip netns add`) or path: the BFD thread runs inside it */
  netns?: string;
  /** state changes, in batches, in the order they happened */
  onEvents?: (events: BfdStateEvent[]) => void;
}

function checkInterval(name: string, v: number | undefined): void {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v < 1 || v > 4_000_000) throw new RangeError(`${name} must be 1–4,000,000 ms, got ${v}`);
}

function checkTimers(t: BfdTimers): void {
  checkInterval('desiredMinTxMs', t.desiredMinTxMs);
  checkInterval('requiredMinRxMs', t.requiredMinRxMs);
  if (t.multiplier !== undefined) checkInt('multiplier', t.multiplier, 1, 255);
}

export class BfdService {
  readonly #raw: RawService;
  #closed = false;

  constructor(opts: BfdServiceOptions = {}) {
    const onEvents = opts.onEvents ?? (() => {});
    this.#raw = new (addon<BfdAddon>().BfdService)(opts.netns ? { netns: netnsPath(opts.netns) } : {}, (evs) => onEvents(evs));
  }

  /** Start a session (it sends at once, at 1 s until Up); returns its id (our discriminator). */
  addSession(o: BfdSessionOptions): number {
    if (isIP(o.peer) === 0) throw new TypeError(`peer must be an IP address, got ${JSON.stringify(o.peer)}`);
    if (o.local !== undefined && isIP(o.local) !== isIP(o.peer)) throw new TypeError(`local must be an address of the peer's family, got ${JSON.stringify(o.local)}`);
    checkTimers(o);
    if (o.auth) checkInt('auth.keyId', o.auth.keyId, 0, 255);
    return this.#raw.addSession({ ...o, multihop: o.multihop ?? false });
  }

  /** Remove a session; the peer is told AdminDown first. False when there is no such session. */
  removeSession(id: number): boolean {
    return this.#raw.removeSession(id);
  }

  /** Administrative shutdown (AdminDown, diag 7) or its end (back to Down). */
  setAdminDown(id: number, down = true): boolean {
    return this.#raw.setAdminDown(id, down);
  }

  /** Change the intervals or the multiplier; an Up session runs a poll sequence (RFC 5880 §6.8.3). */
  setTimers(id: number, t: BfdTimers): boolean {
    checkTimers(t);
    return this.#raw.setTimers(id, t);
  }

  sessions(): BfdSession[] {
    return this.#raw.sessions();
  }

  session(id: number): BfdSession | undefined {
    return this.sessions().find((s) => s.id === id);
  }

  stats(): BfdStats {
    return this.#raw.stats();
  }

  /** Stop the thread; every session's peer is told AdminDown. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#raw.close();
  }

  /** Let the process exit while the service runs (it keeps the event loop alive by default). */
  unref(): void {
    this.#raw.unref();
  }

  ref(): void {
    this.#raw.ref();
  }
}

// ---------------------------------------------------------------- packet test hook

export interface BfdPacketFields {
  diag?: number;
  state?: BfdState;
  poll?: boolean;
  final?: boolean;
  cpi?: boolean;
  demand?: boolean;
  multipoint?: boolean;
  detectMult?: number;
  myDisc?: number;
  yourDisc?: number;
  desiredMinTxUs?: number;
  requiredMinRxUs?: number;
  requiredMinEchoRxUs?: number;
}

export interface BfdDecoded extends Required<Omit<BfdPacketFields, 'multipoint'>> {
  version: number;
  auth: boolean;
  authType?: string;
  authKeyId?: number;
  authSeq?: number;
}

interface BfdTestingAddon {
  bfdTesting: {
    encode(p: BfdPacketFields, auth?: { type: string; keyId: number; key: string }, seq?: number): Buffer;
    decode(b: Buffer): BfdDecoded | { error: string };
    verify(b: Buffer, auth?: { type: string; keyId: number; key: string }): string;
  };
}

/** The native packet encoder/decoder, for tests (the same code the sessions use). */
export function bfdPacketCodec(): BfdTestingAddon['bfdTesting'] {
  return addon<BfdTestingAddon>().bfdTesting;
}
