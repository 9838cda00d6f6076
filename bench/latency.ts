// `npm run bench:latency` (proposed): route install latency, from a BGP UPDATE leaving a peer
// until its prefix is in the kernel, routelet against BIRD 2 in the same run on the same
// topology (issue 15). Root; BIRD 2 unless --no-bird.
//
//   R (the daemon: `routelet agent` or `bird`) 10.0.0.1/16 ══ veth ══ P 10.0.0.2 + 10.0.0.3
//   P holds the speakers: the probe (this process, a socket made in P by the addon; eBGP
//   AS 65002 from 10.0.0.3) and, under load, the feed (bench/rib-peers.ts: eBGP AS 65001
//   from 10.0.0.2, 1,000,000 prefixes replayed from pre-encoded UPDATEs).
//
// The clock: this process takes the send time right before the probe's socket write of an
// UPDATE announcing one new /32, and the arrival time when an rtnetlink monitor
// (src/native/netlink.ts NetlinkMonitor, its socket in R) delivers the route's RTM_NEWROUTE;
// one process, one monotonic clock (performance.now()), the same for both daemons.
// The kernel's clock beside it: bench/nl-stamp.c, in R, attaches the socket filter
// bench/nl-stamp.bpf.c to a socket of its own; the filter runs when the kernel notifies the
// route (right after it went into the FIB) and keeps bpf_ktime_get_ns() per /32, on the same
// monotonic clock as process.hrtime. It accepts nothing, so it wakes no process: this clock
// leaves out the monitor's wake-up (the same for both daemons, and noisy). Its cost is the
// filter's run per route notification, in the kernel: a raw C load of 1,000,000 routes took
// 2.50 s without it and 2.70 s with it, then 3.47 s and 3.46 s (netlink-floor -n 1000000).
//
// idle: --probes (400) single-prefix UPDATEs --interval (15) ms apart on an established
//   session with nothing else going on.
// load: the feed peer announces --prefixes (1,000,000) from its session up, while the probe
//   sends its UPDATEs at the same interval until every feed prefix is in the kernel (at most
//   --load-probes): the probes cover the whole load of each daemon, not its first --probes ×
//   --interval (before 2026-12-05 they stopped at --probes, 6 s into BIRD's 10 s load); also
//   the bulk time (feed session up → all N in the kernel). The end is seen by
//   nl-stamp's filter counting the daemon's routes in the kernel (--watch filter, the default),
//   or by ../shared/bench/netlink-floor -W as bench:rib does (--watch floor): a process that
//   reads every route notification, 2.2 s of CPU beside routelet's 6 s load on 2 CPUs.
// Both daemons announce the best routes to both peers (routelet by default; BIRD with
// `export where source = RTS_BGP`), so each does the same work. A run is preceded by
// --warmup untimed probes. Each run starts a fresh daemon; routelet and BIRD alternate who goes first; medians over
// --runs of each percentile; /proc/loadavg beside each figure. The last line is JSON.
//
// --breakdown: where routelet's time goes, hop by hop. The agent runs with bench/hop-trace.ts
// loaded (node --import), which stamps the hop marks of src/sys/hops.ts with the monotonic
// clock; this process stamps its sends and the monitor's arrivals with the same clock
// (process.hrtime), so each probe's UPDATE → kernel time splits into: the wire and the agent's
// wake-up (send → the socket's 'data' callback), framing, decoding, the RIB, the FIB, the
// netlink call (the lane's sendmsg and its answer), and the monitor's own delay (answer →
// arrival here; the clock's share, the same for BIRD). Per hop, percentiles over the probes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { codecOptions, encodeAnnouncements, encodeKeepalive, encodeOpen, makeAttributes } from '#dist/bgp/codec/index.js';
import { connect } from '#dist/bgp/transport/index.js';
import { findFloor } from '#dist/lab/fib-bench.js';
import { NetlinkMonitor } from '#dist/native/netlink.js';
import { setV8WorkerPolicy } from '#dist/native/threads.js';
import { formatPrefix, prefix4, type Prefix } from '#dist/net/prefix.js';
import { Mark } from '#dist/sys/hops.js';
import { benchArgs, Child, cBinary, countReachedAt, floorWatch, httpGet, Netns, nlStamp, sh, sleep, wallMs } from './ns.js';

type Kind = 'routelet' | 'bird' | 'c-floor';

const USAGE = `usage: npm run bench:latency -- [options]   (root; BIRD 2 unless --no-bird)
  --probes N        single-prefix UPDATEs per idle run (400)
  --load-probes N   under load, single-prefix UPDATEs until the feed is in the kernel, at most N (10000)
  --interval MS     between them (15)
  --warmup N        untimed probes first, 2 ms apart (2000): a long-running daemon's steady state
                    (routelet's one-route path reaches it after about 2000 changes: its JIT)
  --prefixes N      the feed under load (1000000)
  --per-update N    prefixes per feed UPDATE (500)
  --runs N          runs of each daemon, medians over them (3)
  --scenarios LIST  idle,load (both)
  --no-bird         routelet alone
  --c-floor         also the idle scenario's floor: bench/update-floor.c, a C receiver that only writes
                    each UPDATE's prefix to the kernel (no RIB, no decision, no export), one thread
                    asleep in poll(); what an UPDATE → kernel path costs at the least on this machine
  --routelet PATH   bin/routelet.js to run (default: this checkout's)
  --watch W         how the load's end is seen: filter (default: nl-stamp's socket filter counts
                    the daemon's routes in the kernel, no process wakes) or floor (netlink-floor -W,
                    a process reading every route notification, as before 2026-12-05)
  --floor PATH      netlink-floor for --watch floor (default: ../shared/bench/netlink-floor)
  --feed PATH       the feed peer, rib-peers.js (default: dist-bench/rib-peers.js)
  --timeout S       per load run (300)
  --breakdown       routelet's time per hop (socket → framer → decode → RIB → FIB → netlink → monitor)
  --agent-env LIST  K=V,… more ROUTELET_* variables for routelet agent (e.g. ROUTELET_V8_WORKERS=normal)
  --node-flags=STR  node's flags for routelet agent, space-separated, given with '=' (an A/B of a V8 flag;
                    default none, as the image starts it)`;

const { values, int } = benchArgs(USAGE, () =>
  parseArgs({
    options: {
        probes: { type: 'string', default: '400' },
        'load-probes': { type: 'string', default: '10000' },
        interval: { type: 'string', default: '15' },
        warmup: { type: 'string', default: '2000' },
        prefixes: { type: 'string', default: '1000000' },
        'per-update': { type: 'string', default: '500' },
        runs: { type: 'string', default: '3' },
        scenarios: { type: 'string', default: 'idle,load' },
        'no-bird': { type: 'boolean', default: false },
        'c-floor': { type: 'boolean', default: false },
        routelet: { type: 'string' },
        floor: { type: 'string' },
        watch: { type: 'string', default: 'filter' },
        feed: { type: 'string' },
        timeout: { type: 'string', default: '300' },
        breakdown: { type: 'boolean', default: false },
        'agent-env': { type: 'string', default: '' },
        'node-flags': { type: 'string', default: '' },
        help: { type: 'boolean', default: false },
      },
  }),
);
const PROBES = int('probes', values.probes, 1);
const LOAD_PROBES = int('load-probes', values['load-probes'], 1);
const INTERVAL = int('interval', values.interval, 1);
const WARMUP = int('warmup', values.warmup, 0);
const N = int('prefixes', values.prefixes, 1);
const PER_UPDATE = int('per-update', values['per-update'], 1);
const RUNS = int('runs', values.runs, 1);
const TIMEOUT = int('timeout', values.timeout, 10) * 1000;
const SCENARIOS = values.scenarios.split(',').filter(Boolean);
for (const s of SCENARIOS) if (s !== 'idle' && s !== 'load') int('scenarios (idle, load)', s, Infinity);
const KINDS: Kind[] = values['no-bird'] ? ['routelet'] : ['routelet', 'bird'];
if (values['c-floor']) KINDS.push('c-floor');
/** The kinds run in a scenario: the C floor has no place under a table load (one thread, one route per netlink round trip). */
const kindsOf = (scenario: string): Kind[] => (scenario === 'idle' ? KINDS : KINDS.filter((k) => k !== 'c-floor'));
const WATCH = values.watch;
if (WATCH !== 'filter' && WATCH !== 'floor') {
  process.stderr.write(`--watch: expected filter or floor, got ${JSON.stringify(WATCH)}\n${USAGE}\n`);
  process.exit(2);
}
const BREAKDOWN = values.breakdown;
/** --node-flags=…: how node starts the agent (an A/B of a V8 flag) */
const NODE_FLAGS = values['node-flags'].split(' ').filter(Boolean);
/** --agent-env K=V,…: more variables for routelet agent (an A/B of one setting) */
const AGENT_ENV: Record<string, string> = {};
for (const kv of values['agent-env'].split(',').filter(Boolean)) {
  const m = /^(ROUTELET_[A-Z0-9_]+)=(.*)$/.exec(kv.trim());
  if (!m) {
    process.stderr.write(`--agent-env: expected ROUTELET_NAME=value, got ${JSON.stringify(kv)}\n${USAGE}\n`);
    process.exit(2);
  }
  AGENT_ENV[m[1]!] = m[2]!;
}

/** The checkout: the first directory up from here (dist-bench/) holding package.json and bin/routelet.js. */
function findRoot(): string {
  for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'bin', 'routelet.js'))) return d;
    if (dirname(d) === d) return process.cwd();
  }
}
const ROOT = findRoot();
const BIN = resolve(values.routelet ?? join(ROOT, 'bin', 'routelet.js'));
const FEED = resolve(values.feed ?? join(ROOT, 'dist-bench', 'rib-peers.js'));
const FLOOR = (() => {
  try {
    return findFloor(values.floor);
  } catch {
    return undefined;
  }
})();

if (process.getuid?.() !== 0) {
  process.stderr.write('bench:latency needs root (network namespaces, rtnetlink, BIRD)\n');
  process.exit(1);
}
for (const [what, ok] of [
  [`routelet (${BIN})`, existsSync(BIN)],
  ['BIRD 2 (bird, birdc)', values['no-bird'] || spawnSync('bird', ['--version']).status === 0],
  [`the feed (${FEED})`, !SCENARIOS.includes('load') || existsSync(FEED)],
  ['netlink-floor (--floor)', !SCENARIOS.includes('load') || WATCH !== 'floor' || FLOOR !== undefined],
] as const) {
  if (!ok) {
    process.stderr.write(`bench:latency: ${what} not found\n`);
    process.exit(1);
  }
}

const R_ADDR = '10.0.0.1';
const FEED_ADDR = '10.0.0.2';
const PROBE_ADDR = '10.0.0.3';
const PROBE_ASN = 65002;
const HTTP_PORT = 9179;
const PROTO: Record<Kind, number> = { routelet: 201, bird: 12, 'c-floor': 199 };
const say = (s: string) => process.stderr.write(`${s}\n`);
const loadNow = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const rns = new Netns('r');
const pns = new Netns('p');
const R = rns.name;
const P = pns.name;
const work = mkdtempSync(join(tmpdir(), 'routelet-bench-latency-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
sh('ip', ['link', 'add', 'rl0', 'netns', R, 'type', 'veth', 'peer', 'name', 'pl0', 'netns', P]);
rns.batch([`addr add ${R_ADDR}/16 dev rl0`, 'link set rl0 up']);
pns.batch([`addr add ${FEED_ADDR}/16 dev pl0`, `addr add ${PROBE_ADDR}/16 dev pl0`, 'link set pl0 up']);
const mac = (ns: string, dev: string) => (JSON.parse(sh('ip', ['-j', '-n', ns, 'link', 'show', 'dev', dev])) as { address: string }[])[0]!.address;
sh('ip', ['-n', R, 'neigh', 'replace', FEED_ADDR, 'lladdr', mac(P, 'pl0'), 'dev', 'rl0', 'nud', 'permanent']);
sh('ip', ['-n', R, 'neigh', 'replace', PROBE_ADDR, 'lladdr', mac(P, 'pl0'), 'dev', 'rl0', 'nud', 'permanent']);
sh('ip', ['-n', P, 'neigh', 'replace', R_ADDR, 'lladdr', mac(R, 'rl0'), 'dev', 'pl0', 'nud', 'permanent']);

// ---------------------------------------------------------------------------------------
// the daemons

interface Daemon {
  kind: Kind;
  stop(): Promise<void>;
  log(): string;
  /** --breakdown: the hop marks the agent recorded (bench/hop-trace.ts) */
  trace?(): Promise<HopTrace>;
}

let runNo = 0;

async function startRoutelet(): Promise<Daemon> {
  const file = join(work, `peers-${++runNo}.json`);
  writeFileSync(
    file,
    JSON.stringify([
      { address: FEED_ADDR, asn: 65001, passive: true },
      { address: PROBE_ADDR, asn: PROBE_ASN, passive: true },
    ]),
  );
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ROUTELET_')) env[k] = v;
  Object.assign(env, {
    ROUTELET_ASN: '65000',
    ROUTELET_ROUTER_ID: R_ADDR,
    ROUTELET_PEERS_FILE: file,
    ROUTELET_KERNEL: 'on',
    ROUTELET_HTTP_ADDRESS: `127.0.0.1:${HTTP_PORT}`,
    ROUTELET_LOG_LEVEL: 'warn',
    ...AGENT_ENV,
  });
  const lines: string[] = [];
  const traceFile = join(work, `hops-${runNo}.json`);
  if (BREAKDOWN) env.HOP_TRACE_FILE = traceFile;
  const node = [process.execPath, ...NODE_FLAGS, ...(BREAKDOWN ? ['--import', join(dirname(fileURLToPath(import.meta.url)), 'hop-trace.js')] : [])];
  const c = new Child('routelet', R, [...node, BIN, 'agent'], {
    env,
    stdout: 'ignore',
    onLine: (l) => {
      lines.push(l);
      if (lines.length > 200) lines.shift();
    },
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (c.exited) throw new Error(`routelet agent exited at startup:\n${lines.join('\n')}\n${c.stderr}`);
    const ok = await httpGet(R, HTTP_PORT, '/livez', 1000).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`routelet agent did not answer /livez:\n${lines.join('\n')}`);
    await sleep(100);
  }
  const trace = async (): Promise<HopTrace> => {
    process.kill(c.pid, 'SIGUSR2');
    for (const t0 = Date.now(); !existsSync(traceFile); await sleep(20)) if (Date.now() - t0 > 10_000) throw new Error('the agent wrote no hop trace');
    return JSON.parse(readFileSync(traceFile, 'utf8')) as HopTrace;
  };
  return { kind: 'routelet', stop: () => c.kill('SIGKILL'), log: () => `${lines.join('\n')}\n${c.stderr}`, ...(BREAKDOWN ? { trace } : {}) };
}

async function startBird(): Promise<Daemon> {
  const dir = join(work, `bird-${++runNo}`);
  sh('mkdir', ['-p', dir]);
  writeFileSync(
    join(dir, 'bird.conf'),
    `router id ${R_ADDR};
log stderr { warning, error, fatal, bug };
protocol device { scan time 60; }
protocol kernel k4 { ipv4 { import none; export where source = RTS_BGP; }; }
protocol bgp feed { local ${R_ADDR} as 65000; neighbor ${FEED_ADDR} as 65001; passive on; ipv4 { import all; export where source = RTS_BGP; }; }
protocol bgp probe { local ${R_ADDR} as 65000; neighbor ${PROBE_ADDR} as ${PROBE_ASN}; passive on; ipv4 { import all; export where source = RTS_BGP; }; }
`,
  );
  const ctl = join(dir, 'bird.ctl');
  const c = new Child('bird', R, ['bird', '-f', '-c', join(dir, 'bird.conf'), '-s', ctl, '-P', join(dir, 'bird.pid')], { stdout: 'ignore' });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (c.exited) throw new Error(`bird exited at startup: ${c.stderr}`);
    const r = spawnSync('ip', ['netns', 'exec', R, 'birdc', '-s', ctl, 'show', 'status'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.includes('Daemon is up')) break;
    if (Date.now() > deadline) throw new Error(`bird did not answer: ${c.stderr}`);
    await sleep(100);
  }
  return { kind: 'bird', stop: () => c.kill('SIGKILL'), log: () => c.stderr };
}

async function startCFloor(): Promise<Daemon> {
  const c = new Child('update-floor', R, [cBinary(ROOT, 'update-floor'), R_ADDR, '65000', String(PROTO['c-floor'])]);
  await c.wait('ready', 10_000);
  return { kind: 'c-floor', stop: () => c.kill('SIGKILL'), log: () => c.stderr };
}

// ---------------------------------------------------------------------------------------
// the probe: an eBGP speaker in P from the codec; one /32 per UPDATE

const KEEPALIVE = encodeKeepalive();
const PROBE_OPTIONS = codecOptions({ as4: true, ebgp: true });
const PROBE_ATTRS = makeAttributes({ origin: 0, asPath: [{ type: 2, asns: [PROBE_ASN] }], nextHop: PROBE_ADDR });
/** Probe prefix j of a run: 100.64.0.0/10 upwards, /32 (a pod's route); warm-up ones from 100.96.0.0. */
const probePrefix = (j: number): Prefix => prefix4((0x64400000 + j) >>> 0, 32);
const warmupPrefix = (j: number): Prefix => prefix4((0x64600000 + j) >>> 0, 32);

interface Probe {
  /** [performance.now(), process.hrtime in ns] right before the write */
  send(p: Prefix): [number, number];
  /** UPDATEs the daemon sent the probe (its export of the feed) */
  readonly rxUpdates: number;
  close(): void;
}

async function openProbe(): Promise<Probe> {
  const { socket } = await connect({
    peer: { address: R_ADDR, family: 4, password: undefined, ttlSecurity: 0, multihop: 0, ibgp: false },
    port: 179,
    timeoutMs: 10_000,
    localAddress: PROBE_ADDR,
    netns: `/var/run/netns/${P}`,
  });
  socket.setNoDelay(true);
  let rest = Buffer.alloc(0);
  let gotOpen = false;
  let rxUpdates = 0;
  const up = new Promise<void>((resolveUp, reject) => {
    socket.on('data', (chunk: Buffer) => {
      let b = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      while (b.length >= 19) {
        const len = b.readUInt16BE(16);
        if (b.length < len) break;
        const type = b[18];
        if (type === 1 && !gotOpen) {
          gotOpen = true;
          socket.write(KEEPALIVE);
        } else if (type === 4 && gotOpen) resolveUp();
        else if (type === 2) rxUpdates++;
        else if (type === 3) reject(new Error(`the daemon sent a NOTIFICATION ${b[19]}/${b[20]}`));
        b = b.subarray(len);
      }
      rest = Buffer.from(b);
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('the probe session closed')));
  });
  socket.write(encodeOpen({ asn: PROBE_ASN, holdTime: 90, routerId: PROBE_ADDR, capabilities: [{ kind: 'multiprotocol', afi: 1, safi: 1 }, { kind: 'as4', asn: PROBE_ASN }] }));
  await Promise.race([up, sleep(20_000).then(() => Promise.reject(new Error('the probe session did not come up in 20 s')))]);
  const keepalive = setInterval(() => socket.write(KEEPALIVE), 30_000);
  return {
    get rxUpdates() {
      return rxUpdates;
    },
    send(p) {
      const [msg] = encodeAnnouncements({ family: 4, prefixes: [p as number], attrs: PROBE_ATTRS }, PROBE_OPTIONS);
      const t = performance.now();
      const hr = Number(process.hrtime.bigint());
      socket.write(msg!);
      return [t, hr];
    },
    close() {
      clearInterval(keepalive);
      socket.removeAllListeners('close');
      socket.on('error', () => {});
      socket.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------
// --breakdown: the hops of each probe

/** What bench/hop-trace.ts writes: marks (monotonic ns, Mark number, value) and collections. */
interface HopTrace {
  at: number[];
  hop: number[];
  value: number[];
  gcs: { at: number; ns: number }[];
}

/** The segments of a probe's time, in path order: [name, from mark, to mark] (-1: this process's send, -2: its arrival). */
const SEGMENTS: [string, number, number][] = [
  ['wire+wake', -1, Mark.data],
  ['frame', Mark.data, Mark.framed],
  ['decode', Mark.framed, Mark.decoded],
  ['rib', Mark.decoded, Mark.rib],
  ['→ribFlush', Mark.rib, Mark.ribFlush],
  ['ribFlush', Mark.ribFlush, Mark.fib],
  ['fib', Mark.fib, Mark.fibFlush],
  ['batch', Mark.fibFlush, Mark.submit],
  ['netlink', Mark.submit, Mark.submitted],
  ['monitor', Mark.submitted, -2],
  ['total', -1, -2],
];

/** Per segment, µs percentiles over the probes; how many took the lane; collections during probes. */
interface Breakdown {
  probes: number;
  lane: number;
  gcDuring: number;
  segments: Record<string, { p50: number; p90: number; p99: number }>;
  /** after the kernel: the RIB's flush (export to the peers) ends this long after the netlink answer, µs p50 */
  exportP50: number;
  /** the agent's garbage collections from the first probe sent to the last arrival: count, the longest and the sum, ms */
  gc: { count: number; maxMs: number; totalMs: number };
}

function breakdown(t: HopTrace, sentHr: Map<Prefix, number>, arrivedHr: Map<Prefix, number>): Breakdown {
  const byPrefix = new Map<number, number>();
  for (let k = 0; k < t.hop.length; k++) if (t.hop[k] === Mark.decoded && !byPrefix.has(t.value[k]!)) byPrefix.set(t.value[k]!, k);
  const samples = new Map<string, number[]>(SEGMENTS.map(([name]) => [name, []]));
  const exports: number[] = [];
  let probes = 0;
  let lane = 0;
  let gcDuring = 0;
  for (const [p, s] of sentHr) {
    const a = arrivedHr.get(p);
    const k = byPrefix.get(p as number);
    if (a === undefined || k === undefined) continue;
    probes++;
    const at = new Map<number, number>([
      [-1, s],
      [-2, a],
      [Mark.decoded, t.at[k]!],
    ]);
    for (let j = k - 1; j >= 0 && !at.has(Mark.data); j--) if (!at.has(t.hop[j]!)) at.set(t.hop[j]!, t.at[j]!);
    for (let j = k + 1; j < t.hop.length && t.hop[j] !== Mark.data; j++) {
      if (at.has(t.hop[j]!)) continue;
      at.set(t.hop[j]!, t.at[j]!);
      if (t.hop[j] === Mark.submitted && t.value[j] === 1) lane++;
    }
    for (const [name, from, to] of SEGMENTS) {
      const x = at.get(from);
      const y = at.get(to);
      if (x !== undefined && y !== undefined) samples.get(name)!.push((y - x) / 1000);
    }
    const e = at.get(Mark.exported);
    const n = at.get(Mark.submitted);
    if (e !== undefined && n !== undefined) exports.push((e - n) / 1000);
    if (t.gcs.some((g) => g.at + g.ns >= s && g.at <= a)) gcDuring++;
  }
  const from = Math.min(...sentHr.values());
  const to = Math.max(...arrivedHr.values());
  const window = t.gcs.filter((g) => g.at + g.ns >= from && g.at <= to);
  const gc = {
    count: window.length,
    maxMs: Number((Math.max(0, ...window.map((g) => g.ns)) / 1e6).toFixed(1)),
    totalMs: Number((window.reduce((x, g) => x + g.ns, 0) / 1e6).toFixed(1)),
  };
  const segments: Breakdown['segments'] = {};
  for (const [name, xs] of samples) {
    const q = percentiles(xs, 0);
    segments[name] = { p50: q.p50, p90: q.p90, p99: q.p99 };
  }
  return { probes, lane, gcDuring, segments, exportP50: percentiles(exports, 0).p50, gc };
}

function formatBreakdown(b: Breakdown): string {
  const names = Object.keys(b.segments);
  const row = (label: string, f: (n: string) => string) => `  ${label.padEnd(5)}${names.map((n) => f(n).padStart(Math.max(10, n.length + 2))).join('')}`;
  return [
    `  hops of ${b.probes} probes (${b.lane} by the lane; ${b.gcDuring} with a GC between send and arrival); the RIB's export ends ${b.exportP50} µs after the netlink answer (p50), µs:`,
    `  the agent's GCs while the probes ran: ${b.gc.count}, longest ${b.gc.maxMs} ms, ${b.gc.totalMs} ms in all`,
    row('', (n) => n),
    row('p50', (n) => String(b.segments[n]!.p50)),
    row('p90', (n) => String(b.segments[n]!.p90)),
    row('p99', (n) => String(b.segments[n]!.p99)),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------
// one run

interface Percentiles {
  n: number;
  lost: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

interface Run {
  kind: Kind;
  scenario: 'idle' | 'load';
  /** µs, the monitor's clock: send → the monitor's process receives the route's notification */
  latency: Percentiles;
  /** µs, the kernel's clock: send → the kernel notifies the route (bench/nl-stamp.bpf.c) */
  kernel: Percentiles;
  /** load: feed session up → all N in the kernel, s */
  bulkS?: number;
  /** UPDATEs the daemon sent to the probe peer */
  probeRx: number;
  load: string;
  /** --breakdown, routelet */
  hops?: Breakdown;
}

function percentiles(us: number[], lost: number): Percentiles {
  const s = [...us].sort((a, b) => a - b);
  const at = (p: number) => (s.length ? Number(s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!.toFixed(1)) : NaN);
  return { n: s.length, lost, p50: at(50), p90: at(90), p99: at(99), max: s.length ? Number(s[s.length - 1]!.toFixed(1)) : NaN };
}

async function run(kind: Kind, scenario: 'idle' | 'load'): Promise<Run> {
  const load = loadNow();
  const d = kind === 'routelet' ? await startRoutelet() : kind === 'bird' ? await startBird() : await startCFloor();
  const sent = new Map<Prefix, number>();
  const arrived = new Map<Prefix, number>();
  const sentHr = new Map<Prefix, number>();
  const arrivedHr = new Map<Prefix, number>();
  let overflows = 0;
  // the probes' /32s only (filtered in the kernel): the feed's million notifications would
  // overflow the socket and take probe notifications with them
  const monitor = NetlinkMonitor.open({ netns: R, table: 254, routeLength: 32 }, (events) => {
    const t = performance.now();
    const hr = Number(process.hrtime.bigint());
    for (const e of events) {
      if (e.type === 'overflow') overflows++;
      if (e.type !== 'route' || e.route.action !== 'new' || e.route.protocol !== PROTO[kind]) continue;
      if (sent.has(e.route.prefix) && !arrived.has(e.route.prefix)) {
        arrived.set(e.route.prefix, t);
        arrivedHr.set(e.route.prefix, hr);
      }
    }
  });
  let probe: Probe | undefined;
  let feed: Child | undefined;
  let floor: Child | undefined;
  // (it also counts the daemon's routes, to see a load's end: target N, or 0 when idle)
  const stamper = nlStamp(ROOT, R, PROTO[kind], scenario === 'load' ? N : 0);
  try {
    await stamper.wait('ready', 10_000);
    probe = await openProbe();
    await sleep(1000); // the daemon settles after the session comes up
    // untimed: the code paths warm (a JIT's, the kernel's), as in a daemon that has run a while
    for (let j = 0; j < WARMUP; j++) {
      probe.send(warmupPrefix(j));
      await sleep(2);
    }
    await sleep(500);
    let bulkS: number | undefined;
    let bulkDone = false;
    // when the N-th route was in the kernel (wall clock, ms), as the watcher saw it; undefined: not in time
    let reachedAt = (): Promise<number | undefined> => countReachedAt(stamper, TIMEOUT / 1000);
    // (netlink-floor -W counts every route of the protocol: the warm-up's /32s are in the table
    // already; the probes sent during the load still end its count that many routes early)
    if (scenario === 'load' && WATCH === 'floor') ({ child: floor, reachedAt } = await floorWatch(FLOOR!, R, PROTO[kind], N + WARMUP, TIMEOUT / 1000));
    if (scenario === 'load') {
      feed = new Child('feed', P, [process.execPath, FEED, '--server', R_ADDR, '--local', FEED_ADDR, '--asn', '65001', '--prefixes', String(N), '--per-update', String(PER_UPDATE), '--send', 'up']);
      await feed.wait('encoded', 120_000);
      const up = await feed.wait('up', 60_000, () => d.log().slice(-2000));
      void reachedAt().then((at) => {
        if (at !== undefined) bulkS = (at - (up.at as number)) / 1000;
        bulkDone = true;
      });
    }
    // the probes, INTERVAL apart (a timer per send: the gaps are at least INTERVAL)
    for (let j = 0; j < (scenario === 'load' ? LOAD_PROBES : PROBES); j++) {
      if (scenario === 'load' && bulkDone) break;
      const [t, hr] = probe.send(probePrefix(j));
      sent.set(probePrefix(j), t);
      sentHr.set(probePrefix(j), hr);
      await sleep(INTERVAL);
    }
    // the last answers, then the rest of the bulk load
    for (const t0 = Date.now(); arrived.size < sent.size && Date.now() - t0 < 5000; ) await sleep(20);
    if (scenario === 'load') {
      for (const t0 = Date.now(); !bulkDone && Date.now() - t0 < TIMEOUT; ) await sleep(50);
      if (bulkS === undefined) throw new Error(`${kind}: the kernel did not reach ${N} feed prefixes`);
    }
    const us: number[] = [];
    for (const [p, t] of sent) {
      const a = arrived.get(p);
      if (a !== undefined) us.push((a - t) * 1000);
    }
    if (us.length < sent.size) {
      // unseen: not in the kernel, or in it but its notification lost (the monitor's socket overflowed)
      const table = new Set(sh('ip', ['-n', R, '-4', 'route', 'show', 'proto', String(PROTO[kind])]).split('\n').map((l) => l.split(' ')[0]));
      const missing = [...sent.keys()].filter((p) => !arrived.has(p) && !table.has(formatPrefix(p).replace(/\/32$/, '')));
      say(`  ${kind}: ${sent.size - us.length} probes unseen by the monitor (${overflows} overflows); ${missing.length} of them not in the kernel`);
    }
    // the kernel's clock: the stamps of the probes' notifications, taken in the kernel
    stamper.send('dump');
    const stamps = new Map((await stamper.wait('stamps', 30_000)).stamps as [string, number][]);
    const kus: number[] = [];
    for (const [p, hr] of sentHr) {
      const k = stamps.get(formatPrefix(p).replace(/\/32$/, ''));
      if (k !== undefined) kus.push((k - hr) / 1000);
    }
    const r: Run = { kind, scenario, latency: percentiles(us, sent.size - us.length), kernel: percentiles(kus, sent.size - kus.length), load, probeRx: probe.rxUpdates };
    if (bulkS !== undefined) r.bulkS = Number(bulkS.toFixed(3));
    if (d.trace) r.hops = breakdown(await d.trace(), sentHr, arrivedHr);
    return r;
  } catch (e) {
    say(`--- ${kind} log ---\n${d.log().slice(-4000)}`);
    throw e;
  } finally {
    monitor.close();
    probe?.close();
    feed?.send('quit');
    await Promise.all([d.stop(), feed?.kill(), floor?.kill(), stamper.kill()]);
    // next-hop objects first (their routes go with them), then routes
    spawnSync('ip', ['-n', R, 'nexthop', 'flush', 'proto', String(PROTO[kind])]);
    spawnSync('ip', ['-n', R, 'route', 'flush', 'proto', String(PROTO[kind])]);
  }
}

// ---------------------------------------------------------------------------------------

const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmtUs = (us: number): string =>
  !Number.isFinite(us) ? '—' : us >= 1e6 ? `${(us / 1e6).toFixed(2)} s` : us >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`;

/** Per segment, the median over the runs of each percentile. */
function medianBreakdown(hs: Breakdown[]): Breakdown {
  const segments: Breakdown['segments'] = {};
  for (const name of Object.keys(hs[0]!.segments)) {
    const of = (q: 'p50' | 'p90' | 'p99') => Number(median(hs.map((h) => h.segments[name]![q])).toFixed(1));
    segments[name] = { p50: of('p50'), p90: of('p90'), p99: of('p99') };
  }
  return {
    probes: median(hs.map((h) => h.probes)),
    lane: median(hs.map((h) => h.lane)),
    gcDuring: median(hs.map((h) => h.gcDuring)),
    segments,
    exportP50: Number(median(hs.map((h) => h.exportP50)).toFixed(1)),
    gc: {
      count: median(hs.map((h) => h.gc.count)),
      maxMs: Number(median(hs.map((h) => h.gc.maxMs)).toFixed(1)),
      totalMs: Number(median(hs.map((h) => h.gc.totalMs)).toFixed(1)),
    },
  };
}

async function main(): Promise<void> {
  // this process stamps sends and runs the monitor: its own V8 workers must not preempt that either
  setV8WorkerPolicy('batch');
  say(`bench:latency: ${PROBES} probes idle (under load until the load's end, at most ${LOAD_PROBES}) ${INTERVAL} ms apart (${WARMUP} untimed first), ${SCENARIOS.join(' + ')}, ${RUNS} run(s) each, load feed ${N} prefixes; ${cpus().length} CPUs; routelet ${BIN}; load ${loadNow()}`);
  const runs: Run[] = [];
  for (const scenario of SCENARIOS as ('idle' | 'load')[]) {
    for (let i = 0; i < RUNS; i++) {
      const kinds = kindsOf(scenario);
      const order = i % 2 ? [...kinds].reverse() : kinds;
      for (const kind of order) {
        const r = await run(kind, scenario);
        runs.push(r);
        const l = r.latency;
        say(
          `${scenario} run ${i + 1}/${RUNS} ${kind.padEnd(8)} p50 ${fmtUs(l.p50)} p90 ${fmtUs(l.p90)} p99 ${fmtUs(l.p99)} max ${fmtUs(l.max)} (n ${l.n}, lost ${l.lost})` +
            `; kernel's clock p50 ${fmtUs(r.kernel.p50)} p90 ${fmtUs(r.kernel.p90)} p99 ${fmtUs(r.kernel.p99)} max ${fmtUs(r.kernel.max)} (n ${r.kernel.n})` +
            `${r.bulkS !== undefined ? `, bulk ${r.bulkS.toFixed(2)} s` : ''}, ${r.probeRx} UPDATEs to the probe  [loadavg ${r.load} → ${loadNow()}]`,
        );
        if (r.hops) say(formatBreakdown(r.hops));
      }
    }
  }
  const summary: Record<string, Record<string, unknown>> = {};
  const lines: string[] = [];
  // two clocks: the monitor's (the issue's: when a process watching rtnetlink sees the route)
  // and the kernel's (when the kernel notifies it, without that process's wake-up)
  const clocks: [key: 'monitor' | 'kernel', title: string, pick: (r: Run) => Percentiles][] = [
    ['monitor', "the monitor's clock (a process in the daemon's namespace receives the route's notification)", (r) => r.latency],
    ['kernel', "the kernel's clock (the kernel notifies the route: bench/nl-stamp.bpf.c)", (r) => r.kernel],
  ];
  for (const [clock, title, pick] of clocks) {
    lines.push('', `UPDATE → kernel latency by ${title}, medians over ${RUNS} run(s) (loadavg at each run's start in brackets)`);
    lines.push(`${'scenario'.padEnd(9)}${'daemon'.padEnd(10)}${'p50'.padStart(10)}${'p90'.padStart(10)}${'p99'.padStart(10)}${'max'.padStart(10)}${'bulk'.padStart(10)}  loadavg`);
    for (const scenario of SCENARIOS) {
      const s: Record<string, unknown> = {};
      for (const kind of kindsOf(scenario)) {
        const rs = runs.filter((r) => r.kind === kind && r.scenario === scenario);
        const m = {
          p50Us: median(rs.map((r) => pick(r).p50)),
          p90Us: median(rs.map((r) => pick(r).p90)),
          p99Us: median(rs.map((r) => pick(r).p99)),
          maxUs: median(rs.map((r) => pick(r).max)),
          lost: rs.reduce((n, r) => n + pick(r).lost, 0),
          bulkS: median(rs.map((r) => r.bulkS ?? NaN)),
          loadavg: rs.map((r) => r.load),
          runs: rs.map((r) => ({ ...pick(r), bulkS: r.bulkS, loadavg: r.load })),
        };
        s[kind] = m;
        lines.push(
          `${scenario.padEnd(9)}${kind.padEnd(10)}${fmtUs(m.p50Us).padStart(10)}${fmtUs(m.p90Us).padStart(10)}${fmtUs(m.p99Us).padStart(10)}${fmtUs(m.maxUs).padStart(10)}${(Number.isFinite(m.bulkS) ? `${m.bulkS.toFixed(2)} s` : '—').padStart(10)}  [${m.loadavg.join('] [')}]`,
        );
        const hs = clock === 'monitor' ? rs.map((r) => r.hops).filter((h): h is Breakdown => h !== undefined) : [];
        if (hs.length) {
          const b = medianBreakdown(hs);
          (m as Record<string, unknown>).hops = b;
          lines.push(`${scenario} ${kind}, medians over the runs:`, formatBreakdown(b));
        }
      }
      if (KINDS.includes('bird')) {
        const a = s.routelet as { p50Us: number; p90Us: number; p99Us: number; maxUs: number; bulkS: number };
        const b = s.bird as typeof a;
        const ratio = (x: number, y: number) => Number((x / y).toFixed(3));
        const ratios: Record<string, number> = { p50: ratio(a.p50Us, b.p50Us), p90: ratio(a.p90Us, b.p90Us), p99: ratio(a.p99Us, b.p99Us), max: ratio(a.maxUs, b.maxUs) };
        if (scenario === 'load') ratios.bulk = ratio(a.bulkS, b.bulkS);
        s.ratios = ratios;
        const goals: Record<string, { target: string; value: number; met: boolean }> =
          scenario === 'idle'
            ? { p50: { target: '<= 0.5', value: ratios.p50!, met: ratios.p50! <= 0.5 }, p99: { target: '<= 1', value: ratios.p99!, met: ratios.p99! <= 1 } }
            : { p99: { target: '<= 1', value: ratios.p99!, met: ratios.p99! <= 1 }, bulk: { target: '<= 0.45', value: ratios.bulk!, met: ratios.bulk! <= 0.45 } };
        s.goals = goals;
        lines.push(`${''.padEnd(9)}${'ratio'.padEnd(10)}${Object.entries(ratios).map(([k, v]) => `${k} ${v}`).join(', ')}  (routelet / BIRD)`);
      }
      if (kindsOf(scenario).includes('c-floor')) {
        // each daemon against the floor: how much of its figure any UPDATE → kernel path pays here
        const f = s['c-floor'] as { p50Us: number; p90Us: number; p99Us: number };
        const toFloor: Record<string, Record<string, number>> = {};
        for (const kind of kindsOf(scenario).filter((k) => k !== 'c-floor')) {
          const m = s[kind] as typeof f;
          const x = (q: 'p50Us' | 'p90Us' | 'p99Us') => Number((m[q] / f[q]).toFixed(3));
          toFloor[kind] = { p50: x('p50Us'), p90: x('p90Us'), p99: x('p99Us') };
          lines.push(`${''.padEnd(9)}${'to floor'.padEnd(10)}${Object.entries(toFloor[kind]!).map(([k, v]) => `${k} ${v}`).join(', ')}  (${kind} / C floor)`);
        }
        s.toFloor = toFloor;
      }
      // the monitor's figures stay where they were in the JSON; the kernel's go under kernelClock
      if (clock === 'monitor') summary[scenario] = { ...summary[scenario], ...s };
      else summary[scenario] = { ...summary[scenario], kernelClock: s };
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  process.stdout.write(
    `${JSON.stringify({ probes: PROBES, loadProbes: LOAD_PROBES, intervalMs: INTERVAL, warmup: WARMUP, prefixes: N, runs: RUNS, machine: { cpus: cpus().length, loadavgEnd: loadNow() }, at: new Date(wallMs()).toISOString(), ...summary })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    say(`bench:latency failed: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
