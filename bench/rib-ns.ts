// `npm run bench:rib`: routelet against BIRD 2 as the route reflector, in network
// namespaces it creates and deletes, the same harness and the same input for both (issue 5),
// printed side by side with ratios (routelet / BIRD), medians over runs; the last line is
// JSON. Root. `--help` lists the options; a smoke run:
//   npm run bench:rib -- --prefixes 20000 --clients 10 --rr-clients 50 --runs 1
//
//   R (reflector: `routelet agent` or `bird`) 10.0.0.1/16 ══ veth ══ P 10.0.0.2/16 + 10.128.x.y/32
//   P holds the speakers: the feed (bench/rib-peers.ts: eBGP, AS 65001, 10.0.0.2) and the
//   RR clients (bench/rib-sink.c: iBGP, one source address each, all in one C process,
//   compiled on first use into build/tmp).
//
// a (feed): one peer announces N (1,000,000) IPv4 prefixes, replayed from pre-encoded
//    UPDATEs; time from its first byte until the reflector's Loc-RIB holds all (polled: the
//    feed peer's accepted count) and until every one of C (10, 100) RR clients holds all;
//    the reflector's CPU time in that window and its memory.
// b (kernel): the same N prefixes from session up until all are in the kernel (routelet's
//    FIB; BIRD's kernel protocol exporting to the main table). The count is watched by
//    bench/nl-stamp.bpf.c, a socket filter that counts the reflector's routes as the kernel
//    notifies them, so no process wakes per route (--watch filter, the default); or, as
//    before 2026-12-05, by ../shared/bench/netlink-floor -W N -p PROTO (--watch floor), a
//    process reading every route notification, which took CPU beside the load and made
//    BIRD's load slower (src/fib/README.md).
// c (clients): K (2,000) RR clients announcing one /26 each. `up`: each client announces as
//    soon as it is Established; the time from the last Established until every client holds
//    all K routes (the issue's figure), and from the first connection attempt. `together`:
//    the announcements are sent at once when every client is Established and has End-of-RIB;
//    the time from them until every client holds all. The reflector's memory and CPU.
//
// BIRD: one `protocol bgp` per client (template, rr client, passive), as calico-node
// configures it; its listen backlog is fixed at 8 in BIRD's source, so the clients open at
// most --concurrency (8) connections at a time, for both reflectors alike (a refused or
// dropped connection is retried after 1 s and counted). Each run starts a fresh reflector.
// Medians over --runs (a and b) and --rr-runs (c); routelet and BIRD alternate who goes
// first. The sinks' own CPU and busy share are printed to show they are not the bottleneck.
// Everything started is killed and the namespaces deleted at exit, also on failure or ^C.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findFloor } from '#dist/lab/fib-bench.js';
import { installed } from '#dist/lab/tools.js';
import { cBinary, Child, countReachedAt, cpuMs, floorWatch, httpGet, memMiB, Netns, nlStamp, sh, sleep, wallMs } from './ns.js';

// this file runs as dist-bench/rib-ns.js
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'routelet.js');
const PEERS = fileURLToPath(new URL('rib-peers.js', import.meta.url));

/** The C sinks (bench/rib-sink.c). */
const sinkBinary = (): string => cBinary(ROOT, 'rib-sink');
const USAGE = `usage: npm run bench:rib -- [options]   (root; BIRD 2 unless --no-bird)
  --prefixes N        scenarios a and b: prefixes from the feed (1000000)
  --clients C,C       scenario a: RR clients the feed is reflected to (10,100)
  --rr-clients K      scenario c: RR clients announcing one /26 each (2000)
  --runs R            runs per scenario and reflector, medians printed (3)
  --rr-runs R         runs of scenario c (as --runs)
  --only a,b,c        a: feed → Loc-RIB → clients, b: feed → kernel, c: K clients (all)
  --rr-modes M,M      scenario c: up (announce when Established, timed from the last
                      Established: the issue's figure) and/or together (announce at once
                      when all are up, timed from the announcements) (up,together)
  --no-bird           routelet alone (no ratios)
  --per-update P      prefixes per attribute set in the feed (500)
  --concurrency X     connections the clients open at a time (8: BIRD's listen backlog)
  --watch W           scenario b, how the kernel's count is seen: filter (nl-stamp's socket
                      filter counts the routes, no process wakes) or floor (netlink-floor -W,
                      a process reading every route notification, as before 2026-12-05) (filter)
  --floor PATH        netlink-floor for --watch floor (default ../shared/bench/netlink-floor)
  --timeout S         per wait (600)`;

function usage(msg: string): never {
  process.stderr.write(`${msg}\n${USAGE}\n`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        prefixes: { type: 'string', default: '1000000' },
        'per-update': { type: 'string', default: '500' },
        clients: { type: 'string', default: '10,100' },
        'rr-clients': { type: 'string', default: '2000' },
        runs: { type: 'string', default: '3' },
        'rr-runs': { type: 'string' },
        only: { type: 'string', default: 'a,b,c' },
        'rr-modes': { type: 'string', default: 'up,together' },
        'no-bird': { type: 'boolean', default: false },
        reflectors: { type: 'string', default: 'routelet,bird' },
        concurrency: { type: 'string', default: '8' },
        watch: { type: 'string', default: 'filter' },
        floor: { type: 'string' },
        timeout: { type: 'string', default: '600' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    return usage((e as Error).message);
  }
})();
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const N = Number(values.prefixes);
const PER_UPDATE = Number(values['per-update']);
const CLIENTS = values.clients.split(',').filter(Boolean).map(Number);
const RR_CLIENTS = Number(values['rr-clients']);
const RUNS = Number(values.runs);
const RR_RUNS = Number(values['rr-runs'] ?? values.runs);
const SCENARIO_NAMES: Record<string, string> = { a: 'feed', b: 'kernel', c: 'clients', feed: 'feed', kernel: 'kernel', clients: 'clients' };
const SCENARIOS = new Set(
  values.only
    .split(',')
    .filter(Boolean)
    .map((x) => SCENARIO_NAMES[x] ?? usage(`--only: ${JSON.stringify(x)} is none of a, b, c`)),
);
const RR_MODES = values['rr-modes'].split(',').filter(Boolean) as ('together' | 'up')[];
const REFLECTORS = (values['no-bird'] ? ['routelet'] : values.reflectors.split(',')) as Kind[];
const CONCURRENCY = Number(values.concurrency);
const TIMEOUT = Number(values.timeout) * 1000;
for (const [k, v] of Object.entries({ prefixes: N, 'per-update': PER_UPDATE, 'rr-clients': RR_CLIENTS, runs: RUNS, 'rr-runs': RR_RUNS, concurrency: CONCURRENCY, timeout: TIMEOUT }))
  if (!Number.isInteger(v) || v < 1) usage(`--${k} ${JSON.stringify(v)}: expected a positive integer`);
for (const c of CLIENTS) if (!Number.isInteger(c) || c < 0) usage(`--clients: ${JSON.stringify(c)} is not a client count`);
if (Math.max(RR_CLIENTS, ...CLIENTS) > 250 * 250) usage('at most 62,500 clients (one source address each in 10.128.0.0/16)');
if (RR_CLIENTS > 16384) usage('--rr-clients: at most 16,384 (one /26 each in 10.200.0.0/16)');
for (const r of REFLECTORS) if (r !== 'routelet' && r !== 'bird') usage(`--reflectors: ${JSON.stringify(r)} is neither routelet nor bird`);
if (values.watch !== 'filter' && values.watch !== 'floor') usage(`--watch: ${JSON.stringify(values.watch)} is neither filter nor floor`);
const WATCH = values.watch;
for (const m of RR_MODES) if (m !== 'up' && m !== 'together') usage(`--rr-modes: ${JSON.stringify(m)} is neither up nor together`);
if (process.getuid?.() !== 0) usage('bench:rib makes network namespaces: run it as root');
for (const cmd of ['ip', 'cc', ...(REFLECTORS.includes('bird') ? ['bird', 'birdc'] : [])])
  if (!installed(cmd)) usage(`${cmd} is not installed${cmd.startsWith('bird') ? ' (or pass --no-bird)' : ''}`);
const SINK = sinkBinary();

type Kind = 'routelet' | 'bird';
const RR_ADDR = '10.0.0.1';
const FEED_ADDR = '10.0.0.2';
const FIRST_CLIENT = '10.128.0.1';
const HTTP_PORT = 9179;
const PROTO: Record<Kind, number> = { routelet: 201, bird: 12 };
const say = (s: string) => process.stderr.write(`${s}\n`);
const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const clientAddress = (i: number): string => {
  const a = (10 << 24) | (128 << 16);
  const n = a + 1 + Math.floor(i / 250) * 256 + (i % 250);
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
};

// ---------------------------------------------------------------------------------------
// topology

const maxClients = Math.max(RR_CLIENTS, ...CLIENTS, 0);
const rns = new Netns('r');
const pns = new Netns('p');
const R = rns.name;
const P = pns.name;
const work = mkdtempSync(join(tmpdir(), 'routelet-bench-rib-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
sh('ip', ['link', 'add', 'rb0', 'netns', R, 'type', 'veth', 'peer', 'name', 'pb0', 'netns', P]);
rns.batch([`addr add ${RR_ADDR}/16 dev rb0`, 'link set rb0 up', `route add 10.128.0.0/16 via ${FEED_ADDR}`]);
pns.batch([`addr add ${FEED_ADDR}/16 dev pb0`, 'link set pb0 up', ...Array.from({ length: maxClients }, (_, i) => `addr add ${clientAddress(i)}/32 dev pb0`)]);
// one neighbour entry each way, never resolved again
const mac = (ns: string, dev: string) => (JSON.parse(sh('ip', ['-j', '-n', ns, 'link', 'show', 'dev', dev])) as { address: string }[])[0]!.address;
sh('ip', ['-n', R, 'neigh', 'replace', FEED_ADDR, 'lladdr', mac(P, 'pb0'), 'dev', 'rb0', 'nud', 'permanent']);
sh('ip', ['-n', P, 'neigh', 'replace', RR_ADDR, 'lladdr', mac(R, 'rb0'), 'dev', 'pb0', 'nud', 'permanent']);

// ---------------------------------------------------------------------------------------
// reflectors

interface Reflector {
  kind: Kind;
  pid: number;
  /** prefixes accepted from the feed */
  locRib(): Promise<number>;
  stop(): Promise<void>;
  log(): string;
  /** routelet: the V8 heap (used, total, new space) and external memory, MiB */
  heap?(): Promise<Record<string, number>>;
}

interface Plan {
  clients: number;
  feed: boolean;
  kernel: boolean;
}

let runNo = 0;

async function startRoutelet(p: Plan): Promise<Reflector> {
  const peers: object[] = [];
  if (p.feed) peers.push({ address: FEED_ADDR, asn: 65001, passive: true });
  for (let i = 0; i < p.clients; i++) peers.push({ address: clientAddress(i), asn: 65000, passive: true });
  const file = join(work, `peers-${++runNo}.json`);
  writeFileSync(file, JSON.stringify(peers));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ROUTELET_')) env[k] = v;
  Object.assign(env, {
    ROUTELET_ASN: '65000',
    ROUTELET_ROUTER_ID: RR_ADDR,
    ROUTELET_RR_CLUSTER_ID: RR_ADDR,
    ROUTELET_PEERS_FILE: file,
    ROUTELET_KERNEL: p.kernel ? 'on' : 'off',
    ROUTELET_HTTP_ADDRESS: `127.0.0.1:${HTTP_PORT}`,
    ROUTELET_LOG_LEVEL: 'warn',
  });
  const lines: string[] = [];
  const c = new Child('routelet', R, [process.execPath, BIN, 'agent'], {
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
  return {
    kind: 'routelet',
    pid: c.pid,
    async locRib() {
      const r = await httpGet(R, HTTP_PORT, '/api/v1/peers');
      const list = JSON.parse(r.body) as { address: string; prefixes: { accepted: number } }[];
      return list.find((x) => x.address === FEED_ADDR)?.prefixes.accepted ?? 0;
    },
    stop: () => c.kill('SIGKILL'),
    log: () => `${lines.join('\n')}\n${c.stderr}`,
    async heap() {
      const t = (await httpGet(R, HTTP_PORT, '/metrics')).body;
      const g = (re: RegExp) => Number(re.exec(t)?.[1] ?? NaN) / 1048576;
      return {
        heapUsed: g(/^routelet_nodejs_heap_size_used_bytes (\S+)/m),
        heapTotal: g(/^routelet_nodejs_heap_size_total_bytes (\S+)/m),
        newSpace: g(/^routelet_nodejs_heap_space_size_total_bytes\{space="new"\} (\S+)/m),
        external: g(/^routelet_nodejs_external_memory_bytes (\S+)/m),
      };
    },
  };
}

function birdConf(p: Plan): string {
  const protos: string[] = [];
  for (let i = 0; i < p.clients; i++) protos.push(`protocol bgp c${i} from rrc { neighbor ${clientAddress(i)} as 65000; }`);
  return `router id ${RR_ADDR};
log stderr { warning, error, fatal, bug };
protocol device { scan time 60; }
# the clients' next hops resolve through this (BIRD resolves iBGP next hops recursively)
protocol static nh { ipv4; route 10.128.0.0/16 via ${FEED_ADDR}; }
${p.kernel ? 'protocol kernel k4 { ipv4 { import none; export where source = RTS_BGP; }; }' : ''}
template bgp rrc {
  local ${RR_ADDR} as 65000;
  rr client;
  rr cluster id ${RR_ADDR};
  passive on;
  ipv4 { import all; export where source = RTS_BGP; };
}
${p.feed ? `protocol bgp feed { local ${RR_ADDR} as 65000; neighbor ${FEED_ADDR} as 65001; passive on; ipv4 { import all; export where source = RTS_BGP; }; }` : ''}
${protos.join('\n')}
`;
}

async function startBird(p: Plan): Promise<Reflector> {
  const dir = join(work, `bird-${++runNo}`);
  sh('mkdir', ['-p', dir]);
  writeFileSync(join(dir, 'bird.conf'), birdConf(p));
  const ctl = join(dir, 'bird.ctl');
  const c = new Child('bird', R, ['bird', '-f', '-c', join(dir, 'bird.conf'), '-s', ctl, '-P', join(dir, 'bird.pid')], { stdout: 'ignore' });
  const birdc = (cmd: string) => sh('ip', ['netns', 'exec', R, 'birdc', '-s', ctl, ...cmd.split(' ')]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (c.exited) throw new Error(`bird exited at startup: ${c.stderr}`);
    try {
      if (birdc('show status').includes('Daemon is up')) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`bird did not answer: ${c.stderr}`);
    await sleep(100);
  }
  return {
    kind: 'bird',
    pid: c.pid,
    async locRib() {
      const m = /Routes:\s+(\d+) imported/.exec(birdc('show protocols all feed'));
      return m ? Number(m[1]) : 0;
    },
    stop: () => c.kill('SIGKILL'),
    log: () => c.stderr,
  };
}

const start = (k: Kind, p: Plan): Promise<Reflector> => (k === 'routelet' ? startRoutelet(p) : startBird(p));

function peersProcess(name: string, args: string[]): Child {
  return new Child(name, P, [process.execPath, PEERS, ...args]);
}

function sinksProcess(n: number, universe: { base: string; shift: number; count: number }, announce: string): Child {
  return new Child('sinks', P, [SINK, ...sinksArgs(n, universe, announce)]);
}

function sinksArgs(n: number, universe: { base: string; shift: number; count: number }, announce: string): string[] {
  return [
    '--server', RR_ADDR, '--first', FIRST_CLIENT, '--n', String(n), '--asn', '65000',
    '--universe-base', universe.base, '--universe-shift', String(universe.shift), '--universe-count', String(universe.count),
    '--announce', announce, '--concurrency', String(CONCURRENCY),
  ];
}

// ---------------------------------------------------------------------------------------
// scenario runs

interface FeedRun {
  /** first byte of the feed (or session up, kernel) → Loc-RIB holds all, s */
  locRibS: number;
  /** → every client holds all, s (feed) or → all in the kernel, s (kernel) */
  doneS: number;
  cpuS: number;
  rssMiB: number;
  peakMiB: number;
  sinkCpuS?: number;
  sinkElu?: number;
  /** the feed's write of all its bytes completed (TCP accepted them), s */
  feedWrittenS: number;
  load: number;
  heapUsedMiB?: number;
  heapTotalMiB?: number;
  newSpaceMiB?: number;
  externalMiB?: number;
}

/** Poll the Loc-RIB count until it is n; resolves with the wall-clock moment. */
async function whenLocRib(r: Reflector, n: number, deadline: number): Promise<number> {
  for (;;) {
    const have = await r.locRib().catch(() => 0);
    if (have >= n) return wallMs();
    if (Date.now() > deadline) throw new Error(`${r.kind}: Loc-RIB holds ${have} of ${n} after the timeout`);
    await sleep(50);
  }
}

async function feedRun(kind: Kind, clients: number, kernel: boolean): Promise<FeedRun> {
  const load = loadavg()[0]!;
  const r = await start(kind, { clients, feed: true, kernel });
  let sinks: Child | undefined;
  let feeder: Child | undefined;
  let floor: Child | undefined;
  let stamper: Child | undefined;
  try {
    if (clients > 0) {
      sinks = sinksProcess(clients, { base: '16.0.0.0', shift: 8, count: N }, 'none');
      await sinks.wait('ready', 120_000, () => r.log().slice(-2000));
    }
    // when the N-th route was in the kernel (wall clock, ms), as the watcher saw it; undefined: not in time
    let reachedAt: (() => Promise<number | undefined>) | undefined;
    if (kernel && WATCH === 'filter') {
      const s = (stamper = nlStamp(ROOT, R, PROTO[kind], N));
      await s.wait('ready', 20_000);
      reachedAt = () => countReachedAt(s, TIMEOUT / 1000);
    } else if (kernel) ({ child: floor, reachedAt } = await floorWatch(findFloor(values.floor), R, PROTO[kind], N, TIMEOUT / 1000));
    // watched from before the session is up
    const kernelAt = reachedAt?.();
    feeder = peersProcess('feed', ['--server', RR_ADDR, '--local', FEED_ADDR, '--asn', '65001', '--prefixes', String(N), '--per-update', String(PER_UPDATE), '--send', kernel ? 'up' : 'go']);
    await feeder.wait('encoded', 120_000);
    const cpu0 = cpuMs(r.pid);
    const up = await feeder.wait('up', 60_000, () => r.log().slice(-2000));
    let t0: number;
    if (kernel) t0 = up.at as number;
    else {
      sinks?.send('window');
      feeder.send('go');
      t0 = (await feeder.wait('sending', 10_000)).at as number;
    }
    const deadline = Date.now() + TIMEOUT;
    const locAt = await whenLocRib(r, N, deadline);
    let doneAt: number;
    let sinkCpuS: number | undefined;
    let sinkElu: number | undefined;
    if (kernelAt) {
      const at = await kernelAt;
      if (at === undefined) throw new Error(`${kind}: the kernel's count of its routes did not reach ${N} in ${TIMEOUT / 1000} s`);
      doneAt = at;
    } else if (sinks) {
      const d = await sinks.wait('done', TIMEOUT, () => {
        sinks!.send('status');
        return JSON.stringify(sinks!.events.filter((e) => e.event === 'status').slice(-1));
      });
      doneAt = d.lastDone as number;
      sinkCpuS = (d.sinkCpuMs as number) / 1000;
      sinkElu = d.sinkElu as number;
    } else doneAt = locAt;
    // the Loc-RIB is polled (every 50 ms, over HTTP or birdc, answered late by a busy
    // reflector); clients or the kernel cannot hold all before it does, so their moment
    // bounds it
    const locRibAt = Math.min(locAt, doneAt);
    const cpu = (cpuMs(r.pid) - cpu0) / 1000;
    const written = await feeder.wait('sent', TIMEOUT);
    const mem = memMiB(r.pid);
    const heap = await heapOf(r);
    return {
      locRibS: (locRibAt - t0) / 1000,
      doneS: (doneAt - t0) / 1000,
      cpuS: cpu,
      rssMiB: mem.rss,
      peakMiB: mem.peak,
      sinkCpuS,
      sinkElu,
      feedWrittenS: ((written.at as number) - t0) / 1000,
      load,
      ...heap,
    };
  } catch (e) {
    say(`--- ${kind} log ---\n${r.log().slice(-4000)}`);
    throw e;
  } finally {
    feeder?.send('quit');
    sinks?.send('quit');
    await Promise.all([r.stop(), feeder?.kill(), sinks?.kill(), floor?.kill(), stamper?.kill()]);
    if (kernel) {
      const t = Date.now();
      // next-hop objects first (their routes go with them): iproute2 6.1's `route flush` fails
      // with EINVAL on routes that reference one
      sh('ip', ['-n', R, 'nexthop', 'flush', 'proto', String(PROTO[kind])]);
      sh('ip', ['-n', R, 'route', 'flush', 'proto', String(PROTO[kind])]);
      say(`  (kernel routes of proto ${PROTO[kind]} flushed in ${((Date.now() - t) / 1000).toFixed(1)} s)`);
    }
  }
}

interface ClientsRun {
  /** announcements → every client holds all (together), or last Established → all (up), s */
  convergeS: number;
  /** first connection attempt → last Established, s */
  establishS: number;
  /** first connection attempt → every client holds all, s */
  totalS: number;
  /** the reflector's CPU time: from the announcements (together) or from its start (up), s */
  cpuS: number;
  /** cpuS over the same wall-clock window */
  busy: number;
  rssMiB: number;
  peakMiB: number;
  sinkCpuS: number;
  sinkElu: number;
  retries: number;
  load: number;
  heapUsedMiB?: number;
  heapTotalMiB?: number;
  newSpaceMiB?: number;
  externalMiB?: number;
}

async function clientsRun(kind: Kind, n: number, mode: 'together' | 'up'): Promise<ClientsRun> {
  const load = loadavg()[0]!;
  const r = await start(kind, { clients: n, feed: false, kernel: false });
  const cpu0 = cpuMs(r.pid);
  const sinks = sinksProcess(n, { base: '10.200.0.0', shift: 6, count: n }, mode === 'together' ? 'command' : 'up');
  try {
    const status = () => {
      sinks.send('status');
      return JSON.stringify(sinks.events.filter((e) => e.event === 'status').slice(-1));
    };
    let t0: number;
    let cpuWindow0 = cpu0;
    if (mode === 'together') {
      await sinks.wait('ready', TIMEOUT, status);
      cpuWindow0 = cpuMs(r.pid);
      sinks.send('announce');
      t0 = (await sinks.wait('announced', 30_000)).at as number;
    } else t0 = NaN;
    const d = await sinks.wait('done', TIMEOUT, status);
    const cpuS = (cpuMs(r.pid) - cpuWindow0) / 1000;
    if (mode === 'up') t0 = d.lastEstablished as number;
    const mem = memMiB(r.pid);
    const heap = await heapOf(r);
    const totalS = ((d.lastDone as number) - (d.firstConnect as number)) / 1000;
    const convergeS = ((d.lastDone as number) - t0) / 1000;
    return {
      convergeS,
      establishS: ((d.lastEstablished as number) - (d.firstConnect as number)) / 1000,
      totalS,
      cpuS,
      busy: cpuS / (mode === 'together' ? convergeS : totalS),
      rssMiB: mem.rss,
      peakMiB: mem.peak,
      sinkCpuS: (d.sinkCpuMs as number) / 1000,
      sinkElu: d.sinkElu as number,
      retries: d.retries as number,
      load,
      ...heap,
    };
  } catch (e) {
    say(`--- ${kind} log ---\n${r.log().slice(-4000)}`);
    throw e;
  } finally {
    sinks.send('quit');
    await Promise.all([r.stop(), sinks.kill()]);
  }
}

/** The reflector's V8 heap (routelet only, from its metrics), as result fields; none for BIRD. */
async function heapOf(r: Pick<Reflector, 'heap'>): Promise<Record<string, number>> {
  const h = await r.heap?.().catch(() => undefined);
  return h ? { heapUsedMiB: h.heapUsed!, heapTotalMiB: h.heapTotal!, newSpaceMiB: h.newSpace!, externalMiB: h.external! } : {};
}

// ---------------------------------------------------------------------------------------
// printing

type Row = [label: string, unit: string, pick: (x: Record<string, number | undefined>) => number | undefined, lowerIsBetter?: boolean];

function fmt(v: number | undefined, unit: string): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  if (unit === '%') return `${(v * 100).toFixed(0)} %`;
  if (unit === 'MiB') return `${v.toFixed(0)} MiB`;
  if (unit === 'n') return `${v}`;
  return `${v.toFixed(2)} s`;
}

function printTable(title: string, results: Record<Kind, Record<string, number | undefined>[]>, rows: Row[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const lines: string[][] = [['', ...REFLECTORS.map((k) => (k === 'bird' ? 'BIRD 2' : 'routelet')), ...(REFLECTORS.length === 2 ? ['routelet/BIRD'] : [])]];
  for (const [label, unit, pick] of rows) {
    const med: Partial<Record<Kind, number>> = {};
    for (const k of REFLECTORS) med[k] = median(results[k].map((x) => pick(x) ?? NaN));
    const ratio = REFLECTORS.length === 2 ? med.routelet! / med.bird! : NaN;
    lines.push([label, ...REFLECTORS.map((k) => fmt(med[k], unit)), ...(REFLECTORS.length === 2 ? [Number.isFinite(ratio) && unit !== '%' && unit !== 'n' ? ratio.toFixed(2) : ''] : [])]);
    out[label] = { ...(med as Record<string, number>), ...(Number.isFinite(ratio) ? { ratio } : {}) };
  }
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  process.stdout.write(`\n${title}\n`);
  for (const l of lines) process.stdout.write(`  ${l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ')}\n`);
  return out;
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = Date.now();
  const load0 = loadavg();
  const json: Record<string, unknown> = {
    bench: 'rib-ns',
    prefixes: N,
    perUpdate: PER_UPDATE,
    machine: { cpus: cpus().length, loadAverageStart: load0 },
    concurrency: CONCURRENCY,
  };
  process.stdout.write(
    `routelet vs BIRD 2 as route reflector, in network namespaces (${cpus().length} CPUs, load ${load0.map((x) => x.toFixed(2)).join(' ')})\n` +
      `input: ${N.toLocaleString('en')} IPv4 prefixes, ${PER_UPDATE} per attribute set, replayed as the same UPDATE octets to both\n`,
  );
  const feedRows: Row[] = [
    ['in the Loc-RIB', 's', (x) => x.locRibS],
    ['at every client', 's', (x) => x.doneS],
    ['reflector CPU', 's', (x) => x.cpuS],
    ['reflector busy (CPU / wall)', '%', (x) => x.cpuS! / x.doneS!],
    ['reflector RSS', 'MiB', (x) => x.rssMiB],
    ['reflector peak RSS', 'MiB', (x) => x.peakMiB],
    ['  routelet V8 heap used', 'MiB', (x) => x.heapUsedMiB],
    ['  routelet V8 heap total', 'MiB', (x) => x.heapTotalMiB],
    ['feed written (TCP)', 's', (x) => x.feedWrittenS],
    ['sinks CPU', 's', (x) => x.sinkCpuS],
    ['sinks busy (CPU / wall)', '%', (x) => x.sinkElu],
  ];
  if (SCENARIOS.has('feed')) {
    for (const c of CLIENTS) {
      const res: Record<Kind, Record<string, number | undefined>[]> = { routelet: [], bird: [] };
      for (let i = 0; i < RUNS; i++) {
        const order = i % 2 === 0 ? REFLECTORS : [...REFLECTORS].reverse();
        for (const k of order) {
          say(`feed: ${N} prefixes → ${k} → ${c} clients, run ${i + 1}/${RUNS}`);
          const x = await feedRun(k, c, false);
          say(`  Loc-RIB ${x.locRibS.toFixed(2)} s, clients ${x.doneS.toFixed(2)} s, CPU ${x.cpuS.toFixed(2)} s, RSS ${x.rssMiB.toFixed(0)} MiB, sinks ${x.sinkCpuS?.toFixed(2)} s CPU / ${((x.sinkElu ?? 0) * 100).toFixed(0)} % busy, load ${x.load.toFixed(2)}`);
          res[k].push(x as unknown as Record<string, number>);
        }
      }
      json[`feed${c}`] = { medians: printTable(`1. ${N.toLocaleString('en')} prefixes from one eBGP peer, reflected to ${c} RR clients (median of ${RUNS})`, res, feedRows), runs: res };
    }
  }
  if (SCENARIOS.has('kernel')) {
    const res: Record<Kind, Record<string, number | undefined>[]> = { routelet: [], bird: [] };
    for (let i = 0; i < RUNS; i++) {
      const order = i % 2 === 0 ? REFLECTORS : [...REFLECTORS].reverse();
      for (const k of order) {
        say(`kernel: ${N} prefixes → ${k} → kernel, run ${i + 1}/${RUNS}`);
        const x = await feedRun(k, 0, true);
        say(`  Loc-RIB ${x.locRibS.toFixed(2)} s, kernel ${x.doneS.toFixed(2)} s, CPU ${x.cpuS.toFixed(2)} s, RSS ${x.rssMiB.toFixed(0)} MiB, load ${x.load.toFixed(2)}`);
        res[k].push(x as unknown as Record<string, number>);
      }
    }
    const med = printTable(`2. ${N.toLocaleString('en')} prefixes from session up into the kernel (median of ${RUNS}; goal: routelet ≤ 0.5 × BIRD)`, res, [
      ['in the Loc-RIB', 's', (x) => x.locRibS],
      ['in the kernel', 's', (x) => x.doneS],
      ['process CPU', 's', (x) => x.cpuS],
      ['RSS', 'MiB', (x) => x.rssMiB],
      ['peak RSS', 'MiB', (x) => x.peakMiB],
    ]);
    json.kernel = { medians: med, runs: res };
  }
  if (SCENARIOS.has('clients')) {
    for (const mode of RR_MODES) {
      const res: Record<Kind, Record<string, number | undefined>[]> = { routelet: [], bird: [] };
      for (let i = 0; i < RR_RUNS; i++) {
        const order = i % 2 === 0 ? REFLECTORS : [...REFLECTORS].reverse();
        for (const k of order) {
          say(`clients (${mode}): ${RR_CLIENTS} RR clients → ${k}, run ${i + 1}/${RR_RUNS}`);
          const x = await clientsRun(k, RR_CLIENTS, mode);
          say(`  converged ${x.convergeS.toFixed(2)} s, established in ${x.establishS.toFixed(2)} s (${x.retries} retries), CPU ${x.cpuS.toFixed(2)} s, RSS ${x.rssMiB.toFixed(0)} MiB, sinks ${x.sinkCpuS.toFixed(2)} s CPU / ${(x.sinkElu * 100).toFixed(0)} % busy, load ${x.load.toFixed(2)}`);
          res[k].push(x as unknown as Record<string, number>);
        }
      }
      const what =
        mode === 'together'
          ? `${RR_CLIENTS} RR clients, one /26 each, announced together once all are up: announcements → every client holds all`
          : `${RR_CLIENTS} RR clients, each announcing its /26 when Established: last Established → every client holds all`;
      json[`clients-${mode}`] = {
        medians: printTable(`3. ${what} (median of ${RR_RUNS}; goals: ≤ 0.5 × BIRD, < 150 MB)`, res, [
          ['converged', 's', (x) => x.convergeS],
          [mode === 'together' ? 'reflector CPU' : 'reflector CPU (whole run)', 's', (x) => x.cpuS],
          ['reflector RSS', 'MiB', (x) => x.rssMiB],
          ['reflector peak RSS', 'MiB', (x) => x.peakMiB],
          ['  routelet V8 heap used', 'MiB', (x) => x.heapUsedMiB],
          ['  routelet V8 heap total', 'MiB', (x) => x.heapTotalMiB],
          ['reflector busy (CPU / wall)', '%', (x) => x.busy],
          ['all Established after', 's', (x) => x.establishS],
          ['first connect → converged', 's', (x) => x.totalS],
          ['connection retries', 'n', (x) => x.retries],
          ['sinks CPU', 's', (x) => x.sinkCpuS],
          ['sinks busy (CPU / wall)', '%', (x) => x.sinkElu],
        ]),
        runs: res,
      };
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  json.machine = { cpus: cpus().length, loadAverageStart: load0, loadAverageEnd: loadavg() };
  json.seconds = seconds;
  process.stdout.write(`\nwhole benchmark: ${(seconds / 60).toFixed(1)} min; load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  process.stdout.write(`${JSON.stringify(json)}\n`);
}

main().then(
  () => {
    rns.delete();
    pns.delete();
    process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`bench:rib failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
