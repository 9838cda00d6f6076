// Graceful-restart decisions (src/gr/policy.ts) without sockets: the helper and restarting
// roles as RFC 4724 / RFC 8538 say, and fast unlock on peer-health evidence (issue 7).
import { afterEach, describe, expect, it } from 'vitest';
import type { Negotiated, Session, SessionDown } from '../../src/bgp/session/index.js';
import type { GracefulRestartOptions, GrPeer } from '../../src/gr/index.js';
import { GracefulRestartPolicy } from '../../src/gr/policy.js';
import { judge } from '../../src/gr/evidence.js';
import { eventFromSocketError } from '../../src/health/fallback.js';
import { classify, type PeerHealthEvent } from '../../src/health/index.js';
import { createLogger } from '../../src/log.js';

const log = createLogger('silent');

interface FakeSession {
  address: string;
  dynamic: boolean;
  settings: { passive: boolean; port: number };
  current: { local: { port: number }; remote: { port: number }; negotiated: Negotiated } | null;
  retryFromBase: boolean;
  abandoned: string[];
  readonly connecting: boolean;
  readonly isEstablished: boolean;
  connections(): unknown[];
  abandon(e: { text: string }): boolean;
}

function session(address: string, o: { passive?: boolean; dynamic?: boolean } = {}): FakeSession {
  return {
    address,
    dynamic: o.dynamic ?? false,
    settings: { passive: o.passive ?? false, port: 179 },
    current: null,
    retryFromBase: false,
    abandoned: [],
    get connecting() {
      return !this.dynamic && !this.settings.passive;
    },
    get isEstablished() {
      return this.current !== null;
    },
    connections() {
      return this.current ? [this.current] : [];
    },
    abandon(e) {
      this.abandoned.push(e.text);
      return true;
    },
  };
}

const negotiated = (g: Negotiated['gracefulRestart'], families: Negotiated['families'] = [4, 6]): Negotiated => ({
  asn: 65001,
  routerId: '10.0.0.2',
  holdTime: 90,
  keepaliveTime: 30,
  families,
  codec: {} as never,
  routeRefresh: true,
  enhancedRouteRefresh: false,
  gracefulRestart: g,
  hostname: null,
  remoteCapabilities: [],
});
const withGr = (notification: boolean, restartTime = 60) => negotiated({ restartTime, restarting: false, notification, families: [{ family: 4, forwarding: true }] });
const v4gr = (restarting = false) => negotiated({ restartTime: 120, restarting, notification: false, families: [{ family: 4, forwarding: true }] }, [4]);
const down = (n: Negotiated, notification: SessionDown['notification'] = null, stopping = false): SessionDown => ({ negotiated: n, notification, reason: '', stopping });
const cease = (subcode: number, direction: 'sent' | 'received' = 'received') => ({ code: 6, subcode, data: new Uint8Array(0), direction });

function refused(address: string): PeerHealthEvent {
  return eventFromSocketError({ address, port: 179, localPort: 0, error: { code: 'ECONNREFUSED' }, phase: 'connect' });
}
function bpf(address: string, kind: PeerHealthEvent['kind'], ports: { port: number; localPort: number }): PeerHealthEvent {
  const e = eventFromSocketError({ address, ...ports, error: { code: 'EHOSTUNREACH' }, phase: 'established' });
  return { ...e, kind, evidence: classify(kind), source: 'bpf', hook: kind === 'host-gone' ? 'tcp_retransmit_skb' : 'inet_sk_error_report', softCode: kind === 'host-gone' ? 'EHOSTUNREACH' : null };
}

interface Harness {
  gr: GracefulRestartPolicy;
  peers: GrPeer[];
  swept: [string, number][];
  fibSweeps: number;
  flushes: number;
  probes: string[];
  deferred: boolean;
  add(s: FakeSession, configured?: boolean): GrPeer;
  up(p: GrPeer, n?: Negotiated): void;
}

const made: GracefulRestartPolicy[] = [];
afterEach(() => {
  for (const g of made.splice(0)) g.stop();
});

async function harness(o: { adopted?: number; fastUnlock?: boolean; wait?: number; probe?: (p: GrPeer) => Promise<string | null> } = {}): Promise<Harness> {
  const h = { peers: [] as GrPeer[], swept: [] as [string, number][], fibSweeps: 0, flushes: 0, probes: [] as string[], deferred: false } as Harness;
  const fib = {
    adopt: async () => ({ routes: o.adopted ?? 0 }),
    sweep: async () => (h.fibSweeps++, { deleted: o.adopted ?? 0 }),
  };
  const opts: GracefulRestartOptions = {
    config: { gr: { enabled: true, restartTime: 120, wait: o.wait ?? 240, fastUnlock: o.fastUnlock ?? true }, kernel: { enabled: true, table: 254, protocol: 201 } },
    rib: {
      sweepStale: (peer: { address: string }, family: number) => (h.swept.push([peer.address, family]), 1),
      deferEndOfRib: () => void (h.deferred = true),
      releaseEndOfRib: () => ((h.deferred = false), 2),
    } as never,
    fib: fib as never,
    peers: () => h.peers,
    log,
    flush: () => void h.flushes++,
    ...(o.probe
      ? {
          probe: (p: GrPeer) => {
            h.probes.push(p.session.address);
            return o.probe!(p);
          },
        }
      : {}),
  };
  h.gr = new GracefulRestartPolicy(opts);
  made.push(h.gr);
  h.add = (s, configured = true) => {
    const p: GrPeer = { session: s as unknown as Session, rib: { address: s.address } as never, configured };
    h.peers.push(p);
    return p;
  };
  h.up = (p, n = withGr(false)) => {
    (p.session as unknown as FakeSession).current = { local: { port: 40000 }, remote: { port: 179 }, negotiated: n };
    h.gr.sessionUp(p, n);
  };
  await h.gr.start();
  return h;
}

const tick = () => new Promise((r) => setImmediate(r));

describe('helper (RFC 4724 §4.2, RFC 8538)', () => {
  it('keeps the families the peer listed when the TCP connection just ends', async () => {
    const h = await harness();
    const a = h.add(session('a'));
    expect(h.gr.sessionDown(a, down(withGr(false)))).toEqual([4]);
    expect(h.gr.peerRestarting(a)).toBe(true);
  });

  it('no GR negotiated, or a NOTIFICATION without the N-bit: nothing kept', async () => {
    const h = await harness();
    expect(h.gr.sessionDown(h.add(session('b')), down(negotiated(null)))).toEqual([]);
    expect(h.gr.sessionDown(h.add(session('c')), down(withGr(false), cease(2)))).toEqual([]);
  });

  it('a connection closed by collision resolution keeps the routes stale, without the N-bit too, sent or received', async () => {
    const h = await harness();
    expect(h.gr.sessionDown(h.add(session('h')), down(withGr(false), cease(7, 'sent')))).toEqual([4]);
    expect(h.gr.sessionDown(h.add(session('i')), down(withGr(false), cease(7)))).toEqual([4]);
    // no GR negotiated: nothing to keep them by
    expect(h.gr.sessionDown(h.add(session('j')), down(negotiated(null), cease(7, 'sent')))).toEqual([]);
  });

  it('after a collision the next connection keeps them stale until its End-of-RIB, without the Forwarding State bit too', async () => {
    const h = await harness();
    const p = h.add(session('k'));
    const noForwarding = () => negotiated({ restartTime: 60, restarting: false, notification: false, families: [{ family: 4, forwarding: false }] });
    expect(h.gr.sessionDown(p, down(noForwarding(), cease(7, 'sent')))).toEqual([4]);
    h.up(p, noForwarding());
    expect(h.swept).toEqual([]);
    h.gr.endOfRib(p, 4);
    expect(h.swept).toEqual([['k', 4]]);
    // the same without a collision: the family is swept as the peer comes back
    const q = h.add(session('l'));
    expect(h.gr.sessionDown(q, down(noForwarding()))).toEqual([4]);
    h.up(q, noForwarding());
    expect(h.swept).toEqual([['k', 4], ['l', 4]]);
  });

  it('with the N-bit a NOTIFICATION other than Hard Reset keeps GR in force, sent or received', async () => {
    const h = await harness();
    expect(h.gr.sessionDown(h.add(session('d')), down(withGr(true), cease(2)))).toEqual([4]);
    expect(h.gr.sessionDown(h.add(session('e')), down(withGr(true), { code: 4, subcode: 0, data: new Uint8Array(0), direction: 'sent' }))).toEqual([4]);
    expect(h.gr.sessionDown(h.add(session('f')), down(withGr(true), cease(9)))).toEqual([]);
    expect(h.gr.sessionDown(h.add(session('g')), down(withGr(true), cease(9, 'sent')))).toEqual([]);
  });

  it('a session the agent stops keeps nothing; a restart time of 0 keeps nothing', async () => {
    const h = await harness();
    expect(h.gr.sessionDown(h.add(session('h')), down(withGr(false), null, true))).toEqual([]);
    expect(h.gr.sessionDown(h.add(session('i')), down(withGr(false, 0)))).toEqual([]);
  });

  it('back up without the F bit for a family: that family is swept at once; with it, at End-of-RIB', async () => {
    const h = await harness();
    const p = h.add(session('j'));
    h.gr.sessionDown(p, down(negotiated({ restartTime: 60, restarting: false, notification: false, families: [{ family: 4, forwarding: true }, { family: 6, forwarding: true }] })));
    h.up(p, negotiated({ restartTime: 60, restarting: true, notification: false, families: [{ family: 4, forwarding: true }, { family: 6, forwarding: false }] }));
    expect(h.swept).toEqual([['j', 6]]);
    h.gr.endOfRib(p, 4);
    expect(h.swept).toEqual([['j', 6], ['j', 4]]);
    expect(h.gr.peerRestarting(p)).toBe(false);
  });
});

describe('fast unlock: the helper', () => {
  it('a refused reconnect drops the stale routes at once and resets the backoff', async () => {
    const h = await harness();
    const s = session('10.0.0.3');
    const p = h.add(s);
    h.gr.sessionDown(p, down(withGr(false)));
    h.gr.peerHealth([refused('10.0.0.3')]);
    expect(h.swept).toEqual([['10.0.0.3', 4]]);
    expect(h.gr.peerRestarting(p)).toBe(false);
    expect(s.retryFromBase).toBe(true);
    expect(h.gr.peerDead(p)).toMatchObject({ kind: 'refused', evidence: 'ECONNREFUSED (socket error)' });
  });

  it('ROUTELET_GR_FAST_UNLOCK=off: the same evidence changes nothing', async () => {
    const h = await harness({ fastUnlock: false });
    const s = session('10.0.0.3');
    const p = h.add(s);
    h.gr.sessionDown(p, down(withGr(false)));
    h.gr.peerHealth([refused('10.0.0.3')]);
    expect(h.swept).toEqual([]);
    expect(h.gr.peerRestarting(p)).toBe(true);
    expect(s.retryFromBase).toBe(false);
    expect(h.gr.peerDead(p)).toBeNull();
  });

  it('one unanswered SYN is not enough to drop a restarting peer’s routes; a second one is', async () => {
    const h = await harness();
    const p = h.add(session('10.0.0.4'));
    h.gr.sessionDown(p, down(withGr(false)));
    const syn = bpf('10.0.0.4', 'syn-unanswered', { port: 179, localPort: 41000 });
    h.gr.peerHealth([syn]);
    expect(h.swept).toEqual([]);
    h.gr.peerHealth([syn]);
    expect(h.swept).toEqual([['10.0.0.4', 4]]);
  });

  it('events of peers it does not know, and informational events, change nothing', async () => {
    const h = await harness();
    const p = h.add(session('10.0.0.5'));
    h.gr.sessionDown(p, down(withGr(false)));
    h.gr.peerHealth([refused('10.0.0.99'), bpf('10.0.0.5', 'state', { port: 179, localPort: 1 }), bpf('10.0.0.5', 'rto', { port: 179, localPort: 1 })]);
    expect(h.swept).toEqual([]);
    expect(h.gr.peerDead(p)).toBeNull();
  });

  it('the host gone under an Established session: the session is closed now and its routes are not kept stale', async () => {
    const h = await harness();
    const s = session('10.0.0.6');
    const p = h.add(s);
    h.up(p);
    // evidence about another socket of the peer (a colliding attempt) is not about the session
    h.gr.peerHealth([bpf('10.0.0.6', 'host-gone', { port: 179, localPort: 50000 })]);
    expect(s.abandoned).toEqual([]);
    h.gr.peerHealth([bpf('10.0.0.6', 'host-gone', { port: 179, localPort: 40000 })]);
    expect(s.abandoned).toEqual([expect.stringContaining('host gone')]);
    s.current = null;
    expect(h.gr.sessionDown(p, down(withGr(false)))).toEqual([]);
    expect(h.gr.peerRestarting(p)).toBe(false);
  });

  it('Established again: the peer is alive, its mark is gone', async () => {
    const h = await harness();
    const s = session('10.0.0.7');
    const p = h.add(s);
    h.gr.peerHealth([refused('10.0.0.7')]);
    expect(h.gr.peerDead(p)).not.toBeNull();
    h.up(p);
    expect(h.gr.peerDead(p)).toBeNull();
  });
});

describe('fast unlock: the restarting speaker', () => {
  it('classic: waits for End-of-RIB from every configured peer', async () => {
    const h = await harness({ adopted: 10, fastUnlock: false });
    expect(h.gr.restarting).toBe(true);
    const b = h.add(session('10.0.0.2'));
    h.add(session('10.0.0.3'));
    h.up(b);
    h.gr.endOfRib(b, 4);
    h.gr.endOfRib(b, 6);
    h.gr.peerHealth([refused('10.0.0.3')]);
    await tick();
    expect(h.fibSweeps).toBe(0);
    expect(h.gr.problems()[0]).toContain('10.0.0.3');
  });

  it('a refused peer is not waited for: recovery ends at the live peer’s End-of-RIB, after a RIB flush', async () => {
    const h = await harness({ adopted: 10 });
    const b = h.add(session('10.0.0.2'));
    h.add(session('10.0.0.3'));
    h.gr.peerHealth([refused('10.0.0.3')]);
    h.up(b);
    h.gr.endOfRib(b, 4);
    await tick();
    expect(h.fibSweeps).toBe(0);
    h.gr.endOfRib(b, 6);
    await tick();
    expect(h.fibSweeps).toBe(1);
    expect(h.flushes).toBe(1);
    expect(h.deferred).toBe(false);
    expect(h.gr.restarting).toBe(false);
    expect(h.gr.recovery).toMatchObject({ adopted: 10, why: expect.stringContaining('dead: 10.0.0.3') });
  });

  it('evidence after the live peers’ End-of-RIB ends the recovery at once; one silent SYN is enough here', async () => {
    const h = await harness({ adopted: 3 });
    const b = h.add(session('10.0.0.2'));
    h.add(session('10.0.0.3'));
    h.up(b, v4gr());
    h.gr.endOfRib(b, 4);
    await tick();
    expect(h.fibSweeps).toBe(0);
    h.gr.peerHealth([bpf('10.0.0.3', 'syn-unanswered', { port: 179, localPort: 41000 })]);
    await tick();
    expect(h.fibSweeps).toBe(1);
  });

  it('our End-of-RIB is held back while restarting; peers restarting themselves or without GR are not waited for', async () => {
    const h = await harness({ adopted: 3 });
    expect(h.deferred).toBe(true);
    const b = h.add(session('10.0.0.2'));
    const c = h.add(session('10.0.0.3'));
    const d = h.add(session('10.0.0.4'));
    h.up(b, v4gr());
    h.up(c, v4gr(true));
    h.up(d, negotiated(null, [4]));
    h.gr.endOfRib(b, 4);
    await tick();
    expect(h.fibSweeps).toBe(1);
    expect(h.deferred).toBe(false);
  });

  it('a dead peer that comes back during recovery is waited for again', async () => {
    const h = await harness({ adopted: 3 });
    const b = h.add(session('10.0.0.2'));
    const c = h.add(session('10.0.0.3'));
    h.gr.peerHealth([refused('10.0.0.3')]);
    h.up(c, v4gr());
    h.up(b, v4gr());
    h.gr.endOfRib(b, 4);
    await tick();
    expect(h.fibSweeps).toBe(0);
    h.gr.endOfRib(c, 4);
    await tick();
    expect(h.fibSweeps).toBe(1);
  });

  it('a passive peer is probed: refused counts as dead, an answer does not', async () => {
    let answer: string | null = 'ECONNREFUSED';
    const h = await harness({ adopted: 3, probe: async () => answer });
    const b = h.add(session('10.0.0.2'));
    h.add(session('10.0.0.3', { passive: true }));
    h.up(b, v4gr());
    h.gr.endOfRib(b, 4);
    answer = null;
    await tick();
    await tick();
    expect(h.probes).toEqual(['10.0.0.3']);
    expect(h.fibSweeps).toBe(0);
    // the next probe round finds it refusing
    answer = 'ECONNREFUSED';
    await new Promise((r) => setTimeout(r, 2100));
    await tick();
    expect(h.probes.length).toBeGreaterThanOrEqual(2);
    expect(h.fibSweeps).toBe(1);
  });

  it('ROUTELET_GR_FAST_UNLOCK=off: passive peers are not probed, the wait holds', async () => {
    const h = await harness({ adopted: 3, fastUnlock: false, probe: async () => 'ECONNREFUSED' });
    h.add(session('10.0.0.3', { passive: true }));
    await tick();
    await tick();
    expect(h.probes).toEqual([]);
    expect(h.gr.restarting).toBe(true);
  });

  it('an active peer is never probed (its own connection attempts are the evidence)', async () => {
    const h = await harness({ adopted: 3, probe: async () => 'ECONNREFUSED' });
    h.add(session('10.0.0.3'));
    await tick();
    await tick();
    expect(h.probes).toEqual([]);
    expect(h.gr.restarting).toBe(true);
  });
});

describe('judge', () => {
  const ports = { localPort: 40000, remotePort: 179 };
  it('dead evidence on the Established connection, or a failed neighbour, is about the session', () => {
    expect(judge(bpf('10.9.9.9', 'reset', { port: 179, localPort: 40000 }), ports)).toBe('established-dead');
    expect(judge(bpf('10.9.9.9', 'neighbour-failed', { port: 0, localPort: 0 }), ports)).toBe('established-dead');
    expect(judge(bpf('10.9.9.9', 'reset', { port: 179, localPort: 40001 }), ports)).toBe('ignore');
    expect(judge(bpf('10.9.9.9', 'rto', { port: 179, localPort: 40000 }), ports)).toBe('ignore');
  });
  it('without a session every dead kind counts but a reset (a live TCP stack sent it)', () => {
    for (const k of ['refused', 'unreachable', 'timeout', 'host-gone', 'syn-unanswered', 'neighbour-failed'] as const) expect(judge(bpf('10.9.9.9', k, { port: 179, localPort: 1 }), null)).toBe('dead');
    expect(judge(bpf('10.9.9.9', 'reset', { port: 179, localPort: 1 }), null)).toBe('ignore');
    expect(judge(bpf('10.9.9.9', 'md5-mismatch', { port: 179, localPort: 1 }), null)).toBe('ignore');
  });
});

describe('BFD failure (gr.bfdDown, issue 14)', () => {
  const bfdDown = (cpi: boolean) => ({ evidence: 'BFD down (control detection time expired)', diag: 1, cpi, at: Date.now() });

  it('Established: closed now, its routes withdrawn (not kept stale), with fast unlock on or off', async () => {
    for (const fastUnlock of [true, false]) {
      const h = await harness({ fastUnlock });
      const s = session('10.0.1.1');
      const p = h.add(s);
      h.up(p);
      h.gr.bfdDown(p, bfdDown(false));
      expect(s.abandoned).toEqual(['BFD down (control detection time expired)']);
      expect(h.gr.peerDead(p)).toMatchObject({ kind: 'bfd', evidence: 'BFD down (control detection time expired)', code: null });
      s.current = null;
      expect(h.gr.sessionDown(p, down(withGr(false)))).toEqual([]);
      // back: the mark goes
      h.up(p);
      expect(h.gr.peerDead(p)).toBeNull();
    }
  });

  it('helping a peer that closed its session first: C bit clear keeps the stale routes, C bit set sweeps them', async () => {
    const h = await harness();
    const clear = h.add(session('10.0.1.2'));
    const set = h.add(session('10.0.1.3'));
    for (const p of [clear, set]) expect(h.gr.sessionDown(p, down(withGr(false)))).toEqual([4]);
    h.gr.bfdDown(clear, bfdDown(false));
    h.gr.bfdDown(set, bfdDown(true));
    expect(h.swept).toEqual([['10.0.1.3', 4]]);
    expect(h.gr.peerRestarting(clear)).toBe(true);
    expect(h.gr.peerDead(clear)).toBeNull();
    expect(h.gr.peerRestarting(set)).toBe(false);
    expect(h.gr.peerDead(set)).toMatchObject({ kind: 'bfd' });
  });

  it('restarting: a peer whose BFD failed is not waited for', async () => {
    const h = await harness({ adopted: 3 });
    const a = h.add(session('10.0.1.4'));
    const b = h.add(session('10.0.1.5'));
    h.up(a, v4gr());
    h.gr.endOfRib(a, 4);
    expect(h.gr.restarting).toBe(true);
    h.gr.bfdDown(b, bfdDown(false));
    await tick();
    expect(h.gr.restarting).toBe(false);
    expect(h.gr.recovery?.why).toMatch(/dead: 10\.0\.1\.5/);
  });
});
