// BFD against FRR's bfdd (alone, no zebra) in network namespaces, IPv4 and IPv6: sessions come
// Up with the discriminators crossed, timers negotiate both ways with poll sequences, an
// administrative shutdown on either side is AdminDown and not a failure, and a silent peer is
// Down within the detection time plus a margin.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BfdService, type BfdSession } from '../../src/native/bfd.js';
import { waitFor } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { Bfdd, EventLog, type FrrPeer, silence, unsilence } from './support.js';

const A4 = '10.9.2.1';
const F4 = '10.9.2.2';
const A6 = 'fd00:92::1';
const F6 = 'fd00:92::2';

describe('BFD against FRR bfdd', () => {
  let a: Netns;
  let f: Netns;
  let frr: Bfdd;
  let bfd: BfdService;
  const log = new EventLog();
  let s4 = 0;
  let s6 = 0;

  const ours = (id: number): BfdSession => bfd.session(id)!;
  const theirs = (addr: string): FrrPeer | undefined => frr.peers().find((p) => p.peer === addr);
  const bothUp = (id: number, addr: string): true => {
    const o = ours(id);
    const t = theirs(addr);
    if (o.state === 'up' && t?.status === 'up') return true;
    throw new Error(`ours ${JSON.stringify(o)}; FRR ${JSON.stringify(t)}`);
  };
  const configure = (peer: string, ...lines: string[]): string => frr.cli('configure terminal', 'bfd', `peer ${peer}`, ...lines);

  beforeAll(async () => {
    requireRoot();
    requireCommand('vtysh', 'frr');
    requireCommand('nft', 'nftables');
    a = new Netns('bfdfa');
    f = new Netns('bfdff');
    const { aDev } = link(a, [`${A4}/24`, `${A6}/64`], f, [`${F4}/24`, `${F6}/64`]);
    frr = await Bfdd.start(
      f,
      `bfd
 peer ${A4}
  receive-interval 300
  transmit-interval 300
  detect-multiplier 3
 !
 peer ${A6}
  receive-interval 300
  transmit-interval 300
  detect-multiplier 3
 !
!
`,
    );
    bfd = new BfdService({ netns: a.name, onEvents: log.push });
    const t = { desiredMinTxMs: 300, requiredMinRxMs: 300, multiplier: 3 };
    s4 = bfd.addSession({ peer: F4, ifname: aDev, local: A4, ...t });
    s6 = bfd.addSession({ peer: F6, ...t });
  });

  afterAll(async () => {
    bfd?.close();
    await frr?.stop();
    f?.delete();
    a?.delete();
  });

  it('IPv4 and IPv6 sessions come Up, discriminators crossed', async () => {
    for (const [id, addr] of [
      [s4, A4],
      [s6, A6],
    ] as const) {
      await waitFor(`${addr} Up`, () => bothUp(id, addr));
      const o = ours(id);
      const t = theirs(addr)!;
      expect(t['remote-id']).toBe(o.localDiscriminator);
      expect(t.id).toBe(o.remoteDiscriminator);
      expect(o).toMatchObject({ txIntervalMs: 300, rxIntervalMs: 300, detectionTimeMs: 900 });
      expect(t).toMatchObject({ 'remote-transmit-interval': 300, 'remote-receive-interval': 300, 'remote-detect-multiplier': 3 });
    }
  });

  it('our interval change runs a poll sequence and FRR takes the new values', async () => {
    await waitFor('Up', () => bothUp(s4, A4));
    const before = ours(s4).polls;
    bfd.setTimers(s4, { desiredMinTxMs: 500, requiredMinRxMs: 600, multiplier: 4 });
    const t = await waitFor('FRR sees 500/600/4', () => {
      const p = theirs(A4);
      return p?.['remote-transmit-interval'] === 500 && p['remote-receive-interval'] === 600 && p['remote-detect-multiplier'] === 4 ? p : undefined;
    });
    expect(t.status).toBe('up');
    await waitFor('poll done', () => (ours(s4).pollActive ? undefined : true));
    expect(ours(s4).polls).toBeGreaterThan(before);
    expect(ours(s4)).toMatchObject({ state: 'up', txIntervalMs: 500, rxIntervalMs: 600, detectionTimeMs: 1800 });
    bfd.setTimers(s4, { desiredMinTxMs: 300, requiredMinRxMs: 300, multiplier: 3 });
    await waitFor('FRR back at 300', () => (theirs(A4)?.['remote-transmit-interval'] === 300 ? true : undefined));
  });

  it("FRR's interval change reaches us by its poll sequence", async () => {
    await waitFor('Up', () => bothUp(s6, A6));
    const upSince = ours(s6).upSince;
    configure(A6, 'transmit-interval 500', 'receive-interval 400');
    const s = await waitFor('remote 500/400', () => {
      const x = ours(s6);
      return x.remoteDesiredMinTxMs === 500 && x.remoteRequiredMinRxMs === 400 ? x : undefined;
    });
    // we send at max(our 300, its rx 400); we expect it every max(our 300, its tx 500), × 3
    expect(s).toMatchObject({ state: 'up', txIntervalMs: 400, rxIntervalMs: 500, detectionTimeMs: 1500 });
    configure(A6, 'transmit-interval 300', 'receive-interval 300');
    await waitFor('remote back at 300', () => (ours(s6).remoteDesiredMinTxMs === 300 && ours(s6).remoteRequiredMinRxMs === 300 ? true : undefined));
    expect(ours(s6).upSince).toBe(upSince);
    expect(ours(s6).state).toBe('up');
  });

  it("FRR's administrative shutdown reaches us as AdminDown: Down, not a failure", async () => {
    await waitFor('Up', () => bothUp(s4, A4));
    const n = log.of(s4).length;
    configure(A4, 'shutdown');
    try {
      const e = await waitFor('our Down', () => log.of(s4).slice(n).find((x) => x.to === 'down'), 5000, 20);
      // FRR 8.4 sends AdminDown with diagnostic 0; the state is what tells a shutdown from a failure
      console.log(`FRR shutdown: our event ${e.from} → ${e.to}, diag ${e.diag}, remote state ${e.remoteState}, remote diag ${e.remoteDiag}, failure ${e.failure}`);
      expect(e).toMatchObject({ from: 'up', to: 'down', diag: 3, remoteState: 'adminDown', failure: false });
      expect(ours(s4).lastDown).toMatchObject({ remoteState: 'adminDown', failure: false });
    } finally {
      configure(A4, 'no shutdown');
    }
    await waitFor('Up again', () => bothUp(s4, A4));
  });

  it('our administrative shutdown is AdminDown at FRR (remote diagnostic administratively down), not a failure here', async () => {
    await waitFor('Up', () => bothUp(s6, A6));
    const n = log.of(s6).length;
    bfd.setAdminDown(s6, true);
    const t = await waitFor('FRR down', () => {
      const p = theirs(A6);
      return p?.status === 'down' ? p : undefined;
    }, 5000, 50);
    console.log(`FRR after our shutdown: status ${t.status}, diagnostic ${t.diagnostic}, remote-diagnostic ${t['remote-diagnostic']}`);
    expect(t['remote-diagnostic']).toMatch(/admin/);
    const e = await waitFor('our event', () => log.of(s6).slice(n)[0], 5000, 20);
    expect(e).toMatchObject({ from: 'up', to: 'adminDown', diag: 7, failure: false });
    bfd.setAdminDown(s6, false);
    await waitFor('Up again', () => bothUp(s6, A6));
  });

  it('a silent FRR peer (nftables drop) is Down within the detection time plus a margin', async () => {
    await waitFor('Up', () => bothUp(s4, A4));
    await waitFor('Up', () => bothUp(s6, A6));
    const n = log.all.length;
    const t0 = Date.now();
    silence(f);
    try {
      const downs = await waitFor(
        'both Down',
        () => {
          const d = log.all.slice(n).filter((e) => e.to === 'down');
          return d.length >= 2 ? d : undefined;
        },
        5000,
        20,
      );
      for (const d of downs) {
        const ms = d.at - t0;
        console.log(`silent FRR peer ${d.peer}: Down after ${ms.toFixed(0)} ms (diag ${d.diag})`);
        expect(d).toMatchObject({ from: 'up', diag: 1, failure: true });
        expect(ms).toBeLessThan(1500);
      }
    } finally {
      unsilence(f);
    }
    await waitFor('Up again', () => bothUp(s4, A4));
  });
});
