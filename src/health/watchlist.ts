// The watched peers as the kernel programs see them: entries (address, port) → (slot, flags)
// of the peer map, with the slots of their per-CPU counters. Pure: computes what to write
// and delete; src/health/service.ts applies it to the map.
//
// A peer { address, port?, gateway? } becomes:
//   (address, 0)    PW_F_NEIGH | PW_F_MD5, and PW_F_SOCKETS when the peer has no port
//   (address, port) PW_F_SOCKETS when it has one: only sockets whose remote port is that
//                   (our connections to it; a session it opens to us has an ephemeral port)
//   (gateway, 0)    PW_F_NEIGH: a FAILED neighbour entry of the gateway is evidence for every
//                   peer behind it
import { formatIP, parseIP, type Family } from '../net/ip.js';
import { PW_F_MD5, PW_F_NEIGH, PW_F_SOCKETS } from './bpfrecords.js';

export interface WatchedPeer {
  readonly address: string;
  /** only sockets with this remote port; omit (or 0) for every socket to the address */
  readonly port?: number;
  /** the next hop toward the peer, when it is not on a shared link */
  readonly gateway?: string;
}

export interface Entry {
  /** `${canonical address}|${port}` */
  readonly id: string;
  readonly address: string;
  readonly family: Family;
  readonly bytes: Uint8Array;
  readonly port: number;
  readonly flags: number;
  readonly slot: number;
}

export interface Change {
  /** entries to write (new, or flags changed) */
  readonly upsert: Entry[];
  /** entries to delete from the peer map */
  readonly remove: Entry[];
  /** slots newly taken: their counters start at zero */
  readonly newSlots: number[];
  /** slots given back: their counters are deleted */
  readonly freedSlots: number[];
}

/** A watched peer that is not of its form. */
export class WatchError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'WatchError';
  }
}

/** Parse an address; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is its IPv4 address, as the kernel programs report it. */
export function parsePeerAddress(text: string): { family: Family; bytes: Uint8Array } | undefined {
  const a = parseIP(text.trim());
  if (a && a.family === 6 && a.bytes.subarray(0, 10).every((b) => b === 0) && a.bytes[10] === 0xff && a.bytes[11] === 0xff)
    return { family: 4, bytes: a.bytes.slice(12) };
  return a;
}

function usableAddress(what: string, text: unknown): { address: string; family: Family; bytes: Uint8Array } {
  if (typeof text !== 'string') throw new WatchError(`${what} must be an IP address string, got ${typeof text}`);
  const a = parsePeerAddress(text);
  if (!a) throw new WatchError(`${what} ${JSON.stringify(text)} is not an IPv4 or IPv6 address`);
  if (a.bytes.every((b) => b === 0)) throw new WatchError(`${what} ${text} is the unspecified address`);
  if ((a.family === 4 && a.bytes[0]! >= 224) || (a.family === 6 && a.bytes[0] === 0xff))
    throw new WatchError(`${what} ${text} is not a unicast address`);
  return { address: formatIP(a.family, a.bytes), family: a.family, bytes: a.bytes };
}

/** Validate and canonicalize a watched peer; throws WatchError. */
export function normalizePeer(p: WatchedPeer): Required<Pick<WatchedPeer, 'address' | 'port'>> & { gateway: string | undefined } {
  if (p === null || typeof p !== 'object') throw new WatchError('a watched peer must be an object { address, port?, gateway? }');
  const { address } = usableAddress('peer address', p.address);
  const port = p.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new WatchError(`peer port must be an integer 0–65535, got ${String(p.port)}`);
  const gateway = p.gateway === undefined ? undefined : usableAddress('gateway', p.gateway).address;
  return { address, port, gateway };
}

export const peerId = (address: string, port: number): string => `${address}|${port}`;

interface AddrNeeds {
  peer: boolean;
  anyPort: boolean;
  ports: Set<number>;
  /** peers (addresses) this address is the gateway of */
  gatewayFor: Set<string>;
}

export class WatchList {
  readonly #max: number;
  #peers = new Map<string, ReturnType<typeof normalizePeer>>();
  #entries = new Map<string, Entry>();
  #bySlot = new Map<number, Entry>();
  #byAddress = new Map<string, Entry[]>();
  #peerAddresses = new Set<string>();
  #gatewayFor = new Map<string, Set<string>>();
  #free: number[] = [];
  #next = 0;

  /** maxEntries: the size of the peer map (each peer takes one or two entries) */
  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  /** Replace the watched set. Validates everything before changing anything. */
  set(peers: readonly WatchedPeer[]): Change {
    const next = new Map<string, ReturnType<typeof normalizePeer>>();
    for (const p of peers) {
      const n = normalizePeer(p);
      next.set(peerId(n.address, n.port), n);
    }
    return this.#apply(next);
  }

  add(peer: WatchedPeer): Change {
    const n = normalizePeer(peer);
    const next = new Map(this.#peers);
    next.set(peerId(n.address, n.port), n);
    return this.#apply(next);
  }

  /** Stop watching a peer (identified by address and port); unknown peers change nothing. */
  remove(peer: Pick<WatchedPeer, 'address' | 'port'>): Change {
    const n = normalizePeer(peer);
    const next = new Map(this.#peers);
    next.delete(peerId(n.address, n.port));
    return this.#apply(next);
  }

  peers(): WatchedPeer[] {
    return [...this.#peers.values()].map((p) => ({
      address: p.address,
      ...(p.port ? { port: p.port } : {}),
      ...(p.gateway ? { gateway: p.gateway } : {}),
    }));
  }

  entries(): Entry[] {
    return [...this.#entries.values()];
  }

  entryBySlot(slot: number): Entry | undefined {
    return this.#bySlot.get(slot);
  }

  /** Entries of an address (its (address, 0) entry and any per-port ones). */
  entriesOf(address: string): readonly Entry[] {
    return this.#byAddress.get(address) ?? [];
  }

  /** A watched peer at this address (any port). */
  isPeer(address: string): boolean {
    return this.#peerAddresses.has(address);
  }

  /** The addresses of the watched peers, each once. */
  peerAddresses(): string[] {
    return [...this.#peerAddresses];
  }

  /** Peer addresses behind a gateway address. */
  behind(gateway: string): string[] {
    return [...(this.#gatewayFor.get(gateway) ?? [])];
  }

  #apply(next: Map<string, ReturnType<typeof normalizePeer>>): Change {
    const needs = new Map<string, AddrNeeds>();
    const need = (a: string): AddrNeeds => {
      let n = needs.get(a);
      if (!n) needs.set(a, (n = { peer: false, anyPort: false, ports: new Set(), gatewayFor: new Set() }));
      return n;
    };
    for (const p of next.values()) {
      const n = need(p.address);
      n.peer = true;
      if (p.port) n.ports.add(p.port);
      else n.anyPort = true;
      if (p.gateway && p.gateway !== p.address) need(p.gateway).gatewayFor.add(p.address);
    }
    const desired = new Map<string, { address: string; port: number; flags: number }>();
    for (const [address, n] of needs) {
      const flags = (n.peer ? PW_F_NEIGH | PW_F_MD5 : 0) | (n.anyPort ? PW_F_SOCKETS : 0) | (n.gatewayFor.size ? PW_F_NEIGH : 0);
      desired.set(peerId(address, 0), { address, port: 0, flags });
      for (const port of n.ports) desired.set(peerId(address, port), { address, port, flags: PW_F_SOCKETS });
    }
    const remove: Entry[] = [];
    for (const [id, e] of this.#entries) if (!desired.has(id)) remove.push(e);
    const taking = [...desired.keys()].filter((id) => !this.#entries.has(id)).length;
    if (this.#entries.size - remove.length + taking > this.#max)
      throw new WatchError(`watching ${next.size} peers needs ${this.#entries.size - remove.length + taking} peer-map entries; the map holds ${this.#max}`);

    const freedSlots: number[] = [];
    for (const e of remove) {
      this.#entries.delete(e.id);
      this.#bySlot.delete(e.slot);
      this.#free.push(e.slot);
      freedSlots.push(e.slot);
    }
    const upsert: Entry[] = [];
    const newSlots: number[] = [];
    for (const [id, d] of desired) {
      const old = this.#entries.get(id);
      if (old && old.flags === d.flags) continue;
      let slot = old?.slot;
      if (slot === undefined) {
        slot = this.#free.pop() ?? this.#next++;
        newSlots.push(slot);
      }
      const a = parseIP(d.address)!;
      const e: Entry = { id, address: d.address, family: a.family, bytes: a.bytes, port: d.port, flags: d.flags, slot };
      this.#entries.set(id, e);
      this.#bySlot.set(slot, e);
      upsert.push(e);
    }
    // a slot freed and taken again in one change keeps only its "new" role
    const retaken = new Set(newSlots);
    this.#peers = next;
    this.#peerAddresses = new Set([...next.values()].map((p) => p.address));
    this.#byAddress = new Map();
    for (const e of this.#entries.values()) {
      const list = this.#byAddress.get(e.address);
      if (list) list.push(e);
      else this.#byAddress.set(e.address, [e]);
    }
    this.#gatewayFor = new Map([...needs].filter(([, n]) => n.gatewayFor.size).map(([a, n]) => [a, n.gatewayFor]));
    return { upsert, remove, newSlots, freedSlots: freedSlots.filter((s) => !retaken.has(s)) };
  }
}
