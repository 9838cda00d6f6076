// bench:rtnl — the kernel's own bound on a lone route's latency while a full table loads
// (issue 15), with no routing daemon at all: the raw C loader (netlink-floor -n N) puts N
// routes in while bench/rtnl-probe.c adds a /32 every --interval ms on a netlink socket of its
// own, timing each sendmsg → acknowledgement. The kernel takes its RTNL lock per route message,
// so the probe waits for one message, except when a message holds the lock long (the FIB
// trie's resizes): that is what any second route writer sees, routelet's urgent writer and
// BIRD alike. Then again with --hogs CPU-bound processes beside them, as a 2-CPU node is
// while an agent decodes the same table. Root; one JSON line last.
import { cpus, loadavg } from 'node:os';
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { findFloor } from '#dist/lab/fib-bench.js';
import { benchArgs, Child, cBinary, Netns } from './ns.js';

const USAGE = `usage: npm run bench:rtnl -- [options]   (root)
  --prefixes N   routes the loader puts in (1000000)
  --interval MS  between the probe's /32s (15)
  --runs R       runs per setting, medians printed (3)
  --hogs H       CPU-bound processes in the second setting (3; 0: one setting only)
  --floor PATH   netlink-floor (default ../shared/bench/netlink-floor)`;

const { values, int } = benchArgs(USAGE, () =>
  parseArgs({
    options: {
      prefixes: { type: 'string', default: '1000000' },
      interval: { type: 'string', default: '15' },
      runs: { type: 'string', default: '3' },
      hogs: { type: 'string', default: '3' },
      floor: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  }),
);
const N = int('prefixes', values.prefixes, 1);
const INTERVAL = int('interval', values.interval, 1);
const RUNS = int('runs', values.runs, 1);
const HOGS = int('hogs', values.hogs, 0);
if (process.getuid?.() !== 0) {
  process.stderr.write('bench:rtnl needs root (a network namespace, rtnetlink)\n');
  process.exit(1);
}
const FLOOR = findFloor(values.floor);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const PROBE = cBinary(ROOT, 'rtnl-probe');
const LOADER_PROTO = 202;
const PROBE_PROTO = 205;
const say = (s: string) => process.stderr.write(`${s}\n`);
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

const ns = new Netns('rtnl');
ns.ip('link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
ns.batch(['addr add 192.0.2.1/24 dev va', 'link set va up', 'link set vb up']);

interface Probe {
  n: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

async function run(hogs: number): Promise<{ probe: Probe; loadS: number; load: string }> {
  const at = load();
  const hogProcs = Array.from({ length: hogs }, () => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
  try {
    let result: Probe | undefined;
    const probe = new Child('rtnl-probe', ns.name, [PROBE, '1000000', String(INTERVAL), 'va', '192.0.2.2', String(PROBE_PROTO)], {
      stdout: 'ignore',
      onLine: (l) => {
        if (l.startsWith('{')) result = JSON.parse(l) as Probe;
      },
    });
    const probeExit = new Promise<void>((r) => probe.proc.once('exit', () => r()));
    let out = '';
    const loader = new Child('netlink-floor', ns.name, [FLOOR, '-n', String(N), '-p', String(LOADER_PROTO), '-t', '254', '-d', 'va', '-g', '192.0.2.2'], {
      stdout: 'ignore',
      onLine: (l) => (out += `${l}\n`),
    });
    await new Promise<void>((r) => loader.proc.once('exit', () => r()));
    probe.proc.kill('SIGUSR1');
    await probeExit;
    const loadS = Number(/ s=([\d.]+)/.exec(out)?.[1]);
    if (!result || !Number.isFinite(loadS) || /errors=[1-9]/.test(out)) throw new Error(`unexpected output: loader ${out.trim()}; probe ${JSON.stringify(result)} ${probe.stderr}`);
    return { probe: result, loadS, load: at };
  } finally {
    for (const h of hogProcs) h.kill('SIGKILL');
    ns.ip('route', 'flush', 'proto', String(LOADER_PROTO));
    ns.ip('route', 'flush', 'proto', String(PROBE_PROTO));
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us.toFixed(0)} µs`);

async function main(): Promise<void> {
  say(`bench:rtnl: netlink-floor puts ${N} routes in; a /32 every ${INTERVAL} ms on a socket of its own; ${RUNS} run(s) per setting; ${cpus().length} CPUs; load ${load()}`);
  const summary: Record<string, unknown> = {};
  for (const hogs of HOGS > 0 ? [0, HOGS] : [0]) {
    const rs: Awaited<ReturnType<typeof run>>[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await run(hogs);
      rs.push(r);
      say(`hogs ${hogs} run ${i + 1}/${RUNS}: load ${r.loadS.toFixed(2)} s; probe n ${r.probe.n} p50 ${ms(r.probe.p50)} p90 ${ms(r.probe.p90)} p99 ${ms(r.probe.p99)} max ${ms(r.probe.max)}  [loadavg ${r.load}]`);
    }
    const m = (k: keyof Probe) => median(rs.map((r) => r.probe[k]));
    const s = { loadS: Number(median(rs.map((r) => r.loadS)).toFixed(3)), p50Us: m('p50'), p90Us: m('p90'), p99Us: m('p99'), maxUs: m('max'), loadavg: rs.map((r) => r.load) };
    summary[`hogs${hogs}`] = s;
    say(`hogs ${hogs}, medians: load ${s.loadS} s; a lone /32 p50 ${ms(s.p50Us)} p90 ${ms(s.p90Us)} p99 ${ms(s.p99Us)} max ${ms(s.maxUs)}`);
  }
  process.stdout.write(`${JSON.stringify({ prefixes: N, intervalMs: INTERVAL, runs: RUNS, machine: { cpus: cpus().length }, ...summary })}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    say(`bench:rtnl: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
