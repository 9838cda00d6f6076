// Issue 12: graceful restart's work per peer-health event must not grow with the number of
// peers. 10,000 configured peers, a restart in progress, and every peer found dead, one event
// per batch (as socket errors arrive): the policy may look at all the peers a few times, not
// once per event (before the fix: a map of every peer built per batch and the recovery check
// over every peer per event, 10,000 × 10,000 visits).
import { afterEach, describe, expect, it } from 'vitest';
import type { Session } from '../../src/bgp/session/index.js';
import type { GracefulRestartOptions, GrPeer } from '../../src/gr/index.js';
import { GracefulRestartPolicy } from '../../src/gr/policy.js';
import { eventFromSocketError } from '../../src/health/fallback.js';
import { createLogger } from '../../src/log.js';

const N = 10_000;
const made: GracefulRestartPolicy[] = [];
afterEach(() => {
  for (const g of made.splice(0)) g.stop();
});

function fakeSession(address: string) {
  return {
    address,
    dynamic: false,
    settings: { passive: false, port: 179 },
    current: null,
    retryFromBase: false,
    isEstablished: false,
    connections: () => [],
    abandon: () => true,
  };
}

describe('graceful restart with 10,000 peers', () => {
  it('per-event work does not scan the peers: 10,000 dead events cost a few passes over them', async () => {
    const peers: GrPeer[] = Array.from({ length: N }, (_, i) => ({
      session: fakeSession(`10.200.${Math.floor(i / 250)}.${(i % 250) + 1}`) as unknown as Session,
      rib: {} as never,
      configured: true,
    }));
    let visits = 0;
    let fibSweeps = 0;
    const opts: GracefulRestartOptions = {
      config: { gr: { enabled: true, restartTime: 120, wait: 240, fastUnlock: true }, kernel: { enabled: true, table: 254, protocol: 201 } },
      rib: { sweepStale: () => 0, deferEndOfRib: () => undefined, releaseEndOfRib: () => 0 } as never,
      fib: { adopt: async () => ({ routes: 5 }), sweep: async () => (fibSweeps++, { deleted: 5 }) } as never,
      // every peer handed out is counted
      peers: function* () {
        for (const p of peers) {
          visits++;
          yield p;
        }
      },
      log: createLogger('silent'),
    };
    const gr = new GracefulRestartPolicy(opts);
    made.push(gr);
    await gr.start();
    expect(gr.restarting).toBe(true);
    visits = 0;

    const t0 = Date.now();
    for (const p of peers) gr.peerHealth([eventFromSocketError({ address: p.session.address, port: 179, error: { code: 'ECONNREFUSED' }, phase: 'connect' })]);
    const ms = Date.now() - t0;
    // the recovery check runs once the events of this turn are in
    for (let i = 0; i < 5 && fibSweeps === 0; i++) await new Promise((r) => setImmediate(r));
    process.stdout.write(`${N} dead events: ${visits} peer visits, ${ms} ms\n`);

    expect(N - peers.filter((p) => gr.peerDead(p) !== null).length).toBe(0);
    expect(visits).toBeLessThanOrEqual(5 * N);
    // every configured peer dead: the restart is over, nothing waited for
    expect(gr.restarting).toBe(false);
    expect(fibSweeps).toBe(1);
    expect(gr.problems()).toEqual([]);
  });

  it('/readyz names 20 of the peers the restart waits for and counts the rest', async () => {
    const peers: GrPeer[] = Array.from({ length: 50 }, (_, i) => ({ session: fakeSession(`10.0.0.${i + 1}`) as unknown as Session, rib: {} as never, configured: true }));
    const gr = new GracefulRestartPolicy({
      config: { gr: { enabled: true, restartTime: 120, wait: 240, fastUnlock: true }, kernel: { enabled: true, table: 254, protocol: 201 } },
      rib: { sweepStale: () => 0, deferEndOfRib: () => undefined, releaseEndOfRib: () => 0 } as never,
      fib: { adopt: async () => ({ routes: 1 }), sweep: async () => ({ deleted: 1 }) } as never,
      peers: () => peers,
      log: createLogger('silent'),
    });
    made.push(gr);
    await gr.start();
    const [line] = gr.problems();
    expect(line).toMatch(/^graceful restart: the kernel keeps stale routes until End-of-RIB from 10\.0\.0\.1, .*10\.0\.0\.20 and 30 more peers \(at most \d+ s more\)$/);
    expect(line).not.toContain('10.0.0.21');
  });
});
