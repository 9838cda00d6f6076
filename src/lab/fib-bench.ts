// `routelet bench fib`: route-install rate of the FIB (Fib → addon route queue → rtnetlink)
// beside `ip -batch` and the raw C reference loader (../shared/bench/netlink-floor), each on
// an empty table in a scratch network namespace with a veth pair, same route shape
// (N × /24 from 32.0.0.0 via 192.0.2.2 dev va, table main, protocol 201); then the
// single-route latency (set in TypeScript → acknowledgement delivered back) on a table
// holding N routes (after a warm-up of single changes, which are timed apart as the cold
// figures), and the agent's memory holding N routes. Medians over `repeat` runs.
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { loadavg, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Fib, openFib } from '../fib/index.js';
import { type Prefix, prefix4 } from '../net/prefix.js';
import { countRecords, RouteBatch, RouteQueue } from '../native/netlink.js';
import { Netns, sh } from './netns.js';
import { packageRoot } from '../sys/root.js';

export interface FibBenchOptions {
  routes: number;
  repeat: number;
  /** single-route changes timed on the full table */
  latencyChanges: number;
  /**
   * single-route changes before those, each timed too (the "cold" figures: the JIT has not yet
   * compiled the one-change path); default 2000, about what V8 needs here to reach steady state
   */
  latencyWarmup?: number;
  /** path of netlink-floor (default: ../shared/bench/netlink-floor beside the checkout) */
  floor?: string;
  /** leave out ip -batch (it is the slowest by far) */
  skipIpBatch?: boolean;
  progress?: (line: string) => void;
}

export interface MethodResult {
  /** median */
  routesPerSecond: number;
  seconds: number[];
  /**
   * median CPU time (user + system, every thread, kernel work included) per route: what the
   * method costs the machine, less sensitive than wall time to other load on a shared host
   */
  cpuMicrosPerRoute?: number;
}

export interface FibBenchResult {
  routes: number;
  repeat: number;
  machine: { cpus: number; loadAverage: number[] };
  methods: Record<string, MethodResult>;
  ratios: Record<string, number>;
  /**
   * p50Us/p99Us: the `changes` timed after `warmup` changes (steady state); coldP50Us/coldP99Us:
   * the first `changes` (at most) of the warm-up, right after the bulk load
   */
  latency: {
    changes: number;
    warmup: number;
    tableRoutes: number;
    p50Us: number;
    p99Us: number;
    coldP50Us: number;
    coldP99Us: number;
    /**
     * minor page faults of this process per timed change (steady, cold): about one while V8
     * regrows its young generation onto fresh pages, about 11 µs each on this project's VM
     * (src/fib/README.md)
     */
    faultsPerChange: number;
    coldFaultsPerChange: number;
    floorP50Us?: number;
    floorP99Us?: number;
  };
  memory: { routes: number; rssMB: number; heapUsedMB: number };
  goals: Record<string, { target: string; value: number; met: boolean }>;
}

const PROTOCOL = 201;
const TABLE = 254;
const GATEWAY = '192.0.2.2';
const START = 0x20000000; // 32.0.0.0, as the reference loader
const NHID = 77;

const root = packageRoot();

/** The reference loader: the path given (which must exist), else ROUTELET_NETLINK_FLOOR, else ../shared beside the checkout. */
export function findFloor(given?: string): string {
  if (given !== undefined) {
    if (existsSync(given)) return given;
    throw new Error(`the reference loader netlink-floor was not found at ${given} (--floor)`);
  }
  const candidates = [process.env.ROUTELET_NETLINK_FLOOR, join(root, '..', 'shared', 'bench', 'netlink-floor'), join(root, '..', '..', 'shared', 'bench', 'netlink-floor')];
  for (const c of candidates) if (c && existsSync(c)) return c;
  throw new Error(`the reference loader netlink-floor was not found (looked in ${candidates.filter(Boolean).join(', ')}); pass --floor PATH`);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

function forceGc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** The scratch namespace: a veth pair va (192.0.2.1/24) – vb, both ends inside it. */
class Scratch {
  #netns: Netns | undefined;
  ifindex = 0;

  get ns(): string {
    return this.#netns!.name;
  }

  create(): void {
    this.#netns = new Netns('fib');
    this.ip('link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
    this.ip('addr', 'add', '192.0.2.1/24', 'dev', 'va');
    this.ip('link', 'set', 'va', 'up');
    this.ip('link', 'set', 'vb', 'up');
    this.ifindex = this.#netns.json<{ ifindex: number }[]>('link', 'show', 'va')[0]!.ifindex;
  }

  ip(...args: string[]): string {
    return this.#netns!.ip(...args);
  }

  destroy(): void {
    this.#netns?.delete();
  }
}

const prefixAt = (i: number) => prefix4((START + i * 256) >>> 0, 24);

/** Routes of our protocol in the namespace, counted by a dump; and an emptying by the raw queue. */
async function countAndClear(ns: string, n: number, clear: boolean): Promise<number> {
  const q = RouteQueue.open({ netns: ns, table: TABLE, protocol: PROTOCOL });
  const count = countRecords(await q.dumpRouteRecords(4));
  if (clear && count > 0) {
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < n; ) {
      const b = new RouteBatch(16384);
      for (let k = 0; k < 16384 && i < n; k++, i++) b.delete(prefixAt(i));
      pending.push(q.submit(b));
    }
    await Promise.all(pending);
  }
  await q.close();
  return count;
}

/**
 * The agent's memory holding n routes, measured in a process of its own (as the agent would
 * be, without this benchmark's own garbage): node dist/lab/fib-bench.js --memory N NETNS IFINDEX.
 * The compiled module itself, also when this code runs from the bundle (dist/routelet.mjs),
 * whose entry is the command line, not this file.
 */
function measureMemory(s: Scratch, n: number): FibBenchResult['memory'] {
  const out = sh(process.execPath, ['--expose-gc', join(root, 'dist', 'lab', 'fib-bench.js'), '--memory', String(n), s.ns, String(s.ifindex)]);
  return JSON.parse(out) as FibBenchResult['memory'];
}

async function memoryChild(n: number, ns: string, ifindex: number): Promise<void> {
  const fib = await openFib({ netns: ns, table: TABLE, protocol: PROTOCOL });
  const nh = fib.nexthopSet(4, [{ gateway: GATEWAY, ifindex }]);
  for (let i = 0; i < n; i++) fib.set(prefixAt(i), nh);
  await fib.settled();
  forceGc();
  await new Promise((r) => setTimeout(r, 1000));
  forceGc();
  const m = process.memoryUsage();
  const installed = fib.stats().installed;
  for (let i = 0; i < n; i++) fib.remove(prefixAt(i));
  await fib.settled();
  await fib.close();
  if (installed !== n) throw new Error(`installed ${installed} of ${n}`);
  process.stdout.write(`${JSON.stringify({ routes: n, rssMB: Math.round(m.rss / 2 ** 20), heapUsedMB: Math.round(m.heapUsed / 2 ** 20) })}\n`);
}

async function runFib(s: Scratch, n: number, nexthopObjects: boolean, latencyChanges: number, latencyWarmup = 0) {
  const fib = await openFib({ netns: s.ns, table: TABLE, protocol: PROTOCOL, nexthopObjects });
  const nh = fib.nexthopSet(4, [{ gateway: GATEWAY, ifindex: s.ifindex }]);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fib.set(prefixAt(i), nh);
  await fib.settled();
  const seconds = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const cpu = (c1.user + c1.system) / 1e6;
  const st = fib.stats();
  if (st.installed !== n) throw new Error(`FIB installed ${st.installed} of ${n} routes: ${fib.problems(3).join('; ')}`);
  let latency: number[] | undefined;
  let cold: number[] | undefined;
  let faults = 0;
  let coldFaults = 0;
  if (latencyChanges > 0) {
    const one = async (p: Prefix, what: string): Promise<number> => {
      const a = performance.now();
      fib.set(p, nh);
      const state = await fib.whenSettled(p);
      const us = (performance.now() - a) * 1000;
      if (state !== 'installed') throw new Error(`${what}: ${state}`);
      return us;
    };
    // Warm-up, timed apart: each a fresh prefix in 96.0.0.0/8, installed and removed again.
    // Minor page faults are counted over the timed changes (the cold ones: the first
    // `latencyChanges` of the warm-up).
    const minorFaults = () => process.resourceUsage().minorPageFault;
    cold = [];
    let f0 = minorFaults();
    for (let j = 0; j < latencyWarmup; j++) {
      if (j === latencyChanges) coldFaults = minorFaults() - f0;
      const p = prefix4((0x60000000 + j * 256) >>> 0, 24);
      cold.push(await one(p, `warm-up route ${j}`));
      fib.remove(p);
    }
    if (latencyWarmup <= latencyChanges) coldFaults = minorFaults() - f0;
    // Fresh prefixes in 64.0.0.0/4, scattered as the reference loader's -L.
    const lat = (j: number) => prefix4((0x40000000 + ((j * 7919) & 0xfffff) * 256) >>> 0, 24);
    latency = [];
    f0 = minorFaults();
    for (let j = 0; j < latencyChanges; j++) latency.push(await one(lat(j), `latency route ${j}`));
    faults = minorFaults() - f0;
    for (let j = 0; j < latencyChanges; j++) fib.remove(lat(j));
    await fib.settled();
    cold = cold.slice(0, latencyChanges);
  }
  const d0 = performance.now();
  for (let i = 0; i < n; i++) fib.remove(prefixAt(i));
  await fib.settled();
  const deleteSeconds = (performance.now() - d0) / 1000;
  await fib.close();
  // per timed change (NaN without latency changes)
  const faultsPerChange = [faults / latencyChanges, coldFaults / Math.min(latencyChanges, latencyWarmup)] as const;
  return { seconds, cpu, deleteSeconds, latency, cold, faultsPerChange };
}

function runIpBatch(s: Scratch, n: number): { seconds: number; cpu: number } {
  const dir = mkdtempSync(join(tmpdir(), 'routelet-bench-'));
  const file = join(dir, 'routes');
  try {
    const fd = openSync(file, 'w');
    let chunk = '';
    for (let i = 0; i < n; i++) {
      const a = (START + i * 256) >>> 0;
      chunk += `route replace ${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.0/24 via ${GATEWAY} dev va proto ${PROTOCOL}\n`;
      if (chunk.length > 1 << 20) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
    writeSync(fd, chunk);
    closeSync(fd);
    const c0 = childCpu();
    const t0 = performance.now();
    sh('ip', ['-n', s.ns, '-batch', file]);
    return { seconds: (performance.now() - t0) / 1000, cpu: childCpu() - c0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU seconds (user + system) of the children waited for so far (/proc/self/stat cutime, cstime). */
function childCpu(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function runFloor(floor: string, s: Scratch, n: number, nexthop: boolean, latency: number): { seconds: number; cpu: number; p50?: number; p99?: number } {
  const args = ['netns', 'exec', s.ns, floor, '-n', String(n), '-p', String(PROTOCOL), '-t', String(TABLE)];
  args.push(...(nexthop ? ['-H', String(NHID)] : ['-d', 'va', '-g', GATEWAY]));
  if (latency) args.push('-L', String(latency));
  const c0 = childCpu();
  const out = sh('ip', args);
  const cpu = childCpu() - c0;
  const seconds = Number(/method=nlbatch\S* n=\d+ s=([\d.]+)/.exec(out)?.[1]);
  const errors = Number(/errors=(\d+)/.exec(out)?.[1] ?? 0);
  if (!Number.isFinite(seconds) || errors) throw new Error(`netlink-floor: unexpected output: ${out.trim()}`);
  const lat = /single-add-ack .*median_us=([\d.]+) .*p99_us=([\d.]+)/.exec(out);
  return lat ? { seconds, cpu, p50: Number(lat[1]), p99: Number(lat[2]) } : { seconds, cpu };
}

export async function runFibBench(o: FibBenchOptions): Promise<FibBenchResult> {
  const floor = findFloor(o.floor);
  const say = o.progress ?? (() => {});
  const n = o.routes;
  const s = new Scratch();
  const times: Record<string, number[]> = { addon: [], addonNexthop: [], addonDelete: [], floor: [], floorNexthop: [] };
  const cpuTimes: Record<string, number[]> = { addon: [], addonNexthop: [], floor: [], floorNexthop: [] };
  if (!o.skipIpBatch) {
    times.ipBatch = [];
    cpuTimes.ipBatch = [];
  }
  let memory: FibBenchResult['memory'] = { routes: n, rssMB: 0, heapUsedMB: 0 };
  let latency: number[] = [];
  let cold: number[] = [];
  let faultsPerChange: readonly [number, number] = [NaN, NaN];
  const warmup = o.latencyWarmup ?? 2000;
  let floorLatency: { p50?: number; p99?: number } = {};
  try {
    s.create();
    s.ip('nexthop', 'add', 'id', String(NHID), 'via', GATEWAY, 'dev', 'va', 'proto', 'static');
    const empty = async (what: string) => {
      const left = await countAndClear(s.ns, n, true);
      if (left !== n) throw new Error(`${what}: ${left} routes in the table, expected ${n}`);
      if ((await countAndClear(s.ns, n, false)) !== 0) throw new Error(`${what}: table not empty after clearing`);
    };
    // Warm-up, untimed: the JIT compiles the FIB's paths once, as in a long-running agent.
    await runFib(s, Math.min(n, 20_000), false, 0);
    await runFib(s, Math.min(n, 20_000), true, 0);
    for (let rep = 0; rep < o.repeat; rep++) {
      const first = rep === 0;
      if (first) {
        memory = measureMemory(s, n);
        say(`agent memory holding ${n} routes: RSS ${memory.rssMB} MB`);
      }
      const a = await runFib(s, n, false, first ? o.latencyChanges : 0, warmup);
      times.addon!.push(a.seconds);
      cpuTimes.addon!.push(a.cpu);
      times.addonDelete!.push(a.deleteSeconds);
      if (a.latency) latency = a.latency;
      if (a.cold) cold = a.cold;
      if (a.latency) faultsPerChange = a.faultsPerChange;
      say(`run ${rep + 1}/${o.repeat}: addon ${(n / a.seconds).toFixed(0)} routes/s`);
      if (times.ipBatch) {
        const t = runIpBatch(s, n);
        times.ipBatch.push(t.seconds);
        cpuTimes.ipBatch!.push(t.cpu);
        await empty('ip -batch');
        say(`run ${rep + 1}/${o.repeat}: ip -batch ${(n / t.seconds).toFixed(0)} routes/s`);
      }
      const f = runFloor(floor, s, n, false, first ? o.latencyChanges : 0);
      times.floor!.push(f.seconds);
      cpuTimes.floor!.push(f.cpu);
      if (first) floorLatency = f;
      if (first && o.latencyChanges) s.ip('route', 'flush', 'proto', String(PROTOCOL), 'root', '64.0.0.0/2');
      await empty('netlink-floor');
      say(`run ${rep + 1}/${o.repeat}: netlink-floor ${(n / f.seconds).toFixed(0)} routes/s`);
      const b = await runFib(s, n, true, 0);
      times.addonNexthop!.push(b.seconds);
      cpuTimes.addonNexthop!.push(b.cpu);
      say(`run ${rep + 1}/${o.repeat}: addon with next-hop objects ${(n / b.seconds).toFixed(0)} routes/s`);
      const g = runFloor(floor, s, n, true, 0);
      times.floorNexthop!.push(g.seconds);
      cpuTimes.floorNexthop!.push(g.cpu);
      await empty('netlink-floor -H');
      say(`run ${rep + 1}/${o.repeat}: netlink-floor -H ${(n / g.seconds).toFixed(0)} routes/s`);
    }
  } finally {
    s.destroy(); // also at exit (netns.ts), should this process end first
  }
  const methods: Record<string, MethodResult> = {};
  for (const [k, v] of Object.entries(times)) {
    methods[k] = { routesPerSecond: Math.round(n / median(v)), seconds: v.map((x) => Number(x.toFixed(4))) };
    const c = cpuTimes[k];
    if (c?.length) methods[k]!.cpuMicrosPerRoute = Number(((median(c) / n) * 1e6).toFixed(2));
  }
  const rate = (k: string) => methods[k]?.routesPerSecond ?? NaN;
  const ratio = (a: string, b: string) => Number((rate(a) / rate(b)).toFixed(3));
  const ratios: Record<string, number> = {
    addonToFloor: ratio('addon', 'floor'),
    addonNexthopToFloor: ratio('addonNexthop', 'floor'),
    addonNexthopToFloorNexthop: ratio('addonNexthop', 'floorNexthop'),
  };
  if (methods.ipBatch) ratios.addonToIpBatch = ratio('addon', 'ipBatch');
  const pct = (xs: number[], q: number) => (xs.length ? Number(percentile([...xs].sort((x, y) => x - y), q).toFixed(1)) : NaN);
  const lat: FibBenchResult['latency'] = {
    changes: latency.length,
    warmup: latency.length ? warmup : 0,
    tableRoutes: n,
    p50Us: pct(latency, 50),
    p99Us: pct(latency, 99),
    coldP50Us: pct(cold, 50),
    coldP99Us: pct(cold, 99),
    faultsPerChange: Number(faultsPerChange[0].toFixed(2)),
    coldFaultsPerChange: Number(faultsPerChange[1].toFixed(2)),
  };
  if (floorLatency.p50 !== undefined) lat.floorP50Us = floorLatency.p50;
  if (floorLatency.p99 !== undefined) lat.floorP99Us = floorLatency.p99;
  const goal = (target: string, value: number, met: boolean) => ({ target, value, met });
  const goals: FibBenchResult['goals'] = {
    addonToFloor: goal('>= 0.9', ratios.addonToFloor!, ratios.addonToFloor! >= 0.9),
    addonNexthopToFloor: goal('> 1', ratios.addonNexthopToFloor!, ratios.addonNexthopToFloor! > 1),
    latencyP99Us: goal('< 200 (idle machine)', lat.p99Us, lat.p99Us < 200),
    memoryMB: goal(`< 300 at 1,000,000 routes`, memory.rssMB, memory.rssMB < 300),
  };
  // issue 15: a single change within 2x the raw loader's p50 and 4x its p99 (steady state)
  if (lat.floorP50Us !== undefined && lat.floorP99Us !== undefined) {
    const r50 = Number((lat.p50Us / lat.floorP50Us).toFixed(2));
    const r99 = Number((lat.p99Us / lat.floorP99Us).toFixed(2));
    goals.latencyP50ToFloor = goal('<= 2', r50, r50 <= 2);
    goals.latencyP99ToFloor = goal('<= 4', r99, r99 <= 4);
  }
  if (ratios.addonToIpBatch !== undefined) goals.addonToIpBatch = goal('>= 3', ratios.addonToIpBatch, ratios.addonToIpBatch >= 3);
  return {
    routes: n,
    repeat: o.repeat,
    machine: { cpus: cpus().length, loadAverage: loadavg().map((x) => Number(x.toFixed(2))) },
    methods,
    ratios,
    latency: lat,
    memory,
    goals,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--memory') {
  await memoryChild(Number(process.argv[3]), process.argv[4]!, Number(process.argv[5]));
}
