// Import sanity and split horizon (issue 12) against a running agent, real BIRD peers and a
// test speaker, in namespaces:
//   - an eBGP BIRD peer on the agent's own subnet (10.99.0.0/24) exports martians
//     (240.0.0.0/4, 169.254.0.0/16), a default route, the agent's connected subnet and a legitimate prefix:
//     only the legitimate one reaches the kernel, the connected route stays the kernel's,
//     /api/v1/routes shows the others rejected with their reasons, /api/v1/peers and
//     /metrics count them per peer by reason;
//   - split horizon: the agent is a route reflector; a test-speaker client's route is
//     reflected to a BIRD client and sent to the eBGP peer, but never back to the speaker
//     (every UPDATE it received is checked); the eBGP peer's route is not counted as
//     advertised back to it.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAsPath, sharedInterner } from '../../src/bgp/codec/index.js';
import { formatPrefix, parsePrefix } from '../../src/net/prefix.js';
import { type AgentProcess, startAgent } from '../support/agent.js';
import { routelet } from '../support/cli.js';
import { type Daemon, startDaemon, waitFor } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { TestSpeaker } from '../support/speaker.js';
import { birdClientConf, birdRoutes, until, rigHooks } from './support.js';

const EBGP = '10.99.0.2'; // BIRD, AS 65001, on the agent's subnet 10.99.0.0/24
const CLIENT = '10.97.0.2'; // BIRD, RR client
const SP = '10.98.0.2'; // test speaker, RR client
const LEGIT = '10.65.4.0/26';
// BIRD itself drops 127/8 and 224/4 ("bogus route"); these two it exports
const MARTIAN = '240.0.0.0/4';
const LINK_LOCAL = '169.254.0.0/16';
const DEFAULT = '0.0.0.0/0';
const CONNECTED = '10.99.0.0/24';
const SP_ROUTE = '10.66.1.0/26';
const CLIENT_ROUTE = '10.66.2.0/26';

let R: Netns;
const nss: Netns[] = [];
const birds: Daemon[] = [];
let agent: AgentProcess | undefined;
let speaker: TestSpeaker | undefined;
let dir: string;

beforeAll(async () => {
  requireRoot();
  requireCommand('bird', 'bird2');
  requireCommand('birdc', 'bird2');
  dir = mkdtempSync(join(tmpdir(), 'routelet-sanity-'));
  R = new Netns('san');
  const B = new Netns('sanb');
  const C = new Netns('sanc');
  const S = new Netns('sans');
  nss.push(B, C, S);
  link(R, '10.99.0.1/24', B, `${EBGP}/24`);
  link(R, '10.97.0.1/24', C, `${CLIENT}/24`);
  link(R, '10.98.0.1/24', S, `${SP}/24`);
  writeFileSync(
    join(dir, 'peers.json'),
    JSON.stringify([
      { address: EBGP, asn: 65001 },
      { address: CLIENT, asn: 65000 },
      { address: SP, asn: 65000, passive: true },
    ]),
  );
  agent = await startAgent(R, {
    ROUTELET_ASN: '65000',
    ROUTELET_ROUTER_ID: '10.0.0.1',
    ROUTELET_RR_CLUSTER_ID: '10.0.0.1',
    ROUTELET_PEERS_FILE: join(dir, 'peers.json'),
    ROUTELET_CONNECT_RETRY: '1',
    ROUTELET_CONNECT_RETRY_MAX: '2',
  });
  // the connected route before anything is learned
  expect(R.ip('route', 'show', CONNECTED)).toMatch(/proto kernel scope link/);
  birds[0] = await startDaemon('bird', B, birdClientConf({ routerId: EBGP, local: EBGP, neighbor: '10.99.0.1', asn: 65001, peerAsn: 65000, prefixes: [MARTIAN, LINK_LOCAL, DEFAULT, CONNECTED, LEGIT] }));
  birds[1] = await startDaemon('bird', C, birdClientConf({ routerId: CLIENT, local: CLIENT, neighbor: '10.97.0.1', asn: 65000, peerAsn: 65000, prefixes: [CLIENT_ROUTE] }));
  for (const a of [EBGP, CLIENT]) await agent.waitPeer(a, (p) => p.state === 'Established', 30_000);
  speaker = await TestSpeaker.connect({ host: '10.98.0.1', netns: S, localAddress: SP, asn: 65000, routerId: SP });
  await speaker.establish();
  speaker.sendUpdate({ reach: [{ family: 4, prefixes: [parsePrefix(SP_ROUTE) as number], attrs: sharedInterner.intern({ origin: 0, asPath: parseAsPath(''), nextHop: SP, localPref: 100 }) }] });
  await waitFor(`${LEGIT} in the kernel`, () => (R.ip('route', 'show', LEGIT).includes(`via ${EBGP}`) ? true : undefined), 20_000);
}, 90_000);

rigHooks(() => ({ agent, speaker, daemons: birds, namespaces: [R, ...nss], dir }));


describe('import sanity', () => {
  it('installs only the legitimate prefix; the connected route stays the kernel’s; no default route, no martian route', async () => {
    await until('every route from the eBGP peer held', async () => ((await agent!.peer(EBGP))?.prefixes.received === 5 ? true : undefined));
    expect(R.ip('route', 'show', LEGIT)).toContain(`via ${EBGP}`);
    const connected = R.ip('route', 'show', CONNECTED);
    expect(connected).toMatch(/proto kernel scope link/);
    expect(connected).not.toContain('via');
    expect(R.ip('route', 'show', 'default')).toBe('');
    for (const m of [MARTIAN, LINK_LOCAL]) expect(R.ip('route', 'show', 'table', 'all', m)).not.toContain(`via ${EBGP}`);
    expect(R.ip('route', 'get', '10.99.0.7')).toMatch(/dev \S+ src 10\.99\.0\.1/);
  });

  it('/api/v1/routes shows the others rejected with the reason, never best, nothing for the kernel', async () => {
    const all = await agent!.routes();
    const byPrefix = new Map(all.map((r) => [r.prefix, r]));
    expect(byPrefix.get(LEGIT)!.paths.map((p) => [p.peer, p.best, p.rejected])).toEqual([[EBGP, true, undefined]]);
    for (const [prefix, reason] of [
      [MARTIAN, /^martian: 240\.0\.0\.0\/4 is inside 240\.0\.0\.0\/4 \(reserved, RFC 1112/],
      [LINK_LOCAL, /^martian: 169\.254\.0\.0\/16 is inside 169\.254\.0\.0\/16 \(link-local, RFC 3927\)$/],
      [DEFAULT, /^default: 0\.0\.0\.0\/0 is a default route/],
      [CONNECTED, /^local: 10\.99\.0\.0\/24 is a connected subnet of this node$/],
    ] as const) {
      const r = byPrefix.get(prefix);
      expect(r, prefix).toBeDefined();
      expect(r!.kernel).toBe('none');
      expect(r!.paths).toHaveLength(1);
      expect(r!.paths[0]).toMatchObject({ peer: EBGP, best: false, nextHop: EBGP, asPath: '65001' });
      expect(r!.paths[0]!.rejected).toMatch(reason);
      // the exact-prefix query shows it too
      expect((await agent!.routes(prefix))[0]!.paths[0]!.rejected).toMatch(reason);
    }
    // and `routelet routes` in its table
    const cli = routelet(['routes', '--prefix', CONNECTED], {}, ['ip', 'netns', 'exec', R.name]);
    expect(cli.status).toBe(0);
    expect(cli.stdout).toContain('rejected: local: 10.99.0.0/24 is a connected subnet of this node');
  });

  it('counts them per peer by reason in /api/v1/peers and /metrics', async () => {
    const p = (await agent!.peer(EBGP))!;
    expect(p.prefixes).toMatchObject({ received: 5, accepted: 1, rejected: { martian: 2, default: 1, local: 1 } });
    const m = await agent!.get('/metrics');
    for (const [reason, n] of [['martian', 2], ['default', 1], ['local', 1]] as const) expect(m.body).toMatch(new RegExp(`routelet_bgp_import_rejected_total\\{peer="${EBGP}",reason="${reason}"\\} ${n}\\b`));
  });

});

describe('split horizon', () => {
  /** every prefix the speaker was sent in an UPDATE, as text */
  const sentToSpeaker = (): string[] => {
    const out: string[] = [];
    for (const r of speaker!.received) {
      const m = r.message;
      if (m?.type !== 'update') continue;
      for (const x of m.reach) for (let i = 0; i < x.prefixes.length; i++) out.push(formatPrefix(x.prefixes[i]!));
    }
    return out;
  };

  it('an RR client’s route is reflected to the other client and sent to eBGP, never back to that client', async () => {
    // the positive controls: the route is out there
    const atClient = await until(`${SP_ROUTE} at the BIRD client`, async () => birdRoutes(birds[1]!, SP_ROUTE).find((r) => r.proto === 'rl'));
    expect(atClient.bgp.originator_id).toBe(SP);
    await until(`${SP_ROUTE} at the eBGP peer`, async () => (birdRoutes(birds[0]!, SP_ROUTE).some((r) => r.proto === 'rl') ? true : undefined));
    // the speaker hears the other client's route (so it does read our stream) ...
    await until(`${CLIENT_ROUTE} at the speaker`, async () => (sentToSpeaker().includes(CLIENT_ROUTE) ? true : undefined));
    // ... and then, after the agent had every chance to send more, never its own
    await new Promise((r) => setTimeout(r, 1500));
    const got = sentToSpeaker();
    expect(got).toContain(LEGIT);
    expect(got).not.toContain(SP_ROUTE);
    // the BIRD client likewise: its own route from us would carry its router ID as ORIGINATOR_ID
    expect(birdRoutes(birds[1]!, CLIENT_ROUTE).filter((r) => r.proto === 'rl')).toEqual([]);
    // the agent's counters: what each peer is advertised leaves its own routes out
    expect((await agent!.peer(SP))!.prefixes.advertised).toBe(2); // LEGIT, CLIENT_ROUTE
    expect((await agent!.peer(CLIENT))!.prefixes.advertised).toBe(2); // LEGIT, SP_ROUTE
    expect((await agent!.peer(EBGP))!.prefixes.advertised).toBe(2); // SP_ROUTE, CLIENT_ROUTE
  });
});

describe('withdrawal', () => {
  it('a withdrawal of a rejected prefix removes it', async () => {
    birds[0]!.cli('disable s4');
    await until('the rejected routes gone', async () => {
      const all = await agent!.routes();
      return all.some((r) => r.paths.some((p) => p.rejected)) ? undefined : all;
    });
    expect((await agent!.peer(EBGP))!.prefixes).toMatchObject({ received: 0, accepted: 0, rejected: {} });
    await waitFor(`${LEGIT} out of the kernel`, () => (R.ip('route', 'show', LEGIT) === '' ? true : undefined), 10_000);
    // the connected route is still the kernel's
    expect(R.ip('route', 'show', CONNECTED)).toMatch(/proto kernel scope link/);
  });
});
