// BFD against BIRD 2 (`protocol bfd` with static neighbors) in network namespaces, IPv4 and
// IPv6: sessions come Up, timers negotiate both ways with poll sequences, our administrative
// shutdown is AdminDown and not a failure, keyed SHA1 authentication, a JavaScript event loop
// blocked for 3 s does not drop a 300 ms × 3 session, and a silent peer (nftables drop, no RST,
// no ICMP) or a local unreachable route is noticed within the detection time plus a margin.
//
// BIRD 2.0.12 sends no AdminDown when one of its sessions is removed or its protocol disabled
// (it just stops sending): the administrative shutdown on the peer's side is tested against
// FRR (frr.test.ts), which does send it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BfdService, type BfdSession } from '../../src/native/bfd.js';
import { type Daemon, startDaemon, stopAllDaemons, waitFor } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { EventLog, parseBirdBfd, sameBirdChange, silence, sleep, unsilence } from './support.js';

const A4 = '10.9.0.1';
const B4 = '10.9.0.2';
const A6 = 'fd00:9::1';
const B6 = 'fd00:9::2';
// the second link: authenticated sessions
const A4S = '10.9.1.1';
const B4S = '10.9.1.2';
const A6S = 'fd00:91::1';
const B6S = 'fd00:91::2';

function birdConfig(intervalMs: number, authDev: string): string {
  return `router id ${B4};
protocol device {}
protocol bfd b1 {
  interface "${authDev}" { interval ${intervalMs} ms; multiplier 3; authentication keyed sha1; password "s3cret" { id 5; }; };
  interface "*" { interval ${intervalMs} ms; multiplier 3; };
  neighbor ${A4};
  neighbor ${A6};
  neighbor ${A4S};
  neighbor ${A6S};
}
`;
}

describe('BFD against BIRD 2', () => {
  let a: Netns;
  let b: Netns;
  let bird: Daemon;
  let bfd: BfdService;
  let aDev: string;
  let authDev: string;
  const log = new EventLog();
  let s4 = 0;
  let s6 = 0;
  let sAuth = 0;
  let sBadKey = 0;

  const ours = (id: number): BfdSession => bfd.session(id)!;
  const theirs = (addr: string) => parseBirdBfd(bird.cli('show bfd sessions')).find((s) => s.address === addr);
  const bothUp = (id: number, addr: string): true => {
    const o = ours(id);
    const t = theirs(addr);
    if (o.state === 'up' && t?.state === 'Up') return true;
    throw new Error(`ours ${JSON.stringify(o)}; BIRD ${JSON.stringify(t)}`);
  };

  beforeAll(async () => {
    requireRoot();
    requireCommand('bird', 'bird2');
    requireCommand('nft', 'nftables');
    a = new Netns('bfda');
    b = new Netns('bfdb');
    ({ aDev } = link(a, [`${A4}/24`, `${A6}/64`], b, [`${B4}/24`, `${B6}/64`]));
    const second = link(a, [`${A4S}/24`, `${A6S}/64`], b, [`${B4S}/24`, `${B6S}/64`]);
    authDev = second.bDev;
    bird = await startDaemon('bird', b, birdConfig(300, authDev));
    bfd = new BfdService({ netns: a.name, onEvents: log.push });
    const t = { desiredMinTxMs: 300, requiredMinRxMs: 300, multiplier: 3 };
    s4 = bfd.addSession({ peer: B4, ifname: aDev, ...t });
    s6 = bfd.addSession({ peer: B6, ...t });
    sAuth = bfd.addSession({ peer: B4S, ...t, auth: { type: 'keyed-sha1', keyId: 5, key: 's3cret' } });
    sBadKey = bfd.addSession({ peer: B6S, ...t, auth: { type: 'keyed-sha1', keyId: 5, key: 'wrong' } });
  });

  afterAll(async () => {
    bfd?.close();
    await stopAllDaemons();
    b?.delete();
    a?.delete();
  });

  it('IPv4 and IPv6 sessions come Up on both sides at 300 ms × 3', async () => {
    await waitFor('IPv4 Up', () => bothUp(s4, A4));
    await waitFor('IPv6 Up', () => bothUp(s6, A6));
    for (const [id, addr] of [
      [s4, A4],
      [s6, A6],
    ] as const) {
      const s = ours(id);
      expect(s.remoteDiscriminator).not.toBe(0);
      expect(s).toMatchObject({ txIntervalMs: 300, rxIntervalMs: 300, detectionTimeMs: 900, remoteMultiplier: 3, advertisedMinTxMs: 300 });
      const t = theirs(addr)!;
      expect(t.interval).toBe(0.3);
      expect(t.timeout).toBe(0.9);
    }
    const ups = log.of(s4).map((e) => e.to);
    expect(ups.at(-1)).toBe('up');
    // our transmit sockets: source ports 49152–65535 (RFC 5881 §4)
    const ports = a
      .exec('ss', ['-Hunl'])
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[3])
      .filter((x): x is string => !!x)
      .map((x) => Number(x.slice(x.lastIndexOf(':') + 1)))
      .filter((p) => p !== 3784);
    expect(ports.length).toBeGreaterThanOrEqual(4);
    for (const p of ports) expect(p).toBeGreaterThanOrEqual(49152);
  });

  it('keyed SHA1: the right key comes Up, a wrong key never does', async () => {
    await waitFor('authenticated session Up', () => bothUp(sAuth, A4S));
    expect(ours(sAuth).auth).toBe('keyed-sha1');
    await sleep(1500);
    const bad = ours(sBadKey);
    expect(bad.state).not.toBe('up');
    expect(bad.rxAuthFailures).toBeGreaterThan(0);
    expect(theirs(A6S)?.state).not.toBe('Up');
  });

  it('our interval change runs a poll sequence and BIRD takes the new values', async () => {
    const before = ours(s4).polls;
    expect(bfd.setTimers(s4, { desiredMinTxMs: 500, requiredMinRxMs: 600 })).toBe(true);
    // BIRD: its interval max(300, our rx 600), its timeout max(300, our tx 500) × 3
    await waitFor('BIRD at 0.6 / 1.5', () => {
      const t = theirs(A4);
      return t?.interval === 0.6 && t.timeout === 1.5 ? t : undefined;
    });
    const s = ours(s4);
    expect(s.polls).toBe(before + 1);
    expect(s.pollActive).toBe(false);
    expect(s).toMatchObject({ state: 'up', txIntervalMs: 500, rxIntervalMs: 600, detectionTimeMs: 1800 });
    bfd.setTimers(s4, { desiredMinTxMs: 300, requiredMinRxMs: 300 });
    await waitFor('BIRD back at 0.3 / 0.9', () => {
      const t = theirs(A4);
      return t?.interval === 0.3 && t.timeout === 0.9 ? t : undefined;
    });
    expect(log.of(s4).at(-1)?.to).toBe('up'); // no flap
  });

  it("BIRD's interval change (reconfigure) reaches us by its poll sequence", async () => {
    const upSince = ours(s6).upSince;
    writeFileSync(join(bird.dir, 'bird.conf'), birdConfig(500, authDev));
    bird.cli('configure');
    const s = await waitFor('remote 500 ms', () => {
      const x = ours(s6);
      return x.remoteDesiredMinTxMs === 500 && x.remoteRequiredMinRxMs === 500 ? x : undefined;
    });
    expect(s).toMatchObject({ state: 'up', txIntervalMs: 500, rxIntervalMs: 500, detectionTimeMs: 1500 });
    await waitFor('BIRD interval 0.5', () => (theirs(A6)?.interval === 0.5 ? true : undefined));
    writeFileSync(join(bird.dir, 'bird.conf'), birdConfig(300, authDev));
    bird.cli('configure');
    await waitFor('remote back at 300 ms', () => (ours(s6).remoteDesiredMinTxMs === 300 ? true : undefined));
    expect(ours(s6).upSince).toBe(upSince);
  });

  it('our administrative shutdown is AdminDown (diag 7), not a failure; BIRD sees Down; no shutdown brings it back', async () => {
    await waitFor('IPv4 Up', () => bothUp(s4, A4));
    const n = log.of(s4).length;
    bfd.setAdminDown(s4, true);
    await waitFor('BIRD Down', () => (theirs(A4)?.state === 'Down' ? true : undefined), 5000, 50);
    const e = await waitFor('our event', () => (log.of(s4).length > n ? log.of(s4).slice(n) : undefined), 5000, 20);
    expect(e[0]).toMatchObject({ from: 'up', to: 'adminDown', diag: 7, failure: false });
    expect(ours(s4).lastDown).toMatchObject({ diag: 7, failure: false });
    bfd.setAdminDown(s4, false);
    await waitFor('Up again', () => bothUp(s4, A4));
    expect(log.of(s4).slice(n).some((x) => x.failure)).toBe(false);
  });

  it('a JavaScript event loop blocked for 3 s drops no session, on either side', async () => {
    await waitFor('IPv4 Up', () => bothUp(s4, A4));
    await waitFor('IPv6 Up', () => bothUp(s6, A6));
    const before = [ours(s4).upSince, ours(s6).upSince];
    const birdBefore = [theirs(A4)!.since, theirs(A6)!.since];
    const n = log.all.length;
    // a JavaScript-timer BFD would send from a timer like this one
    const planned = Date.now() + 300;
    let firedLate = -1;
    const timer = setTimeout(() => (firedLate = Date.now() - planned), 300);
    const end = Date.now() + 3000;
    while (Date.now() < end) {
      // busy: no timers, no I/O callbacks for 3 s
    }
    await sleep(50);
    clearTimeout(timer);
    console.log(`JS timer due in 300 ms fired ${firedLate} ms late; BFD detection time is 900 ms`);
    expect(firedLate).toBeGreaterThan(2000); // a JS-timer BFD would have been silent > 900 ms
    expect(log.all.slice(n).filter((e) => e.id === s4 || e.id === s6)).toEqual([]);
    expect([ours(s4).state, ours(s6).state]).toEqual(['up', 'up']);
    expect([ours(s4).upSince, ours(s6).upSince]).toEqual(before);
    const after = [theirs(A4)!, theirs(A6)!];
    expect(after.map((t) => t.state)).toEqual(['Up', 'Up']);
    after.forEach((t, i) => expect(sameBirdChange(t.since, birdBefore[i]!), `BIRD's session Up since ${birdBefore[i]}, now since ${t.since}`).toBe(true));
  });

  it('a silent peer (nftables drop in its namespace) is Down within the detection time plus a margin, IPv4 and IPv6', async () => {
    await waitFor('IPv4 Up', () => bothUp(s4, A4));
    await waitFor('IPv6 Up', () => bothUp(s6, A6));
    const n = log.all.length;
    const t0 = Date.now();
    silence(b);
    try {
      const downs = await waitFor(
        'both Down',
        () => {
          const d = log.all.slice(n).filter((e) => (e.id === s4 || e.id === s6) && e.to === 'down');
          return d.length >= 2 ? d : undefined;
        },
        5000,
        20,
      );
      for (const d of downs) {
        const ms = d.at - t0;
        console.log(`silent BIRD peer ${d.peer}: Down after ${ms.toFixed(0)} ms (diag ${d.diag}, detection time 900 ms)`);
        expect(d).toMatchObject({ from: 'up', diag: 1, failure: true });
        expect(ms).toBeLessThan(1500);
      }
    } finally {
      unsilence(b);
    }
    await waitFor('Up again', () => bothUp(s4, A4));
  });

  // s6 is not bound to an interface: a session bound with SO_BINDTODEVICE (s4) routes over its
  // link whatever the routing table says, so an unreachable route does not apply to it.
  it('a local unreachable route to the peer is Down within the detection time plus a margin', async () => {
    await waitFor('IPv6 Up', () => bothUp(s6, A6));
    const n = log.of(s6).length;
    const t0 = Date.now();
    a.ip('-6', 'route', 'add', 'unreachable', `${B6}/128`);
    try {
      const d = await waitFor('Down', () => log.of(s6).slice(n).find((e) => e.to === 'down'), 5000, 20);
      const ms = d.at - t0;
      console.log(`unreachable route to BIRD ${B6}: Down after ${ms.toFixed(0)} ms (diag ${d.diag}, remote diag ${d.remoteDiag}; our sends fail: ${ours(s6).lastTxError})`);
      expect(d).toMatchObject({ from: 'up', failure: true });
      expect(ms).toBeLessThan(1500);
      expect(ours(s6).txErrors).toBeGreaterThan(0);
    } finally {
      a.ip('-6', 'route', 'del', 'unreachable', `${B6}/128`);
    }
    await waitFor('Up again', () => bothUp(s6, A6));
  });
});
