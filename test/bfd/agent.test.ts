// BFD in `routelet agent` (issue 14), end to end in network namespaces, IPv4 and IPv6:
//
//   A: routelet agent (ROUTELET_BFD on by default, 300 ms × 3; hold time 90 s)
//   B: BIRD 2 with `protocol bfd` and `bfd on` in its BGP sessions (v4 and v6), announcing B4R, B6R
//   C: BIRD 2 without BFD (v4 and v6 sessions), announcing C4R, C6R, and FRR's bfdd answering
//      BFD for C's IPv4 address only (C's IPv6 peer never speaks BFD)
//
//   - BFD comes Up with B (both families) and with C4 and shows in /api/v1/peers
//   - the JavaScript event loop blocked 3 s (test hook, SIGUSR2): no BFD drop, no BGP reset
//   - bfdd shuts C4's session down (AdminDown): not a failure, BGP and routes stay
//   - C6 (no BFD at all): BFD never comes Up, session and routes as without BFD
//   - SIGHUP with B4's bfdMultiplier changed: the BFD session is re-timed (a poll sequence;
//     BIRD's detection time for us follows), the BGP session is not restarted
//   - B goes silent (nftables drops everything, no RST, no ICMP): B's routes leave A's kernel
//     within the detection time plus a margin (< 2 s asserted, measured time printed), with
//     the hold time at 90 s; C's routes stay
//
// Then: our stop with graceful restart against BIRD (`bfd graceful`), and FRR (zebra, bfdd,
// bgpd with `neighbor … bfd`) as the silent peer, and behind a local unreachable route.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PeerView } from '../../src/api/types.js';
import { type AgentProcess, startAgent } from '../support/agent.js';
import { type Daemon, startDaemon, stopAllDaemons } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { Bfdd, FrrStack, parseBirdBfd, sameBirdChange, silence, sleep, unsilence, agentRoutes, untilGone } from './support.js';

const A4 = '10.9.5.1';
const B4 = '10.9.5.2';
const A6 = 'fd00:95::1';
const B6 = 'fd00:95::2';
const AC4 = '10.9.6.1';
const C4 = '10.9.6.2';
const AC6 = 'fd00:96::1';
const C6 = 'fd00:96::2';
const B4R = '10.77.1.0/24';
const B6R = 'fd77:1::/64';
const C4R = '10.77.2.0/24';
const C6R = 'fd77:2::/64';

/** bfd: BIRD's BGP `bfd` option ('graceful': a BFD down starts graceful restart rather than a session drop), or false for no BFD at all */
function birdConfig(id: string, asn: number, v4: [string, string], v6: [string, string], routes: [string, string], bfd: 'on' | 'graceful' | false): string {
  return `router id ${id};
protocol device {}
${bfd ? 'protocol bfd { interface "*" { interval 300 ms; multiplier 3; }; }' : ''}
protocol static s4 { ipv4; route ${routes[0]} blackhole; }
protocol static s6 { ipv6; route ${routes[1]} blackhole; }
protocol bgp a4 { local ${v4[0]} as ${asn}; neighbor ${v4[1]} as 65000; ${bfd ? `bfd ${bfd};` : ''} graceful restart on; ipv4 { import all; export all; }; }
protocol bgp a6 { local ${v6[0]} as ${asn}; neighbor ${v6[1]} as 65000; ${bfd ? `bfd ${bfd};` : ''} graceful restart on; ipv6 { import all; export all; }; }
`;
}

describe('BFD in routelet agent, against BIRD 2 (bfd on) and FRR bfdd', () => {
  let a: Netns;
  let b: Netns;
  let c: Netns;
  let birdB: Daemon;
  let birdC: Daemon;
  let bfdd: Bfdd;
  let agent: AgentProcess;
  const dir = mkdtempSync(join(tmpdir(), 'routelet-bfd-agent-'));
  const peersFile = join(dir, 'peers.json');
  const writePeers = (b4: Record<string, unknown> = {}) =>
    writeFileSync(
      peersFile,
      JSON.stringify([{ address: B4, asn: 65002, ...b4 }, { address: B6, asn: 65002 }, { address: C4, asn: 65003 }, { address: C6, asn: 65003 }]),
    );

  const kernel = (): Set<string> => agentRoutes(a);
  const lines = (peer: string) => agent.lines().filter((l) => l.peer === peer && typeof l.msg === 'string' && (l.msg as string).startsWith(`BFD with ${peer}:`));

  beforeAll(async () => {
    requireRoot();
    requireCommand('bird', 'bird2');
    requireCommand('vtysh', 'frr');
    requireCommand('nft', 'nftables');
    a = new Netns('bfdaa');
    b = new Netns('bfdab');
    c = new Netns('bfdac');
    link(a, [`${A4}/24`, `${A6}/64`], b, [`${B4}/24`, `${B6}/64`]);
    link(a, [`${AC4}/24`, `${AC6}/64`], c, [`${C4}/24`, `${C6}/64`]);
    birdB = await startDaemon('bird', b, birdConfig(B4, 65002, [B4, A4], [B6, A6], [B4R, B6R], 'on'));
    birdC = await startDaemon('bird', c, birdConfig(C4, 65003, [C4, AC4], [C6, AC6], [C4R, C6R], false));
    writePeers();
    bfdd = await Bfdd.start(c, `bfd\n peer ${AC4}\n  receive-interval 300\n  transmit-interval 300\n  detect-multiplier 3\n !\n!\n`);
    agent = await startAgent(a, {
      ROUTELET_ASN: '65000',
      ROUTELET_ROUTER_ID: A4,
      ROUTELET_PEERS_FILE: peersFile,
      ROUTELET_CONNECT_RETRY: '1',
      ROUTELET_TEST_BLOCK_LOOP_MS: '3000',
    });
    for (const p of [B4, B6, C4, C6]) await agent.waitPeer(p, (v) => v.state === 'Established', 30_000);
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    await bfdd?.stop();
    await stopAllDaemons();
    for (const ns of [a, b, c]) ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  it('BFD comes Up with B (IPv4 and IPv6) and C4, and shows in /api/v1/peers; the hold time is 90 s', async () => {
    for (const p of [B4, B6, C4]) {
      // we go Up on the peer's Init and learn that the peer is Up from its next packet
      // (up to one interval later): wait for both ends
      const v = await agent.waitPeer(p, (x) => x.bfd?.state === 'up' && x.bfd.remoteState === 'up', 20_000);
      const bfd = v.bfd!;
      expect(v.holdTime).toBe(90);
      expect(bfd.localDiscriminator).toBeGreaterThan(0);
      expect(bfd.remoteDiscriminator).toBeGreaterThan(0);
      expect(bfd.txIntervalMs).toBe(300);
      expect(bfd.rxIntervalMs).toBe(300);
      expect(bfd.detectionTimeMs).toBe(900);
      expect(bfd.multihop).toBe(false);
    }
    await sleep(500);
    await expect.poll(() => kernel(), { timeout: 10_000 }).toEqual(new Set([B4R, B6R, C4R, C6R]));
    const status = await agent.get('/metrics');
    expect(status.body).toMatch(/routelet_bfd_sessions\{state="up"\} 3/);
  }, 60_000);

  it('the event loop blocked for 3 s: no BFD session drops, no BGP session resets', async () => {
    const before = await agent.peers();
    const up = (vs: PeerView[], p: string) => vs.find((v) => v.address === p)!;
    for (const p of [B4, B6, C4]) expect(up(before, p).bfd?.state, p).toBe('up');
    // BIRD's view: a JavaScript-timer BFD would send nothing for 3 s and BIRD would call us
    // Down after 900 ms; the native thread keeps sending
    const birdSide = () => parseBirdBfd(birdB.cli('show bfd sessions')).filter((x) => x.address === A4 || x.address === A6);
    const birdBefore = birdSide();
    expect(birdBefore.map((x) => x.state)).toEqual(['Up', 'Up']);
    agent.signal('SIGUSR2');
    await sleep(500);
    const t0 = Date.now();
    // the first answer comes once the loop is free again
    const after = await agent.peers();
    const blockedMs = Date.now() - t0;
    expect(blockedMs).toBeGreaterThan(2000);
    for (const p of [B4, B6, C4]) {
      expect(up(after, p).bfd?.state).toBe('up');
      expect(up(after, p).bfd?.upSince).toBe(up(before, p).bfd?.upSince);
      expect(up(after, p).state).toBe('Established');
      expect(up(after, p).uptimeSeconds).toBeGreaterThanOrEqual(up(before, p).uptimeSeconds + 2);
    }
    expect(agent.lines().some((l) => l.msg === 'test hook: event loop unblocked')).toBe(true);
    const birdAfter = birdSide();
    expect(birdAfter.map(({ since: _, ...x }) => x)).toEqual(birdBefore.map(({ since: _, ...x }) => x));
    birdAfter.forEach((x, i) => expect(sameBirdChange(x.since, birdBefore[i]!.since), `${x.address}: BIRD's session Up since ${birdBefore[i]!.since}, now since ${x.since}`).toBe(true));
    for (const p of [B4, B6, C4]) expect(lines(p).filter((l) => l.from === 'up')).toEqual([]);
    expect(kernel()).toEqual(new Set([B4R, B6R, C4R, C6R]));
    process.stderr.write(`[bfd agent] event loop blocked ~3 s (HTTP answered after ${blockedMs} ms): BFD stayed Up, no BGP reset\n`);
  }, 30_000);

  it("the peer's administrative shutdown (bfdd AdminDown) is not a failure: C4's session and routes stay", async () => {
    const before = (await agent.peer(C4))!;
    bfdd.cli('configure terminal', 'bfd', `peer ${AC4}`, 'shutdown');
    const v = await agent.waitPeer(C4, (x) => x.bfd?.state === 'down', 5000);
    expect(v.bfd!.remoteState).toBe('adminDown');
    expect(v.bfd!.lastDown).toMatchObject({ failure: false });
    await sleep(1500);
    const after = (await agent.peer(C4))!;
    expect(after.state).toBe('Established');
    expect(after.uptimeSeconds).toBeGreaterThanOrEqual(before.uptimeSeconds);
    expect(after.dead ?? null).toBeNull();
    expect(kernel().has(C4R)).toBe(true);
    bfdd.cli('configure terminal', 'bfd', `peer ${AC4}`, 'no shutdown');
    await agent.waitPeer(C4, (x) => x.bfd?.state === 'up', 10_000);
  }, 30_000);

  it('C6 never speaks BFD: its BFD session stays Down, the BGP session and routes are as without BFD', async () => {
    const v = (await agent.peer(C6))!;
    expect(v.bfd?.state).toBe('down');
    expect(v.bfd?.lastDown ?? null).toBeNull();
    expect(v.state).toBe('Established');
    expect(v.lastError).toBeNull();
    expect(kernel().has(C6R)).toBe(true);
  });

  it('SIGHUP with a changed bfdMultiplier re-times the BFD session (BIRD sees it), the BGP session stays', async () => {
    const before = (await agent.peer(B4))!;
    writePeers({ bfdMultiplier: 5 });
    agent.signal('SIGHUP');
    const v = await agent.waitPeer(B4, (x) => x.bfd?.multiplier === 5, 10_000);
    expect(v.bfd!.state).toBe('up');
    expect(v.bfd!.upSince).toBe(before.bfd!.upSince);
    expect(v.state).toBe('Established');
    expect(v.uptimeSeconds).toBeGreaterThanOrEqual(before.uptimeSeconds);
    // BIRD's detection time for us: our multiplier × 300 ms
    await expect.poll(() => parseBirdBfd(birdB.cli('show bfd sessions')).find((x) => x.address === A4)?.timeout, { timeout: 5000 }).toBe(1.5);
    expect(agent.lines().some((l) => l.msg === `BFD with ${B4} re-timed: 300 ms × 5`)).toBe(true);
    expect(agent.lines().some((l) => typeof l.msg === 'string' && (l.msg as string).startsWith(`reload: the options of ${B4} changed`))).toBe(false);
  }, 30_000);

  it("B goes silent (no RST, no ICMP): B's routes leave A's kernel within the detection time plus a margin, C's stay", async () => {
    const t0 = Date.now();
    silence(b);
    const gone = await untilGone(kernel, [B4R, B6R], t0, `B's`);
    process.stderr.write(`[bfd agent] silent peer: B's IPv4 and IPv6 routes left the kernel ${gone} ms after the drop (detection time 900 ms, hold time 90 s)\n`);
    expect(gone).toBeLessThan(2000);
    const k = kernel();
    expect(k.has(C4R) && k.has(C6R)).toBe(true);
    for (const p of [B4, B6]) {
      const v = (await agent.peer(p))!;
      expect(v.state).not.toBe('Established');
      expect(v.bfd?.lastDown).toMatchObject({ failure: true, diag: 1 });
      expect(v.dead?.kind).toBe('bfd');
      expect(v.gracefulRestart.staleRoutes).toBe(0);
    }
    expect(agent.lines().some((l) => l.peer === B4 && typeof l.msg === 'string' && (l.msg as string).startsWith(`BFD down (control detection time expired) for ${B4}: closing its BGP session now`))).toBe(true);
    const m = await agent.get('/metrics');
    expect(m.body).toMatch(new RegExp(`routelet_bfd_detections_total\\{peer="${B4.replace(/\./g, '\\.')}"\\} 1`));
  }, 30_000);
});

// Our stop with graceful restart on: the BGP sessions close without a Hard Reset, then every
// BFD session goes AdminDown (the service's close), which RFC 5882 §3.2 says is not a
// failure. BIRD 2.0.12 takes any Up → Down for a failure, AdminDown included (its
// bfd_request_notify), and with `bfd on` drops the session and our routes, helper or not
// (seen here): with graceful restart, BIRD's side needs `bfd graceful`, which this checks —
// it keeps our routes as stale past its detection time. (Recent FRR has a topotest that a
// peer's AdminDown leaves BGP up; FRR 8.4's bgpd is not checked here.)
describe('routelet agent stopping with graceful restart: BIRD keeps our routes', () => {
  let a: Netns;
  let b: Netns;
  let bird: Daemon;
  let agent: AgentProcess;
  const OURS4 = '10.88.0.0/24';
  const OURS6 = 'fd88::/64';

  beforeAll(async () => {
    requireRoot();
    requireCommand('bird', 'bird2');
    a = new Netns('bfdsa');
    b = new Netns('bfdsb');
    link(a, [`${A4}/24`, `${A6}/64`], b, [`${B4}/24`, `${B6}/64`]);
    bird = await startDaemon('bird', b, birdConfig(B4, 65002, [B4, A4], [B6, A6], [B4R, B6R], 'graceful'));
    agent = await startAgent(a, {
      ROUTELET_ASN: '65000',
      ROUTELET_ROUTER_ID: A4,
      ROUTELET_PEERS: `${B4}@65002,[${B6}]@65002`,
      ROUTELET_ADVERTISE: `${OURS4},${OURS6}`,
      ROUTELET_CONNECT_RETRY: '1',
    });
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await stopAllDaemons();
    for (const ns of [a, b]) ns?.delete();
  });

  it('AdminDown on stop: BIRD (bfd graceful) keeps our IPv4 and IPv6 routes (stale) past its detection time', async () => {
    for (const p of [B4, B6]) await agent.waitPeer(p, (x) => x.state === 'Established' && x.bfd?.state === 'up', 30_000);
    const has = (prefix: string): boolean => {
      try {
        return bird.cli(`show route ${prefix}`).includes(prefix.split('/')[0]!);
      } catch {
        return false; // BIRD: Network not found
      }
    };
    await expect.poll(() => has(OURS4) && has(OURS6), { timeout: 10_000 }).toBe(true);
    const r = await agent.stop();
    expect(r.code).toBe(0);
    // BIRD's detection time for us is 900 ms: past it, the routes are still there
    await sleep(2500);
    const sessions = bird.cli('show bfd sessions');
    expect(has(OURS4)).toBe(true);
    expect(has(OURS6)).toBe(true);
    expect(sessions).toMatch(new RegExp(`${A4.replace(/\./g, '\\.')}\\s+\\S+\\s+Down`));
    process.stderr.write(`[bfd agent] 2.5 s after our stop, BIRD (bfd graceful) still has ${OURS4} and ${OURS6}; its BFD session with us is Down\n`);
  }, 60_000);
});

// FRR: bgpd with `neighbor … bfd` (through zebra to bfdd), IPv4 and IPv6: BFD comes Up with the
// agent, and a silent FRR host has its routes out of the agent's kernel within 2 s (hold 90 s).
describe('BFD in routelet agent against FRR (zebra, bfdd, bgpd)', () => {
  const F4 = '10.9.9.2';
  const AF4 = '10.9.9.1';
  const F6 = 'fd00:99::2';
  const AF6 = 'fd00:99::1';
  const F4R = '10.77.4.0/24';
  const F6R = 'fd77:4::/64';
  let a: Netns;
  let f: Netns;
  let frr: FrrStack;
  let agent: AgentProcess;
  const kernel = (): Set<string> => agentRoutes(a);

  beforeAll(async () => {
    requireRoot();
    requireCommand('vtysh', 'frr');
    requireCommand('nft', 'nftables');
    a = new Netns('bfdfa');
    f = new Netns('bfdff');
    link(a, [`${AF4}/24`, `${AF6}/64`], f, [`${F4}/24`, `${F6}/64`]);
    frr = await FrrStack.start(
      f,
      `frr defaults traditional
router bgp 65004
 bgp router-id ${F4}
 no bgp ebgp-requires-policy
 no bgp network import-check
 bgp graceful-restart
 neighbor ${AF4} remote-as 65000
 neighbor ${AF4} bfd
 neighbor ${AF6} remote-as 65000
 neighbor ${AF6} bfd
 address-family ipv4 unicast
  network ${F4R}
  no neighbor ${AF6} activate
 exit-address-family
 address-family ipv6 unicast
  neighbor ${AF6} activate
  network ${F6R}
 exit-address-family
!
`,
    );
    agent = await startAgent(a, { ROUTELET_ASN: '65000', ROUTELET_ROUTER_ID: AF4, ROUTELET_PEERS: `${F4}@65004,[${F6}]@65004`, ROUTELET_CONNECT_RETRY: '1' });
  }, 90_000);

  afterAll(async () => {
    if (frr && !agent?.running) process.stderr.write(frr.log().slice(-3000));
    await agent?.stop();
    await frr?.stop();
    for (const ns of [a, f]) ns?.delete();
  });

  it('BFD Up with FRR (IPv4 and IPv6); FRR silent: its routes leave the kernel within 2 s', async () => {
    for (const p of [F4, F6]) {
      const v = await agent.waitPeer(p, (x) => x.state === 'Established' && x.bfd?.state === 'up', 40_000);
      expect(v.holdTime).toBe(90);
      expect(v.bfd!.detectionTimeMs).toBe(900);
    }
    const peers = JSON.parse(frr.cli('bfdd', 'show bfd peers json')) as { peer: string; status: string }[];
    expect(peers.filter((x) => x.peer === AF4 || x.peer === AF6).map((x) => x.status)).toEqual(['up', 'up']);
    await expect.poll(() => kernel(), { timeout: 15_000 }).toEqual(new Set([F4R, F6R]));
    const t0 = Date.now();
    silence(f);
    const gone = await untilGone(kernel, [F4R, F6R], t0, `FRR's`);
    process.stderr.write(`[bfd agent] silent FRR: its IPv4 and IPv6 routes left the kernel ${gone} ms after the drop\n`);
    expect(gone).toBeLessThan(2000);
    for (const p of [F4, F6]) expect((await agent.peer(p))!.bfd?.lastDown).toMatchObject({ failure: true });
  }, 90_000);

  it('a local unreachable route to FRR (our packets cannot leave): its routes leave the kernel within 2 s', async () => {
    unsilence(f);
    for (const p of [F4, F6]) await agent.waitPeer(p, (x) => x.state === 'Established' && x.bfd?.state === 'up', 60_000);
    await expect.poll(() => kernel(), { timeout: 15_000 }).toEqual(new Set([F4R, F6R]));
    const t0 = Date.now();
    a.ip('route', 'add', 'unreachable', `${F4}/32`);
    a.ip('-6', 'route', 'add', 'unreachable', `${F6}/128`);
    const gone = await untilGone(kernel, [F4R, F6R], t0, `FRR's`);
    process.stderr.write(`[bfd agent] local unreachable route to FRR: its routes left the kernel ${gone} ms after the route was added\n`);
    expect(gone).toBeLessThan(2000);
    for (const p of [F4, F6]) expect((await agent.peer(p))!.bfd?.lastDown).toMatchObject({ failure: true });
  }, 120_000);
});
