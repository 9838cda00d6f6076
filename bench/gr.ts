// npm run bench:gr — graceful-restart recovery with one dead peer (issue 7), routelet beside
// BIRD 2 configured as calico-node configures it, in the same run, timed from outside by an
// rtnetlink monitor of node A's kernel (src/lab/).
//
// Scenarios: C dead by refused / unreachable / drop / passive (A restarts while C is dead:
// (a) start → B's new prefix in A's kernel, (b) start → every stale route swept), and vanish
// (C's host disappears under an Established session: → C's routes out of A's kernel).
// Medians over --runs. BIRD waits `graceful restart wait` (240 s, --bird-wait to shorten):
// at 60 s and more it runs once per scenario (--bird-runs to override).
// Goals: (a) and (b) < 0.5 s, vanish < 1 s. The last line of output is JSON.
//
//   npm run bench:gr -- [--runs 3] [--scenarios refused,unreachable,drop,passive,vanish]
//                       [--gr-wait 240] [--fast-unlock on|off] [--timeout 60] [--keepalive S (routelet's ROUTELET_KEEPALIVE_TIME)]
//                       [--tcp-user-timeout MS (routelet's ROUTELET_TCP_USER_TIMEOUT)]
//                       [--bird-wait 240] [--bird-runs N] [--no-bird] [--vanish-timeout 300]
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { type RoundKind, type RoundResult, runScenario } from '#dist/lab/scenario.js';
import { requireTools } from '#dist/lab/tools.js';
import { livenessOf } from '#dist/lab/configs.js';
import { TCP_USER_TIMEOUT_MS } from '#dist/config/values.js';

const SCENARIOS: RoundKind[] = ['refused', 'unreachable', 'drop', 'passive', 'vanish'];
const GOALS = { newPrefix: 0.5, staleSwept: 0.5, vanished: 1 } as const;
type Measure = keyof typeof GOALS;

interface Summary {
  runs: (number | null)[];
  /** median in seconds; null when the median run timed out */
  median: number | null;
}

export interface GrBenchResult {
  machine: { cpus: number; loadAverageBefore: number[]; loadAverageAfter: number[] };
  options: { runs: number; birdRuns: number; grWait: number; birdWait: number; timeout: number; vanishTimeout: number; fastUnlock: string; keepaliveTime: number | 'default'; tcpUserTimeout: number | 'default' };
  scenarios: Record<string, { routelet: Partial<Record<Measure, Summary>>; routeletStartup?: Summary; routeletAfterStart?: Partial<Record<Measure, Summary>>; bird?: Partial<Record<Measure, Summary>>; ratio?: Partial<Record<Measure, number | null>> }>;
  goals: Record<string, { target: number; value: number | null; met: boolean }>;
}

function median(xs: (number | null)[]): number | null {
  // a timed-out run counts as longer than any measured one
  const v = xs.map((x) => (x === null ? Infinity : x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  return Number.isFinite(m) ? Math.round(m * 1000) / 1000 : null;
}

const MEASURES: [Measure, keyof RoundResult][] = [
  ['newPrefix', 'newPrefixSeconds'],
  ['staleSwept', 'staleSweptSeconds'],
  ['vanished', 'vanishedSeconds'],
];

function summarize(results: RoundResult[], round: RoundKind): Partial<Record<Measure, Summary>> {
  const mine = results.filter((r) => r.round === round);
  const out: Partial<Record<Measure, Summary>> = {};
  for (const [m, field] of MEASURES) {
    const runs = mine.map((r) => r[field] as number | null | undefined).filter((x): x is number | null => x !== undefined);
    if (runs.length) out[m] = { runs, median: median(runs) };
  }
  return out;
}

/** rounds in the order they run: scenarios interleaved, one pass per run; vanish last in each pass */
function schedule(scenarios: RoundKind[], runs: number): RoundKind[] {
  const out: RoundKind[] = [];
  for (let i = 0; i < runs; i++) out.push(...scenarios);
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      'gr-wait': { type: 'string', default: '240' },
      'fast-unlock': { type: 'string' },
      timeout: { type: 'string', default: '60' },
      'bird-wait': { type: 'string', default: '240' },
      'bird-runs': { type: 'string' },
      'no-bird': { type: 'boolean', default: false },
      'vanish-timeout': { type: 'string', default: '300' },
      /** ROUTELET_KEEPALIVE_TIME for routelet (BIRD keeps calico's defaults) */
      keepalive: { type: 'string' },
      /** ROUTELET_TCP_USER_TIMEOUT for routelet, milliseconds */
      'tcp-user-timeout': { type: 'string' },
    },
    strict: true,
  });
  const num = (flag: string, text: string | undefined, min: number, max: number): number => {
    const n = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text ?? '') || n < min || n > max) throw new Error(`bench:gr: invalid --${flag} ${JSON.stringify(text)}: expected a number ${min}–${max}`);
    return n;
  };
  const runs = num('runs', values.runs, 1, 50);
  const grWait = num('gr-wait', values['gr-wait'], 1, 3600);
  const birdWait = num('bird-wait', values['bird-wait'], 1, 3600);
  const birdRuns = values['bird-runs'] !== undefined ? num('bird-runs', values['bird-runs'], 1, 50) : birdWait >= 60 ? 1 : runs;
  const timeout = num('timeout', values.timeout, 1, 7200);
  const vanishTimeout = num('vanish-timeout', values['vanish-timeout'], 1, 7200);
  const keepalive = values.keepalive !== undefined ? num('keepalive', values.keepalive, 1, 21845) : undefined;
  const userTimeout = values['tcp-user-timeout'] !== undefined ? num('tcp-user-timeout', values['tcp-user-timeout'], TCP_USER_TIMEOUT_MS.min, TCP_USER_TIMEOUT_MS.max) : undefined;
  const liveness = livenessOf(keepalive, userTimeout);
  const fu = values['fast-unlock'];
  if (fu !== undefined && fu !== 'on' && fu !== 'off') throw new Error(`bench:gr: invalid --fast-unlock ${JSON.stringify(fu)}: expected on or off`);
  const scenarios = values.scenarios!.split(',').map((s) => s.trim()) as RoundKind[];
  for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`bench:gr: invalid --scenarios ${JSON.stringify(values.scenarios)}: expected some of ${SCENARIOS.join(', ')}`);
  if (process.getuid?.() !== 0) throw new Error('bench:gr needs root (network namespaces, rtnetlink)');
  const missing = requireTools();
  if (missing) throw new Error(`bench:gr: ${missing}`);
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));

  const loadBefore = loadavg().map((x) => Math.round(x * 100) / 100);
  const progress = (l: string) => process.stderr.write(`${l}\n`);
  const onResult = (r: RoundResult) => progress(`  ${r.speaker} ${r.round}: ${JSON.stringify(r)}`);
  // restart rounds and vanish rounds have their own caps; run them as separate scenarios
  const restartScenarios = scenarios.filter((s) => s !== 'vanish');
  const run = async (speaker: 'routelet' | 'bird', n: number, wait: number, cap: number): Promise<RoundResult[]> => {
    const out: RoundResult[] = [];
    // fast unlock and liveness settings are routelet's; BIRD keeps Calico's configuration
    const tuning = speaker === 'routelet' ? { ...(fu ? { fastUnlock: fu } : {}), liveness } : {};
    if (restartScenarios.length) out.push(...(await runScenario({ speaker, rounds: schedule(restartScenarios, n), grWait: wait, timeout: cap, progress, onResult, ...tuning })));
    if (scenarios.includes('vanish')) out.push(...(await runScenario({ speaker, rounds: schedule(['vanish'], n), grWait: wait, timeout: vanishTimeout, progress, onResult, ...tuning })));
    return out;
  };
  const ours = await run('routelet', runs, grWait, timeout);
  const bird = values['no-bird'] ? undefined : await run('bird', birdRuns, birdWait, birdWait + 30);

  const result: GrBenchResult = {
    machine: { cpus: cpus().length, loadAverageBefore: loadBefore, loadAverageAfter: loadavg().map((x) => Math.round(x * 100) / 100) },
    options: { runs, birdRuns, grWait, birdWait, timeout, vanishTimeout, fastUnlock: fu ?? 'default', keepaliveTime: keepalive ?? 'default', tcpUserTimeout: userTimeout ?? 'default' },
    scenarios: {},
    goals: {},
  };
  for (const s of scenarios) {
    const entry: GrBenchResult['scenarios'][string] = { routelet: summarize(ours, s) };
    const starts = ours.filter((r) => r.round === s && r.startupSeconds !== undefined).map((r) => r.startupSeconds!);
    if (starts.length) entry.routeletStartup = { runs: starts, median: median(starts) };
    // the same measures counted from the agent's "routelet agent running" instead of its spawn
    const after: Partial<Record<Measure, Summary>> = {};
    for (const [m, field] of MEASURES) {
      const runs = ours
        .filter((r) => r.round === s && r.startupSeconds !== undefined && r[field] !== undefined)
        .map((r) => (r[field] === null ? null : Math.round(((r[field] as number) - r.startupSeconds!) * 1000) / 1000));
      if (runs.length) after[m] = { runs, median: median(runs) };
    }
    if (Object.keys(after).length) entry.routeletAfterStart = after;
    if (bird) {
      entry.bird = summarize(bird, s);
      entry.ratio = {};
      for (const [m] of MEASURES) {
        const a = entry.routelet[m]?.median;
        const b = entry.bird[m];
        if (a === undefined || !b) continue;
        // BIRD over routelet; a BIRD timeout counts as its cap (a lower bound of the ratio)
        entry.ratio[m] = a === null ? null : Math.round(((b.median ?? (m === 'vanished' ? vanishTimeout : birdWait + 30)) / Math.max(a, 0.001)) * 10) / 10;
      }
    }
    result.scenarios[s] = entry;
    for (const [m] of MEASURES) {
      const v = entry.routelet[m]?.median;
      if (v === undefined) continue;
      result.goals[`${s}.${m}`] = { target: GOALS[m], value: v, met: v !== null && v < GOALS[m] };
    }
  }

  const cell = (x: Summary | undefined, cap: number) => (x === undefined ? '-' : x.median === null ? `> ${cap} s` : `${x.median.toFixed(3)} s`);
  const lines = [
    `graceful-restart recovery, one dead peer; routelet median of ${runs}${bird ? `, BIRD 2 (Calico config, graceful restart wait ${birdWait} s) median of ${birdRuns}` : ''}; routelet ROUTELET_GR_WAIT ${grWait} s, fast unlock ${fu ?? 'default'}`,
    `${'scenario'.padEnd(12)} ${'measure'.padEnd(36)} ${'routelet'.padStart(10)} ${bird ? `${'BIRD'.padStart(10)}  BIRD/routelet` : ''}`,
  ];
  const label: Record<Measure, string> = { newPrefix: "start → live peer's new prefix", staleSwept: 'start → every stale route swept', vanished: "host gone → its routes out" };
  for (const s of scenarios) {
    const e = result.scenarios[s]!;
    for (const [m] of MEASURES) {
      if (!e.routelet[m]) continue;
      const cap = m === 'vanished' ? vanishTimeout : timeout;
      const birdCap = m === 'vanished' ? vanishTimeout : birdWait + 30;
      const r = e.ratio?.[m];
      lines.push(`${s.padEnd(12)} ${label[m].padEnd(36)} ${cell(e.routelet[m], cap).padStart(10)} ${bird ? `${cell(e.bird?.[m], birdCap).padStart(10)}  ${r === undefined ? '' : r === null ? '-' : `${r}×`}` : ''}`.trimEnd());
    }
  }
  for (const s of scenarios) {
    const a = result.scenarios[s]!.routeletAfterStart;
    if (a) lines.push(`${s.padEnd(12)} counted from "routelet agent running": ${MEASURES.filter(([m]) => a[m]).map(([m]) => `${label[m]} ${cell(a[m], timeout)}`).join(', ')}`);
  }
  const startups = scenarios.map((s) => result.scenarios[s]!.routeletStartup?.median).filter((x) => x != null);
  if (startups.length) lines.push(`routelet's own start (spawn → "routelet agent running"), medians: ${scenarios.filter((s) => result.scenarios[s]!.routeletStartup).map((s) => `${s} ${result.scenarios[s]!.routeletStartup!.median} s`).join(', ')}`);
  for (const [k, g] of Object.entries(result.goals)) lines.push(`goal ${k} < ${g.target} s: ${g.value === null ? 'timed out' : `${g.value} s`} ${g.met ? 'met' : 'NOT met'}`);
  lines.push(`machine: ${result.machine.cpus} CPUs, load average before ${loadBefore.join(' ')}, after ${result.machine.loadAverageAfter.join(' ')}`);
  process.stdout.write(`${lines.join('\n')}\n${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:gr failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
