// `routelet bench fib [--routes N] [--json]`: the route-install benchmark (src/lab/fib-bench.ts).
import { parse } from './args.js';
import { UsageError } from './errors.js';
import { envSchema } from '../config/schema.js';
import { startWorkerPolicy } from '../sys/workers.js';

const USAGE = 'routelet bench fib [--routes N] [--repeat R] [--latency K] [--latency-warmup K] [--floor PATH] [--no-ip-batch] [--json]';

function count(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`routelet bench fib: invalid ${flag} ${JSON.stringify(text)}: expected an integer ${min}–${max}`);
  return n;
}

export async function benchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      routes: { type: 'string' },
      repeat: { type: 'string' },
      latency: { type: 'string' },
      'latency-warmup': { type: 'string' },
      floor: { type: 'string' },
      'no-ip-batch': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    'bench',
  );
  if (positionals[0] !== 'fib' || positionals.length !== 1) throw new UsageError(`usage: ${USAGE}`);
  if (process.getuid?.() !== 0) {
    process.stderr.write('routelet bench fib: needs root (network namespaces and rtnetlink)\n');
    return 1;
  }
  const routes = count('--routes', values.routes, 100_000, 1, 4_000_000);
  const opts = {
    routes,
    repeat: count('--repeat', values.repeat, routes > 200_000 ? 3 : 5, 1, 50),
    latencyChanges: count('--latency', values.latency, 1000, 0, 100_000),
    latencyWarmup: count('--latency-warmup', values['latency-warmup'], 2000, 0, 100_000),
    skipIpBatch: values['no-ip-batch'] === true,
    progress: (line: string) => process.stderr.write(`${line}\n`),
    ...(values.floor !== undefined ? { floor: values.floor } : {}),
  };
  // the agent's runtime, as the agent sets it (src/agent/run.ts): ROUTELET_V8_WORKERS
  const raw = process.env.ROUTELET_V8_WORKERS;
  const workers = envSchema.shape.ROUTELET_V8_WORKERS.safeParse(raw);
  if (!workers.success) throw new UsageError(`ROUTELET_V8_WORKERS: expected "batch" or "normal", got ${JSON.stringify(raw)}`);
  if ((workers.data ?? 'batch') === 'batch') {
    const w = startWorkerPolicy({ onError: (message) => process.stderr.write(`routelet bench fib: ${message}\n`) });
    if (!w.ok) process.stderr.write(`routelet bench fib: V8 worker threads not all set to SCHED_BATCH: ${w.message}\n`);
  }
  const { runFibBench } = await import('../lab/fib-bench.js');
  const r = await runFibBench(opts);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return 0;
  }
  const lines = [`routes: ${r.routes}, median of ${r.repeat} runs, ${r.machine.cpus} CPUs, load ${r.machine.loadAverage.join(' ')}`];
  for (const [k, m] of Object.entries(r.methods)) {
    const cpu = m.cpuMicrosPerRoute === undefined ? '' : `   cpu ${m.cpuMicrosPerRoute} µs/route`;
    lines.push(`  ${k.padEnd(14)} ${String(m.routesPerSecond).padStart(9)} routes/s${cpu}   runs (s): ${m.seconds.join(' ')}`);
  }
  lines.push(`ratios: ${Object.entries(r.ratios).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const l = r.latency;
  lines.push(
    `latency on a table of ${l.tableRoutes}, ${l.changes} changes after ${l.warmup}: p50 ${l.p50Us} µs, p99 ${l.p99Us} µs (netlink-floor: p50 ${l.floorP50Us ?? '-'} µs, p99 ${l.floorP99Us ?? '-'} µs)`,
  );
  lines.push(`  cold (the first ${Math.min(l.changes, l.warmup)} of the warm-up, right after the bulk load): p50 ${l.coldP50Us} µs, p99 ${l.coldP99Us} µs`);
  lines.push(`  minor page faults a change: ${l.faultsPerChange} steady, ${l.coldFaultsPerChange} cold (about 1: V8 regrowing its young generation, src/fib/README.md)`);
  lines.push(`memory holding ${r.memory.routes} routes: RSS ${r.memory.rssMB} MB, heap ${r.memory.heapUsedMB} MB`);
  for (const [k, g] of Object.entries(r.goals)) lines.push(`goal ${k} ${g.target}: ${g.value} ${g.met ? 'met' : 'NOT met'}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
