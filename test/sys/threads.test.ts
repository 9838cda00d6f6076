// V8's worker threads at SCHED_BATCH (native/runtime_threads.cc, ROUTELET_V8_WORKERS): the
// threads set are this process's, never the JavaScript thread, all of Node's platform workers,
// and only they; `normal` puts them back; the agent does it at start unless told not to.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../support/agent.js';
import { Netns } from '../support/netns.js';
import { requireRoot } from '../support/privileges.js';

const SCHED_OTHER = 0;
const SCHED_BATCH = 3;

/** policy of every thread of a process, by thread ID (field 41 of /proc/PID/task/TID/stat) */
function policies(pid: number | 'self'): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      out.set(Number(t), Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[38]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

describe('setV8WorkerPolicy', () => {
  it('sets exactly the V8 worker threads to SCHED_BATCH and back, never the JavaScript thread', () => {
    // in a process of its own: the built module (the test command builds dist/ first)
    const module = fileURLToPath(new URL('../../dist/native/threads.js', import.meta.url));
    const code = `
      import { setV8WorkerPolicy } from ${JSON.stringify(module)};
      import { readdirSync, readFileSync } from 'node:fs';
      const pol = () => Object.fromEntries(readdirSync('/proc/self/task').map((t) => {
        const s = readFileSync('/proc/self/task/' + t + '/stat', 'utf8');
        return [t, Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[38])];
      }));
      const batch = setV8WorkerPolicy('batch');
      const afterBatch = pol();
      const normal = setV8WorkerPolicy('normal');
      const afterNormal = pol();
      const bad = setV8WorkerPolicy('idle');
      console.log(JSON.stringify({ pid: process.pid, batch, afterBatch, normal, afterNormal, bad }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    const o = JSON.parse(r.stdout) as {
      pid: number;
      batch: { ok: boolean; workers: number; threads: number[] };
      afterBatch: Record<string, number>;
      normal: { ok: boolean; threads: number[] };
      afterNormal: Record<string, number>;
      bad: { ok: boolean; code: string };
    };
    expect(o.batch.ok).toBe(true);
    const set = o.batch.threads;
    expect(new Set(set).size).toBe(set.length);
    // Node's pool (4 by default); Node 20 counts its delayed-task thread too, which runs no task
    expect(set.length).toBeGreaterThanOrEqual(Math.max(1, o.batch.workers - 1));
    expect(set.length).toBeLessThanOrEqual(o.batch.workers);
    expect(set).not.toContain(o.pid);
    for (const [tid, policy] of Object.entries(o.afterBatch)) expect([Number(tid), policy]).toEqual([Number(tid), set.includes(Number(tid)) ? SCHED_BATCH : SCHED_OTHER]);
    expect(o.normal.ok).toBe(true);
    expect([...o.normal.threads].sort()).toEqual([...set].sort());
    for (const policy of Object.values(o.afterNormal)) expect(policy).toBe(SCHED_OTHER);
    expect(o.bad).toMatchObject({ ok: false, code: 'EINVAL' });
  });
});

describe('startWorkerPolicy and noteBulkWork (src/sys/workers.ts)', () => {
  it('SCHED_BATCH when quiet, SCHED_OTHER at once on bulk work, SCHED_BATCH again after the quiet time', () => {
    const module = fileURLToPath(new URL('../../dist/sys/workers.js', import.meta.url));
    const code = `
      import { noteBulkWork, startWorkerPolicy, workersBatch } from ${JSON.stringify(module)};
      import { readFileSync } from 'node:fs';
      const pol = (tids) => tids.map((t) => { const s = readFileSync('/proc/self/task/' + t + '/stat', 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[38]); });
      const r = startWorkerPolicy({ quietMs: 1000 });
      const out = { ok: r.ok, threads: r.threads, steps: [] };
      const step = (name) => out.steps.push({ name, batch: workersBatch(), policies: pol(r.threads) });
      step('start');
      noteBulkWork();
      step('bulk');
      // each step timed from the one before, with 600 ms to spare either side of the quiet time
      setTimeout(() => {
        noteBulkWork();
        step('bulk again, 400 ms later');
        setTimeout(() => {
          step('400 ms after the last bulk work');
          setTimeout(() => { step('1,600 ms after it'); console.log(JSON.stringify(out)); }, 1200);
        }, 400);
      }, 400);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    const o = JSON.parse(r.stdout) as { ok: boolean; threads: number[]; steps: { name: string; batch: boolean; policies: number[] }[] };
    expect(o.ok).toBe(true);
    expect(o.threads.length).toBeGreaterThan(0);
    const want = (batch: boolean) => ({ batch, policies: o.threads.map(() => (batch ? SCHED_BATCH : SCHED_OTHER)) });
    expect(o.steps.map(({ name, ...rest }) => [name, rest])).toEqual([
      ['start', want(true)],
      ['bulk', want(false)],
      ['bulk again, 400 ms later', want(false)],
      ['400 ms after the last bulk work', want(false)],
      ['1,600 ms after it', want(true)],
    ]);
  });
});

describe('the agent and ROUTELET_V8_WORKERS', () => {
  let ns: Netns;
  let agent: AgentProcess | undefined;
  const env = { ROUTELET_ASN: '65000', ROUTELET_ROUTER_ID: '192.0.2.1', ROUTELET_LISTEN_PORT: '1790', ROUTELET_BPF: 'off', ROUTELET_KERNEL: 'off' };
  beforeAll(() => {
    requireRoot();
    ns = new Netns('v8w');
    ns.ip('link', 'set', 'lo', 'up');
  });
  afterAll(async () => {
    await agent?.stop();
    ns?.delete();
  });

  it('by default its V8 workers run at SCHED_BATCH and it says which; its JavaScript thread does not', async () => {
    agent = await startAgent(ns, env);
    const line = agent.lines().find((l) => typeof l.msg === 'string' && l.msg.startsWith('V8 worker threads: SCHED_BATCH'));
    expect(line, agent.log()).toBeDefined();
    const threads = line!.threads as number[];
    expect(threads.length).toBeGreaterThan(0);
    const p = policies(agent.pid);
    expect(p.get(agent.pid)).toBe(SCHED_OTHER);
    for (const [tid, policy] of p) expect([tid, policy]).toEqual([tid, threads.includes(tid) ? SCHED_BATCH : SCHED_OTHER]);
    await agent.stop();
    agent = undefined;
  });

  it('ROUTELET_V8_WORKERS=normal leaves every thread as Node starts it', async () => {
    agent = await startAgent(ns, { ...env, ROUTELET_V8_WORKERS: 'normal' });
    expect(agent.log()).not.toContain('V8 worker threads');
    for (const policy of policies(agent.pid).values()) expect(policy).toBe(SCHED_OTHER);
    await agent.stop();
    agent = undefined;
  });
});
