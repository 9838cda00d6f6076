// routelet agent against BIRD 2, GoBGP and FRR, each in its own namespace: sessions over IPv4
// and IPv6, with and without TCP-MD5, a 3 s hold time kept for more than three hold times,
// routes both ways (the daemons' routes reach the kernel and /api/v1/routes), and
// `routelet status` printing the real sessions.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentProcess, dumpAgentLogs, startAgent, stopAllAgents } from '../support/agent.js';
import { type Daemon, type DaemonKind, startDaemon, stopAllDaemons, waitFor } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { routelet } from '../support/cli.js';
import { birdConf, daemonEstablished, type DaemonPlan, frrConf, gobgpConf, gobgpRoutes } from './daemons.js';

const KINDS: DaemonKind[] = ['bird', 'gobgp', 'frr'];
const HOLD = 3;

function planFor(kind: DaemonKind, n: number): DaemonPlan {
  return {
    asn: 65000 + n,
    routerId: `10.${n}.0.2`,
    holdTime: HOLD,
    prefix4: `10.20${n}.0.0/24`,
    prefix6: `fd99:${n}::/48`,
    sessions: [
      { name: 'p4', local: `10.${n}.0.2`, neighbor: `10.${n}.0.1`, family: 4 },
      { name: 'p4md5', local: `10.${n}.1.2`, neighbor: `10.${n}.1.1`, family: 4, password: `secret-${kind}-4` },
      { name: 'p6', local: `fd0${n}::2`, neighbor: `fd0${n}::1`, family: 6 },
      { name: 'p6md5', local: `fd0${n}:1::2`, neighbor: `fd0${n}:1::1`, family: 6, password: `secret-${kind}-6` },
    ],
  };
}

let R: Netns;
const nss: Netns[] = [];
const daemons = new Map<DaemonKind, Daemon>();
const plans = new Map<DaemonKind, DaemonPlan>();
let agent: AgentProcess | undefined;
let dir: string;
let failed = false;

beforeAll(async () => {
  requireRoot();
  requireCommand('bird', 'bird2');
  requireCommand('gobgpd', 'gobgpd');
  requireCommand('/usr/lib/frr/bgpd', 'frr');
  dir = mkdtempSync(join(tmpdir(), 'routelet-interop-'));
  R = new Netns('ior');
  const peers: object[] = [];
  for (const [i, kind] of KINDS.entries()) {
    const n = i + 1;
    const p = planFor(kind, n);
    plans.set(kind, p);
    const D = new Netns(`io${kind.slice(0, 2)}`);
    nss.push(D);
    link(R, [`10.${n}.0.1/24`, `10.${n}.1.1/24`, `fd0${n}::1/64`, `fd0${n}:1::1/64`], D, p.sessions.map((s) => `${s.local}/${s.family === 4 ? 24 : 64}`));
    for (const s of p.sessions) peers.push({ address: s.local, asn: p.asn, holdTime: HOLD, ...(s.password ? { password: s.password } : {}) });
  }
  const peersFile = join(dir, 'peers.yaml');
  writeFileSync(peersFile, JSON.stringify(peers));
  await Promise.all(
    KINDS.map(async (kind, i) => {
      const p = plans.get(kind)!;
      const conf = kind === 'bird' ? birdConf(p) : kind === 'gobgp' ? gobgpConf(p) : frrConf(p);
      const d = await startDaemon(kind, nss[i]!, conf);
      daemons.set(kind, d);
      if (kind === 'gobgp') for (const c of gobgpRoutes(p)) d.cli(c);
    }),
  );
  agent = await startAgent(R, {
    ROUTELET_ASN: '65000',
    ROUTELET_ROUTER_ID: '10.0.0.1',
    ROUTELET_PEERS_FILE: peersFile,
    ROUTELET_ADVERTISE: '10.65.0.0/26,fd65::/64',
    ROUTELET_CONNECT_RETRY: '1',
    ROUTELET_CONNECT_RETRY_MAX: '4',
  });
}, 90_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail' || process.env.DUMP_LOGS) {
    failed = true;
    dumpAgentLogs([agent]);
    for (const d of daemons.values()) process.stderr.write(`\n===== ${d.kind} =====\n${d.log().slice(-5000)}\n`);
  }
});

afterAll(async () => {
  await stopAllAgents();
  await stopAllDaemons();
  R?.delete();
  for (const n of nss) n.delete();
  if (dir && !failed) rmSync(dir, { recursive: true, force: true });
});

describe('sessions with BIRD 2, GoBGP and FRR', () => {
  it('all twelve sessions (IPv4, IPv6, with and without TCP-MD5) reach Established on both sides', async () => {
    for (const [kind, p] of plans) {
      for (const s of p.sessions) {
        const v = await agent!.waitPeer(s.local, (x) => x.state === 'Established', 60_000);
        expect(v.holdTime, `${kind} ${s.name}`).toBe(HOLD);
        expect(v.keepaliveTime).toBe(1);
        expect(v.families).toContain(s.family === 4 ? 'ipv4' : 'ipv6');
      }
      const d = daemons.get(kind)!;
      const seen = await waitFor(`${kind} to show its sessions Established`, () => {
        const st = daemonEstablished(kind, d, p);
        return Object.values(st).every(Boolean) ? st : undefined;
      }, 30_000);
      expect(Object.keys(seen)).toHaveLength(4);
    }
    const r = await agent!.readyz();
    expect(r.body).toBe('ok\n');
    expect(r.status).toBe(200);
  }, 120_000);

  it('with a 3 s hold time they stay up for more than three hold times', async () => {
    const flaps = (text: string) => [...text.matchAll(/^routelet_bgp_peer_flaps_total\{peer="([^"]+)"\} (\d+)/gm)].map((m) => `${m[1]}=${m[2]}`).sort();
    const flapsBefore = flaps((await agent!.get('/metrics')).body);
    const before = await agent!.peers();
    await new Promise((r) => setTimeout(r, 3.5 * HOLD * 1000));
    const after = await agent!.peers();
    for (const p of after) {
      const b = before.find((x) => x.address === p.address)!;
      expect(p.state, p.address).toBe('Established');
      // the same session all along: uptime grew by the time waited
      expect(p.uptimeSeconds, p.address).toBeGreaterThanOrEqual(b.uptimeSeconds + 3 * HOLD);
    }
    const metrics = (await agent!.get('/metrics')).body;
    expect(metrics).toMatch(/routelet_bgp_peer_up\{peer="10\.1\.0\.2"\} 1/);
    // no session went down in the window (both sides connecting at once may have cost one
    // flap before it: RFC 4271 6.8 resolves it)
    expect(flaps(metrics)).toEqual(flapsBefore);
  }, 60_000);

  it("the daemons' routes reach the kernel and /api/v1/routes; ours reach the daemons", async () => {
    for (const [kind, p] of plans) {
      const n = KINDS.indexOf(kind) + 1;
      const r4 = await waitFor(`${p.prefix4} in the kernel`, () => {
        const out = R.ip('route', 'show', p.prefix4, 'proto', '201');
        return out.includes(`via 10.${n}.`) ? out : undefined;
      }, 20_000);
      expect(r4).toContain(p.prefix4.replace('/24', ''));
      const v6 = await waitFor(`${p.prefix6} in the kernel`, () => {
        const out = R.ip('-6', 'route', 'show', p.prefix6, 'proto', '201');
        return out.includes(`via fd0${n}`) ? out : undefined;
      }, 20_000);
      expect(v6).toContain('fd99');
      const [route] = await agent!.routes(p.prefix4);
      expect(route!.kernel).toBe('installed');
      expect(route!.paths.some((x) => x.best && x.asPath === String(p.asn))).toBe(true);
    }
    // ours, advertised to every daemon
    const bird = daemons.get('bird')!;
    await waitFor('10.65.0.0/26 at BIRD', () => (/10\.65\.0\.0\/26/.test(bird.cli('show route 10.65.0.0/26')) ? true : undefined), 20_000);
    const gobgp = daemons.get('gobgp')!;
    await waitFor('10.65.0.0/26 at GoBGP', () => (/10\.65\.0\.0\/26/.test(gobgp.cli('global rib -a ipv4')) ? true : undefined), 20_000);
    const frr = daemons.get('frr')!;
    await waitFor('fd65::/64 at FRR', () => (/fd65::\/64/.test(frr.cli('show bgp ipv6 unicast')) ? true : undefined), 20_000);
    const peers = await agent!.peers();
    expect(peers.find((p) => p.address === '10.1.0.2')!.prefixes.advertised).toBeGreaterThanOrEqual(1);
    expect(peers.find((p) => p.address === '10.1.0.2')!.prefixes.accepted).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('routelet status prints the sessions as a table', async () => {
    // status talks HTTP to 127.0.0.1 of the agent's namespace: run it there
    const r = routelet(['status'], {}, ['ip', 'netns', 'exec', R.name]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^PEER\s+AS\s+TYPE\s+STATE\s+UPTIME/);
    expect(lines).toHaveLength(13);
    for (const kind of KINDS) for (const s of plans.get(kind)!.sessions) expect(r.stdout).toMatch(new RegExp(`${s.local.replace(/\./g, '\\.')}\\s+${plans.get(kind)!.asn}\\s+ebgp\\s+Established`));
  });
});
