// Restart recovery that does not wait for the dead (issue 7), end to end: `routelet agent`
// as a child process in namespace A, BIRD 2 peers B (alive) and C (behind router R, the one
// that dies). A is stopped with SIGTERM (its routes stay in the kernel), B withdraws one
// prefix and announces a new one, C dies, A starts again with ROUTELET_GR_WAIT=120:
//   - B's new prefix reaches A's kernel, and every stale route (B's withdrawn prefix, C's
//     prefix) leaves it within 10 s of the start — a classic restart would keep them 120 s;
//   - /api/v1/peers names C dead with its evidence; the log says why recovery ended.
// One case per way of dying: refused, unreachable by ICMP, no route (ICMP net unreachable),
// silently dropping (blackhole: SYN unanswered, from BPF), and C passive on A (probed).
// Controls: ROUTELET_GR_FAST_UNLOCK=off keeps the stale routes and waits for C;
// ROUTELET_BPF=off is still fast, on the errors Node sees on its own sockets.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PeerView } from '../../src/api/types.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { B, B_GONE, B_KEEP, B_NEW, C, C1, type Topo, destroy, destroyAll, dump, kernelRoutes, pollKernel, runAgent, topology, waitLine } from './support.js';

let t: Topo | undefined;

beforeAll(() => {
  requireRoot();
  requireCommand('bird', 'bird2');
  requireCommand('ip', 'iproute2');
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') dump(t);
  await destroy(t);
  t = undefined;
});

afterAll(async () => {
  await destroyAll();
});

type Death = 'refused' | 'icmp' | 'noroute' | 'blackhole';

/** A running with both sessions up and every prefix in its kernel; then SIGTERM. */
async function firstRun(tag: string, o: { cPassive?: boolean; env?: Record<string, string> } = {}): Promise<Topo> {
  t = await topology(tag, o.cPassive ? { cPassive: true } : {});
  const a = await runAgent(t, o.env);
  await a.waitPeer(B, (p) => p.state === 'Established', 30_000);
  await a.waitPeer(C, (p) => p.state === 'Established', 30_000);
  await pollKernel(t, 'B_KEEP, B_GONE and C1 in the kernel', (k) => k.has(B_KEEP) && k.has(B_GONE) && k.has(C1), { t0: Date.now(), timeoutMs: 20_000, everyMs: 100 });
  const r = await a.stop('SIGTERM');
  expect(r.code).toBe(0);
  // the routes stay in the kernel while the agent is away
  const k = kernelRoutes(t);
  expect([...k.keys()].sort()).toEqual([B_KEEP, B_GONE, C1].sort());
  // while A is down: B withdraws one prefix and announces another
  t.birdB.cli('disable gone4');
  t.birdB.cli('enable new4');
  return t;
}

/** C dies: its BIRD stops (by PID), and R answers for it as the case says. */
async function kill(t: Topo, how: Death): Promise<void> {
  await t.birdC.kill('SIGTERM');
  if (how === 'icmp') t.r.ip('route', 'add', 'unreachable', `${C}/32`);
  if (how === 'noroute') t.r.ip('route', 'del', '10.61.3.0/24', 'dev', t.rcDev);
  if (how === 'blackhole') t.r.ip('route', 'add', 'blackhole', `${C}/32`);
}

const stale = (k: Map<string, string>) => k.has(B_GONE) || k.has(C1);
const keepAlways = (k: Map<string, string>) => (k.has(B_KEEP) ? null : `${B_KEEP} (B's live prefix) left the kernel`);

/**
 * Start A again; poll its kernel until B_NEW is in and every stale route is out (B_KEEP must
 * never leave). Returns the times, the agent's view of C and the recovery log line.
 */
async function restart(t: Topo, env: Record<string, string> = {}) {
  const t0 = Date.now();
  const a = await runAgent(t, env);
  const newIn = pollKernel(t, `${B_NEW} in the kernel`, (k) => k.has(B_NEW), { t0, timeoutMs: 10_000, always: keepAlways });
  const swept = pollKernel(t, 'every stale route out of the kernel', (k) => !stale(k), { t0, timeoutMs: 10_000, always: keepAlways });
  const [newMs, sweptMs] = await Promise.all([newIn, swept]);
  const peer = (await a.peer(C))!;
  const line = await waitLine(a, /^restart recovery done after \d+ ms/);
  const first = await waitLine(a, (l) => typeof l.msg === 'string' && l.msg.startsWith(`fast unlock: ${C} is dead (`));
  return { a, newMs, sweptMs, peer, line, first };
}

const DONE = new RegExp(`^restart recovery done after (\\d+) ms \\(End-of-RIB received from every live configured peer; dead: ${C.replace(/\./g, '\\.')}\\): (\\d+) stale kernel routes removed$`);

function expectFast(r: Awaited<ReturnType<typeof restart>>, kind: string, evidence: RegExp, detection: 'bpf' | 'socket' = 'bpf'): void {
  // far below ROUTELET_GR_WAIT (120 s): a classic restart would still be waiting for C
  expect(r.newMs).toBeLessThan(10_000);
  expect(r.sweptMs).toBeLessThan(10_000);
  const m = DONE.exec(String(r.line.msg));
  expect(m, String(r.line.msg)).not.toBeNull();
  expect(Number(m![1])).toBeLessThan(10_000);
  // B_GONE and C1
  expect(Number(m![2])).toBe(2);
  const p: PeerView = r.peer;
  expect(p.state).not.toBe('Established');
  expect(p.detection).toBe(detection);
  expect(p.dead, JSON.stringify(p)).toBeTruthy();
  expect(p.dead!.kind).toBe(kind);
  expect(p.dead!.evidence).toMatch(evidence);
  // the first evidence ended the wait (the API shows the latest: BPF and the socket may both report)
  const first = r.first;
  expect(first?.msg).toMatch(/: no longer waiting for its End-of-RIB$/);
  expect(first?.evidence).toMatch(evidence);
  expect(first?.kind).toBe(kind);
  process.stderr.write(`[recovery] ${kind}: new prefix after ${r.newMs} ms, stale swept after ${r.sweptMs} ms; log: ${String(r.line.msg)}; evidence ${p.dead!.evidence}\n`);
}

describe('restarting speaker with one dead peer (ROUTELET_GR_WAIT=120)', () => {
  it('C refused (its BIRD stopped): recovery ends on the refusal', async () => {
    const t = await firstRun('rf');
    await kill(t, 'refused');
    expectFast(await restart(t), 'refused', /^ECONNREFUSED \((bpf \w+|socket error)\)$/);
  }, 90_000);

  it('C unreachable by ICMP (R has an unreachable route: host unreachable)', async () => {
    const t = await firstRun('ic');
    await kill(t, 'icmp');
    expectFast(await restart(t), 'unreachable', /^EHOSTUNREACH \((bpf \w+|socket error)\)$/);
  }, 90_000);

  it('C unreachable by no route (R has none: net unreachable)', async () => {
    const t = await firstRun('nr');
    await kill(t, 'noroute');
    expectFast(await restart(t), 'unreachable', /^ENETUNREACH \((bpf \w+|socket error)\)$/);
  }, 90_000);

  it('C silently dropping (blackhole at R): SYN unanswered, seen by BPF', async () => {
    const t = await firstRun('bh');
    await kill(t, 'blackhole');
    // ConnectRetry 30 s: the connect attempt itself times out only after 22.5–30 s, so only the
    // SYN retransmission BPF sees (after about 1 s) can end the recovery within 10 s
    const r = await restart(t, { ROUTELET_CONNECT_RETRY: '30', ROUTELET_CONNECT_RETRY_MAX: '60' });
    expectFast(r, 'syn-unanswered', /^SYN unanswered \(bpf (tcp_retransmit_skb|sockops)\)$/);
  }, 90_000);

  it('C passive on A and dead: the agent probes it', async () => {
    const t = await firstRun('pa', { cPassive: true });
    await kill(t, 'refused');
    const r = await restart(t);
    expectFast(r, 'refused', /^ECONNREFUSED \((bpf \w+|socket error)\)$/);
    // A never connects to a passive peer itself: the refusal came from a probe
    expect(r.a.lines().some((l) => typeof l.msg === 'string' && l.msg.startsWith(`fast unlock: ${C} is dead (ECONNREFUSED`))).toBe(true);
  }, 90_000);
});

describe('controls', () => {
  it.each([
    ['active', false],
    ['passive (never probed)', true],
  ])('ROUTELET_GR_FAST_UNLOCK=off, C %s and refused: the stale routes stay, /readyz waits for C', async (_, cPassive) => {
    const t = await firstRun(cPassive ? 'cp' : 'cl', { cPassive });
    await kill(t, 'refused');
    const t0 = Date.now();
    const a = await runAgent(t, { ROUTELET_GR_FAST_UNLOCK: 'off' });
    await a.waitPeer(B, (p) => p.state === 'Established', 20_000);
    await pollKernel(t, `${B_NEW} in the kernel`, (k) => k.has(B_NEW), { t0, timeoutMs: 10_000, always: keepAlways });
    // B has sent everything: from here on only C holds the recovery; it stays held
    const until = Date.now() + 6000;
    await pollKernel(t, '6 s to pass', () => Date.now() > until, {
      t0,
      timeoutMs: 10_000,
      everyMs: 200,
      always: (k) => (!k.has(B_GONE) ? `${B_GONE} swept` : !k.has(C1) ? `${C1} swept` : keepAlways(k)),
    });
    const ready = await a.readyz();
    expect(ready.status).toBe(503);
    expect(ready.body).toMatch(new RegExp(`^graceful restart: the kernel keeps stale routes until End-of-RIB from ${C.replace(/\./g, '\\.')} \\(at most 1\\d\\d s more\\)$`, 'm'));
    const p = (await a.peer(C))!;
    expect(p.dead ?? null).toBeNull();
    expect(a.lines().some((l) => typeof l.msg === 'string' && l.msg.startsWith('restart recovery done'))).toBe(false);
  }, 90_000);

  it('ROUTELET_BPF=off: still fast, on the socket errors; detection "socket"', async () => {
    const t = await firstRun('nb', { env: { ROUTELET_BPF: 'off' } });
    await kill(t, 'refused');
    const r = await restart(t, { ROUTELET_BPF: 'off' });
    expectFast(r, 'refused', /^ECONNREFUSED \(socket error\)$/, 'socket');
    expect((await r.a.peer(B))!.detection).toBe('socket');
  }, 90_000);
});
