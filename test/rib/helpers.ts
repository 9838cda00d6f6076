// A RIB with recording outputs, and a model of each peer's side: the messages it was sent,
// decoded into the table it would hold.
import {
  codecOptions,
  type CodecOptions,
  type CodecOptionsInit,
  decodeMessage,
  Framer,
  type Message,
  type PathAttributes,
  type PathAttributesInit,
  parseAsPath,
  sharedInterner,
} from '../../src/bgp/codec/index.js';
import { formatPrefix, parsePrefix, type Prefix } from '../../src/net/prefix.js';
import { Rib, type FibChange, type PeerHandle, type PeerOptions, type RibOptions, type SessionInfo } from '../../src/rib/index.js';

export const P = (t: string): Prefix => {
  const p = parsePrefix(t);
  if (p === undefined) throw new Error(`bad prefix ${t}`);
  return p;
};

/** An interned set from a compact description: `path` as text, the rest as PathAttributesInit. */
export function attrs(init: Omit<PathAttributesInit, 'asPath'> & { path?: string }): PathAttributes {
  const { path, ...rest } = init;
  return sharedInterner.intern({ origin: 0, asPath: parseAsPath(path ?? ''), ...rest });
}

/** What a peer received, decoded in order. */
export class Receiver {
  readonly messages: Message[] = [];
  readonly buffers: Buffer[] = [];
  /** prefix text (with `#id` under ADD-PATH) → attributes */
  readonly table = new Map<string, PathAttributes>();
  readonly events: string[] = [];
  readonly #framer: Framer;
  constructor(readonly codec: CodecOptions) {
    this.#framer = new Framer({ extendedMessage: codec.extendedMessage });
  }

  take(bufs: readonly Buffer[]): void {
    for (const b of bufs) {
      this.buffers.push(b);
      const frames = this.#framer.push(b);
      if (frames.length !== 1) throw new Error(`expected one message per Buffer, got ${frames.length}`);
      const m = decodeMessage(frames[0]!, this.codec);
      if (m instanceof Error) throw m;
      this.messages.push(m);
      if (m.type === 'route-refresh') {
        this.events.push(m.subtype === 1 ? `BoRR${m.afi === 1 ? 4 : 6}` : m.subtype === 2 ? `EoRR${m.afi === 1 ? 4 : 6}` : 'refresh');
        continue;
      }
      if (m.type !== 'update') throw new Error(`unexpected ${m.type}`);
      if (m.endOfRib !== null) {
        this.events.push(`EoR${m.endOfRib}`);
        continue;
      }
      const key = (p: Prefix, ids: Uint32Array | null, i: number) => (ids ? `${formatPrefix(p)}#${ids[i]}` : formatPrefix(p));
      m.withdrawn4.forEach((p, i) => {
        this.table.delete(key(p, m.withdrawn4PathIds, i));
        this.events.push(`-${formatPrefix(p)}`);
      });
      m.withdrawn6.forEach((p, i) => {
        this.table.delete(key(p, m.withdrawn6PathIds, i));
        this.events.push(`-${formatPrefix(p)}`);
      });
      for (const r of m.reach) {
        for (let i = 0; i < r.prefixes.length; i++) {
          const p = r.prefixes[i]!;
          this.table.set(key(p, r.pathIds, i), r.attrs);
          this.events.push(`+${formatPrefix(p)}`);
        }
      }
    }
  }
}

export interface Harness {
  rib: Rib;
  sent: Map<PeerHandle, Buffer[][]>;
  receivers: Map<PeerHandle, Receiver>;
  fib: FibChange[][];
  scheduled: number;
  peer(opts: PeerOptions): PeerHandle;
  /** peerUp with defaults: codec from `codec`, families [4, 6], local address */
  up(p: PeerHandle, s?: Partial<SessionInfo> & { codecInit?: CodecOptionsInit }): SessionInfo;
  flush(): ReturnType<Rib['flush']>;
  rx(p: PeerHandle): Receiver;
}

export function harness(opts: Partial<Omit<RibOptions, 'events'>> = {}): Harness {
  const h: Harness = {
    rib: undefined as unknown as Rib,
    sent: new Map(),
    receivers: new Map(),
    fib: [],
    scheduled: 0,
    peer: (o) => h.rib.addPeer(o),
    up(p, s = {}) {
      const { codecInit, ...rest } = s;
      const info: SessionInfo = {
        routerId: '10.255.0.1',
        codec: codecOptions({ ebgp: p.ebgp, ...codecInit }),
        families: [4, 6],
        localAddress: '10.0.0.1',
        nextHop6: 'fd00::1',
        ...rest,
      };
      // the peer's side decodes what we send: our ADD-PATH send is its receive
      const o = info.codec;
      const mirror = codecOptions({
        as4: o.as4,
        ebgp: o.ebgp,
        extendedMessage: o.extendedMessage,
        extendedNextHopIPv4: o.extendedNextHopIPv4,
        addPath: { ipv4: { receive: o.addPath.ipv4.send }, ipv6: { receive: o.addPath.ipv6.send } },
      });
      h.receivers.set(p, new Receiver(mirror));
      h.rib.peerUp(p, info);
      return info;
    },
    flush: () => h.rib.flush(),
    rx: (p) => h.receivers.get(p)!,
  };
  h.rib = new Rib({
    asn: 65000,
    routerId: '10.0.0.1',
    ...opts,
    events: {
      send(peer, msgs) {
        let l = h.sent.get(peer);
        if (!l) h.sent.set(peer, (l = []));
        l.push(msgs as Buffer[]);
        h.receivers.get(peer)?.take(msgs);
      },
      fib(changes) {
        h.fib.push([...changes]);
      },
      schedule() {
        h.scheduled++;
      },
    },
  });
  return h;
}

/** The latest FIB state per prefix from all changes seen. */
export function fibState(h: Harness): Map<string, string> {
  const out = new Map<string, string>();
  for (const batch of h.fib)
    for (const c of batch) {
      if (c.nextHops === null) out.delete(formatPrefix(c.prefix));
      else out.set(formatPrefix(c.prefix), c.nextHops.map((n) => n.address).join(','));
    }
  return out;
}

export { codecOptions };
