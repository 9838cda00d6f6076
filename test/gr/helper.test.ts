// The graceful-restart helper role with fast unlock (issue 7), end to end: `routelet agent` in
// namespace A, BIRD 2 peers B (on A's link) and C (behind router R, `graceful restart on`,
// restart time 120 s, hold time 240 s). C announces C1 (and C2); they are in A's kernel.
//   (a) C's BIRD crashes (SIGKILL): A keeps C's routes stale, its reconnect is refused, the
//       routes leave the kernel within 10 s — C's restart time is 120 s;
//   (b) C's host vanishes under the Established session (its link goes down behind R, R
//       answers A's retransmissions with ICMP host unreachable): A closes the session and C's
//       routes leave the kernel within 10 s — a hold time of 240 s cannot explain that;
//   (c) C's side of the session is reset (ss -K in C: the kernel sends RST): the routes are
//       withdrawn, not kept stale (then the session and the routes come back: C is alive);
//   (d) control: BIRD restarts gracefully (SIGKILL, then `bird -R` at once) before A's first
//       reconnect (ConnectRetry 10 s): C1 never leaves the kernel, C2 (gone from C's new
//       configuration) is swept at C's End-of-RIB.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { A_R, B, B_KEEP, B_NEW, C, C1, C2, type Topo, birdC, destroy, destroyAll, dump, kernelRoutes, pollKernel, runAgent, sleep, topology, waitLine } from './support.js';

let t: Topo | undefined;

beforeAll(() => {
  requireRoot();
  requireCommand('bird', 'bird2');
  requireCommand('ss', 'iproute2');
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') dump(t);
  await destroy(t);
  t = undefined;
});

afterAll(async () => {
  await destroyAll();
});

const HOLD = 240;
const RESTART = 120;

/** A with both sessions Established (hold time 240 s) and C1, C2, B_KEEP in its kernel. */
async function established(tag: string, o: { env?: Record<string, string> } = {}): Promise<Topo> {
  t = await topology(tag, { holdTime: HOLD, restartTime: RESTART, cPrefixes: [C1, C2] });
  const a = await runAgent(t, o.env);
  await a.waitPeer(B, (p) => p.state === 'Established', 30_000);
  const c = await a.waitPeer(C, (p) => p.state === 'Established', 30_000);
  expect(c.holdTime).toBe(HOLD);
  expect(c.gracefulRestart.negotiated).toBe(true);
  await pollKernel(t, 'C1, C2 and B_KEEP in the kernel', (k) => k.has(C1) && k.has(C2) && k.has(B_KEEP), { t0: Date.now(), timeoutMs: 20_000, everyMs: 100 });
  return t;
}

const cGone = (k: Map<string, string>) => !k.has(C1) && !k.has(C2);
const bStays = (k: Map<string, string>) => (k.has(B_KEEP) ? null : `${B_KEEP} (B's prefix) left the kernel`);
const msgs = (t: Topo) => t.agent!.lines().map((l) => String(l.msg ?? ''));
const keptStale = (t: Topo) => msgs(t).some((m) => m.startsWith(`graceful restart helper: keeping the routes of ${C} as stale`));

describe('graceful restart helper with fast unlock (C: restart time 120 s, hold time 240 s)', () => {
  it('(a) C crashes (SIGKILL): its routes are kept stale until the reconnect is refused, then leave the kernel', async () => {
    const t = await established('ha');
    const t0 = Date.now();
    await t.birdC.kill('SIGKILL');
    const ms = await pollKernel(t, "C's routes out of the kernel", cGone, { t0, timeoutMs: 10_000, always: bStays });
    // far below C's restart time: the classic helper keeps them 120 s
    expect(ms).toBeLessThan(10_000);
    // kept as stale first (a crash is what graceful restart is for) …
    await waitLine(t.agent!, new RegExp(`^graceful restart helper: keeping the routes of ${C.replace(/\./g, '\\.')} as stale for up to ${RESTART} s$`));
    // … then dropped on the refused reconnect
    const swept = await waitLine(t.agent!, (l) => l.peer === C && typeof l.msg === 'string' && l.msg.startsWith(`graceful restart helper: stale IPv4 routes of ${C} swept`));
    expect(swept?.why).toMatch(/^the peer is dead: ECONNREFUSED \((bpf \w+|socket error)\)$/);
    const p = (await t.agent!.peer(C))!;
    expect(p.dead?.kind).toBe('refused');
    expect(p.gracefulRestart.restarting).toBe(false);
    process.stderr.write(`[helper] crash: C's routes left the kernel ${ms} ms after SIGKILL (${String(swept?.why)})\n`);
  }, 90_000);

  it("(b) C's host vanishes under the Established session: closed at once, routes withdrawn (not at hold-timer expiry)", async () => {
    const t = await established('hb');
    const t0 = Date.now();
    // C's link goes down behind R: R's ARP for C fails and it answers with ICMP host unreachable
    t.c.ip('link', 'set', t.cDev, 'down');
    // something for A to send to C: B announces a new prefix, A passes it on to C
    t.birdB.cli('enable new4');
    const ms = await pollKernel(t, "C's routes out of the kernel", cGone, { t0, timeoutMs: 10_000, always: bStays });
    expect(ms).toBeLessThan(10_000);
    expect(kernelRoutes(t).has(B_NEW)).toBe(true);
    const gone = await waitLine(t.agent!, (l) => typeof l.msg === 'string' && l.msg.startsWith(`fast unlock: the host of ${C} is gone under the Established session`));
    expect(gone!.kind).toBe('host-gone');
    expect(gone!.evidence).toMatch(/^host gone \(retransmissions with EHOSTUNREACH\) \(bpf (tcp_retransmit_skb|sockops)\)$/);
    // withdrawn, not kept as stale: nobody is there to forward to
    await waitLine(t.agent!, (l) => typeof l.msg === 'string' && l.msg.startsWith(`fast unlock: ${C} is dead (`) && l.msg.endsWith('its routes are withdrawn, not kept as stale'));
    expect(keptStale(t)).toBe(false);
    const p = (await t.agent!.peer(C))!;
    expect(p.state).not.toBe('Established');
    expect(p.lastError).toMatch(/^peer host gone: host gone \(retransmissions with EHOSTUNREACH\)/);
    process.stderr.write(`[helper] host vanished: C's routes left the kernel ${ms} ms after its link went down (hold time ${HOLD} s); lastError ${p.lastError}\n`);
  }, 90_000);

  it("(e) C's host goes silent under the Established session (no ICMP, no RST: a cloud host terminated, a security group cut): with ROUTELET_TCP_USER_TIMEOUT its routes leave the kernel within a second or two", async () => {
    // keepalives every second give A something to send; 300 ms without an acknowledgement
    // fails the connection (ETIMEDOUT), which the fast unlock takes as the host gone
    const t = await established('he', { env: { ROUTELET_KEEPALIVE_TIME: '1', ROUTELET_TCP_USER_TIMEOUT: '300' } });
    expect((await t.agent!.peer(C))!.tcpUserTimeout).toBe(300);
    // the sockops program saw the user timeout and lowered the session's minimum RTO (to 50 ms)
    const metrics = (await t.agent!.get('/metrics')).body;
    expect(Number(/^routelet_bpf_rto_min_lowered_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    // a live peer is not taken for silent: three seconds of keepalives, both sessions stay up
    await sleep(3000);
    for (const p of await t.agent!.peers()) expect(p.state).toBe('Established');
    expect(msgs(t).some((m) => m.includes('ETIMEDOUT') || m.includes('is gone'))).toBe(false);
    const t0 = Date.now();
    // everything C would send to A disappears in C (its link stays up: R's ARP for C still works,
    // so nobody reports anything)
    t.c.ip('route', 'add', 'blackhole', `${A_R}/32`);
    const ms = await pollKernel(t, "C's routes out of the kernel", cGone, { t0, timeoutMs: 10_000, everyMs: 20, always: bStays });
    // at most a keepalive interval (1 s) plus the user timeout (0.3 s), and the time to act
    expect(ms).toBeLessThan(2500);
    const gone = await waitLine(t.agent!, (l) => typeof l.msg === 'string' && l.msg.startsWith(`fast unlock: the host of ${C} is gone under the Established session`));
    // the session's own ACK check (ETIMEDOUT), the RTO callback seeing the limit reached, or the
    // kernel's ETIMEDOUT, whichever comes first
    expect(['rto', 'timeout']).toContain(gone!.kind);
    expect(String(gone!.evidence)).toMatch(/^(retransmission limit reached \(bpf (sockops|tcp_retransmit_skb)\)|ETIMEDOUT \((bpf inet_sk_error_report|socket error)\))$/);
    expect(keptStale(t)).toBe(false);
    process.stderr.write(`[helper] host silent: C's routes left the kernel ${ms} ms after its packets stopped (keepalive 1 s, user timeout 300 ms)\n`);
  }, 90_000);

  it("(c) reset on the Established session (ss -K in C's namespace): routes dropped, not kept stale", async () => {
    const t = await established('hc');
    const t0 = Date.now();
    // destroy C's end of the session (whichever side opened it): the kernel sends A an RST
    t.c.exec('ss', ['-K', '-t', 'state', 'established', 'dst', A_R, 'dport', '=', '179']);
    t.c.exec('ss', ['-K', '-t', 'state', 'established', 'dst', A_R, 'sport', '=', '179']);
    const ms = await pollKernel(t, "C's routes out of the kernel", cGone, { t0, timeoutMs: 10_000, everyMs: 20, always: bStays });
    expect(ms).toBeLessThan(10_000);
    const down = await waitLine(t.agent!, (l) => l.msg === `BGP session with ${C} down`);
    expect(String(down.reason)).toMatch(/ECONNRESET/);
    await waitLine(t.agent!, (l) => typeof l.msg === 'string' && l.msg.startsWith(`fast unlock: ${C} is dead (ECONNRESET`) && l.msg.endsWith('its routes are withdrawn, not kept as stale'));
    expect(keptStale(t)).toBe(false);
    // C's BIRD is alive: the session comes back and so do its routes
    await t.agent!.waitPeer(C, (p) => p.state === 'Established' && !p.dead, 20_000);
    await pollKernel(t, "C's routes back in the kernel", (k) => k.has(C1) && k.has(C2), { t0: Date.now(), timeoutMs: 20_000, everyMs: 100 });
    process.stderr.write(`[helper] reset: C's routes left the kernel ${ms} ms after the RST; session down: ${String(down.reason)}\n`);
  }, 90_000);

  it('(d) control: BIRD restarts gracefully (bird -R) before our reconnect: C1 stays in the kernel throughout, C2 swept at End-of-RIB', async () => {
    // our first reconnect comes 7.5–10 s after the session drops: BIRD is back before that
    const t = await established('hd', { env: { ROUTELET_CONNECT_RETRY: '10', ROUTELET_CONNECT_RETRY_MAX: '20' } });
    t.birdC.configure(birdC({ holdTime: HOLD, restartTime: RESTART, cPrefixes: [C1] }));
    const t0 = Date.now();
    await t.birdC.kill('SIGKILL');
    await t.birdC.start({ recover: true });
    const ms = await pollKernel(t, `${C2} swept`, (k) => !k.has(C2), {
      t0,
      timeoutMs: 15_000,
      everyMs: 20,
      always: (k) => (k.has(C1) ? bStays(k) : `${C1} left the kernel while C restarted`),
    });
    await t.agent!.waitPeer(C, (p) => p.state === 'Established', 5000);
    await waitLine(t.agent!, (l) => typeof l.msg === 'string' && l.msg.startsWith(`graceful restart helper: keeping the routes of ${C} as stale`));
    const swept = await waitLine(t.agent!, (l) => l.peer === C && typeof l.msg === 'string' && l.msg.startsWith(`graceful restart helper: stale IPv4 routes of ${C} swept`));
    expect(swept?.why).toBe('End-of-RIB');
    expect(msgs(t).some((m) => m.startsWith(`fast unlock: ${C} is dead`) || m.startsWith(`fast unlock: the host of ${C}`))).toBe(false);
    // C1 confirmed by C again: no longer stale
    const [route] = await t.agent!.routes(C1);
    expect(route?.paths.find((p) => p.peer === C)?.stale).toBe(false);
    expect(kernelRoutes(t).has(C1)).toBe(true);
    process.stderr.write(`[helper] graceful BIRD restart: C1 stayed in the kernel (polled every 20 ms), C2 swept at End-of-RIB ${ms} ms after SIGKILL\n`);
  }, 90_000);
});

