// Twenty restart cycles of routelet with its peers flapping between them (issue 7): no route
// lost from the kernel while its peer is alive, none left behind after its peer is gone.
//
// Node A runs routelet (graceful restart and fast unlock on, BPF on, ROUTELET_CONNECT_RETRY=1,
// ROUTELET_GR_WAIT=600). Peers: B and D run BIRD 2, C runs GoBGP, each announcing its own
// prefixes, each with graceful restart on. Each cycle, from a seeded random sequence
// (ROUTELET_TEST_SEED, default 7; printed):
//   - routelet stops: SIGTERM (graceful restart: routes stay in the kernel) or SIGKILL (a crash);
//   - while it is down one peer flaps: a live one is killed (never the last live one), or a
//     dead one comes back;
//   - routelet starts again, adopts its kernel routes and recovers;
//   - on some cycles, once settled, a live peer is SIGKILLed under routelet (helper role).
// Every change of A's routes comes from one long-lived `ip monitor route` (netlink: no change
// is missed between polls). Asserted:
//   - a peer alive throughout a window (from its routes' first arrival after it came back, or
//     the first convergence, until it was killed) never had a route missing from the kernel;
//   - after each start, within SETTLE_MS, the kernel holds exactly the live peers' routes:
//     every route of a dead peer is gone. ROUTELET_GR_WAIT (600 s) and the restart time
//     (120 s) are far beyond SETTLE_MS, so only fast unlock can explain those sweeps; the
//     recovery's own log line must not name ROUTELET_GR_WAIT.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentProcess, dumpAgentLogs, startAgent, stopAllAgents } from '../support/agent.js';
import { stopAllDaemons } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { type GrKind, type GrPeer, KernelWatch, startGrPeer, until } from './interop-support.js';

const CYCLES = 20;
const SETTLE_MS = 25_000;
const SEED = Number(process.env.ROUTELET_TEST_SEED ?? 7);

interface PeerState {
  name: string;
  kind: GrKind;
  address: string;
  prefixes: string[];
  ns: Netns;
  peer: GrPeer;
  alive: boolean;
  /** start of the current alive window (ms since the epoch); null until its routes arrived */
  aliveSince: number | null;
  /** when it was last started (its routes may take until its first session to arrive) */
  startedAt: number;
  windows: { from: number; to: number }[];
}

let A: Netns;
let watch: KernelWatch;
let agent: AgentProcess | undefined;
let dir: string;
let peersFile: string;
const peers: PeerState[] = [];
const timeline: string[] = [];

/** mulberry32: a small seeded generator, so a failing sequence can be replayed */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const env = (): Record<string, string> => ({
  ROUTELET_ASN: '65000',
  ROUTELET_ROUTER_ID: '10.0.1.1',
  ROUTELET_PEERS_FILE: peersFile,
  ROUTELET_ADVERTISE: '10.65.3.0/26',
  ROUTELET_GR: 'on',
  ROUTELET_GR_WAIT: '600',
  ROUTELET_GR_FAST_UNLOCK: 'on',
  ROUTELET_CONNECT_RETRY: '1',
  ROUTELET_CONNECT_RETRY_MAX: '2',
  ROUTELET_BPF: 'on',
  ROUTELET_LOG_LEVEL: 'info',
});

function note(s: string): void {
  timeline.push(`${new Date().toISOString().slice(11, 23)} ${s}`);
}

beforeAll(async () => {
  requireRoot();
  requireCommand('bird', 'bird2');
  requireCommand('gobgpd', 'gobgpd');
  dir = mkdtempSync(join(tmpdir(), 'routelet-grcycles-'));
  A = new Netns('cya');
  const plan: { name: string; kind: GrKind; n: number; prefixes: string[] }[] = [
    { name: 'B', kind: 'bird', n: 1, prefixes: ['10.211.0.0/24', '10.211.1.0/24'] },
    { name: 'C', kind: 'gobgp', n: 2, prefixes: ['10.212.0.0/24', '10.212.1.0/24'] },
    { name: 'D', kind: 'bird', n: 3, prefixes: ['10.213.0.0/24'] },
  ];
  watch = await new KernelWatch(A, 201).ready();
  for (const p of plan) {
    const ns = new Netns(`cy${p.name.toLowerCase()}`);
    link(A, `10.0.${p.n}.1/24`, ns, `10.0.${p.n}.2/24`);
    const peer = await startGrPeer(p.kind, ns, { local: `10.0.${p.n}.2`, neighbor: `10.0.${p.n}.1`, asn: 65100 + p.n, routerId: `10.0.${p.n}.2`, prefixes: p.prefixes });
    peers.push({ name: p.name, kind: p.kind, address: `10.0.${p.n}.2`, prefixes: p.prefixes, ns, peer, alive: true, aliveSince: null, startedAt: Date.now(), windows: [] });
  }
  peersFile = join(dir, 'peers.json');
  writeFileSync(peersFile, JSON.stringify(peers.map((p, i) => ({ address: p.address, asn: 65101 + i, holdTime: 9 }))));
}, 60_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') {
    dumpAgentLogs([agent], 30_000);
    process.stderr.write(`\n===== timeline (seed ${SEED}) =====\n${timeline.join('\n')}\n`);
    for (const p of peers) for (const x of p.prefixes) process.stderr.write(`${p.name} ${x}: ${JSON.stringify(watch.history(x).map((c) => [new Date(c.at).toISOString().slice(11, 23), c.present]))}\n`);
  }
});

afterAll(async () => {
  watch?.stop();
  await stopAllAgents();
  await stopAllDaemons();
  for (const p of peers) p.ns.delete();
  A?.delete();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const expected = () => new Set(peers.filter((p) => p.alive).flatMap((p) => p.prefixes));
const all = () => peers.flatMap((p) => p.prefixes);

/** Wait until the kernel holds exactly the live peers' routes and the sessions are up. */
async function settle(a: AgentProcess, what: string): Promise<number> {
  const t0 = Date.now();
  await until(
    `${what}: the kernel to hold exactly the live peers' routes (${[...expected()].join(', ')}), the live peers Established`,
    async () => {
      const want = expected();
      if (!all().every((x) => watch.present(x) === want.has(x))) return undefined;
      const views = await a.peers();
      for (const p of peers) {
        const v = views.find((x) => x.address === p.address);
        if (p.alive && v?.state !== 'Established') return undefined;
        if (v && v.gracefulRestart.staleRoutes !== 0) return undefined;
      }
      if (a.lines().some((l) => typeof l.msg === 'string' && l.msg.startsWith('restarting:')) && !a.lines().some((l) => typeof l.msg === 'string' && l.msg.startsWith('restart recovery done'))) return undefined;
      return true;
    },
    SETTLE_MS,
    100,
  );
  // a revived peer's alive window starts when all its routes first arrived
  for (const p of peers) {
    if (!p.alive || p.aliveSince !== null) continue;
    p.aliveSince = Math.max(...p.prefixes.map((x) => watch.history(x).find((c) => c.present && c.at >= p.startedAt)?.at ?? Date.now()));
  }
  return Date.now() - t0;
}

async function kill(p: PeerState, why: string): Promise<void> {
  const at = Date.now();
  await p.peer.crash();
  if (p.aliveSince !== null) p.windows.push({ from: p.aliveSince, to: at });
  p.alive = false;
  p.aliveSince = null;
  note(`${p.name} (${p.kind}) killed ${why}`);
}

async function revive(p: PeerState): Promise<void> {
  p.startedAt = Date.now();
  await p.peer.restart({ recovery: false });
  p.alive = true;
  p.aliveSince = null;
  note(`${p.name} (${p.kind}) started again`);
}

describe('twenty restart cycles with flapping peers', () => {
  it('no route lost while its peer is alive, none left behind after its peer is gone', async () => {
    const random = rng(SEED);
    process.stderr.write(`[cycles] seed ${SEED}\n`);
    const t0 = Date.now();
    agent = await startAgent(A, env());
    note('routelet started');
    await settle(agent, 'first start');
    const settles: number[] = [];
    const recoveries: string[] = [];
    const recoveryMs: number[] = [];
    const helperMs: number[] = [];
    const kills = { sigterm: 0, sigkill: 0, peerDown: 0, peerUp: 0, underRoutelet: 0 };
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const crash = random() < 0.35;
      const r = await agent.stop(crash ? 'SIGKILL' : 'SIGTERM');
      if (crash) kills.sigkill++;
      else {
        kills.sigterm++;
        expect(r.code, `cycle ${cycle}: exit code after SIGTERM`).toBe(0);
      }
      note(`cycle ${cycle}: routelet stopped (${crash ? 'SIGKILL' : 'SIGTERM'})`);
      // flap one peer while routelet is down
      const live = peers.filter((p) => p.alive);
      const dead = peers.filter((p) => !p.alive);
      const reviveOne = dead.length > 0 && (live.length <= 1 || random() < 0.5);
      if (reviveOne) {
        await revive(dead[Math.floor(random() * dead.length)]!);
        kills.peerUp++;
      } else {
        await kill(live[Math.floor(random() * live.length)]!, 'while routelet was down');
        kills.peerDown++;
      }
      agent = await startAgent(A, env());
      note(`cycle ${cycle}: routelet started`);
      const ms = await settle(agent, `cycle ${cycle}`);
      settles.push(ms);
      const done = agent.lines().find((l) => typeof l.msg === 'string' && l.msg.startsWith('restart recovery done'));
      expect(done, `cycle ${cycle}: the recovery ended`).toBeDefined();
      expect(String(done!.msg)).not.toMatch(/ROUTELET_GR_WAIT/);
      recoveries.push(String(done!.msg).replace(/\): .*/, ')'));
      recoveryMs.push(Number(/after (\d+) ms/.exec(String(done!.msg))?.[1]));
      note(`cycle ${cycle}: settled in ${ms} ms; ${String(done!.msg)}`);
      // sometimes a live peer dies under the running routelet (helper: fast unlock on refusal)
      const stillLive = peers.filter((p) => p.alive);
      if (stillLive.length > 1 && random() < 0.3) {
        await kill(stillLive[Math.floor(random() * stillLive.length)]!, 'under routelet');
        kills.underRoutelet++;
        const hms = await settle(agent, `cycle ${cycle}: a peer killed under routelet`);
        helperMs.push(hms);
        note(`cycle ${cycle}: its stale routes dropped after ${hms} ms`);
      }
    }
    const end = Date.now();
    for (const p of peers) if (p.alive && p.aliveSince !== null) p.windows.push({ from: p.aliveSince, to: end });
    // no route of a peer was missing while that peer was alive
    const losses: string[] = [];
    for (const p of peers)
      for (const w of p.windows)
        for (const x of p.prefixes) for (const m of watch.missingDuring(x, w.from, w.to)) losses.push(`${p.name} ${x} missing at ${new Date(m.at).toISOString().slice(11, 23)} (alive ${new Date(w.from).toISOString().slice(11, 23)}–${new Date(w.to).toISOString().slice(11, 23)}): ${m.line}`);
    expect(losses).toEqual([]);
    // the windows covered something: every peer had at least one, the run saw both kinds of stop and flap
    expect(peers.every((p) => p.windows.length > 0)).toBe(true);
    expect(kills.sigterm > 0 && kills.sigkill > 0 && kills.peerDown > 0 && kills.peerUp > 0).toBe(true);
    expect(watch.running).toBe(true);
    settles.sort((x, y) => x - y);
    recoveryMs.sort((x, y) => x - y);
    process.stderr.write(
      `[cycles] ${CYCLES} cycles in ${Math.round((end - t0) / 1000)} s; ${JSON.stringify(kills)}; settle after start: median ${settles[settles.length >> 1]} ms, max ${settles.at(-1)} ms; recovery (start → sweep, routelet's log): median ${recoveryMs[recoveryMs.length >> 1]} ms, max ${recoveryMs.at(-1)} ms; peer killed under routelet → its routes out: ${helperMs.join(', ')} ms\n` +
        `[cycles] recoveries: ${JSON.stringify(recoveries.reduce<Record<string, number>>((m, x) => ((m[x.replace(/\d+ ms/, 'N ms')] = (m[x.replace(/\d+ ms/, 'N ms')] ?? 0) + 1), m), {}))}\n`,
    );
  }, 300_000);
});
