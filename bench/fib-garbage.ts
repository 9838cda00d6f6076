// The JavaScript garbage of a lone route change through the FIB: set → installed in the
// kernel, one change at a time on a table of N routes, as `routelet bench fib` times them.
// V8's sampling heap profiler (node:inspector, objects collected by scavenges included)
// counts the bytes allocated; printed per change, with the allocation sites that make most.
//
// Why it matters: `routelet bench fib`'s single-change latency doubles while V8 regrows its
// young generation, one fresh page (a minor fault, about 11 µs on this VM) per 4 KiB
// allocated (src/fib/README.md). Fewer bytes a change, fewer changes that fault.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { openFib } from '#dist/fib/index.js';
import { prefix4 } from '#dist/net/prefix.js';
import { benchArgs, Netns } from './ns.js';

const USAGE = `usage: npm run bench:fib:garbage -- [options]   (root)
  --routes N    routes in the table first (100000)
  --changes C   lone changes sampled, after as many untimed (2000)
  --runs R      runs, median printed (3)
  --top T       allocation sites listed, from the median run (12)`;

const { values, int } = benchArgs(USAGE, () =>
  parseArgs({
    options: {
      routes: { type: 'string', default: '100000' },
      changes: { type: 'string', default: '2000' },
      runs: { type: 'string', default: '3' },
      top: { type: 'string', default: '12' },
      help: { type: 'boolean', default: false },
    },
  }),
);
const ROUTES = int('routes', values.routes, 0);
const CHANGES = int('changes', values.changes, 1);
const RUNS = int('runs', values.runs, 1);
const TOP = int('top', values.top, 0);
if (process.getuid?.() !== 0) {
  process.stderr.write('bench:fib:garbage needs root (a network namespace)\n');
  process.exit(1);
}

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

interface Run {
  bytesPerChange: number;
  sites: [string, number][];
}

async function run(ns: Netns, ifindex: number, session: Session, k: number): Promise<Run> {
  const fib = await openFib({ netns: ns.name, table: 100, protocol: 200 });
  const nh = fib.nexthopSet(4, [{ gateway: '192.0.2.2', ifindex }]);
  for (let i = 0; i < ROUTES; i++) fib.set(prefix4((0x0a000000 + i * 256) >>> 0, 24), nh);
  await fib.settled();
  // fresh prefixes in 64.0.0.0/4, scattered as in routelet bench fib
  const at = (j: number) => prefix4((0x40000000 + ((j * 7919 + k * 104729) & 0xfffff) * 256) >>> 0, 24);
  const change = async (j: number): Promise<void> => {
    const p = at(j);
    fib.set(p, nh);
    const state = await fib.whenSettled(p);
    if (state !== 'installed') throw new Error(`change ${j}: ${state}`);
  };
  for (let j = 0; j < CHANGES; j++) await change(j);
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 32,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  for (let j = CHANGES; j < 2 * CHANGES; j++) await change(j);
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
  await fib.close({ removeRoutes: true });
  // bytes by the allocating function and its caller
  const sites = new Map<string, number>();
  let total = 0;
  const frame = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(dist|node_modules)\//, '')}:${n.callFrame.lineNumber + 1}`;
  const walk = (n: ProfileNode, caller: string) => {
    const here = frame(n);
    if (n.selfSize) {
      const key = `${here} < ${caller}`;
      sites.set(key, (sites.get(key) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c, here);
  };
  walk(profile.head, '');
  return { bytesPerChange: total / CHANGES, sites: [...sites].map(([s, b]): [string, number] => [s, b / CHANGES]).sort((a, b) => b[1] - a[1]) };
}

const ns = new Netns('garbage');
ns.ip('link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb');
ns.ip('addr', 'add', '192.0.2.1/24', 'dev', 'va');
ns.ip('link', 'set', 'va', 'up');
ns.ip('link', 'set', 'vb', 'up');
const ifindex = ns.json<{ ifindex: number }[]>('link', 'show', 'va')[0]!.ifindex;
const session = new Session();
session.connect();
const runs: Run[] = [];
for (let k = 0; k < RUNS; k++) {
  const r = await run(ns, ifindex, session, k);
  runs.push(r);
  console.log(`run ${k + 1}/${RUNS}: ${Math.round(r.bytesPerChange)} bytes a change`);
}
session.disconnect();
ns.delete();
const sorted = [...runs].sort((a, b) => a.bytesPerChange - b.bytesPerChange);
const median = sorted[sorted.length >> 1]!;
const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
})();
console.log(`lone change on a table of ${ROUTES}, ${CHANGES} sampled after ${CHANGES}: median ${Math.round(median.bytesPerChange)} bytes a change (runs ${runs.map((r) => Math.round(r.bytesPerChange)).join(', ')}), ${cpus().length} CPUs, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const [site, b] of median.sites.slice(0, TOP)) console.log(`${String(Math.round(b)).padStart(6)}  ${site}`);
console.log(JSON.stringify({ routes: ROUTES, changes: CHANGES, bytesPerChange: runs.map((r) => Math.round(r.bytesPerChange)), median: Math.round(median.bytesPerChange), commit }));
