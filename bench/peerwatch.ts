// Benchmark of PeerWatch: (1) latency from the kernel event to the JavaScript callback, for
// refused loopback connections, with Node's own 'error' callback for the same connection
// measured beside it from the same kernel timestamp; (2) kernel memory per watched peer,
// from the maps' memlock with 0 and N peers. Needs root (BPF).
//
//   npm run bench:peerwatch -- [--runs 300] [--peers 4096] [--json]
import { connect, createServer } from 'node:net';
import { PeerWatch } from '#dist/health/service.js';
import type { PeerHealthEvent } from '#dist/health/events.js';

interface Stats {
  n: number;
  medianUs: number;
  p99Us: number;
  maxUs: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { n: s.length, medianUs: round(at(0.5)), p99Us: round(at(0.99)), maxUs: round(s[s.length - 1]!) };
}

const round = (x: number) => Math.round(x * 10) / 10;

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function latency(runs: number): Promise<{ bpf: Stats; node: Stats; batches: number }> {
  const w = PeerWatch.start({ bpf: 'on', cgroupPath: null });
  try {
    const port = await closedPort();
    w.setPeers([{ address: '127.0.0.1', port }]);
    const bpf: number[] = [];
    const node: number[] = [];
    let batches = 0;
    let pending: ((e: PeerHealthEvent) => void) | undefined;
    w.onEvents((batch) => {
      const now = process.hrtime.bigint();
      batches += 1;
      for (const e of batch) {
        if (e.kind !== 'refused') continue;
        bpf.push(Number(now - e.time) / 1000);
        pending?.(e);
      }
    });
    for (let i = 0; i < runs; i++) {
      const event = new Promise<PeerHealthEvent>((r) => (pending = r));
      const nodeAt = new Promise<bigint>((r) => connect(port, '127.0.0.1').on('error', () => r(process.hrtime.bigint())));
      const [e, t] = await Promise.all([event, nodeAt]);
      node.push(Number(t - e.time) / 1000);
    }
    return { bpf: stats(bpf.slice(0, runs)), node: stats(node), batches };
  } finally {
    w.stop();
  }
}

async function memory(peers: number): Promise<{ peers: number; cpus: number; bytesPerPeer: Record<string, number>; totalPerPeer: number; fixedBytes: number }> {
  const w = PeerWatch.start({ bpf: 'on', cgroupPath: null, maxEntries: Math.max(16384, peers) });
  try {
    const before = Object.fromEntries(w.status().maps.map((m) => [m.name, m.memlock]));
    const list = Array.from({ length: peers }, (_, i) => ({ address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }));
    w.setPeers(list);
    const st = w.status();
    const after = Object.fromEntries(st.maps.map((m) => [m.name, m.memlock]));
    const bytesPerPeer: Record<string, number> = {};
    for (const name of ['peers', 'counters']) bytesPerPeer[name] = round(((after[name] ?? 0) - (before[name] ?? 0)) / peers);
    const fixedBytes = Object.entries(before).reduce((s, [, v]) => s + v, 0);
    return { peers, cpus: st.cpus, bytesPerPeer, totalPerPeer: round(Object.values(bytesPerPeer).reduce((a, b) => a + b, 0)), fixedBytes };
  } finally {
    w.stop();
  }
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const runs = arg('--runs', 300);
const peers = arg('--peers', 4096);
const lat = await latency(runs);
const mem = await memory(peers);
if (process.argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify({ latency: lat, memory: mem })}\n`);
} else {
  const line = (label: string, s: Stats) => `${label.padEnd(44)} median ${s.medianUs} µs   p99 ${s.p99Us} µs   max ${s.maxUs} µs   (n=${s.n})`;
  process.stdout.write(
    [
      `latency from the kernel event (bpf_ktime_get_ns) to JavaScript, refused loopback connections, ${runs} runs:`,
      line('  PeerWatch event callback (ring buffer)', lat.bpf),
      line("  Node's own socket 'error' callback", lat.node),
      `  ratio of medians (PeerWatch / Node): ${round(lat.bpf.medianUs / lat.node.medianUs)}   batches: ${lat.batches}`,
      `memory per watched peer (${mem.peers} peers, ${mem.cpus} possible CPUs): peer map ${mem.bytesPerPeer.peers} B + per-CPU counters ${mem.bytesPerPeer.counters} B = ${mem.totalPerPeer} B; fixed ${mem.fixedBytes} B (ring buffer, hash buckets, globals, rodata)`,
    ].join('\n') + '\n',
  );
}
