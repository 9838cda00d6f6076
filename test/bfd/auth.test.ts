// BFD authentication from the peers file (`bfdAuth`, RFC 5880 §6.7) in `routelet agent`, against
// BIRD 2 (`authentication keyed sha1; password "…" { id 5; }` in its BFD interface options, and
// `bfd on` in its BGP sessions), in network namespaces:
//
//   A: routelet agent; peers B4, B6 (bfdAuth keyed-sha1, key ID 5, the key from passwordFile)
//      and W4 (the same type and key ID, another key)
//   B: BIRD 2; link 1 (B4, B6) with the key we hold, link 2 (W4) with another
//
//   - B4 and B6: BFD Up on both sides, authenticated; /api/v1/peers shows the type and key ID,
//     never the key; the key is in no log line and no API answer
//   - W4 (wrong key): BFD never comes Up on either side, our authentication failures count up;
//     the BGP session and its routes are there all along, unharmed
//   - SIGHUP with W4's key corrected: its BFD session is made again and comes Up, BGP stays
//   - B goes silent: the authenticated BFD session detects it, B's routes leave A's kernel
//     within the detection time plus a margin; W4's routes stay
//
// FRR's bfdd is not here: the packaged one (8.4) has no authentication at all, and FRR's later
// keychain support computes keyed SHA1 as an HMAC, not as RFC 5880 §6.7.4 says (FRR issue 23274).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, startAgent } from '../support/agent.js';
import { type Daemon, startDaemon, stopAllDaemons } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { parseBirdBfd, sleep, agentRoutes, untilGone } from './support.js';

const A4 = '10.9.7.1';
const B4 = '10.9.7.2';
const A6 = 'fd00:97::1';
const B6 = 'fd00:97::2';
const AW4 = '10.9.8.1';
const W4 = '10.9.8.2';
const B4R = '10.77.7.0/24';
const B6R = 'fd77:7::/64';
const W4R = '10.77.8.0/24';
const KEY = 'Sh4red-BFD-k3y';
const OTHER = 'n0t-the-same-key';

function birdConfig(goodDev: string, badDev: string): string {
  return `router id ${B4};
protocol device {}
protocol bfd {
  interface "${goodDev}" { interval 300 ms; multiplier 3; authentication keyed sha1; password "${KEY}" { id 5; }; };
  interface "${badDev}" { interval 300 ms; multiplier 3; authentication keyed sha1; password "${OTHER}" { id 5; }; };
}
protocol static s4 { ipv4; route ${B4R} blackhole; route ${W4R} blackhole; }
protocol static s6 { ipv6; route ${B6R} blackhole; }
protocol bgp b4 { local ${B4} as 65002; neighbor ${A4} as 65000; bfd on; ipv4 { import all; export filter { if net = ${B4R} then accept; reject; }; }; }
protocol bgp b6 { local ${B6} as 65002; neighbor ${A6} as 65000; bfd on; ipv6 { import all; export all; }; }
protocol bgp w4 { local ${W4} as 65002; neighbor ${AW4} as 65000; bfd on; ipv4 { import all; export filter { if net = ${W4R} then accept; reject; }; }; }
`;
}

describe('BFD authentication from the peers file, against BIRD 2', () => {
  let a: Netns;
  let b: Netns;
  let bird: Daemon;
  let agent: AgentProcess;
  const dir = mkdtempSync(join(tmpdir(), 'routelet-bfd-auth-'));

  const kernel = (): Set<string> => agentRoutes(a);
  const birdBfd = (addr: string) => parseBirdBfd(bird.cli('show bfd sessions')).find((s) => s.address === addr);

  beforeAll(async () => {
    requireRoot();
    requireCommand('bird', 'bird2');
    requireCommand('nft', 'nftables');
    a = new Netns('bfdua');
    b = new Netns('bfdub');
    const good = link(a, [`${A4}/24`, `${A6}/64`], b, [`${B4}/24`, `${B6}/64`]);
    const bad = link(a, [`${AW4}/24`], b, [`${W4}/24`]);
    bird = await startDaemon('bird', b, birdConfig(good.bDev, bad.bDev));
    writeFileSync(join(dir, 'bfd-key'), `${KEY}\n`, { mode: 0o600 });
    const auth = { type: 'keyed-sha1', keyId: 5, passwordFile: join(dir, 'bfd-key') };
    writeFileSync(
      join(dir, 'peers.json'),
      JSON.stringify([
        { address: B4, asn: 65002, bfdAuth: auth },
        { address: B6, asn: 65002, bfdAuth: auth },
        { address: W4, asn: 65002, bfdAuth: auth },
      ]),
    );
    agent = await startAgent(a, {
      ROUTELET_ASN: '65000',
      ROUTELET_ROUTER_ID: A4,
      ROUTELET_PEERS_FILE: join(dir, 'peers.json'),
      ROUTELET_CONNECT_RETRY: '1',
      ROUTELET_LOG_LEVEL: 'debug',
    });
    for (const p of [B4, B6, W4]) await agent.waitPeer(p, (v) => v.state === 'Established', 30_000);
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    await stopAllDaemons();
    for (const ns of [a, b]) ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the right key: BFD Up on both sides (IPv4 and IPv6), authenticated; the API shows the type and key ID only', async () => {
    for (const [p, ours] of [
      [B4, A4],
      [B6, A6],
    ] as const) {
      // both ends Up: we go Up on the peer's Init and see its Up in its next packet
      const v = await agent.waitPeer(p, (x) => x.bfd?.state === 'up' && x.bfd.remoteState === 'up', 20_000);
      expect(v.bfd).toMatchObject({ remoteState: 'up', auth: { type: 'keyed-sha1', keyId: 5 }, authFailures: 0, txIntervalMs: 300, detectionTimeMs: 900 });
      expect(Object.keys(v.bfd!.auth!).sort()).toEqual(['keyId', 'type']);
      await expect.poll(() => birdBfd(ours)?.state, { timeout: 5000 }).toBe('Up');
    }
  }, 60_000);

  it('a wrong key: BFD never comes Up on either side, the failures are counted, BGP and routes are unharmed', async () => {
    await sleep(3000); // several seconds of BIRD's packets at its 1 s slow start
    const v = (await agent.peer(W4))!;
    expect(v.bfd!.state).not.toBe('up');
    expect(v.bfd!.lastDown ?? null).toBeNull(); // never Up, so never down
    expect(v.bfd!.authFailures).toBeGreaterThan(0);
    expect(v.bfd!.auth).toEqual({ type: 'keyed-sha1', keyId: 5 });
    expect(birdBfd(AW4)?.state).not.toBe('Up');
    expect(v.state).toBe('Established');
    expect(v.lastError).toBeNull();
    expect(kernel().has(W4R)).toBe(true);
    expect(v.uptimeSeconds).toBeGreaterThanOrEqual(3); // Established since before the wait: never reset
    const metrics = (await agent.get('/metrics')).body;
    expect(metrics).not.toMatch(new RegExp(`routelet_bfd_detections_total\\{peer="${W4.replace(/\./g, '\\.')}"\\}`));
  }, 30_000);

  it('the key is in no log line, no API answer and no metric', async () => {
    const answers = [await agent.get('/api/v1/peers'), await agent.get('/metrics'), await agent.get('/readyz'), await agent.get('/api/v1/routes')];
    for (const text of [agent.log(), ...answers.map((r) => r.body)]) {
      expect(text).not.toContain(KEY);
      expect(text).not.toContain(OTHER);
    }
    // the log does say which authentication a session runs
    expect(agent.lines().some((l) => l.msg === `BFD with ${B4}: single hop, 300 ms × 3, keyed-sha1 key ID 5`)).toBe(true);
  });

  it("SIGHUP with W4's key corrected: its BFD session is made again and comes Up, the BGP session stays", async () => {
    const before = (await agent.peer(W4))!;
    writeFileSync(join(dir, 'w4-key'), OTHER, { mode: 0o600 });
    const auth = { type: 'keyed-sha1', keyId: 5, passwordFile: join(dir, 'bfd-key') };
    writeFileSync(
      join(dir, 'peers.json'),
      JSON.stringify([
        { address: B4, asn: 65002, bfdAuth: auth },
        { address: B6, asn: 65002, bfdAuth: auth },
        { address: W4, asn: 65002, bfdAuth: { ...auth, passwordFile: join(dir, 'w4-key') } },
      ]),
    );
    agent.signal('SIGHUP');
    const v = await agent.waitPeer(W4, (x) => x.bfd?.state === 'up', 15_000);
    expect(v.bfd!.localDiscriminator).not.toBe(before.bfd!.localDiscriminator);
    expect(v.state).toBe('Established');
    expect(v.uptimeSeconds).toBeGreaterThanOrEqual(before.uptimeSeconds);
    await expect.poll(() => birdBfd(AW4)?.state, { timeout: 5000 }).toBe('Up');
    expect(agent.lines().some((l) => l.msg === `BFD with ${W4}: authentication changed, keyed-sha1 key ID 5`)).toBe(true);
    expect(agent.log()).not.toContain(OTHER);
    // B4 and B6 kept theirs: not made again
    expect((await agent.peer(B4))!.bfd!.state).toBe('up');
  }, 30_000);

  it("B goes silent: the authenticated BFD session detects it and B's routes leave A's kernel within the detection time plus a margin; W4's stay", async () => {
    await agent.waitPeer(B4, (x) => x.bfd?.state === 'up', 10_000);
    await expect.poll(() => kernel(), { timeout: 10_000 }).toEqual(new Set([B4R, B6R, W4R]));
    const t0 = Date.now();
    // only link 1: B drops everything from and to A4/A6, W4's link stays
    b.exec('nft', ['-f', '-'], {
      input: `table inet rltsilent1 {
  chain in { type filter hook input priority -300; ip saddr ${A4} drop; ip6 saddr ${A6} drop; }
  chain out { type filter hook output priority -300; ip daddr ${A4} drop; ip6 daddr ${A6} drop; }
}
`,
    });
    try {
      const gone = await untilGone(kernel, [B4R, B6R], t0, `B's`, 5000);
      process.stderr.write(`[bfd auth] silent BIRD peer with keyed SHA1: routes out of the kernel after ${gone} ms (detection time 900 ms)\n`);
      expect(gone).toBeLessThan(2000);
      expect(kernel().has(W4R)).toBe(true);
      const v = (await agent.peer(B4))!;
      expect(v.bfd!.lastDown).toMatchObject({ failure: true, diag: 1 });
    } finally {
      b.exec('nft', ['delete', 'table', 'inet', 'rltsilent1'], { allowFail: true });
    }
  }, 30_000);
});
