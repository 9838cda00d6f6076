// `npm run bench:codec`: decode and encode a full IPv4 table (1,000,000 prefixes in
// ~500-prefix UPDATEs with realistic attributes) and an IPv6 table (200,000 prefixes in
// MP_REACH_NLRI with global and link-local next hops), each measured against a floor loop
// that only walks the NLRI bytes of the same messages, in the same run. Rounds interleave
// floor, decode and encode; the figures are medians over the rounds, and ratios are the
// median of the per-round ratios. The last line is JSON.
//
// Warm-up is ten rounds of everything, and the loop yields to the event loop between rounds
// (outside the timed code). With one warm-up round, JIT tier-up and the collection of the
// table builder's garbage fell into the first timed decode rounds (45–70 ms against ~9 in
// steady state) and never into the floor's: decode() runs once per round, and TurboFan
// compiles it (and the sweep of the interner) as a whole only after several rounds (with
// three warm-up rounds the first timed one still took 20–30 ms). Without yielding, every set
// weakened by the interner stayed alive until the whole benchmark ended (a WeakRef keeps
// its target for the rest of the current job), where a session decodes each socket read
// in a task of its own.
import { parseArgs } from 'node:util';
import {
  AttributeInterner,
  codecOptions,
  decodeMessage,
  encodeAnnouncements,
  Framer,
  makeAttributes,
  type CodecOptions,
  type PathAttributes,
} from '#dist/bgp/codec/index.js';
import { pickWith, transitPrefixes4, xorshift32 } from './random.js';
import type { Prefix6 } from '#dist/net/prefix.js';

const { values } = parseArgs({
  options: {
    ipv4: { type: 'string', default: '1000000' },
    ipv6: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '11' },
    warmup: { type: 'string', default: '10' },
    'per-update': { type: 'string', default: '500' },
  },
});
const N4 = Number(values.ipv4);
const N6 = Number(values.ipv6);
const RUNS = Number(values.runs);
const WARMUP = Number(values.warmup);
const PER_UPDATE = Number(values['per-update']);
const CHUNK = 65536; // bytes per simulated socket read

const rand = xorshift32();
const pick = pickWith(rand);

/** attributes like a transit feed: 3–7 AS path, MED half the time, 2–6 communities, large communities sometimes */
function realisticAttrs(i: number, nextHop: string, linkLocal?: string): PathAttributes {
  const path = [64512 + (i % 100), ...Array.from({ length: 2 + Math.floor(rand() * 5) }, () => (rand() < 0.3 ? 4200000000 + Math.floor(rand() * 1e6) : 1 + Math.floor(rand() * 64000)))];
  return makeAttributes({
    origin: rand() < 0.9 ? 0 : 2,
    asPath: [{ type: 2, asns: path }],
    nextHop,
    linkLocalNextHop: linkLocal,
    med: rand() < 0.5 ? Math.floor(rand() * 1000) : undefined,
    communities: Array.from({ length: 2 + Math.floor(rand() * 5) }, () => ((pick([174, 3356, 1299, 6939, 64512]) << 16) | Math.floor(rand() * 65536)) >>> 0),
    largeCommunities: rand() < 0.3 ? [[4200000000, Math.floor(rand() * 1000), Math.floor(rand() * 1000)]] : undefined,
  });
}

interface Table {
  name: string;
  prefixes: number;
  stream: Buffer;
  messages: number;
  groups: { attrs: PathAttributes; prefixes: Float64Array | Prefix6[] }[];
}

function ipv4Table(n: number): Table {
  const groups: Table['groups'] = [];
  const seen = new Set<number>();
  let made = 0;
  let g = 0;
  while (made < n) {
    const count = Math.min(PER_UPDATE, n - made);
    const ps = transitPrefixes4(rand, count, seen, 0xe0000000);
    groups.push({ attrs: realisticAttrs(g, `192.0.2.${1 + (g % 200)}`), prefixes: ps });
    made += count;
    g++;
  }
  return finish('ipv4', n, groups, codecOptions({ as4: true }));
}

function ipv6Table(n: number): Table {
  const groups: Table['groups'] = [];
  const seen = new Set<string>();
  let made = 0;
  let g = 0;
  const bytes = new Uint8Array(16);
  while (made < n) {
    const count = Math.min(PER_UPDATE, n - made);
    const ps: Prefix6[] = [];
    while (ps.length < count) {
      const r = rand();
      const len = r < 0.5 ? 48 : r < 0.7 ? 32 + Math.floor(rand() * 12) : r < 0.9 ? 44 + Math.floor(rand() * 4) : 56 + Math.floor(rand() * 9);
      bytes.fill(0);
      bytes[0] = 0x20;
      bytes[1] = 0x01 + Math.floor(rand() * 4);
      for (let i = 2; i < 8; i++) bytes[i] = Math.floor(rand() * 256);
      let s = String.fromCharCode(len);
      for (let i = 0; i < 16; i++) {
        const bits = Math.max(0, Math.min(8, len - i * 8));
        s += String.fromCharCode(bytes[i]! & ((0xff << (8 - bits)) & 0xff));
      }
      if (seen.has(s)) continue;
      seen.add(s);
      ps.push(s);
    }
    groups.push({ attrs: realisticAttrs(g, `2001:db8::${(1 + (g % 200)).toString(16)}`, `fe80::${(1 + (g % 200)).toString(16)}`), prefixes: ps });
    made += count;
    g++;
  }
  return finish('ipv6', n, groups, codecOptions({ as4: true }));
}

function finish(name: string, n: number, groups: Table['groups'], o: CodecOptions): Table {
  const msgs: Buffer[] = [];
  for (const gr of groups) msgs.push(...encodeAnnouncements({ family: name === 'ipv4' ? 4 : 6, prefixes: gr.prefixes, attrs: gr.attrs }, o));
  return { name, prefixes: n, stream: Buffer.concat(msgs), messages: msgs.length, groups };
}

/** The floor: find each UPDATE's NLRI (the NLRI field, or inside MP_REACH_NLRI) and walk its prefixes. */
function floor(t: Table): number {
  const b = t.stream;
  let count = 0;
  for (let m = 0; m < b.length; ) {
    const len = (b[m + 16]! << 8) | b[m + 17]!;
    const body = m + 19;
    const wlen = (b[body]! << 8) | b[body + 1]!;
    const aStart = body + 4 + wlen;
    const aEnd = aStart + ((b[body + 2 + wlen]! << 8) | b[body + 3 + wlen]!);
    let s = aEnd;
    let e = m + len;
    if (t.name === 'ipv6') {
      // MP_REACH_NLRI is the first attribute
      const hl = b[aStart]! & 0x10 ? 4 : 3;
      const alen = hl === 4 ? (b[aStart + 2]! << 8) | b[aStart + 3]! : b[aStart + 2]!;
      const v = aStart + hl;
      s = v + 5 + b[v + 3]!;
      e = v + alen;
    }
    for (let p = s; p < e; p += 1 + ((b[p]! + 7) >> 3)) count++;
    m += len;
  }
  return count;
}

/** The floor plus one 17-character string per IPv6 prefix: the cost the Prefix6 form itself implies. */
function allocFloor(t: Table): number {
  const b = t.stream;
  let count = 0;
  for (let m = 0; m < b.length; ) {
    const len = (b[m + 16]! << 8) | b[m + 17]!;
    const aStart = m + 19 + 4;
    const hl = b[aStart]! & 0x10 ? 4 : 3;
    const alen = hl === 4 ? (b[aStart + 2]! << 8) | b[aStart + 3]! : b[aStart + 2]!;
    const v = aStart + hl;
    const out: string[] = [];
    for (let p = v + 5 + b[v + 3]!; p < v + alen; p += 1 + ((b[p]! + 7) >> 3)) out.push(String.fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    count += out.length;
    m += len;
  }
  return count;
}

/** Framing across 64 KiB reads, decoding and a touch of every prefix and attribute set. */
function decode(t: Table, o: CodecOptions): number {
  const framer = new Framer();
  const interner = new AttributeInterner(); // a table load: every set is new
  let count = 0;
  let sets = 0;
  let last: PathAttributes | undefined;
  for (let at = 0; at < t.stream.length; at += CHUNK) {
    for (const f of framer.push(t.stream.subarray(at, at + CHUNK))) {
      const m = decodeMessage(f, o, interner);
      if (m instanceof Error || m.type !== 'update') throw new Error('unexpected message');
      for (const r of m.reach) {
        count += r.prefixes.length;
        if (r.attrs !== last) sets++;
        last = r.attrs;
      }
    }
  }
  if (sets === 0) throw new Error('no attribute sets');
  return count;
}

function encode(t: Table, o: CodecOptions): number {
  let bytes = 0;
  for (const g of t.groups) for (const m of encodeAnnouncements({ family: t.name === 'ipv4' ? 4 : 6, prefixes: g.prefixes, attrs: g.attrs }, o)) bytes += m.length;
  if (bytes !== t.stream.length) throw new Error(`encoded ${bytes} octets, expected ${t.stream.length}`);
  return t.prefixes;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function time(f: () => number, expect: number): number {
  const t0 = process.hrtime.bigint();
  const n = f();
  const ns = Number(process.hrtime.bigint() - t0);
  if (n !== expect) throw new Error(`counted ${n} prefixes, expected ${expect}`);
  return ns;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function bench(t: Table) {
  const o = codecOptions({ as4: true });
  // warm up every path
  for (let i = 0; i < WARMUP; i++) {
    floor(t);
    decode(t, o);
    encode(t, o);
    if (t.name === 'ipv6') allocFloor(t);
    await turn();
  }
  const r = { floor: [] as number[], decode: [] as number[], encode: [] as number[], alloc: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    r.floor.push(time(() => floor(t), t.prefixes));
    r.decode.push(time(() => decode(t, o), t.prefixes));
    r.encode.push(time(() => encode(t, o), t.prefixes));
    if (t.name === 'ipv6') r.alloc.push(time(() => allocFloor(t), t.prefixes));
    await turn();
  }
  const perSec = (ns: number) => Math.round(t.prefixes / (ns / 1e9));
  const ratio = (a: number[]) => Number(median(a.map((x, i) => x / r.floor[i]!)).toFixed(2));
  return {
    prefixes: t.prefixes,
    messages: t.messages,
    bytes: t.stream.length,
    floorPrefixesPerSec: perSec(median(r.floor)),
    decodePrefixesPerSec: perSec(median(r.decode)),
    encodePrefixesPerSec: perSec(median(r.encode)),
    decodeRatio: ratio(r.decode),
    // a round with a scavenge in it costs a few ms more: the mean shows what the median hides
    decodeRatioMean: Number((r.decode.reduce((a, x, i) => a + x / r.floor[i]!, 0) / r.decode.length).toFixed(2)),
    encodeRatio: ratio(r.encode),
    ...(t.name === 'ipv6' ? { allocFloorRatio: ratio(r.alloc), decodeVsAllocFloor: Number(median(r.decode.map((x, i) => x / r.alloc[i]!)).toFixed(2)) } : {}),
  };
}

const ipv4 = await bench(ipv4Table(N4));
const ipv6 = await bench(ipv6Table(N6));
const fmt = (n: number) => n.toLocaleString('en-US');
for (const [name, x] of [
  ['IPv4', ipv4],
  ['IPv6', ipv6],
] as const) {
  process.stdout.write(
    `${name}: ${fmt(x.prefixes)} prefixes in ${fmt(x.messages)} UPDATEs (${fmt(x.bytes)} octets)\n` +
      `  floor  ${fmt(x.floorPrefixesPerSec)} prefixes/s\n` +
      `  decode ${fmt(x.decodePrefixesPerSec)} prefixes/s  ${x.decodeRatio}x floor\n` +
      `  encode ${fmt(x.encodePrefixesPerSec)} prefixes/s  ${x.encodeRatio}x floor\n` +
      ('allocFloorRatio' in x ? `  (floor + one 17-char string per prefix: ${x.allocFloorRatio}x floor; decode is ${x.decodeVsAllocFloor}x that)\n` : ''),
  );
}
process.stdout.write(
  `${JSON.stringify({ bench: 'codec', node: process.version, runs: RUNS, warmup: WARMUP, goal: { decodeWithinFloor: 3, ipv4: ipv4.decodeRatio <= 3, ipv6: ipv6.decodeRatio <= 3 }, ipv4, ipv6 })}\n`,
);
