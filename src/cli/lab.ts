// `routelet lab [--compare-bird] [--gr-wait S] [--timeout S] [--fast-unlock on|off] [--json]`:
// the self-contained demonstration (src/lab/). Namespaces and processes it creates are removed
// at the end, after a failure and on Ctrl-C.
import { cpus, loadavg } from 'node:os';
import { parse } from './args.js';
import { UsageError } from './errors.js';
import { checkUserTimeout, TCP_USER_TIMEOUT_MS } from '../config/values.js';
import type { RoundKind, RoundResult } from '../lab/scenario.js';

const USAGE = 'routelet lab [--compare-bird] [--gr-wait S] [--timeout S] [--fast-unlock on|off] [--rounds refused,unreachable,drop,passive,vanish] [--keepalive S] [--tcp-user-timeout MS] [--json]';
const ROUNDS: RoundKind[] = ['refused', 'unreachable', 'drop', 'passive', 'vanish'];

function seconds(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`routelet lab: invalid ${flag} ${JSON.stringify(text)}: expected seconds, ${min}–${max}`);
  return n;
}

export interface LabReport {
  machine: { cpus: number; loadAverage: number[] };
  grWait: number;
  timeoutSeconds: number;
  fastUnlock: 'on' | 'off' | 'default';
  results: { routelet: RoundResult[]; bird?: RoundResult[] };
  /** BIRD's time over routelet's, per round and measure (a timeout counts as the timeout) */
  ratios?: Record<string, { newPrefix?: number | null; staleSwept?: number | null; vanished?: number | null }>;
}

const fmt = (v: number | null | undefined, timeout: number) => (v === undefined ? '-' : v === null ? `> ${timeout} s` : `${v.toFixed(3)} s`);

function ratio(bird: number | null | undefined, ours: number | null | undefined, timeout: number): number | null | undefined {
  if (bird === undefined || ours === undefined) return undefined;
  if (ours === null) return null;
  const b = bird ?? timeout;
  return Math.round((b / Math.max(ours, 0.001)) * 10) / 10;
}

export function ratios(ours: RoundResult[], bird: RoundResult[]): NonNullable<LabReport['ratios']> {
  const out: NonNullable<LabReport['ratios']> = {};
  for (const r of ours) {
    const b = bird.find((x) => x.round === r.round);
    if (!b) continue;
    out[r.round] = {
      newPrefix: ratio(b.newPrefixSeconds, r.newPrefixSeconds, b.timeoutSeconds),
      staleSwept: ratio(b.staleSweptSeconds, r.staleSweptSeconds, b.timeoutSeconds),
      vanished: ratio(b.vanishedSeconds, r.vanishedSeconds, b.timeoutSeconds),
    };
  }
  return out;
}

const DESCRIBE: Record<RoundKind, string> = {
  refused: "C's daemon killed (connections refused)",
  unreachable: "C's host down behind its router (ICMP host unreachable)",
  drop: "C drops every packet (no answer, no error)",
  passive: "C's host down, A configured passive toward it",
  vanish: "C's host vanishes under its Established session",
};

export function formatReport(r: LabReport): string {
  const lines: string[] = [];
  const t = r.timeoutSeconds;
  const bird = r.results.bird;
  lines.push(`recovery of node A, measured from outside (rtnetlink monitor of A's kernel), graceful restart wait ${r.grWait} s:`);
  for (const ours of r.results.routelet) {
    const b = bird?.find((x) => x.round === ours.round);
    const q = r.ratios?.[ours.round];
    lines.push(`  ${ours.round}: ${DESCRIBE[ours.round]}`);
    const row = (label: string, mine: number | null | undefined, theirs: number | null | undefined, x: number | null | undefined) => {
      if (mine === undefined) return;
      let s = `    ${label.padEnd(44)} routelet ${fmt(mine, t).padStart(10)}`;
      if (b) s += `   BIRD ${fmt(theirs, b.timeoutSeconds).padStart(10)}   ${x === undefined ? '' : x === null ? '(routelet timed out)' : `BIRD/routelet ${x}×`}`;
      lines.push(s.trimEnd());
    };
    row("start → B's new prefix in the kernel", ours.newPrefixSeconds, b?.newPrefixSeconds, q?.newPrefix);
    row('start → every stale route swept', ours.staleSweptSeconds, b?.staleSweptSeconds, q?.staleSwept);
    row("C gone → C's routes out of the kernel", ours.vanishedSeconds, b?.vanishedSeconds, q?.vanished);
    if (ours.startupSeconds !== undefined) lines.push(`    of which routelet's own start (spawn → "routelet agent running"): ${ours.startupSeconds.toFixed(3)} s`);
    if (ours.keptAcrossStop !== undefined) {
      let s = `    routes kept in the kernel across the stop: routelet ${ours.keptAcrossStop}/4`;
      if (b?.keptAcrossStop !== undefined) s += `, BIRD ${b.keptAcrossStop}/4`;
      lines.push(s);
    }
    if (ours.cLastError) lines.push(`    routelet's last error for C: ${ours.cLastError}`);
    if (b?.cLastError) lines.push(`    BIRD's last error for C: ${b.cLastError}`);
  }
  lines.push(`machine: ${r.machine.cpus} CPUs, load average ${r.machine.loadAverage.join(' ')}; fast unlock: ${r.fastUnlock}`);
  return lines.join('\n');
}

export async function labCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      'compare-bird': { type: 'boolean' },
      'gr-wait': { type: 'string' },
      timeout: { type: 'string' },
      'fast-unlock': { type: 'string' },
      rounds: { type: 'string' },
      keepalive: { type: 'string' },
      'tcp-user-timeout': { type: 'string' },
      json: { type: 'boolean' },
    },
    'lab',
  );
  if (positionals.length) throw new UsageError(`usage: ${USAGE}`);
  const compare = values['compare-bird'] === true;
  const grWait = seconds('--gr-wait', values['gr-wait'], 240, 1, 3600);
  // plain lab: a couple of minutes at most; beside BIRD: long enough to see its wait run out
  const timeout = seconds('--timeout', values.timeout, compare ? grWait + 30 : Math.min(60, grWait + 30), 1, 7200);
  const fuText = values['fast-unlock'];
  if (fuText !== undefined && fuText !== 'on' && fuText !== 'off') throw new UsageError(`routelet lab: invalid --fast-unlock ${JSON.stringify(fuText)}: expected on or off`);
  const fu = fuText as 'on' | 'off' | undefined;
  // routelet's liveness settings (the vanish round): ROUTELET_KEEPALIVE_TIME, ROUTELET_TCP_USER_TIMEOUT
  const keepaliveTime = values.keepalive !== undefined ? seconds('--keepalive', values.keepalive, 0, 1, 21845) : undefined;
  if (keepaliveTime !== undefined && !Number.isInteger(keepaliveTime)) throw new UsageError(`routelet lab: invalid --keepalive ${JSON.stringify(values.keepalive)}: expected whole seconds, 1–21845`);
  const userTimeoutText = values['tcp-user-timeout'];
  const tcpUserTimeout = userTimeoutText !== undefined && /^\d+$/.test(userTimeoutText) ? checkUserTimeout(Number(userTimeoutText)) : undefined;
  if (userTimeoutText !== undefined && !tcpUserTimeout)
    throw new UsageError(`routelet lab: invalid --tcp-user-timeout ${JSON.stringify(userTimeoutText)}: expected milliseconds ${TCP_USER_TIMEOUT_MS.min}–${TCP_USER_TIMEOUT_MS.max}`);
  const { livenessOf } = await import('../lab/configs.js');
  const liveness = livenessOf(keepaliveTime, tcpUserTimeout);
  const rounds = (values.rounds ?? 'refused,unreachable').split(',').map((s) => s.trim()) as RoundKind[];
  for (const r of rounds)
    if (!ROUNDS.includes(r)) throw new UsageError(`routelet lab: invalid --rounds ${JSON.stringify(values.rounds)}: expected a comma-separated list of ${ROUNDS.join(', ')}`);
  if (process.getuid?.() !== 0) {
    process.stderr.write('routelet lab: needs root (network namespaces, rtnetlink)\n');
    return 1;
  }
  const { requireTools } = await import('../lab/tools.js');
  const missing = requireTools();
  if (missing) {
    process.stderr.write(`routelet lab: ${missing}\n`);
    return 1;
  }
  // Ctrl-C / SIGTERM: the exit hooks of src/lab kill what the lab started (by PID) and delete its namespaces
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`routelet lab: ${sig}, cleaning up\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const { runScenario } = await import('../lab/scenario.js');
  const progress = (l: string) => process.stderr.write(`${l}\n`);
  const show = values.json ? undefined : (text: string) => process.stdout.write(`${text}\n\n`);
  const common = { rounds, grWait, timeout, progress, ...(fu ? { fastUnlock: fu } : {}) } as const;
  const report: LabReport = {
    machine: { cpus: cpus().length, loadAverage: loadavg().map((x) => Math.round(x * 100) / 100) },
    grWait,
    timeoutSeconds: timeout,
    fastUnlock: fu ?? 'default',
    results: { routelet: await runScenario({ ...common, speaker: 'routelet', liveness, ...(show ? { show } : {}) }) },
  };
  if (compare) {
    report.results.bird = await runScenario({ ...common, speaker: 'bird', ...(show ? { show } : {}) });
    report.ratios = ratios(report.results.routelet, report.results.bird);
  }
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
  return 0;
}
