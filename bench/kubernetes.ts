// The Kubernetes mode, measured: N routelet nodes in network namespaces on one LAN, each with its
// Node object and Lease in the stand-in API server (HTTPS, KUBECONFIG), the harness of
// test/kubernetes/cluster.ts. Measures, in one run:
//  - convergence: from the last agent answering /livez until every kernel holds every other
//    node's pod CIDR (the full mesh);
//  - Node deleted → its pod CIDR gone from every other kernel (goal < 1 s);
//  - a node gone silent (agent stopped, Lease no longer renewed) → its pod CIDR gone from every
//    other kernel, after its Lease expiry (goal: the grace period plus < 1 s; grace 0 here);
//  - restart with the API server down: spawn → restart recovery done (goal < 0.5 s), for the
//    node with the lowest address (it connects to every peer), one in the middle and the
//    highest (the passive side of every pair), `restarts` rounds; each split into the process
//    start (spawn → Node's time origin, `ip netns exec` included), module loading (→ "routelet
//    agent starting") and the agent's own start-up and recovery;
//  - RSS of each agent (VmRSS from /proc) once converged.
// Needs root. The last line of output is JSON.
//
//   npm run bench:kubernetes -- [--nodes 8] [--restarts 1] [--lease 16]
//
// The stand-in API server and the cluster harness (kube-apiserver.ts, cluster.ts, agent.ts) are
// shared with the tests (test/kubernetes/cluster.test.ts).
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Cluster, type ClusterNode } from './cluster.js';

export interface KubeBenchResult {
  nodes: number;
  convergeMs: number;
  deletionMs: number;
  silentAfterLeaseExpiryMs: number;
  restartApiDown: { node: string; recoveryFromSpawnMs: number; recoveryMs: number; processStartMs: number; moduleLoadMs: number; agentMs: number }[];
  rssMiB: { min: number; median: number; max: number };
  loadavg: number[];
  cpus: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMiB(pid: number): number | undefined {
  // the agent runs under `ip netns exec`: its node process is the child
  const ids = [pid, ...readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)];
  let best: number | undefined;
  for (const id of ids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${id}/status`, 'utf8'));
      if (m) best = Math.max(best ?? 0, Number(m[1]) / 1024);
    } catch {
      // gone
    }
  }
  return best;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runKubernetesBench(opts: { nodes: number; leaseSeconds?: number; restarts?: number; log?: (s: string) => void }): Promise<KubeBenchResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const leaseSeconds = opts.leaseSeconds ?? 16;
  const c = await Cluster.create({ nodes: opts.nodes, leaseSeconds, env: { ROUTELET_HOLD_TIME: '9' } });
  try {
    await c.startAll();
    const convergeMs = await c.waitConverged(c.nodes, c.nodes, 180_000);
    log(`${opts.nodes} nodes: converged ${convergeMs} ms after the last agent answered`);
    const rss = c.nodes.map((n) => rssMiB(n.agent!.pid)).filter((x): x is number => x !== undefined);
    log(`RSS per agent: ${rss.map((x) => x.toFixed(0)).join(', ')} MiB`);

    const running = () => c.nodes.filter((n) => n.agent?.running);
    // Node deleted
    const gone = c.nodes[1]!;
    const others = running().filter((n) => n !== gone);
    c.renewing.delete(gone.name);
    c.api.deleteNode(gone.name);
    const deletionMs = await c.until(() => c.present(others, [gone.podCIDR]), 30_000, 10);
    log(`Node deleted → pod CIDR gone from ${others.length} kernels: ${deletionMs} ms`);
    await gone.agent!.stop('SIGKILL');

    // silent node, its Lease expiring
    const silent = c.nodes[c.nodes.length - 2]!;
    const rest = running().filter((n) => n !== silent);
    c.renewing.delete(silent.name);
    const renewed = Date.parse(c.api.lease(silent.name)!.spec.renewTime);
    silent.agent!.signal('SIGSTOP');
    const expires = renewed + leaseSeconds * 1000;
    await c.until(() => c.present(rest, [silent.podCIDR]), leaseSeconds * 1000 + 30_000, 10);
    const silentAfterLeaseExpiryMs = Date.now() - expires;
    log(`silent node: pod CIDR gone ${silentAfterLeaseExpiryMs} ms after its Lease expired (grace 0)`);
    silent.agent!.signal('SIGCONT');
    await silent.agent!.stop('SIGKILL');
    c.api.deleteNode(silent.name);

    // restart with the API server down
    const restartApiDown: KubeBenchResult['restartApiDown'] = [];
    const alive = running();
    await c.waitConverged(alive, alive, 60_000);
    const picks: ClusterNode[] = [alive[0]!, alive[Math.floor(alive.length / 2)]!, alive[alive.length - 1]!];
    const rounds = opts.restarts ?? 1;
    for (let round = 0; round < rounds; round++) {
      for (const n of picks) {
        await n.agent!.stop();
        await c.api.stop();
        const spawned = Date.now();
        const a = await c.start(n);
        await c.until(async () => (a.log().includes('restart recovery done') ? [] : ['no recovery yet']), 60_000, 20);
        const lines = a.lines();
        const done = lines.find((l) => String(l.msg).startsWith('restart recovery done'))!;
        const starting = lines.find((l) => l.msg === 'routelet agent starting')!;
        const startingAt = Date.parse(String(starting.time));
        const processStartMs = startingAt - Number(starting.processMs) - spawned;
        const recoveryFromSpawnMs = Date.parse(String(done.time)) - spawned;
        const r = { node: n.name, recoveryFromSpawnMs, recoveryMs: Number(done.ms), processStartMs, moduleLoadMs: Number(starting.processMs), agentMs: Date.parse(String(done.time)) - startingAt };
        restartApiDown.push(r);
        log(
          `restart of ${n.name} with the API down: recovery done ${r.recoveryFromSpawnMs} ms after spawn = process start ${r.processStartMs} + modules ${r.moduleLoadMs} + agent ${r.agentMs} ms (${r.recoveryMs} ms after the agent started recovery)`,
        );
        await c.api.start();
        await c.waitConverged(alive, alive, 60_000);
        await sleep(500);
      }
    }
    return {
      nodes: opts.nodes,
      convergeMs,
      deletionMs,
      silentAfterLeaseExpiryMs,
      restartApiDown,
      rssMiB: { min: Math.min(...rss), median: median(rss), max: Math.max(...rss) },
      loadavg: loadavg(),
      cpus: cpus().length,
    };
  } finally {
    await c.destroy();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '8' },
      restarts: { type: 'string', default: '1' },
      lease: { type: 'string', default: '16' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write('npm run bench:kubernetes -- [--nodes N (8)] [--restarts ROUNDS (1)] [--lease SECONDS (16)]   (root)\n');
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  const loadBefore = loadavg();
  const r = await runKubernetesBench({ nodes: Number(values.nodes), restarts: Number(values.restarts), leaseSeconds: Number(values.lease) });
  const restarts = r.restartApiDown.map((x) => x.recoveryFromSpawnMs);
  process.stdout.write(
    [
      `${r.nodes} nodes: converged ${r.convergeMs} ms; Node deleted → routes gone ${r.deletionMs} ms (goal < 1000); silent node → routes gone ${r.silentAfterLeaseExpiryMs} ms after its Lease expired (goal < 1000)`,
      `restart with the API down, spawn → recovery done: ${restarts.join(', ')} ms (goal < 500; median ${median(restarts)})`,
      `RSS per agent: ${r.rssMiB.min.toFixed(0)}–${r.rssMiB.max.toFixed(0)} MiB (median ${r.rssMiB.median.toFixed(0)})`,
      `machine: ${r.cpus} CPUs, load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${r.loadavg.map((x) => x.toFixed(2)).join(' ')}`,
      JSON.stringify(r),
    ].join('\n') + '\n',
  );
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href)
  main().catch((e: unknown) => {
    process.stderr.write(`bench:kubernetes failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
