// Topology and BIRD peers for the graceful-restart namespace tests (recovery, helper):
//
//   B (BIRD, AS 65001) 10.61.0.2 ── 10.61.0.1  A (routelet, AS 65000)  10.61.1.1 ── 10.61.1.2  R ── 10.61.3.1 ── 10.61.3.2 C (BIRD, AS 65002)
//
// B is on A's link (single-hop eBGP); C is behind the router R (eBGP multihop), and its
// export filter sets the next hop to R's address on A's link so A's kernel can install C's
// routes. C is the peer that dies: its BIRD stopped or killed by PID, or R made to answer
// with ICMP (unreachable route), to have no route, or to drop silently (blackhole route).
//
// BIRD runs here through its own small launcher (not test/support/daemons.ts) because the
// helper test restarts it with `bird -R` (graceful restart recovery) in the same directory.
// Only processes started here are signalled, always by PID; only namespaces made here are
// deleted; both also at process exit.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentProcess, startAgent } from '../support/agent.js';
import { Netns, link } from '../support/netns.js';

export const A_B = '10.61.0.1';
export const B = '10.61.0.2';
export const A_R = '10.61.1.1';
export const R_A = '10.61.1.2';
export const R_C = '10.61.3.1';
export const C = '10.61.3.2';

/** B's prefixes: one kept, one withdrawn while A is down, one announced while A is down. */
export const B_KEEP = '10.62.1.0/24';
export const B_GONE = '10.62.2.0/24';
export const B_NEW = '10.62.3.0/24';
/** C's prefixes (C2 is left out of C's configuration when it comes back in the helper test) */
export const C1 = '10.63.1.0/24';
export const C2 = '10.63.2.0/24';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ BIRD

const birds = new Set<Bird>();
let root: string | undefined;
let counter = 0;

export class Bird {
  readonly dir: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #running = false;

  constructor(
    readonly ns: Netns,
    config: string,
  ) {
    root ??= mkdtempSync(join(tmpdir(), `routelet-grtest-${process.pid}-`));
    counter += 1;
    this.dir = join(root, `bird-${counter}-${ns.name}`);
    mkdirSync(this.dir, { recursive: true });
    this.configure(config);
    birds.add(this);
  }

  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Replace the configuration file (read at the next start). */
  configure(config: string): void {
    writeFileSync(join(this.dir, 'bird.conf'), config);
  }

  /** Start (recover: `bird -R`, graceful restart recovery); resolves when birdc answers. */
  async start(opts: { recover?: boolean } = {}): Promise<void> {
    if (this.#running) throw new Error('BIRD is running');
    const logFd = openSync(join(this.dir, 'bird.log'), 'a');
    const argv = ['bird', '-f', ...(opts.recover ? ['-R'] : []), '-c', join(this.dir, 'bird.conf'), '-s', join(this.dir, 'bird.ctl'), '-P', join(this.dir, 'bird.pid')];
    const child = spawn('ip', ['netns', 'exec', this.ns.name, ...argv], { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    this.#child = child;
    this.#running = true;
    this.#exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.#child === child) this.#running = false;
        resolve();
      }),
    );
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!this.#running) throw new Error(`bird exited during startup:\n${this.log()}`);
      if (this.#birdc('show status').status === 0) return;
      if (Date.now() > deadline) throw new Error(`bird did not answer within 20 s:\n${this.log()}`);
      await sleep(50);
    }
  }

  /** Signal BIRD by PID and wait until it exited (SIGKILL: a crash; SIGTERM: a clean stop). */
  async kill(sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.#running || !this.#child) return;
    this.#child.kill(sig);
    const timer = setTimeout(() => this.#running && this.#child?.kill('SIGKILL'), 5000);
    await this.#exited;
    clearTimeout(timer);
  }

  #birdc(command: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('ip', ['netns', 'exec', this.ns.name, 'birdc', '-s', join(this.dir, 'bird.ctl'), ...command.split(/\s+/)], { encoding: 'utf8', timeout: 15_000 });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  cli(command: string): string {
    const r = this.#birdc(command);
    if (r.status !== 0) throw new Error(`birdc ${command} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'bird.log'), 'utf8');
    } catch {
      return '';
    }
  }

  killNow(): void {
    if (this.#running && this.#child?.pid) {
      try {
        process.kill(this.#child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
}

process.on('exit', () => {
  for (const b of birds) b.killNow();
  if (root) rmSync(root, { recursive: true, force: true });
});

async function stopBirds(): Promise<void> {
  await Promise.all([...birds].map((b) => b.kill('SIGKILL')));
  birds.clear();
}

export interface BirdOptions {
  /** seconds (both sides use the smaller of the two) */
  holdTime?: number;
  /** C's BGP restart time (BIRD's `graceful restart time`) */
  restartTime?: number;
  /** C's announced prefixes */
  cPrefixes?: string[];
  /** seconds BIRD waits after an error before it starts again */
  errorWait?: [number, number];
}

/** B's configuration: B_KEEP and B_GONE announced, B_NEW in a static protocol started disabled. */
export function birdB(o: BirdOptions = {}): string {
  return `router id ${B};
log stderr all;
protocol device {}
protocol static keep4 { ipv4; route ${B_KEEP} blackhole; }
protocol static gone4 { ipv4; route ${B_GONE} blackhole; }
protocol static new4 { disabled; ipv4; route ${B_NEW} blackhole; }
protocol bgp a {
  local ${B} as 65001;
  neighbor ${A_B} as 65000;
  hold time ${o.holdTime ?? 90};
  connect retry time 2;
  connect delay time 1;
  error wait time 1, 5;
  graceful restart on;
  ipv4 { import all; export all; };
}
`;
}

/** C's configuration: eBGP multihop to A, next hop R's address on A's link. */
export function birdC(o: BirdOptions = {}): string {
  const statics = (o.cPrefixes ?? [C1]).map((p, i) => `protocol static c${i} { ipv4; route ${p} blackhole; }`).join('\n');
  const [w1, w2] = o.errorWait ?? [1, 5];
  return `router id ${C};
log stderr all;
protocol device {}
${statics}
protocol bgp a {
  local ${C} as 65002;
  neighbor ${A_R} as 65000;
  multihop 3;
  hold time ${o.holdTime ?? 90};
  connect retry time 2;
  connect delay time 1;
  error wait time ${w1}, ${w2};
  graceful restart on;
  graceful restart time ${o.restartTime ?? 120};
  ipv4 { import all; export filter { bgp_next_hop = ${R_A}; accept; }; };
}
`;
}

// ------------------------------------------------------------------ topology

export interface Topo {
  a: Netns;
  r: Netns;
  b: Netns;
  c: Netns;
  /** R's device toward C, C's device toward R */
  rcDev: string;
  cDev: string;
  birdB: Bird;
  birdC: Bird;
  dir: string;
  peersFile: string;
  agent?: AgentProcess;
}

/** Where ping answers from inside ns (a fresh veth needs a moment), at most ~5 s. */
function waitPing(ns: Netns, address: string): void {
  for (let i = 0; i < 10; i++) if (/1 received/.test(ns.exec('ping', ['-c1', '-W1', '-i0.2', address], { allowFail: true }))) return;
  throw new Error(`${address} does not answer ping from ${ns.name}`);
}

export interface PeerOptions {
  holdTime?: number;
  cPassive?: boolean;
}

export async function topology(tag: string, o: BirdOptions & PeerOptions = {}): Promise<Topo> {
  const a = new Netns(`${tag}a`);
  const r = new Netns(`${tag}r`);
  const b = new Netns(`${tag}b`);
  const c = new Netns(`${tag}c`);
  link(a, [`${A_B}/24`], b, [`${B}/24`]);
  link(a, [`${A_R}/24`], r, [`${R_A}/24`]);
  const rc = link(r, [`${R_C}/24`], c, [`${C}/24`]);
  r.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv4.icmp_ratelimit=0']);
  // R's ARP for C gives up fast once C's link is gone: 3 probes 100 ms apart
  r.exec('sysctl', ['-q', '-w', `net.ipv4.neigh.${rc.aDev}.retrans_time_ms=100`, `net.ipv4.neigh.${rc.aDev}.ucast_solicit=3`, `net.ipv4.neigh.${rc.aDev}.mcast_solicit=3`]);
  a.ip('route', 'add', '10.61.3.0/24', 'via', R_A);
  c.ip('route', 'add', 'default', 'via', R_C);
  waitPing(a, B);
  waitPing(a, C);
  const dir = mkdtempSync(join(tmpdir(), `routelet-grtest-${tag}-`));
  const peersFile = join(dir, 'peers.json');
  writeFileSync(
    peersFile,
    JSON.stringify([
      { address: B, asn: 65001, holdTime: o.holdTime ?? 90 },
      { address: C, asn: 65002, holdTime: o.holdTime ?? 90, multihop: 3, ...(o.cPassive ? { passive: true } : {}) },
    ]),
  );
  const bb = new Bird(b, birdB(o));
  const bc = new Bird(c, birdC(o));
  await Promise.all([bb.start(), bc.start()]);
  return { a, r, b, c, rcDev: rc.aDev, cDev: rc.bDev, birdB: bb, birdC: bc, dir, peersFile };
}

export async function destroy(t: Topo | undefined): Promise<void> {
  if (!t) return;
  if (t.agent?.running) await t.agent.stop('SIGKILL');
  await Promise.all([t.birdB.kill('SIGKILL'), t.birdC.kill('SIGKILL')]);
  birds.delete(t.birdB);
  birds.delete(t.birdC);
  for (const n of [t.a, t.r, t.b, t.c]) n.delete();
  rmSync(t.dir, { recursive: true, force: true });
}

/** afterAll: every BIRD still running, and the temp directory. */
export async function destroyAll(): Promise<void> {
  await stopBirds();
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
}

export function agentEnv(t: Topo, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ROUTELET_ASN: '65000',
    ROUTELET_ROUTER_ID: A_R,
    ROUTELET_PEERS_FILE: t.peersFile,
    ROUTELET_GR: 'on',
    ROUTELET_GR_WAIT: '120',
    ROUTELET_CONNECT_RETRY: '1',
    ROUTELET_CONNECT_RETRY_MAX: '2',
    ROUTELET_BPF: 'on',
    ...extra,
  };
}

export async function runAgent(t: Topo, extra: Record<string, string> = {}): Promise<AgentProcess> {
  t.agent = await startAgent(t.a, agentEnv(t, extra));
  return t.agent;
}

/** The prefixes of A's kernel routes of routelet's protocol (201), with their gateways. */
export function kernelRoutes(t: Topo): Map<string, string> {
  const routes = t.a.json<{ dst: string; gateway?: string }[]>('route', 'show', 'proto', '201');
  return new Map(routes.map((r) => [r.dst.includes('/') ? r.dst : `${r.dst}/32`, r.gateway ?? '']));
}

/**
 * Poll A's kernel every `everyMs` until `done(routes)` holds; `always(routes)` must hold at
 * every poll (throws with the poll number otherwise). Resolves with the elapsed ms since `t0`.
 */
export async function pollKernel(
  t: Topo,
  what: string,
  done: (routes: Map<string, string>) => boolean,
  o: { t0: number; timeoutMs: number; everyMs?: number; always?: (routes: Map<string, string>) => string | null },
): Promise<number> {
  const deadline = Date.now() + o.timeoutMs;
  let last = new Map<string, string>();
  for (;;) {
    last = kernelRoutes(t);
    const bad = o.always?.(last);
    if (bad) throw new Error(`${bad} (while waiting for ${what}; kernel: ${JSON.stringify([...last])})`);
    if (done(last)) return Date.now() - o.t0;
    if (Date.now() > deadline) throw new Error(`timed out after ${o.timeoutMs} ms waiting for ${what}; kernel: ${JSON.stringify([...last])}`);
    await sleep(o.everyMs ?? 50);
  }
}

/** The first log line of the agent whose msg matches (the pipe may lag a little behind). */
export async function waitLine(a: AgentProcess, match: RegExp | ((l: Record<string, unknown>) => boolean), timeoutMs = 5000): Promise<Record<string, unknown>> {
  const test = typeof match === 'function' ? match : (l: Record<string, unknown>) => typeof l.msg === 'string' && match.test(l.msg);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const l = a.lines().find(test);
    if (l) return l;
    if (Date.now() > deadline) throw new Error(`no log line ${String(match)} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** The failure output: agent log and both BIRD logs. */
export function dump(t: Topo | undefined): void {
  if (!t) return;
  if (t.agent) process.stderr.write(`\n===== routelet agent ${t.agent.pid} =====\n${t.agent.log().slice(-20_000)}\n`);
  process.stderr.write(`\n===== bird B =====\n${t.birdB.log().slice(-4000)}\n===== bird C =====\n${t.birdC.log().slice(-4000)}\n`);
}
