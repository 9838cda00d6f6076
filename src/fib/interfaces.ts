// The node's interface addresses (os.networkInterfaces()), read once and again only after the
// kernel reported a change: the FIB's netlink monitor marks the copy stale on an address
// change or on lost notifications (reconcile.ts). A read is a netlink dump, which waits for the
// kernel's RTNL lock; done every 5 s from the event loop (as devices.ts and local-addresses.ts
// did), it stopped the loop for up to 0.4 s while a bulk route load held that lock (issue 15).
import { networkInterfaces } from 'node:os';

export type InterfaceList = ReturnType<typeof networkInterfaces>;

export class HostInterfaces {
  #list: InterfaceList | null = null;
  #generation = 0;
  readonly #listeners = new Set<() => void>();

  constructor(private readonly read: () => InterfaceList = networkInterfaces) {}

  /** Bumped at each reported change: a reader compares it with the one it read at. */
  get generation(): number {
    return this.#generation;
  }

  /** The list, read now when stale (throws what the read throws). */
  list(): InterfaceList {
    return (this.#list ??= this.read());
  }

  /** The kernel reported a change (or lost notifications): read again at the next list(). */
  changed(): void {
    this.#list = null;
    this.#generation++;
    for (const f of this.#listeners) f();
  }

  /** Call `f` after each change; returns the unsubscribe. */
  onChange(f: () => void): () => void {
    this.#listeners.add(f);
    return () => this.#listeners.delete(f);
  }
}

/** The interfaces of this process's namespace, which the agent's FIB monitor watches. */
export const hostInterfaces = new HostInterfaces();
