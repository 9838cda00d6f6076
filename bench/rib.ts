// `npm run bench:rib:micro`: the routing core alone, no sockets (issue 5).
//
// 1. Full table: 1,000,000 IPv4 prefixes with realistic attributes (~500 per UPDATE) from
//    one eBGP peer, framed from 64 KiB reads and decoded by the codec, into the Loc-RIB and
//    out to update groups of 10 and 100 RR clients (flush after every read, as the session
//    layer's setImmediate would). Measured beside, in the same run: decoding alone (the
//    floor), the Loc-RIB with no clients, and 10 clients WITHOUT update groups (each its own
//    group: one encoding per client) — the reference the grouping is worth against.
// 2. 2,000 RR clients announcing one /26 each: time until every client's Adj-RIB-Out holds
//    all 2,000 routes, (a) all clients up first, announcements flushed every 64 UPDATEs and
//    after each one, (b) staggered: each client comes up, announces, and a flush follows.
//
// Figures are medians over the runs; memory is the heap growth (after a full GC) while the
// RIB is alive, and the process RSS. The last line is JSON.
import { parseArgs } from 'node:util';
import {
  AttributeInterner,
  codecOptions,
  decodeMessage,
  encodeAnnouncements,
  Framer,
  makeAttributes,
  type PathAttributes,
} from '#dist/bgp/codec/index.js';
import { pickWith, transitPrefixes4, xorshift32 } from './random.js';
import { prefix4 } from '#dist/net/prefix.js';
import { checkPrefix, Rib, type PeerHandle } from '#dist/rib/index.js';

const { values } = parseArgs({
  options: {
    prefixes: { type: 'string', default: '1000000' },
    'per-update': { type: 'string', default: '500' },
    clients: { type: 'string', default: '10,100' },
    'rr-clients': { type: 'string', default: '2000' },
    runs: { type: 'string', default: '3' },
    /** full: the 1,000,000-prefix table; rr: the 2,000 clients; all: both (RSS then mixes them) */
    scenario: { type: 'string', default: 'all' },
  },
});
const SCENARIO = values.scenario;
if (!['all', 'full', 'rr'].includes(SCENARIO)) {
  process.stderr.write(`--scenario ${JSON.stringify(SCENARIO)}: expected all, full or rr\n`);
  process.exit(2);
}
const N = Number(values.prefixes);
const PER_UPDATE = Number(values['per-update']);
const CLIENT_COUNTS = values.clients.split(',').map(Number);
const RR_CLIENTS = Number(values['rr-clients']);
const RUNS = Number(values.runs);
const CHUNK = 65536;

const gc = (globalThis as { gc?: () => void }).gc;
function collect(): void {
  if (gc) for (let i = 0; i < 3; i++) gc();
}
const MiB = (n: number) => Math.round((n / 1048576) * 10) / 10;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const now = () => Number(process.hrtime.bigint()) / 1e6;

const rand = xorshift32();
const pick = pickWith(rand);

const SRC_AS = 64600;
const SRC_ADDRESS = '192.0.2.1';

function transitAttrs(): PathAttributes {
  const path = [SRC_AS, ...Array.from({ length: 1 + Math.floor(rand() * 5) }, () => (rand() < 0.3 ? 4200000000 + Math.floor(rand() * 1e6) : 1 + Math.floor(rand() * 64000)))];
  return makeAttributes({
    origin: rand() < 0.9 ? 0 : 2,
    asPath: [{ type: 2, asns: path }],
    nextHop: SRC_ADDRESS,
    med: rand() < 0.5 ? Math.floor(rand() * 1000) : undefined,
    communities: Array.from({ length: 2 + Math.floor(rand() * 5) }, () => ((pick([174, 3356, 1299, 6939, 64512]) << 16) | Math.floor(rand() * 65536)) >>> 0),
    largeCommunities: rand() < 0.3 ? [[4200000000, Math.floor(rand() * 1000), Math.floor(rand() * 1000)]] : undefined,
  });
}

/** Prefixes of the table import sanity accepts (tableStream() counts them). */
let ACCEPTED = 0;

/** The full table as the wire bytes one eBGP peer sends. */
function tableStream(n: number): { stream: Buffer; messages: number } {
  ACCEPTED = n;
  const seen = new Set<number>();
  const msgs: Buffer[] = [];
  const o = codecOptions({ as4: true });
  for (let made = 0; made < n; ) {
    const count = Math.min(PER_UPDATE, n - made);
    const ps = transitPrefixes4(rand, count, seen, 0xdf000000);
    for (const p of ps) if (checkPrefix(p) !== null) ACCEPTED--; // martians (127/8 …): import sanity rejects them
    msgs.push(...encodeAnnouncements({ family: 4, prefixes: ps, attrs: transitAttrs() }, o));
    made += count;
  }
  return { stream: Buffer.concat(msgs), messages: msgs.length };
}

const EBGP = codecOptions({ as4: true, ebgp: true });
const IBGP = codecOptions({ as4: true, ebgp: false });

/** Counts what each peer is sent, without keeping it (the session layer would write it out). */
class Sink {
  readonly index = new Map<PeerHandle, number>();
  msgs: Float64Array;
  bytes: Float64Array;
  #lastBatch: readonly Buffer[] | null = null;
  #lastBytes = 0;
  constructor(n: number) {
    this.msgs = new Float64Array(n);
    this.bytes = new Float64Array(n);
  }
  send = (p: PeerHandle, batch: readonly Buffer[]): void => {
    const i = this.index.get(p);
    if (i === undefined) return;
    if (batch !== this.#lastBatch) {
      let b = 0;
      for (const m of batch) b += m.length;
      this.#lastBatch = batch;
      this.#lastBytes = b;
    }
    this.msgs[i]! += batch.length;
    this.bytes[i]! += this.#lastBytes;
  };
}

function clientAddress(i: number): string {
  return `10.${64 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;
}

interface FullResult {
  ms: number;
  heapMiB: number;
  rssMiB: number;
  messagesPerClient: number;
  bytesPerClient: number;
  locRib: number;
}

/** Scenario 1: the table into the Loc-RIB and out to `clients` RR clients (grouped or each alone). */
function fullTable(stream: Buffer, clients: number, grouped: boolean): FullResult {
  collect();
  const heap0 = process.memoryUsage().heapUsed;
  const sink = new Sink(clients);
  const rib = new Rib({ asn: 65000, routerId: '10.0.0.1', clusterId: '10.0.0.1', ecmpMaxPaths: 8, events: { send: sink.send } });
  for (let i = 0; i < clients; i++) {
    const c = rib.addPeer({ address: clientAddress(i), asn: 65000, routeReflectorClient: true });
    sink.index.set(c, i);
    // distinct next-hop-self addresses defeat grouping: the ungrouped reference
    rib.peerUp(c, { routerId: clientAddress(i), codec: IBGP, families: [4], localAddress: grouped ? '10.0.0.1' : `10.0.0.${1 + (i % 250)}`, nextHop4: grouped ? undefined : clientAddress(i) });
  }
  rib.flush();
  const src = rib.addPeer({ address: SRC_ADDRESS, asn: SRC_AS });
  rib.peerUp(src, { routerId: SRC_ADDRESS, codec: EBGP, families: [4], localAddress: '192.0.2.254' });
  rib.flush();
  const interner = new AttributeInterner();
  const t0 = now();
  const framer = new Framer();
  for (let at = 0; at < stream.length; at += CHUNK) {
    for (const f of framer.push(stream.subarray(at, at + CHUNK))) {
      const m = decodeMessage(f, EBGP, interner);
      if (m instanceof Error || m.type !== 'update') throw new Error('unexpected message');
      const o = rib.update(src, m);
      if (o.type !== 'ok') throw new Error(`unexpected outcome ${o.type}`);
    }
    rib.flush();
  }
  rib.flushAll(); // a flush takes a bounded share (Rib.flush): the rest now
  const ms = now() - t0;
  if (rib.stats.prefixes !== ACCEPTED) throw new Error(`Loc-RIB holds ${rib.stats.prefixes}, expected ${ACCEPTED}`);
  for (const c of sink.index.keys()) if (rib.peerCounts(c).advertised !== ACCEPTED) throw new Error(`client advertised ${rib.peerCounts(c).advertised}`);
  collect();
  const mem = process.memoryUsage();
  const out = { ms, heapMiB: MiB(mem.heapUsed - heap0), rssMiB: MiB(mem.rss), messagesPerClient: clients ? sink.msgs[0]! : 0, bytesPerClient: clients ? sink.bytes[0]! : 0, locRib: rib.stats.prefixes };
  return out;
}

/** The floor: framing and decoding alone. */
function decodeOnly(stream: Buffer): number {
  const interner = new AttributeInterner();
  const t0 = now();
  const framer = new Framer();
  let n = 0;
  for (let at = 0; at < stream.length; at += CHUNK) {
    for (const f of framer.push(stream.subarray(at, at + CHUNK))) {
      const m = decodeMessage(f, EBGP, interner);
      if (m instanceof Error || m.type !== 'update') throw new Error('unexpected message');
      for (const r of m.reach) n += r.prefixes.length;
    }
  }
  if (n !== N) throw new Error(`decoded ${n}`);
  return now() - t0;
}

/** One UPDATE per client: its /26, ORIGIN IGP, empty AS_PATH, LOCAL_PREF 100, next hop itself. */
function clientUpdates(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const a = makeAttributes({ origin: 0, asPath: [], nextHop: clientAddress(i), localPref: 100 });
    const p = prefix4(((10 << 24) | (128 << 16) | (i << 6)) >>> 0, 26); // 10.128.0.0/10 cut into /26s
    return encodeAnnouncements({ family: 4, prefixes: [p], attrs: a }, IBGP)[0]!;
  });
}

interface ConvergeResult {
  ms: number;
  heapMiB: number;
  rssMiB: number;
  fullTableBuilds: number;
  messagesPerClient: number;
}

/** Scenario 2: `n` RR clients, one /26 each, until every Adj-RIB-Out holds the n - 1 routes of the others. */
function converge(updates: Buffer[], mode: 'together' | 'staggered', flushEvery: number): ConvergeResult {
  const n = updates.length;
  collect();
  const heap0 = process.memoryUsage().heapUsed;
  const sink = new Sink(n);
  const rib = new Rib({ asn: 65000, routerId: '10.0.0.1', clusterId: '10.0.0.1', events: { send: sink.send } });
  const peers: PeerHandle[] = [];
  for (let i = 0; i < n; i++) {
    const c = rib.addPeer({ address: clientAddress(i), asn: 65000, routeReflectorClient: true });
    sink.index.set(c, i);
    peers.push(c);
  }
  const session = (i: number) => ({ routerId: clientAddress(i), codec: IBGP, families: [4] as const, localAddress: '10.0.0.1' });
  const interner = new AttributeInterner();
  const framer = new Framer();
  const feed = (i: number) => {
    const f = framer.push(updates[i]!)[0]!;
    const m = decodeMessage(f, IBGP, interner);
    if (m instanceof Error || m.type !== 'update') throw new Error('unexpected message');
    rib.update(peers[i]!, m);
  };
  let t0: number;
  if (mode === 'together') {
    for (let i = 0; i < n; i++) rib.peerUp(peers[i]!, session(i));
    rib.flush(); // everyone Established, empty table and End-of-RIB sent
    t0 = now();
    for (let i = 0; i < n; i++) {
      feed(i);
      if ((i + 1) % flushEvery === 0) rib.flush();
    }
    rib.flushAll();
  } else {
    t0 = now();
    for (let i = 0; i < n; i++) {
      rib.peerUp(peers[i]!, session(i));
      feed(i);
      rib.flush();
    }
  }
  const ms = now() - t0;
  // split horizon: a client is sent every route but its own
  for (const p of peers) if (rib.peerCounts(p).advertised !== n - 1) throw new Error(`a client holds ${rib.peerCounts(p).advertised} routes, expected ${n - 1}`);
  const builds = rib.groupOf(peers[0]!)!.fullTableBuilds;
  collect();
  const mem = process.memoryUsage();
  return { ms, heapMiB: MiB(mem.heapUsed - heap0), rssMiB: MiB(mem.rss), fullTableBuilds: builds, messagesPerClient: sink.msgs[n - 1]! };
}

function fullTableScenario(): Record<string, unknown> {
  const { stream, messages } = tableStream(N);
  process.stdout.write(`table: ${N.toLocaleString('en-US')} IPv4 prefixes in ${messages.toLocaleString('en-US')} UPDATEs (${stream.length.toLocaleString('en-US')} octets)\n`);
  const groupedKeys = CLIENT_COUNTS.map((c) => `clients${c}`);
  const r: Record<string, FullResult[]> = { locRib: [], ungrouped10: [] };
  for (const k of groupedKeys) r[k] = [];
  const decodeMs: number[] = [];
  decodeOnly(stream);
  // interleaved rounds: every variant once per round, so machine noise hits them alike
  for (let run = 0; run < RUNS; run++) {
    decodeMs.push(decodeOnly(stream));
    r.locRib!.push(fullTable(stream, 0, true));
    CLIENT_COUNTS.forEach((c, i) => r[groupedKeys[i]!]!.push(fullTable(stream, c, true)));
    r.ungrouped10!.push(fullTable(stream, 10, false));
    process.stdout.write(`  run ${run + 1}/${RUNS} done\n`);
  }
  const summary = (xs: FullResult[]) => ({
    ms: Math.round(median(xs.map((x) => x.ms))),
    prefixesPerSec: Math.round(N / (median(xs.map((x) => x.ms)) / 1000)),
    heapMiB: median(xs.map((x) => x.heapMiB)),
    rssMiB: median(xs.map((x) => x.rssMiB)),
    messagesPerClient: xs[0]!.messagesPerClient,
    bytesPerClient: xs[0]!.bytesPerClient,
  });
  const ratio = (a: FullResult[], b: number[] | FullResult[]) =>
    Number(median(a.map((x, i) => x.ms / (typeof b[i] === 'number' ? (b[i] as number) : (b[i] as FullResult).ms))).toFixed(2));
  const full: Record<string, unknown> = {
    prefixes: N,
    updates: messages,
    decodeOnlyMs: Math.round(median(decodeMs)),
    locRibOnly: { ...summary(r.locRib!), vsDecode: ratio(r.locRib!, decodeMs) },
  };
  groupedKeys.forEach((k) => (full[k] = { ...summary(r[k]!), vsLocRibOnly: ratio(r[k]!, r.locRib!) }));
  full.ungrouped10 = { ...summary(r.ungrouped10!), vsGrouped10: r.clients10 ? ratio(r.ungrouped10!, r.clients10) : null };
  process.stdout.write(`full table (median of ${RUNS}):\n  decode only                ${full.decodeOnlyMs} ms\n`);
  process.stdout.write(line('Loc-RIB, no clients', full.locRibOnly as never));
  for (const k of groupedKeys) process.stdout.write(line(`${k.slice(7)} RR clients (1 group)`, full[k] as never));
  process.stdout.write(line('10 RR clients, ungrouped', full.ungrouped10 as never));
  return full;
}

function rrScenario(): Record<string, unknown> {
  const updates = clientUpdates(RR_CLIENTS);
  const conv: Record<string, ConvergeResult[]> = { together64: [], together1: [], staggered: [] };
  converge(updates.slice(0, 200), 'together', 64);
  for (let run = 0; run < RUNS; run++) {
    conv.together64!.push(converge(updates, 'together', 64));
    conv.together1!.push(converge(updates, 'together', 1));
    conv.staggered!.push(converge(updates, 'staggered', 1));
  }
  const cs = (xs: ConvergeResult[]) => ({
    ms: Math.round(median(xs.map((x) => x.ms))),
    heapMiB: median(xs.map((x) => x.heapMiB)),
    rssMiB: median(xs.map((x) => x.rssMiB)),
    fullTableBuilds: xs[0]!.fullTableBuilds,
    messagesPerClient: xs[0]!.messagesPerClient,
  });
  const rr = { clients: RR_CLIENTS, togetherFlushEvery64: cs(conv.together64!), togetherFlushEachUpdate: cs(conv.together1!), staggered: cs(conv.staggered!) };
  process.stdout.write(`${RR_CLIENTS} RR clients, one /26 each, until every Adj-RIB-Out holds all (median of ${RUNS}):\n`);
  process.stdout.write(line('together, flush per 64', rr.togetherFlushEvery64));
  process.stdout.write(line('together, flush per UPDATE', rr.togetherFlushEachUpdate));
  process.stdout.write(line('staggered (up, UPDATE, flush)', rr.staggered));
  return rr;
}

function line(name: string, x: { ms: number; prefixesPerSec?: number; heapMiB: number; rssMiB: number }): string {
  return `  ${name.padEnd(30)} ${String(x.ms).padStart(6)} ms  ${x.prefixesPerSec ? `${x.prefixesPerSec.toLocaleString('en-US').padStart(10)} prefixes/s  ` : ''}heap +${x.heapMiB} MiB  rss ${x.rssMiB} MiB\n`;
}

function main(): void {
  if (!gc) process.stderr.write('run with node --expose-gc (npm run bench:rib:micro) for memory figures\n');
  const out: Record<string, unknown> = { bench: 'rib-micro', node: process.version, runs: RUNS, scenario: SCENARIO };
  if (SCENARIO !== 'rr') out.fullTable = fullTableScenario();
  if (SCENARIO !== 'full') out.rrClients = rrScenario();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main();
