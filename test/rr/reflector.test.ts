// routelet as a route reflector (ROUTELET_RR_CLUSTER_ID) with three BIRD 2 clients, each
// announcing a /26, and a codec-based test speaker as a fourth client; then routelet as a
// client of a reflector. What is checked is what the peers themselves hold:
//   - every BIRD client learns the other clients' /26 with ORIGINATOR_ID = the originating
//     client's router ID and CLUSTER_LIST = our cluster ID (`birdc show route all`);
//   - a withdrawal reaches the other clients within one second (timed from the birdc
//     command that withdraws to the moment each client's table no longer has the route);
//   - a client's own route is not sent back to it (split horizon, issue 12): BIRD keeps only
//     its static route, and routelet counts two routes advertised to each client, not three;
//   - routelet drops routes that carry its own CLUSTER_ID or its router ID as ORIGINATOR_ID;
//   - routelet as a client: a reflector sending routelet's own route back (ORIGINATOR_ID =
//     routelet's router ID) does not get it accepted.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAsPath, sharedInterner, type UpdateMessage } from '../../src/bgp/codec/index.js';
import { formatPrefix, parsePrefix } from '../../src/net/prefix.js';
import { type AgentProcess, dumpAgentLogs, startAgent } from '../support/agent.js';
import { type Daemon, startDaemon, waitFor } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { TestSpeaker } from '../support/speaker.js';
import { birdClientConf, birdHas, birdRoutes, rigHooks } from './support.js';

const CLUSTER = '10.255.255.1';
const RR_ID = '10.0.0.1';
const CLIENTS = [1, 2, 3].map((n) => ({ n, address: `10.0.${n}.2`, prefix: `10.10${n}.0.0/26` }));
const SPEAKER = { address: '10.0.4.2', routerId: '10.0.4.2' };

let R: Netns;
let T: Netns;
const nss: Netns[] = [];
const birds: Daemon[] = [];
let agent: AgentProcess | undefined;
let speaker: TestSpeaker | undefined;
let dir: string;

const P4 = (t: string) => parsePrefix(t) as number;

/** The prefixes an UPDATE announces, as text. */
const announced = (m: UpdateMessage): string[] => m.reach.flatMap((r) => [...(r.prefixes as ArrayLike<number>)].map((p) => formatPrefix(p as number)));

/** `birdc CMD` without blocking the event loop (to watch several clients at once). */
function birdcAsync(d: Daemon, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn('ip', ['netns', 'exec', d.netns.name, 'birdc', '-s', join(d.dir, 'bird.ctl'), ...command.split(' ')]);
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.on('error', reject);
    c.on('close', () => resolve(out));
  });
}

beforeAll(async () => {
  requireRoot();
  requireCommand('bird', 'bird2');
  dir = mkdtempSync(join(tmpdir(), 'routelet-rr-'));
  R = new Netns('rrr');
  for (const c of CLIENTS) {
    const C = new Netns(`rrc${c.n}`);
    nss.push(C);
    link(R, `10.0.${c.n}.1/24`, C, `${c.address}/24`);
  }
  T = new Netns('rrt');
  link(R, '10.0.4.1/24', T, `${SPEAKER.address}/24`);
  const peers = [...CLIENTS.map((c) => ({ address: c.address, asn: 65000 })), { address: SPEAKER.address, asn: 65000, passive: true }];
  writeFileSync(join(dir, 'peers.json'), JSON.stringify(peers));
  agent = await startAgent(R, {
    ROUTELET_ASN: '65000',
    ROUTELET_ROUTER_ID: RR_ID,
    ROUTELET_RR_CLUSTER_ID: CLUSTER,
    ROUTELET_PEERS_FILE: join(dir, 'peers.json'),
    ROUTELET_CONNECT_RETRY: '1',
    ROUTELET_CONNECT_RETRY_MAX: '2',
  });
  await Promise.all(
    CLIENTS.map(async (c, i) => {
      // the other clients' next hops resolve through routelet (BIRD resolves iBGP next hops recursively)
      const conf = birdClientConf({ routerId: c.address, local: c.address, neighbor: `10.0.${c.n}.1`, asn: 65000, peerAsn: 65000, prefixes: [c.prefix], igp: `10.0.0.0/8 via 10.0.${c.n}.1` });
      birds[i] = await startDaemon('bird', nss[i]!, conf);
    }),
  );
  for (const c of CLIENTS) await agent.waitPeer(c.address, (p) => p.state === 'Established', 30_000);
}, 90_000);

rigHooks(() => ({ agent, speaker, daemons: birds, namespaces: [R, T, ...nss], dir }), 4000);

describe('routelet as route reflector for three BIRD 2 clients', () => {
  it('every client learns the other two /26 with ORIGINATOR_ID and CLUSTER_LIST set', async () => {
    for (const [i, c] of CLIENTS.entries()) {
      const d = birds[i]!;
      for (const o of CLIENTS) {
        if (o === c) continue;
        const [r] = await waitFor(`${o.prefix} at client ${c.address}`, () => {
          const rs = birdRoutes(d, o.prefix).filter((x) => x.proto === 'rl');
          return rs.length ? rs : undefined;
        }, 20_000);
        // resolved through the client's route to routelet
        expect(r!.via).toBe(`10.0.${c.n}.1`);
        // RFC 4456 §8: ORIGINATOR_ID is the router ID of the client that announced it,
        // CLUSTER_LIST our cluster ID; the next hop is kept (iBGP, as Calico does)
        expect(r!.bgp.originator_id).toBe(o.address);
        expect(r!.bgp.cluster_list).toBe(CLUSTER);
        expect(r!.bgp.next_hop).toBe(o.address);
        expect(r!.bgp.as_path).toBe('');
        expect(r!.bgp.local_pref).toBe('100');
      }
    }
  }, 60_000);

  it("a client's own route is not sent back to it (split horizon)", async () => {
    // routelet sends each client the other two /26, not its own …
    for (const c of CLIENTS) await agent!.waitPeer(c.address, (p) => p.prefixes.advertised === 2 && p.prefixes.accepted === 1, 20_000);
    for (const [i, c] of CLIENTS.entries()) {
      const d = birds[i]!;
      // … and BIRD holds its own /26 only from its static protocol, never from routelet
      const own = birdRoutes(d, c.prefix);
      expect(own.map((r) => r.proto), `client ${c.address}`).toEqual(['s4']);
      // what it imported from routelet: exactly the other two
      const fromRl = d
        .cli('show route protocol rl')
        .split('\n')
        .map((l) => /^(\d+\.\d+\.\d+\.\d+\/\d+)/.exec(l)?.[1])
        .filter(Boolean);
      expect(fromRl.sort()).toEqual(CLIENTS.filter((o) => o !== c).map((o) => o.prefix).sort());
    }
  }, 30_000);

  it('a withdrawal reaches the other clients within one second', async () => {
    const [c1] = CLIENTS;
    const others = [1, 2].map((i) => birds[i]!);
    for (const d of others) expect(birdHas(d, c1!.prefix)).toBe(true);
    const t0 = Date.now();
    birds[0]!.cli('disable s4');
    const gone = await Promise.all(
      others.map(async (d) => {
        for (;;) {
          const out = await birdcAsync(d, `show route ${c1!.prefix}`);
          if (!out.includes(c1!.prefix)) return Date.now() - t0;
          if (Date.now() - t0 > 10_000) throw new Error(`${c1!.prefix} still at ${d.netns.name} after 10 s`);
        }
      }),
    );
    process.stdout.write(`withdrawal of ${c1!.prefix} gone from the other clients after ${gone.join(' ms, ')} ms\n`);
    for (const ms of gone) expect(ms).toBeLessThan(1000);
    // and back again
    birds[0]!.cli('enable s4');
    for (const d of others) await waitFor(`${c1!.prefix} back at ${d.netns.name}`, () => (birdHas(d, c1!.prefix) ? true : undefined), 20_000);
  }, 30_000);

  it('a fourth client (test speaker) sees the exact reflected attributes; routelet drops its own CLUSTER_ID and ORIGINATOR_ID', async () => {
    speaker = await TestSpeaker.connect({ host: '10.0.4.1', netns: T, localAddress: SPEAKER.address, asn: 65000, routerId: SPEAKER.routerId });
    await speaker.establish();
    await speaker.next((m) => m.type === 'update' && m.endOfRib === 4, 20_000);
    const table = new Map<string, UpdateMessage['reach'][number]['attrs']>();
    for (const r of speaker.received) {
      const m = r.message;
      if (m?.type !== 'update') continue;
      for (const x of m.reach) for (const p of x.prefixes as ArrayLike<number>) table.set(formatPrefix(p as number), x.attrs);
    }
    for (const c of CLIENTS) {
      const a = table.get(c.prefix);
      expect(a, c.prefix).toBeDefined();
      expect(a!.originatorId).toBe(c.address);
      expect(a!.clusterList).toEqual([CLUSTER]);
      expect(a!.nextHop).toBe(c.address);
      expect(a!.localPref).toBe(100);
    }
    const base = { origin: 0, asPath: parseAsPath(''), nextHop: SPEAKER.address, localPref: 100 };
    const accept = sharedInterner.intern(base);
    const loop = sharedInterner.intern({ ...base, originatorId: '10.0.9.9', clusterList: ['10.9.9.9', CLUSTER] });
    const ownId = sharedInterner.intern({ ...base, originatorId: RR_ID, clusterList: ['10.9.9.9'] });
    speaker.sendUpdate({ reach: [{ family: 4, prefixes: [P4('10.105.0.0/26')], attrs: loop }] });
    speaker.sendUpdate({ reach: [{ family: 4, prefixes: [P4('10.106.0.0/26')], attrs: ownId }] });
    speaker.sendUpdate({ reach: [{ family: 4, prefixes: [P4('10.104.0.0/26')], attrs: accept }] });
    // the accepted one reaches the BIRD clients, with the speaker as originator
    for (const d of birds) {
      const [r] = await waitFor(`10.104.0.0/26 at ${d.netns.name}`, () => {
        const rs = birdRoutes(d, '10.104.0.0/26');
        return rs.length ? rs : undefined;
      }, 20_000);
      expect(r!.bgp.originator_id).toBe(SPEAKER.routerId);
      expect(r!.bgp.cluster_list).toBe(CLUSTER);
    }
    const v = await agent!.waitPeer(SPEAKER.address, (p) => p.prefixes.received === 3, 10_000);
    expect(v.prefixes.accepted).toBe(1);
    expect(await agent!.routes('10.105.0.0/26')).toEqual([]);
    expect(await agent!.routes('10.106.0.0/26')).toEqual([]);
    for (const d of birds) {
      expect(birdHas(d, '10.105.0.0/26')).toBe(false);
      expect(birdHas(d, '10.106.0.0/26')).toBe(false);
    }
    // split horizon (issue 12): the speaker is not sent its own route back, though every BIRD
    // client has it by now (the flush that sent it to them is the one that would have)
    await new Promise((r) => setTimeout(r, 500));
    expect(speaker.received.some((r) => r.message?.type === 'update' && announced(r.message).includes('10.104.0.0/26'))).toBe(false);
  }, 60_000);
});

describe('routelet as a route-reflector client', () => {
  let R2: Netns;
  let S: Netns;
  let client: AgentProcess | undefined;
  let rr: TestSpeaker | undefined;
  const ME = '10.0.5.1';
  const RR = '10.0.5.2';

  afterAll(async () => {
    await rr?.close();
    await client?.stop('SIGKILL');
    R2?.delete();
    S?.delete();
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') dumpAgentLogs([client]);
  });

  it('its own route reflected back (ORIGINATOR_ID = its router ID) is not accepted', async () => {
    R2 = new Netns('rrcl');
    S = new Netns('rrsp');
    link(R2, `${ME}/24`, S, `${RR}/24`);
    rr = await TestSpeaker.listen({ host: RR, netns: S, asn: 65000, routerId: RR }, async () => {
      client = await startAgent(R2, {
        ROUTELET_ASN: '65000',
        ROUTELET_ROUTER_ID: ME,
        ROUTELET_PEERS: `${RR}@65000`,
        ROUTELET_ADVERTISE: '10.65.0.0/26',
        ROUTELET_CONNECT_RETRY: '1',
      });
    });
    await rr.establish();
    const own = await rr.next((m) => m.type === 'update' && announced(m).includes('10.65.0.0/26'), 20_000);
    expect(own.type === 'update' && own.reach[0]!.attrs.nextHop).toBe(ME);
    // reflect it back as a reflector would, plus a route routelet no longer originates (still
    // with its ORIGINATOR_ID), plus another client's route as the control
    const back = own.type === 'update' ? own.reach[0]!.attrs : undefined;
    const mine = sharedInterner.intern({ ...back!, originatorId: ME, clusterList: [RR] });
    const other = sharedInterner.intern({ origin: 0, asPath: parseAsPath(''), nextHop: RR, localPref: 100, originatorId: '10.0.5.9', clusterList: [RR] });
    rr.sendUpdate({ reach: [{ family: 4, prefixes: [P4('10.65.0.0/26'), P4('10.66.0.0/26')], attrs: mine }] });
    rr.sendUpdate({ reach: [{ family: 4, prefixes: [P4('10.67.0.0/26')], attrs: other }] });
    const v = await client!.waitPeer(RR, (p) => p.prefixes.received === 3, 10_000);
    expect(v.prefixes.accepted).toBe(1);
    const [ctrl] = await client!.routes('10.67.0.0/26');
    expect(ctrl!.paths).toHaveLength(1);
    expect(ctrl!.paths[0]).toMatchObject({ peer: RR, originatorId: '10.0.5.9', clusterList: [RR], best: true });
    // 10.65.0.0/26: only the originated path; 10.66.0.0/26: nothing
    const [o] = await client!.routes('10.65.0.0/26');
    expect(o!.paths.map((p) => p.peer)).toEqual(['local']);
    expect(await client!.routes('10.66.0.0/26')).toEqual([]);
    // and nothing of it in the kernel, while the control is there
    await waitFor('10.67.0.0/26 in the kernel', () => (R2.ip('route', 'show', '10.67.0.0/26', 'proto', '201').includes('via') ? true : undefined), 10_000);
    expect(R2.ip('route', 'show', '10.66.0.0/26')).toBe('');
    expect(R2.ip('route', 'show', '10.65.0.0/26', 'proto', '201')).toBe('');
  }, 60_000);
});
