// `routelet lab` end to end, as a child process: the scenario of issue 7 in namespaces.
//  - routelet alone, C refused then unreachable: across the restart the kernel keeps the
//    routes, B's new prefix reaches A's kernel and every stale route is swept, both within 5 s
//    (a generous bound: with ROUTELET_GR_WAIT 30 the classic behaviour takes 30 s, so this
//    fails without fast unlock); no namespace and no daemon of the lab is left afterwards.
//  - --compare-bird with a short graceful restart wait: BIRD holds everything until its wait
//    runs out, and the report puts the two side by side.
//  - Ctrl-C in the middle: namespaces and daemons are gone.
//  - bad usage: exit 2, one line naming the flag.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LabReport } from '../../src/cli/lab.js';
import { BIN, ROOT, routelet } from '../support/cli.js';
import { netnsExists } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';

interface LabRun {
  pid: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

function clean(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([k, v]) => !k.startsWith('ROUTELET_') && v !== undefined)) as Record<string, string>;
}

function startLab(args: string[]): { child: ChildProcess; done: Promise<LabRun>; stderr: () => string } {
  const child = spawn(process.execPath, [BIN, 'lab', ...args], { env: clean(), cwd: ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<LabRun>((resolve) => child.on('close', (status) => resolve({ pid: child.pid!, status, stdout, stderr })));
  return { child, done, stderr: () => stderr };
}

/** the namespaces the lab said it made */
function namespacesOf(stderr: string): string[] {
  return [...stderr.matchAll(/namespaces ((?:\S+ ?)+)/g)].flatMap((m) => m[1]!.trim().split(' '));
}

/** processes of this lab run: daemons (their directory on the command line) and agents (their peers file in the environment) */
function daemonsOf(labPid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(`routelet-daemons-${labPid}-`)) out.push(Number(d));
      else if (readFileSync(`/proc/${d}/environ`, 'utf8').includes(`routelet-lab-${labPid}-`)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function report(r: LabRun): LabReport {
  expect(r.status, r.stderr.slice(-4000)).toBe(0);
  const last = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(last) as LabReport;
}

beforeAll(() => {
  requireRoot();
  requireCommand('bird', 'bird2');
  requireCommand('birdc', 'bird2');
});

describe('routelet lab', () => {
  it('C refused, then unreachable: the new prefix arrives and every stale route is swept within 5 s; nothing is left behind', async () => {
    const lab = startLab(['--json', '--gr-wait', '30', '--timeout', '20']);
    const r = await lab.done;
    const rep = report(r);
    expect(rep.results.routelet.map((x) => x.round)).toEqual(['refused', 'unreachable']);
    for (const x of rep.results.routelet) {
      expect(x.keptAcrossStop, `${x.round}: routes kept in the kernel across SIGTERM`).toBe(4);
      expect(x.newPrefixSeconds, `${x.round}: new prefix from B in A's kernel`).not.toBeNull();
      expect(x.staleSweptSeconds, `${x.round}: stale routes swept`).not.toBeNull();
      expect(x.newPrefixSeconds!).toBeLessThan(5);
      expect(x.staleSweptSeconds!).toBeLessThan(5);
    }
    expect(rep.results.routelet[0]!.cLastError ?? '').toMatch(/ECONNREFUSED|^$/);
    const names = namespacesOf(r.stderr);
    expect(names.length).toBe(5);
    for (const n of names) expect(netnsExists(n), `namespace ${n} left behind`).toBe(false);
    expect(daemonsOf(r.pid)).toEqual([]);
  }, 180_000);

  it('--compare-bird: BIRD holds the new prefix and the stale routes until its graceful restart wait ends', async () => {
    const lab = startLab(['--json', '--compare-bird', '--gr-wait', '8', '--rounds', 'refused']);
    const r = await lab.done;
    const rep = report(r);
    const bird = rep.results.bird![0]!;
    const ours = rep.results.routelet[0]!;
    expect(bird.keptAcrossStop, "BIRD's persist keeps the routes across a crash").toBe(4);
    // BIRD's kernel sync waits for the end of recovery: its wait (8 s) with a dead peer
    expect(bird.newPrefixSeconds).not.toBeNull();
    expect(bird.newPrefixSeconds!).toBeGreaterThanOrEqual(7.5);
    expect(bird.staleSweptSeconds!).toBeGreaterThanOrEqual(7.5);
    expect(ours.newPrefixSeconds!).toBeLessThan(5);
    expect(ours.staleSweptSeconds!).toBeLessThan(5);
    expect(rep.ratios!.refused!.newPrefix!).toBeGreaterThan(1);
    for (const n of namespacesOf(r.stderr)) expect(netnsExists(n), `namespace ${n} left behind`).toBe(false);
    expect(daemonsOf(r.pid)).toEqual([]);
  }, 180_000);

  it('Ctrl-C in the middle removes the namespaces and stops the daemons', async () => {
    const lab = startLab(['--json', '--gr-wait', '30']);
    const deadline = Date.now() + 60_000;
    while (!/starting A with every peer alive/.test(lab.stderr()) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    const names = namespacesOf(lab.stderr());
    expect(names.length).toBe(5);
    expect(names.every((n) => netnsExists(n))).toBe(true);
    expect(daemonsOf(lab.child.pid!).length).toBeGreaterThan(0);
    lab.child.kill('SIGINT');
    const r = await lab.done;
    expect(r.status).toBe(130);
    for (const n of names) expect(netnsExists(n), `namespace ${n} left behind`).toBe(false);
    // the daemons were killed by PID on the way out
    await new Promise((res) => setTimeout(res, 300));
    expect(daemonsOf(r.pid)).toEqual([]);
  }, 90_000);

  it('bad usage: exit 2 naming the flag', () => {
    const r = routelet(['lab', '--gr-wait', 'soon']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('routelet: routelet lab: invalid --gr-wait "soon": expected seconds, 1–3600');
    const r2 = routelet(['lab', '--rounds', 'refused,exploded']);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/invalid --rounds "refused,exploded"/);
    const r3 = routelet(['lab', '--tcp-user-timeout', '50']);
    expect(r3.status).toBe(2);
    expect(r3.stderr).toMatch(/invalid --tcp-user-timeout "50": expected milliseconds 100–600000/);
    const r4 = routelet(['lab', '--keepalive', '1.5']);
    expect(r4.status).toBe(2);
    expect(r4.stderr).toMatch(/invalid --keepalive "1.5"/);
  });
});
