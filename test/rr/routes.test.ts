// /api/v1/routes (CONTRACT.md) and `routelet routes` against a running agent with real peers,
// and ECMP into the kernel:
//   - two BIRD 2 iBGP peers announce 10.250.0.0/24 with equal attributes: one multipath route
//     in the kernel (`ip -j route show`), best path by the lower BGP identifier;
//   - every field of the path objects (nextHop, peer, asPath, origin, localPref, med,
//     communities, largeCommunities, originatorId, clusterList, best, stale), `kernel`, and
//     the best-path reason, for paths from BIRD, from a test speaker (ORIGINATOR_ID,
//     CLUSTER_LIST, AS_PATH, ORIGIN EGP) and originated here;
//   - `routelet routes`: the table, --json (the same as the API), --prefix (exact and longest
//     match), a bad --prefix;
//   - `stale`: a peer killed without a NOTIFICATION leaves its paths stale (graceful restart
//     helper), still forwarding.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PathView, RouteView } from '../../src/api/types.js';
import { parseAsPath, sharedInterner } from '../../src/bgp/codec/index.js';
import { parsePrefix } from '../../src/net/prefix.js';
import { type AgentProcess, startAgent } from '../support/agent.js';
import { routelet } from '../support/cli.js';
import { type Daemon, startDaemon, waitFor } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { TestSpeaker } from '../support/speaker.js';
import { birdClientConf, until, rigHooks } from './support.js';

const B1 = '10.0.1.2';
const B2 = '10.0.2.2';
const SP = '10.0.3.2';
const ECMP = '10.250.0.0/24';
const RICH = '10.251.0.0/24';
const REFLECTED = '10.252.0.0/24';
const OWN = '10.65.0.0/26';

let R: Netns;
const nss: Netns[] = [];
const birds: Daemon[] = [];
let agent: AgentProcess | undefined;
let speaker: TestSpeaker | undefined;
let dir: string;

/** `routelet routes ARGS` inside the agent's namespace (it talks to 127.0.0.1 there). */
const cli = (...args: string[]) => routelet(['routes', ...args], {}, ['ip', 'netns', 'exec', R.name]);

beforeAll(async () => {
  requireRoot();
  requireCommand('bird', 'bird2');
  dir = mkdtempSync(join(tmpdir(), 'routelet-routes-'));
  R = new Netns('rtr');
  for (const [n, addr] of [B1, B2, SP].entries()) {
    const N = new Netns(`rt${n}`);
    nss.push(N);
    link(R, `10.0.${n + 1}.1/24`, N, `${addr}/24`);
  }
  writeFileSync(join(dir, 'peers.json'), JSON.stringify([{ address: B1, asn: 65000 }, { address: B2, asn: 65000 }, { address: SP, asn: 65000, passive: true }]));
  agent = await startAgent(R, {
    ROUTELET_ASN: '65000',
    ROUTELET_ROUTER_ID: '10.0.0.1',
    ROUTELET_PEERS_FILE: join(dir, 'peers.json'),
    ROUTELET_ADVERTISE: OWN,
    ROUTELET_CONNECT_RETRY: '1',
    ROUTELET_CONNECT_RETRY_MAX: '2',
    // a killed peer keeps its stale paths for the restart time (no early release on ECONNREFUSED)
    ROUTELET_GR_FAST_UNLOCK: 'off',
  });
  // B1's copy of RICH carries everything a path object can show; B2's is plain
  const rich = `if net = ${RICH} then { bgp_local_pref = 200; bgp_med = 20; bgp_origin = ORIGIN_INCOMPLETE; bgp_community.add((65000,100)); bgp_community.add((65000,7)); bgp_large_community.add((65000,1,2)); }`;
  for (const [i, addr] of [B1, B2].entries()) {
    birds[i] = await startDaemon(
      'bird',
      nss[i]!,
      birdClientConf({ routerId: addr, local: addr, neighbor: `10.0.${i + 1}.1`, asn: 65000, peerAsn: 65000, prefixes: [ECMP, RICH], exportSet: i === 0 ? rich : '' }),
    );
  }
  for (const a of [B1, B2]) await agent.waitPeer(a, (p) => p.state === 'Established', 30_000);
  speaker = await TestSpeaker.connect({ host: '10.0.3.1', netns: nss[2]!, localAddress: SP, asn: 65000, routerId: SP });
  await speaker.establish();
  const attrs = sharedInterner.intern({ origin: 1, asPath: parseAsPath('65010 65020'), nextHop: SP, localPref: 100, originatorId: '10.7.7.7', clusterList: ['10.8.8.8', '10.8.8.9'] });
  speaker.sendUpdate({ reach: [{ family: 4, prefixes: [parsePrefix(REFLECTED) as number], attrs }] });
  for (const p of [ECMP, RICH]) await waitFor(`two paths for ${p}`, async () => ((await agent!.routes(p))[0]?.paths.length === 2 ? true : undefined), 20_000);
}, 90_000);

rigHooks(() => ({ agent, speaker, daemons: birds, namespaces: [R, ...nss], dir }));


interface KernelRoute {
  dst: string;
  protocol: string;
  gateway?: string;
  nexthops?: { gateway: string; dev: string; weight?: number }[];
}

describe('ECMP', () => {
  it('two equal iBGP paths from two BIRD peers become one multipath route in the kernel', async () => {
    const [k] = await until(`${ECMP} as a multipath route in the kernel`, async () => {
      const rs = R.json<KernelRoute[]>('route', 'show', ECMP);
      return rs.length === 1 && rs[0]!.nexthops?.length === 2 ? rs : undefined;
    });
    expect(k!.protocol).toMatch(/^(201|routelet)$/);
    expect(k!.nexthops!.map((h) => h.gateway).sort()).toEqual([B1, B2]);
    // one route, not two
    expect(R.json<KernelRoute[]>('route', 'show', 'proto', '201').filter((r) => r.dst === ECMP)).toHaveLength(1);
    const [v] = await agent!.routes(ECMP);
    expect(v!.kernel).toBe('installed');
    expect(v!.paths.map((p) => [p.peer, p.best, p.multipath])).toEqual([
      [B1, true, true],
      [B2, false, true],
    ]);
    expect(v!.paths[0]!.bestReason).toBe(`lower BGP identifier (${B1} vs ${B2})`);
    // RICH differs in LOCAL_PREF: one path only, a plain route
    await until(`${RICH} in the kernel`, async () => (R.json<KernelRoute[]>('route', 'show', RICH)[0]?.gateway === B1 ? true : undefined));
  }, 30_000);
});

describe('/api/v1/routes', () => {
  it('every field of a path from BIRD, with the best-path reason and the kernel state', async () => {
    const [v] = await agent!.routes(RICH);
    expect(v!.prefix).toBe(RICH);
    expect(v!.kernel).toBe('installed');
    const [best, other] = v!.paths;
    expect(best).toEqual({
      nextHop: B1,
      peer: B1,
      asPath: '',
      origin: 'INCOMPLETE',
      localPref: 200,
      med: 20,
      // in BIRD's order (it keeps community lists sorted)
      communities: ['65000:7', '65000:100'],
      largeCommunities: ['65000:1:2'],
      originatorId: null,
      clusterList: [],
      best: true,
      stale: false,
      bestReason: 'higher LOCAL_PREF (200 vs 100)',
      multipath: false,
    } satisfies PathView);
    expect(other).toEqual({
      nextHop: B2,
      peer: B2,
      asPath: '',
      origin: 'IGP',
      localPref: 100,
      med: null,
      communities: [],
      largeCommunities: [],
      originatorId: null,
      clusterList: [],
      best: false,
      stale: false,
      bestReason: null,
      multipath: false,
    } satisfies PathView);
  });

  it('ORIGINATOR_ID, CLUSTER_LIST, AS_PATH and ORIGIN EGP of a reflected path; an originated route', async () => {
    const [r] = await until(`${REFLECTED} at the agent`, async () => {
      const x = await agent!.routes(REFLECTED);
      return x.length && x[0]!.kernel === 'installed' ? x : undefined;
    });
    expect(r!.paths).toEqual([
      {
        nextHop: SP,
        peer: SP,
        asPath: '65010 65020',
        origin: 'EGP',
        localPref: 100,
        med: null,
        communities: [],
        largeCommunities: [],
        originatorId: '10.7.7.7',
        clusterList: ['10.8.8.8', '10.8.8.9'],
        best: true,
        stale: false,
        bestReason: 'only path',
        multipath: false,
      },
    ]);
    const [own] = await agent!.routes(OWN);
    expect(own!.paths).toHaveLength(1);
    expect(own!.paths[0]).toMatchObject({ peer: 'local', asPath: '', origin: 'IGP', localPref: 100, med: null, best: true, stale: false, bestReason: 'only path' });
    // originated here: routelet forwards it itself, nothing goes into the kernel for it
    expect(own!.kernel).not.toBe('installed');
    expect(R.ip('route', 'show', OWN, 'proto', '201')).toBe('');
  });

  it('the whole table in address order; a longest-match lookup by address; a bad prefix is a 400', async () => {
    const all = await agent!.routes();
    expect(all.map((r) => r.prefix)).toEqual([OWN, ECMP, RICH, REFLECTED]);
    for (const r of all) expect(r.paths.filter((p) => p.best)).toHaveLength(1);
    const byAddress = await agent!.routes('10.251.0.77');
    expect(byAddress.map((r) => r.prefix)).toEqual([RICH]);
    expect(await agent!.routes('10.99.0.0/24')).toEqual([]);
    const bad = await agent!.get('/api/v1/routes?prefix=10.1.2.3%2F8');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/10\.1\.2\.3\/8/);
  });
});

describe('routelet routes', () => {
  it('prints the table with the best path, the multipath marker, the reason and the kernel state', () => {
    const r = cli();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PREFIX\s+B\s+NEXT HOP\s+PEER\s+AS PATH\s+O\s+LOCPRF\s+MED\s+INFO\s+KERNEL$/);
    const at = lines.findIndex((l) => l.startsWith(ECMP));
    expect(lines[at]).toMatch(new RegExp(`^${ECMP.replace(/\./g, '\\.')}\\s+\\*\\s+${B1}\\s+${B1}\\s+\\(local\\)\\s+i\\s+100\\s+lower BGP identifier \\(${B1} vs ${B2}\\)\\s+installed$`));
    expect(lines[at + 1]).toMatch(new RegExp(`^\\s+=\\s+${B2}\\s+${B2}\\s+\\(local\\)\\s+i\\s+100\\s*$`));
    const rich = lines.findIndex((l) => l.startsWith(RICH));
    expect(lines[rich]).toMatch(/\*\s+10\.0\.1\.2\s+10\.0\.1\.2\s+\(local\)\s+\?\s+200\s+20\s+higher LOCAL_PREF \(200 vs 100\)\s+installed$/);
    expect(lines.find((l) => l.startsWith(REFLECTED))).toMatch(/65010 65020\s+e\s+100\s+only path\s+installed$/);
  });

  it('--json is the API answer; --prefix takes a prefix or an address; a bad --prefix is a usage error', async () => {
    const j = cli('--json');
    expect(j.status).toBe(0);
    expect(JSON.parse(j.stdout) as RouteView[]).toEqual(await agent!.routes());
    const one = cli('--json', '--prefix', RICH);
    expect((JSON.parse(one.stdout) as RouteView[]).map((r) => r.prefix)).toEqual([RICH]);
    const addr = cli('--prefix', '10.250.0.9');
    expect(addr.status).toBe(0);
    expect(addr.stdout.split('\n').filter((l) => /^\d/.test(l)).map((l) => l.split(/\s+/)[0])).toEqual([ECMP]);
    const bad = cli('--prefix', 'not-a-prefix');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--prefix "not-a-prefix"/);
  });
});

describe('stale paths', () => {
  it('a peer killed without a NOTIFICATION leaves its paths stale and still forwarding', async () => {
    process.kill(birds[1]!.pid, 'SIGKILL');
    const [v] = await until(`${B2}'s path stale`, async () => {
      const x = await agent!.routes(ECMP);
      return x[0]?.paths.some((p) => p.peer === B2 && p.stale) ? x : undefined;
    });
    expect(v!.paths.map((p) => [p.peer, p.stale, p.multipath])).toEqual([
      [B1, false, true],
      [B2, true, true],
    ]);
    const peer = await agent!.peer(B2);
    expect(peer!.state).not.toBe('Established');
    expect(peer!.gracefulRestart.staleRoutes).toBe(2);
    // forwarding goes on over both next hops during graceful restart
    expect(R.json<KernelRoute[]>('route', 'show', ECMP)[0]!.nexthops!.map((h) => h.gateway).sort()).toEqual([B1, B2]);
    const line = cli().stdout.split('\n').find((l) => l.includes(`${B2}  `) && l.includes('stale'));
    expect(line).toBeDefined();
  }, 30_000);
});
