// Mixed eBGP and iBGP around routelet as route reflector: a GoBGP eBGP peer (AS 65100), a
// BIRD 2 eBGP peer (AS 65200) and two BIRD 2 iBGP clients. What each daemon holds is checked
// against RFC 4271 §5 and RFC 4456:
//   - GoBGP's route reaches the clients with GoBGP's next hop (iBGP keeps it), AS_PATH
//     `65100`, its MED (kept inside our AS) and LOCAL_PREF, without reflection attributes;
//   - the clients' routes reach GoBGP with routelet's address as next hop (next-hop-self),
//     AS_PATH `65000`, and no LOCAL_PREF, MED, ORIGINATOR_ID or CLUSTER_LIST (5.1.5, 5.1.4);
//   - a MED from one AS is not passed to another (65100 → 65200 and 65200 → 65100), while
//     the AS_PATH grows by our AS.
// GoBGP and BIRD both drop LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST received over eBGP
// before one can look at them, so a codec-based test speaker (eBGP, AS 65300) shows the
// octets routelet really sends: what it decodes is exactly what came over the wire.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatAsPath, type PathAttributes } from '../../src/bgp/codec/index.js';
import { formatPrefix } from '../../src/net/prefix.js';
import { type AgentProcess, startAgent } from '../support/agent.js';
import { type Daemon, startDaemon, waitFor } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { TestSpeaker } from '../support/speaker.js';
import { birdClientConf, birdRoutes, type BirdRoute, rigHooks } from './support.js';

const CLUSTER = '10.255.255.1';
const GOBGP = { address: '10.0.9.2', asn: 65100, prefix: '10.200.0.0/24', med: 50 };
const EBIRD = { address: '10.0.8.2', asn: 65200, prefix: '10.220.0.0/24', med: 20 };
const SPEAKER = { address: '10.0.7.2', asn: 65300 };
const CLIENTS = [1, 2].map((n) => ({ n, address: `10.0.${n}.2`, prefix: `10.10${n}.0.0/26` }));

let R: Netns;
const nss: Netns[] = [];
let agent: AgentProcess | undefined;
let speaker: TestSpeaker | undefined;
let dir: string;
let gobgp: Daemon | undefined;
let ebird: Daemon | undefined;
const clients: Daemon[] = [];

/** GoBGP's view of one prefix: its path attributes by type code (gobgp -j). */
interface GobgpAttr {
  type: number;
  [k: string]: unknown;
}
function gobgpPath(prefix: string): GobgpAttr[] | undefined {
  const j = gobgp!.json<Record<string, { attrs: GobgpAttr[]; best?: boolean; neighbor_ip?: string }[]>>(`-j global rib -a ipv4 ${prefix}`);
  const paths = j[prefix];
  return paths?.[0]?.attrs;
}

const ATTR = { AS_PATH: 2, NEXT_HOP: 3, MED: 4 } as const;

function asns(attrs: GobgpAttr[]): number[] {
  const a = attrs.find((x) => x.type === ATTR.AS_PATH) as { as_paths?: { asns: number[] }[] } | undefined;
  return (a?.as_paths ?? []).flatMap((s) => s.asns);
}

async function birdRoute(d: Daemon, prefix: string): Promise<BirdRoute> {
  const [r] = await waitFor(`${prefix} at ${d.netns.name}`, () => {
    const rs = birdRoutes(d, prefix).filter((x) => x.proto === 'rl');
    return rs.length ? rs : undefined;
  }, 20_000);
  return r!;
}

beforeAll(async () => {
  requireRoot();
  requireCommand('bird', 'bird2');
  requireCommand('gobgpd', 'gobgpd');
  dir = mkdtempSync(join(tmpdir(), 'routelet-mixed-'));
  R = new Netns('mxr');
  const G = new Netns('mxg');
  const E = new Netns('mxe');
  const S = new Netns('mxs');
  nss.push(G, E, S);
  link(R, '10.0.7.1/24', S, `${SPEAKER.address}/24`);
  link(R, '10.0.9.1/24', G, `${GOBGP.address}/24`);
  link(R, '10.0.8.1/24', E, `${EBIRD.address}/24`);
  for (const c of CLIENTS) {
    const C = new Netns(`mxc${c.n}`);
    nss.push(C);
    link(R, `10.0.${c.n}.1/24`, C, `${c.address}/24`);
  }
  writeFileSync(join(dir, 'peers.json'), JSON.stringify([{ address: SPEAKER.address, asn: SPEAKER.asn, passive: true }]));
  agent = await startAgent(R, {
    ROUTELET_ASN: '65000',
    ROUTELET_ROUTER_ID: '10.0.0.1',
    ROUTELET_RR_CLUSTER_ID: CLUSTER,
    ROUTELET_PEERS: [`${GOBGP.address}@${GOBGP.asn}`, `${EBIRD.address}@${EBIRD.asn}`, ...CLIENTS.map((c) => `${c.address}@65000`)].join(','),
    ROUTELET_PEERS_FILE: join(dir, 'peers.json'),
    ROUTELET_CONNECT_RETRY: '1',
    ROUTELET_CONNECT_RETRY_MAX: '2',
  });
  gobgp = await startDaemon(
    'gobgp',
    G,
    `[global.config]
  as = ${GOBGP.asn}
  router-id = "${GOBGP.address}"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.9.1"
    peer-as = 65000
  [neighbors.transport.config]
    local-address = "${GOBGP.address}"
  [neighbors.timers.config]
    connect-retry = 2
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
`,
  );
  gobgp.cli(`global rib add -a ipv4 ${GOBGP.prefix} origin igp med ${GOBGP.med}`);
  // BIRD eBGP: the routelet side's address is directly connected
  ebird = await startDaemon(
    'bird',
    E,
    birdClientConf({ routerId: EBIRD.address, local: EBIRD.address, neighbor: '10.0.8.1', asn: EBIRD.asn, peerAsn: 65000, prefixes: [EBIRD.prefix], exportSet: `bgp_med = ${EBIRD.med};` }),
  );
  for (const [i, c] of CLIENTS.entries()) {
    // client 1 sets LOCAL_PREF and MED on its route: neither may leave our AS
    const set = i === 0 ? 'bgp_local_pref = 300; bgp_med = 77;' : '';
    clients[i] = await startDaemon(
      'bird',
      nss[3 + i]!,
      birdClientConf({ routerId: c.address, local: c.address, neighbor: `10.0.${c.n}.1`, asn: 65000, peerAsn: 65000, prefixes: [c.prefix], exportSet: set, igp: `10.0.0.0/8 via 10.0.${c.n}.1` }),
    );
  }
  for (const a of [GOBGP.address, EBIRD.address, ...CLIENTS.map((c) => c.address)]) await agent.waitPeer(a, (p) => p.state === 'Established', 30_000);
}, 90_000);

rigHooks(() => ({ agent, speaker, daemons: [gobgp, ebird, ...clients], namespaces: [R, ...nss], dir }));

describe('GoBGP (eBGP), BIRD (eBGP) and BIRD iBGP clients around routelet', () => {
  it("GoBGP's route reaches the iBGP clients with GoBGP's next hop, AS_PATH 65100, its MED and LOCAL_PREF 100", async () => {
    for (const d of clients) {
      const r = await birdRoute(d, GOBGP.prefix);
      expect(r.bgp.next_hop).toBe(GOBGP.address);
      expect(r.bgp.as_path).toBe(String(GOBGP.asn));
      expect(r.bgp.local_pref).toBe('100');
      // a MED received from a neighbouring AS may be passed inside our AS (RFC 4271 5.1.4)
      expect(r.bgp.med).toBe(String(GOBGP.med));
      // learned from eBGP: not reflected, so no reflection attributes
      expect(r.bgp.originator_id).toBeUndefined();
      expect(r.bgp.cluster_list).toBeUndefined();
    }
  }, 40_000);

  it("the clients' routes reach GoBGP with next-hop-self, AS_PATH 65000, no MED", async () => {
    for (const c of CLIENTS) {
      const attrs = await waitFor(`${c.prefix} at GoBGP`, () => gobgpPath(c.prefix), 20_000);
      const types = attrs.map((a) => a.type);
      expect(attrs.find((a) => a.type === ATTR.NEXT_HOP)).toMatchObject({ nexthop: '10.0.9.1' });
      expect(asns(attrs)).toEqual([65000]);
      // GoBGP keeps a MED received over eBGP (it shows GoBGP's own, type 4, too): its absence is ours
      expect(types).not.toContain(ATTR.MED);
    }
    // the LOCAL_PREF and MED client 1 set did take effect inside our AS
    const [mine] = await agent!.routes(CLIENTS[0]!.prefix);
    expect(mine!.paths[0]).toMatchObject({ localPref: 300, med: 77 });
    const r = await birdRoute(clients[1]!, CLIENTS[0]!.prefix);
    expect(r.bgp.local_pref).toBe('300');
    expect(r.bgp.med).toBe('77');
  }, 40_000);

  it('a MED from one AS is not passed to another; the AS_PATH grows by ours', async () => {
    // 65100 → 65200
    const atE = await birdRoute(ebird!, GOBGP.prefix);
    expect(atE.bgp.as_path).toBe(`65000 ${GOBGP.asn}`);
    expect(atE.bgp.next_hop).toBe('10.0.8.1');
    expect(atE.bgp.med).toBeUndefined();
    // 65200 → 65100
    const atG = await waitFor(`${EBIRD.prefix} at GoBGP`, () => gobgpPath(EBIRD.prefix), 20_000);
    expect(asns(atG)).toEqual([65000, EBIRD.asn]);
    expect(atG.map((a) => a.type)).not.toContain(ATTR.MED);
    expect(atG.find((a) => a.type === ATTR.NEXT_HOP)).toMatchObject({ nexthop: '10.0.9.1' });
    // both MEDs did arrive at routelet
    const [g] = await agent!.routes(GOBGP.prefix);
    expect(g!.paths[0]).toMatchObject({ peer: GOBGP.address, med: GOBGP.med, asPath: String(GOBGP.asn) });
    const [e] = await agent!.routes(EBIRD.prefix);
    expect(e!.paths[0]).toMatchObject({ peer: EBIRD.address, med: EBIRD.med, asPath: String(EBIRD.asn) });
    // the eBGP route reaches the iBGP clients with the eBGP peer's next hop and MED
    const atC = await birdRoute(clients[0]!, EBIRD.prefix);
    expect(atC.bgp.next_hop).toBe(EBIRD.address);
    expect(atC.bgp.as_path).toBe(String(EBIRD.asn));
  }, 40_000);

  it('on the wire to an eBGP peer: next-hop-self, our AS prepended, no LOCAL_PREF, MED, ORIGINATOR_ID or CLUSTER_LIST', async () => {
    speaker = await TestSpeaker.connect({ host: '10.0.7.1', netns: nss[2]!, localAddress: SPEAKER.address, asn: SPEAKER.asn, routerId: SPEAKER.address });
    await speaker.establish();
    await speaker.next((m) => m.type === 'update' && m.endOfRib === 4, 20_000);
    const table = new Map<string, PathAttributes>();
    for (const r of speaker.received) {
      const m = r.message;
      if (m?.type === 'update') for (const x of m.reach) for (const p of x.prefixes as ArrayLike<number>) table.set(formatPrefix(p as number), x.attrs);
    }
    const want: [string, string][] = [
      [CLIENTS[0]!.prefix, '65000'], // iBGP client with LOCAL_PREF 300 and MED 77 inside our AS
      [CLIENTS[1]!.prefix, '65000'],
      [GOBGP.prefix, `65000 ${GOBGP.asn}`], // eBGP-learned with MED 50
      [EBIRD.prefix, `65000 ${EBIRD.asn}`], // eBGP-learned with MED 20
    ];
    for (const [prefix, path] of want) {
      const a = table.get(prefix);
      expect(a, prefix).toBeDefined();
      expect(a!.nextHop, prefix).toBe('10.0.7.1');
      expect(formatAsPath(a!.asPath!), prefix).toBe(path);
      expect(a!.localPref, prefix).toBeUndefined();
      expect(a!.med, prefix).toBeUndefined();
      expect(a!.originatorId, prefix).toBeUndefined();
      expect(a!.clusterList, prefix).toBeUndefined();
      expect(a!.origin, prefix).toBe(0);
    }
  }, 40_000);
});
