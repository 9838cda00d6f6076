// The peer-health watch list: every configured peer, then the dynamic neighbours connected
// now. Dynamic neighbours join and leave in batches, once per turn of the event loop: a
// thousand neighbours connecting at once cost one update, not a thousand (each replaces the
// whole list in PeerWatch).
import type { PeerWatch } from '../health/index.js';
import type { Logger } from '../log.js';

export interface WatchListOptions {
  /** the watch (made after this list: read when the list is written) */
  watch: () => PeerWatch;
  /** addresses of the configured peers now */
  configured: () => Iterable<string>;
  /** true once the agent stops: nothing is written any more */
  stopping: () => boolean;
  log: Logger;
}

export class WatchList {
  readonly #dynamic = new Set<string>();
  #scheduled = false;

  constructor(private readonly o: WatchListOptions) {}

  /** A dynamic neighbour came (on) or went (off). */
  dynamic(address: string, on: boolean): void {
    if (on) this.#dynamic.add(address);
    else this.#dynamic.delete(address);
    this.sync();
  }

  /** Write the list at the next turn of the event loop (the configured peers may have changed). */
  sync(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.o.stopping()) return;
      const configured = new Set(this.o.configured());
      const all = [...configured, ...[...this.#dynamic].filter((a) => !configured.has(a))];
      try {
        this.o.watch().setPeers(all.map((address) => ({ address })));
      } catch (e) {
        this.o.log.warn({ err: e }, 'peer-health watch list not updated');
      }
    });
  }
}
