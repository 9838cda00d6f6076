// The feed of `npm run bench:rib` (bench/rib-ns.ts), started inside the peers' network
// namespace: one eBGP speaker replaying pre-encoded UPDATEs, N IPv4 prefixes, then
// End-of-RIB. The octets depend only on (N, per-update, next hop, AS), so both reflectors get
// the same bytes. `--send up` writes them the moment the session is Established, `--send go`
// on the `go` command. Whatever the reflector sends back is read and dropped. Commands on
// stdin (go, quit), events on stdout as JSON lines; times are wall-clock milliseconds
// (performance.timeOrigin + performance.now()), comparable with the other processes. The RR
// clients are rib-sink.c.
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { codecOptions, encodeAnnouncements, encodeEndOfRib, encodeKeepalive, encodeOpen, makeAttributes, type Capability } from '#dist/bgp/codec/index.js';
import { ipv4ToNumber } from '#dist/net/ip.js';
import { prefix4 } from '#dist/net/prefix.js';
import { xorshift32 } from './random.js';

const wallMs = (): number => performance.timeOrigin + performance.now();

const emit = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

const caps = (asn: number): Capability[] => [
  { kind: 'multiprotocol', afi: 1, safi: 1 },
  { kind: 'route-refresh' },
  { kind: 'as4', asn },
];

const KEEPALIVE = encodeKeepalive();
const HEADER = 19;

// ---------------------------------------------------------------------------------------
// the feed

let rand = xorshift32();

/** First address of the fed prefixes: slot i is FEED_BASE + i * 256. */
export const FEED_BASE = ipv4ToNumber('16.0.0.0')!;

/**
 * The table: N prefixes, one per /24 slot from 16.0.0.0 (so a receiver finds a prefix's slot
 * from its address alone), of mixed lengths where the slot is aligned (/16–/24, about 60 %
 * /24), `perUpdate` prefixes per attribute set, attributes as a transit feed has them
 * (AS paths of 2–6 ASes, MED on half, 2–6 communities, large communities on a third).
 */
export function feedUpdates(n: number, perUpdate: number, nextHop: string, asn: number): Buffer {
  rand = xorshift32();
  const o = codecOptions({ as4: true, ebgp: true });
  const out: Buffer[] = [];
  for (let made = 0; made < n; ) {
    const count = Math.min(perUpdate, n - made);
    const ps = new Float64Array(count);
    for (let k = 0; k < count; k++) {
      const slot = made + k;
      const r = rand();
      let len = 24;
      if (slot % 256 === 0 && r < 0.3) len = 16 + Math.floor(rand() * 8);
      else if (slot % 4 === 0 && r < 0.5) len = 22 + Math.floor(rand() * 2);
      else if (slot % 2 === 0 && r < 0.4) len = 23;
      ps[k] = prefix4(FEED_BASE + slot * 256, len);
    }
    const path = [asn, ...Array.from({ length: 1 + Math.floor(rand() * 5) }, () => (rand() < 0.3 ? 4200000000 + Math.floor(rand() * 1e6) : 1 + Math.floor(rand() * 64000)))];
    const attrs = makeAttributes({
      origin: rand() < 0.9 ? 0 : 2,
      asPath: [{ type: 2, asns: path }],
      nextHop,
      med: rand() < 0.5 ? Math.floor(rand() * 1000) : undefined,
      communities: Array.from({ length: 2 + Math.floor(rand() * 5) }, () => ((([174, 3356, 1299, 6939, 64512][Math.floor(rand() * 5)]! << 16) | Math.floor(rand() * 65536)) >>> 0)),
      largeCommunities: rand() < 0.3 ? [[4200000000, Math.floor(rand() * 1000), Math.floor(rand() * 1000)]] : undefined,
    });
    for (const m of encodeAnnouncements({ family: 4, prefixes: ps, attrs }, o)) out.push(m);
    made += count;
  }
  out.push(encodeEndOfRib(4));
  return Buffer.concat(out);
}

/** Read BGP messages from a socket: calls `on(buf, offset, length, type)` for each. */
function framer(on: (b: Buffer, off: number, len: number, type: number) => void): (chunk: Buffer) => void {
  let rest: Buffer | null = null;
  return (chunk) => {
    let b = chunk;
    if (rest !== null) {
      b = Buffer.concat([rest, chunk]);
      rest = null;
    }
    let off = 0;
    const n = b.length;
    while (n - off >= HEADER) {
      const len = (b[off + 16]! << 8) | b[off + 17]!;
      if (n - off < len) break;
      on(b, off, len, b[off + 18]!);
      off += len;
    }
    if (off < n) rest = b.subarray(off);
  };
}

async function feed(o: { server: string; port: number; local: string; asn: number; prefixes: number; perUpdate: number; send: string }): Promise<void> {
  const bytes = feedUpdates(o.prefixes, o.perUpdate, o.local, o.asn);
  emit({ event: 'encoded', bytes: bytes.length });
  const s = connect({ host: o.server, port: o.port, localAddress: o.local });
  s.setNoDelay(true);
  let gotOpen = false;
  let up = false;
  let sent = false;
  let rxBytes = 0;
  const sendAll = () => {
    if (sent) return;
    sent = true;
    const t = wallMs();
    emit({ event: 'sending', at: t });
    s.write(bytes, () => emit({ event: 'sent', at: wallMs(), ms: wallMs() - t }));
  };
  s.on('connect', () => s.write(encodeOpen({ asn: o.asn, holdTime: 90, routerId: o.local, capabilities: caps(o.asn) })));
  s.on(
    'data',
    framer((b, off, len, type) => {
      rxBytes += len;
      if (type === 1 && !gotOpen) {
        gotOpen = true;
        s.write(KEEPALIVE);
      } else if (type === 4 && gotOpen && !up) {
        up = true;
        emit({ event: 'up', at: wallMs() });
        setInterval(() => s.write(KEEPALIVE), 30_000).unref();
        if (o.send === 'up') sendAll();
      } else if (type === 3) emit({ event: 'notification', code: b[off + 19], subcode: b[off + 20] });
    }),
  );
  s.on('error', (e) => emit({ event: 'error', message: e.message }));
  s.on('close', () => {
    emit({ event: 'closed', rxBytes });
    process.exit(0);
  });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'go') sendAll();
    else if (line === 'quit') s.destroy();
  }
}

// ---------------------------------------------------------------------------------------

const { values } = parseArgs({
  options: {
    server: { type: 'string' },
    port: { type: 'string', default: '179' },
    local: { type: 'string' },
    asn: { type: 'string' },
    prefixes: { type: 'string' },
    'per-update': { type: 'string', default: '500' },
    send: { type: 'string', default: 'go' },
  },
});

void feed({ server: values.server!, port: Number(values.port), local: values.local!, asn: Number(values.asn), prefixes: Number(values.prefixes), perUpdate: Number(values['per-update']), send: values.send });
