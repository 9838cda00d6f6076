// Policy-free aggregation of peer-health events per peer address: counts by kind and
// source, the last event, the last "dead" evidence, and where TCP-MD5 failures stood when
// the peer's last connection established (so /readyz can say they are failing *now*).
import { KINDS, type PeerHealthEvent, type PeerHealthKind } from './events.js';

export type KindCounts = Record<PeerHealthKind, number>;

export const zeroCounts = (): KindCounts => Object.fromEntries(KINDS.map((k) => [k, 0])) as KindCounts;

export interface PeerRecord {
  /** events delivered, by kind (kernel and socket sources together, after dedup) */
  readonly events: KindCounts;
  /** events the session layer reported (source 'socket'), by kind */
  readonly socketEvents: KindCounts;
  lastEvent: PeerHealthEvent | null;
  /** the last event whose evidence is 'dead' */
  lastDead: PeerHealthEvent | null;
  /** the last state change into ESTABLISHED */
  lastEstablished: PeerHealthEvent | null;
  /** TCP-MD5 failures counted up to lastEstablished */
  md5Baseline: number;
}

export class PeerHealthBook {
  #peers = new Map<string, PeerRecord>();

  record(e: PeerHealthEvent, md5Total?: () => number): void {
    const r = this.#get(e.peer);
    r.events[e.kind] += 1;
    if (e.source === 'socket') r.socketEvents[e.kind] += 1;
    r.lastEvent = e;
    if (e.evidence === 'dead') r.lastDead = e;
    if (e.kind === 'state' && e.newState === 'ESTABLISHED') {
      r.lastEstablished = e;
      r.md5Baseline = md5Total ? md5Total() : r.events['md5-mismatch'] + r.events['md5-required'] + r.events['md5-unexpected'];
    }
  }

  get(address: string): PeerRecord | undefined {
    return this.#peers.get(address);
  }

  addresses(): string[] {
    return [...this.#peers.keys()];
  }

  forget(address: string): void {
    this.#peers.delete(address);
  }

  #get(address: string): PeerRecord {
    let r = this.#peers.get(address);
    if (!r) {
      r = { events: zeroCounts(), socketEvents: zeroCounts(), lastEvent: null, lastDead: null, lastEstablished: null, md5Baseline: 0 };
      this.#peers.set(address, r);
    }
    return r;
  }
}

/** The /readyz line of a peer whose segments fail TCP-MD5. */
export function md5ProblemLine(address: string, dropped: number): string {
  return `TCP-MD5 authentication failing for ${address} (${dropped} segment${dropped === 1 ? '' : 's'} dropped)`;
}
