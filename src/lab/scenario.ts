// The lab scenario, for one speaker on node A (routelet or BIRD):
//   1. A, B and C up; A's sessions Established, B's and C's blocks in A's kernel.
//   2. A stops (routelet: SIGTERM; BIRD: killed like a crash); its routes stay in the kernel.
//   3. Meanwhile C dies (refused / unreachable / drop) and B withdraws one block, announces another.
//   4. A starts again (BIRD with -R). Timed from the spawn, by watching A's kernel from outside:
//      (a) B's new block is in the kernel, (b) every stale route (B's withdrawn block, C's
//      blocks) is gone.
// And the "vanish" round: with everything Established, C's host disappears; timed until C's
// blocks leave A's kernel.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { KernelWatch, kernelRoutes } from './kernel.js';
import { xorshift32 } from './random.js';
import { LAN, type Liveness, PREFIXES } from './configs.js';
import { type Speaker, type SpeakerKind, createSpeaker } from './speaker.js';
import { type DeadMode, LabTopology } from './topology.js';

export type RoundKind = 'refused' | 'unreachable' | 'drop' | 'passive' | 'vanish';

export interface RoundResult {
  round: RoundKind;
  speaker: SpeakerKind;
  /** restart rounds: start → B's new block in A's kernel, seconds (null: not within the timeout) */
  newPrefixSeconds?: number | null;
  /** restart rounds: start → every stale route gone, seconds (null: not within the timeout) */
  staleSweptSeconds?: number | null;
  /** vanish round: C's host gone → C's blocks gone from A's kernel, seconds */
  vanishedSeconds?: number | null;
  /** vanish round: how long the sessions had been up with the routes in the kernel when C's host went, seconds */
  vanishAfterSeconds?: number;
  /** how long the lab waited at most, seconds */
  timeoutSeconds: number;
  /** restart rounds, routelet: spawn → the agent's "routelet agent running" log line, seconds */
  startupSeconds?: number;
  /** routes A's kernel kept across the stop (of B's and C's blocks) */
  keptAcrossStop?: number;
  /** what the speaker said about C afterwards */
  cLastError?: string | null;
}

export interface ScenarioOptions {
  speaker: SpeakerKind;
  rounds: RoundKind[];
  grWait: number;
  /** cap for each measurement, seconds */
  timeout: number;
  fastUnlock?: 'on' | 'off';
  /** keepalive interval and TCP user timeout for routelet (unset: a third of the hold time, no user timeout) */
  liveness?: Liveness;
  /** a line of progress (stderr in the CLI) */
  progress?: (line: string) => void;
  /** the sessions and kernel routes of A, shown once everything is up (human output) */
  show?: (text: string) => void;
  /** the round's result as soon as it is measured */
  onResult?: (r: RoundResult) => void;
}

const ALL_REMOTE = [PREFIXES.bKept, PREFIXES.bWithdrawn, ...PREFIXES.c];
const STALE = [PREFIXES.bWithdrawn, ...PREFIXES.c];

/** A's kernel routes to the lab's pod blocks, one line each, as `ip route` shows them. */
export function labRoutes(ns: string): string {
  const lines = kernelRoutes(ns)
    .filter((r) => r.prefix.startsWith('10.244.'))
    .map((r) => `${r.prefix.padEnd(17)} via ${r.via.join(', ')} proto ${r.protocol}`);
  return lines.length ? lines.join('\n') : '(none)';
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, speaker?: Speaker): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    if (speaker && !speaker.running) throw new Error(`${speaker.kind} on node A exited while waiting for ${what}:\n${speaker.log().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const round3 = (ms: number | undefined, t0: number) => (ms === undefined ? null : Math.round(ms - t0) / 1000);

/** Run the rounds for one speaker in a topology of its own; everything is removed at the end. */
export async function runScenario(o: ScenarioOptions): Promise<RoundResult[]> {
  const say = o.progress ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), `routelet-lab-${process.pid}-`));
  const topo = new LabTopology();
  let watch: KernelWatch | undefined;
  let speaker: Speaker | undefined;
  const results: RoundResult[] = [];
  const vanishMoment = xorshift32();
  try {
    say(`[${o.speaker}] namespaces ${topo.names.join(' ')}`);
    let cPassive = o.rounds[0] === 'passive';
    await topo.startPeers({ cPassive });
    watch = await KernelWatch.open(topo.a.name);
    let shown = false;
    for (const round of o.rounds) {
      const wantPassive = round === 'passive';
      // 1. a healthy start: A (re)started with every peer alive
      if (speaker?.running) await speaker.stop();
      if (!speaker || cPassive !== wantPassive) {
        cPassive = wantPassive;
        speaker = createSpeaker(o.speaker, topo.a, { grWait: o.grWait, cPassive, dir, ...(o.fastUnlock ? { fastUnlock: o.fastUnlock } : {}), ...(o.liveness ? { liveness: o.liveness } : {}) });
      }
      topo.changeB(false);
      await topo.reviveC({ cPassive });
      say(`[${o.speaker}] ${round}: starting A with every peer alive`);
      await speaker.start(false);
      const s = speaker;
      await until('A Established with B and C', async () => (await s.established()).size === 2, 60_000 + o.grWait * 1000, s);
      await until("B's and C's blocks in A's kernel, B's new one not", () => ALL_REMOTE.every((p) => watch!.has(p)) && !watch!.has(PREFIXES.bNew), 30_000 + o.grWait * 1000, s);
      if (!shown) {
        o.show?.(`sessions of node A (${o.speaker}):\n${await s.sessions()}\n\nkernel routes of node A:\n${labRoutes(topo.a.name)}`);
        shown = true;
      }
      const timeoutMs = o.timeout * 1000;
      if (round === 'vanish') {
        // a host dies at any moment, not just as its session came up: 1–3 s later, from a
        // seeded generator (the same moments for each speaker), so the rounds meet A's
        // keepalive timer at different phases
        const after = 1 + 2 * vanishMoment();
        await new Promise((r) => setTimeout(r, after * 1000));
        say(`[${o.speaker}] vanish: C's host disappears under its Established session (${after.toFixed(2)} s after the routes were in)`);
        const t0 = performance.now();
        await topo.killC('vanish');
        const gone = await watch.until((has) => PREFIXES.c.every((p) => !has(p)), timeoutMs);
        const r: RoundResult = { round, speaker: o.speaker, vanishedSeconds: round3(gone, t0), vanishAfterSeconds: Math.round(after * 1000) / 1000, timeoutSeconds: o.timeout, cLastError: (await s.lastErrors().catch((): Record<string, string | null> => ({})))[LAN.c] ?? null };
        results.push(r);
        o.onResult?.(r);
        continue;
      }
      // 2. A stops; its routes stay
      say(`[${o.speaker}] ${round}: stopping A (${s.stopSignal})`);
      await s.stop();
      const kept = ALL_REMOTE.filter((p) => watch!.has(p)).length;
      // 3. C dies, B changes
      const mode: DeadMode = round === 'passive' ? 'unreachable' : round;
      await topo.killC(mode);
      topo.changeB(true);
      // B's BIRD applies it at once; give its GR helper state a moment to settle anyway
      await new Promise((r) => setTimeout(r, 500));
      // 4. A starts again, timed from the outside
      say(`[${o.speaker}] ${round}: C is dead (${mode}${round === 'passive' ? ', A passive toward it' : ''}); starting A again`);
      const t0 = performance.now();
      const spawnedAt = Date.now();
      const newAt = watch.until((has) => has(PREFIXES.bNew), timeoutMs);
      const sweptAt = watch.until((has) => STALE.every((p) => !has(p)), timeoutMs);
      await s.start(true);
      const [a, b] = await Promise.all([newAt, sweptAt]);
      const r: RoundResult = {
        round,
        speaker: o.speaker,
        newPrefixSeconds: round3(a, t0),
        staleSweptSeconds: round3(b, t0),
        timeoutSeconds: o.timeout,
        keptAcrossStop: kept,
        ...(s.startupSeconds(spawnedAt) !== undefined ? { startupSeconds: s.startupSeconds(spawnedAt)! } : {}),
        cLastError: (await s.lastErrors().catch((): Record<string, string | null> => ({})))[LAN.c] ?? null,
      };
      results.push(r);
      o.onResult?.(r);
    }
    return results;
  } finally {
    watch?.close();
    await speaker?.stop().catch(() => {});
    await topo.delete();
    rmSync(dir, { recursive: true, force: true });
  }
}
