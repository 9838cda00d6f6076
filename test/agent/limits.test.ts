// Issue 12, without sockets: the descriptor-limit check at start, and the spreading of work
// over turns of the event loop (session starts, timer firings) that keeps /livez answering
// with thousands of peers.
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/index.js';
import { checkDescriptorLimit } from '../../src/agent/run.js';
import { HTTP_MAX_CONNECTIONS } from '../../src/http/limits.js';
import { FIRES_PER_TURN, FsmTimers } from '../../src/bgp/session/timers.js';
import { createLogger } from '../../src/log.js';

const limits = (n: number | 'unlimited') => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${n}                 ${n}                 files\n`;

function capture() {
  const lines: { level: string; msg: string }[] = [];
  const log = {
    info: (_o: unknown, msg: string) => lines.push({ level: 'info', msg }),
    warn: (_o: unknown, msg: string) => lines.push({ level: 'warn', msg }),
  } as unknown as ReturnType<typeof createLogger>;
  return { lines, log };
}

describe('descriptor limit at start', () => {
  const config = (peers: number) => ({ peers: Array.from({ length: peers }, () => ({})) }) as unknown as Config;

  it('warns when the limit is below what the peers and the HTTP cap need', () => {
    const { lines, log } = capture();
    const r = checkDescriptorLimit(config(10_000), log, limits(20_000));
    expect(r.limit).toBe(20_000);
    expect(r.needed).toBeGreaterThan(20_000);
    expect(r.needed).toBeGreaterThanOrEqual(10_000 * 2 + HTTP_MAX_CONNECTIONS);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('warn');
    expect(lines[0]!.msg).toContain('20000 file descriptors, fewer than');
  });

  it('says the limit when it is enough (or unlimited)', () => {
    for (const n of [1_048_576, 'unlimited'] as const) {
      const { lines, log } = capture();
      checkDescriptorLimit(config(100), log, limits(n));
      expect(lines.map((l) => l.level)).toEqual(['info']);
    }
  });
});

describe('timers fire at most FIRES_PER_TURN sessions per turn', () => {
  it(`${FIRES_PER_TURN * 5 + 7} timers due at once: all fire, spread over turns`, async () => {
    const n = FIRES_PER_TURN * 5 + 7;
    const firedAt: number[] = [];
    let turn = 0;
    let counting = true;
    const count = () => {
      if (!counting) return;
      turn++;
      setImmediate(count);
    };
    const timers = Array.from({ length: n }, () => new FsmTimers(() => firedAt.push(turn)));
    // hold time: not jittered, all due together
    for (const t of timers) t.start('hold', 0.001);
    setImmediate(count);
    const t0 = Date.now();
    while (firedAt.length < n && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
    counting = false;
    expect(firedAt).toHaveLength(n);
    const perTurn = new Map<number, number>();
    for (const t of firedAt) perTurn.set(t, (perTurn.get(t) ?? 0) + 1);
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(FIRES_PER_TURN);
    expect(perTurn.size).toBeGreaterThanOrEqual(Math.ceil(n / FIRES_PER_TURN));
  });
});
