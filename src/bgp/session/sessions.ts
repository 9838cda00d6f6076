// All BGP sessions of the agent: configured peers and dynamic neighbours by address, the
// Listener's connections handed to their session, removal with the right NOTIFICATION, and
// stopping everything within a bound.
import type { InboundConnection } from '../transport/index.js';
import { formatCidr } from '../../net/ip.js';
import { type PeerSettings, Session, type SessionContext, type SessionEvents } from './session.js';
import type { Cease } from './cease.js';

export interface SessionsOptions extends Omit<SessionContext, 'events'> {
  readonly events: SessionEvents & {
    /** a session was created (configured or dynamic): the agent adds the peer to the RIB */
    created?(s: Session): void;
    /** a session is gone for good */
    removed?(s: Session): void;
  };
  /** settings of a dynamic neighbour connecting from a listen range, or null to refuse it */
  dynamicSettings?(c: InboundConnection): PeerSettings | null;
}

/** What to send an Established peer when we stop its session: a Cease, or nothing (a FIN). */
export type StopNotification = Cease | null;

/**
 * Sessions started in one turn of the event loop; more wait for the next turns. Starting one
 * opens a socket and a connect: 10,000 peers started in one go held the event loop for
 * seconds, and HTTP (/livez), signals and every other event waited behind them (issue 12).
 */
export const STARTS_PER_TURN = 100;

export class Sessions {
  readonly #byAddress = new Map<string, Session>();
  readonly #ctx: SessionContext;
  /** sessions added but not started yet (more than STARTS_PER_TURN in one turn) */
  #pending: Session[] = [];
  #startsThisTurn = 0;
  #turnScheduled = false;

  constructor(private readonly o: SessionsOptions) {
    this.#ctx = { ...o, events: o.events };
  }

  get size(): number {
    return this.#byAddress.size;
  }

  get(address: string): Session | undefined {
    return this.#byAddress.get(address);
  }

  list(): Session[] {
    return [...this.#byAddress.values()];
  }

  /** A configured peer (or a dynamic one): create its session and start it. */
  add(settings: PeerSettings, opts: { dynamic?: boolean; start?: boolean; connectFirst?: boolean } = {}): Session {
    const s = new Session(settings, this.#ctx, { dynamic: opts.dynamic ?? false, connectFirst: opts.connectFirst ?? false });
    if (this.#byAddress.has(s.address)) throw new Error(`a session with ${s.address} exists already`);
    this.#byAddress.set(s.address, s);
    this.o.events.created?.(s);
    if (opts.start !== false) this.#start(s);
    return s;
  }

  /** Start now, or in a later turn when this one has started STARTS_PER_TURN already. */
  #start(s: Session): void {
    if (this.#pending.length === 0 && this.#startsThisTurn < STARTS_PER_TURN) {
      this.#startsThisTurn += 1;
      s.start();
    } else {
      this.#pending.push(s);
    }
    this.#nextTurn();
  }

  #nextTurn(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    setImmediate(() => {
      this.#turnScheduled = false;
      this.#startsThisTurn = 0;
      const batch = this.#pending.splice(0, STARTS_PER_TURN);
      for (const s of batch) if (!s.stopping && this.#byAddress.get(s.address) === s) s.start();
      this.#startsThisTurn = batch.length;
      if (this.#pending.length > 0 || batch.length > 0) this.#nextTurn();
    });
  }

  /** Sessions added and not started yet (they start over the next turns of the event loop). */
  get starting(): number {
    return this.#pending.length;
  }

  /** A connection the Listener accepted: to its peer's session, or a new dynamic neighbour. */
  accept(c: InboundConnection): void {
    let s = this.#byAddress.get(c.remote.address);
    if (!s || s.stopping) {
      if (c.kind !== 'dynamic' || !this.o.dynamicSettings) {
        c.socket.destroy();
        return;
      }
      const settings = this.o.dynamicSettings(c);
      if (!settings) {
        c.socket.destroy();
        return;
      }
      if (s) this.forget(s);
      s = this.add(settings, { dynamic: true });
      this.o.log.info({ peer: s.address, range: c.range ? formatCidr(c.range) : undefined }, `dynamic neighbour ${s.address} connected`);
    }
    s.accept(c.socket, { address: c.local.address, port: c.local.port }, { address: c.remote.address, port: c.remote.port });
  }

  /** Stop a session and forget it. */
  async remove(address: string, notification: StopNotification, reason: string, ms = 1500): Promise<void> {
    const s = this.#byAddress.get(address);
    if (!s) return;
    await s.stop(notification, reason, ms);
    this.forget(s);
  }

  /** Forget a session that has nothing running (a dynamic neighbour gone idle). */
  forget(s: Session): void {
    if (this.#byAddress.get(s.address) !== s) return;
    this.#byAddress.delete(s.address);
    s.stopping = true;
    for (const c of s.incoming) c.destroy();
    s.primary?.destroy();
    this.o.events.removed?.(s);
  }

  /** Stop every session, each with the NOTIFICATION `pick` chooses; resolves within about `ms`. */
  async stopAll(pick: (s: Session) => StopNotification, reason: string, ms = 1500): Promise<void> {
    this.#pending = [];
    await Promise.all(this.list().map((s) => s.stop(pick(s), reason, ms)));
  }
}
