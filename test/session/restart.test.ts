// Stopping and starting the agent as a BIRD 2 peer sees it, and TCP-MD5 with a wrong key.
//  - SIGTERM with graceful restart on: the agent stops within 5 s, BIRD keeps our routes, the
//    kernel keeps the routes learned from BIRD; never a Hard Reset.
//  - The next start adopts the kernel routes as stale, advertises the Restart State bit,
//    confirms what BIRD sends again and sweeps the rest after BIRD's End-of-RIB.
//  - SIGTERM with graceful restart off: BIRD gets Cease/Administrative Shutdown with an
//    RFC 9003 message and drops our routes; our routes leave the kernel.
//  - A peer whose TCP-MD5 key differs stays down; /readyz names it and the cause.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentProcess, dumpAgentLogs, startAgent, stopAllAgents } from '../support/agent.js';
import { type Daemon, startDaemon, stopAllDaemons, waitFor } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';

let R: Netns;
let B: Netns;
let bird: Daemon;
let agent: AgentProcess | undefined;
let dir: string;
let peersFile: string;

const BIRD_CONF = `router id 10.0.0.2;
log stderr all;
protocol device {}
protocol static keep4 { ipv4; route 10.201.0.0/24 blackhole; }
protocol static gone4 { ipv4; route 10.202.0.0/24 blackhole; }
protocol bgp r {
  local 10.0.0.2 as 65001;
  neighbor 10.0.0.1 as 65000;
  hold time 9;
  connect retry time 2;
  connect delay time 1;
  error wait time 1, 5;
  graceful restart on;
  ipv4 { import all; export all; };
}
protocol bgp wrongkey {
  local 10.0.1.2 as 65001;
  neighbor 10.0.1.1 as 65000;
  password "not-the-agents-key";
  connect retry time 1;
  connect delay time 1;
  ipv4 { import all; export all; };
}
`;

const env = (gr: 'on' | 'off') => ({
  ROUTELET_ASN: '65000',
  ROUTELET_ROUTER_ID: '10.0.0.1',
  ROUTELET_PEERS_FILE: peersFile,
  ROUTELET_ADVERTISE: '10.65.3.0/26',
  ROUTELET_GR: gr,
  ROUTELET_GR_WAIT: '30',
  ROUTELET_CONNECT_RETRY: '1',
  ROUTELET_CONNECT_RETRY_MAX: '2',
  ROUTELET_BPF: 'on',
});

const kernel = (prefix: string) => R.ip('route', 'show', prefix, 'proto', '201').trim();
const birdHas = (prefix: string) => {
  try {
    return bird.cli(`show route for ${prefix.split('/')[0]}`).includes(prefix);
  } catch (e) {
    if (/Network not found/.test(String(e))) return false;
    throw e;
  }
};

beforeAll(async () => {
  requireRoot();
  requireCommand('bird', 'bird2');
  dir = mkdtempSync(join(tmpdir(), 'routelet-restart-'));
  R = new Netns('rsr');
  B = new Netns('rsb');
  link(R, ['10.0.0.1/24', '10.0.1.1/24'], B, ['10.0.0.2/24', '10.0.1.2/24']);
  peersFile = join(dir, 'peers.yaml');
  writeFileSync(
    peersFile,
    JSON.stringify([
      { address: '10.0.0.2', asn: 65001, holdTime: 9 },
      { address: '10.0.1.2', asn: 65001, password: 'the-agents-key' },
    ]),
  );
  bird = await startDaemon('bird', B, BIRD_CONF);
}, 60_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') {
    dumpAgentLogs([agent]);
    process.stderr.write(`\n===== bird =====\n${bird?.log().slice(-6000)}\n${bird?.cli('show protocols all r')}\n`);
  }
});

afterAll(async () => {
  await stopAllAgents();
  await stopAllDaemons();
  R?.delete();
  B?.delete();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('TCP-MD5 with a wrong key', () => {
  it('the session stays down and /readyz names the peer and the cause', async () => {
    agent = await startAgent(R, env('on'));
    await agent.waitPeer('10.0.0.2', (p) => p.state === 'Established', 30_000);
    const deadline = Date.now() + 20_000;
    let body = '';
    while (Date.now() < deadline) {
      body = (await agent.readyz()).body;
      if (/TCP-MD5 authentication failing for 10\.0\.1\.2/.test(body) && /BGP not established with 10\.0\.1\.2: \w+ \(last error ETIMEDOUT; TCP-MD5 authentication failing: \d+ segments? dropped\)/.test(body)) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(body).toMatch(/^BGP not established with 10\.0\.1\.2: (Connect|Active|Idle) \(last error ETIMEDOUT; TCP-MD5 authentication failing: \d+ segments? dropped\)$/m);
    expect(body).toMatch(/^TCP-MD5 authentication failing for 10\.0\.1\.2 \(\d+ segments? dropped\)$/m);
    const p = await agent.peer('10.0.1.2');
    expect(p!.state).not.toBe('Established');
    expect(p!.md5Failures).toBeGreaterThan(0);
    expect(p!.detection).toBe('bpf');
    expect(bird.cli('show protocols wrongkey')).not.toMatch(/Established/);
    // the restarting speaker waits for every configured peer: the next agents do without this one
    writeFileSync(peersFile, JSON.stringify([{ address: '10.0.0.2', asn: 65001, holdTime: 9 }]));
  }, 60_000);
});

describe('SIGTERM and restart with graceful restart on', () => {
  it('SIGTERM: stops within 5 s; BIRD keeps our routes, the kernel keeps BIRD’s; no Hard Reset', async () => {
    await waitFor('BIRD to learn 10.65.3.0/26', () => (birdHas('10.65.3.0/26') ? true : undefined), 20_000);
    await waitFor('10.201.0.0/24 and 10.202.0.0/24 in the kernel', () => (kernel('10.201.0.0/24') && kernel('10.202.0.0/24') ? true : undefined), 20_000);
    const r = await agent!.stop('SIGTERM');
    expect(r.code).toBe(0);
    expect(r.ms).toBeLessThan(5000);
    // BIRD notices the session is gone, yet keeps the route (graceful restart helper)
    await waitFor('BIRD to see the session down', () => (/\bup\b.*Established/.test(bird.cli('show protocols r')) ? undefined : true), 15_000);
    await new Promise((res) => setTimeout(res, 2000));
    expect(birdHas('10.65.3.0/26')).toBe(true);
    expect(kernel('10.201.0.0/24')).toContain('via 10.0.0.2');
    expect(kernel('10.202.0.0/24')).toContain('via 10.0.0.2');
    const status = bird.cli('show protocols all r');
    expect(status).not.toMatch(/Hard reset/i);
    expect(agent!.lines().some((l) => l.msg === 'stopped' && l.routesKept === true)).toBe(true);
    // BIRD 2.0.12 does not send the N-bit (RFC 8538): closed with no NOTIFICATION at all
    // the stop's is the last one (a connection collision while the session came up logs one too)
    const down = agent!.lines().filter((l) => l.msg === 'BGP session with 10.0.0.2 down').at(-1);
    expect(down?.reason).toBe('stopped: shutting down (SIGTERM)');
  }, 60_000);

  it('restart: adopted routes stay while BIRD re-sends; what BIRD no longer sends is swept after its End-of-RIB', async () => {
    bird.cli('disable gone4');
    agent = await startAgent(R, env('on'));
    // while the session comes up the kernel route of a live prefix never leaves
    const seen = new Set<string>();
    const deadline = Date.now() + 20_000;
    let established = false;
    while (Date.now() < deadline) {
      seen.add(kernel('10.201.0.0/24') ? 'present' : 'missing');
      const p = await agent.peer('10.0.0.2').catch(() => undefined);
      if (p?.state === 'Established' && !kernel('10.202.0.0/24')) {
        established = true;
        break;
      }
    }
    expect(established).toBe(true);
    expect([...seen]).toEqual(['present']);
    expect(kernel('10.201.0.0/24')).toContain('via 10.0.0.2');
    // the sweep's deletes are in the kernel a moment before the agent logs the recovery's end
    const done = (l: { msg?: unknown }) => typeof l.msg === 'string' && /^restart recovery done after \d+ ms \(End-of-RIB received/.test(l.msg);
    await waitFor('the log line of the recovery done', () => (agent!.lines().some(done) ? true : undefined), 5000);
    const lines = agent.lines();
    expect(lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('restarting: 2 kernel routes kept as stale'))).toBe(true);
    expect(lines.filter(done)).toHaveLength(1);
    expect(birdHas('10.65.3.0/26')).toBe(true);
  }, 60_000);
});

describe('SIGTERM with graceful restart off', () => {
  it('BIRD gets Cease/Administrative Shutdown with a message and drops our routes; ours leave the kernel', async () => {
    await agent!.stop('SIGKILL');
    bird.cli('enable gone4');
    agent = await startAgent(R, env('off'));
    await agent.waitPeer('10.0.0.2', (p) => p.state === 'Established', 30_000);
    await waitFor('10.202.0.0/24 in the kernel', () => (kernel('10.202.0.0/24') ? true : undefined), 20_000);
    await waitFor('BIRD to learn 10.65.3.0/26', () => (birdHas('10.65.3.0/26') ? true : undefined), 20_000);
    const r = await agent.stop('SIGTERM');
    expect(r.code).toBe(0);
    expect(r.ms).toBeLessThan(5000);
    await waitFor('BIRD to drop 10.65.3.0/26', () => (birdHas('10.65.3.0/26') ? undefined : true), 5000);
    expect(bird.log()).toContain('r: Received: Administrative shutdown: "routelet shutting down (SIGTERM)"');
    expect(bird.cli('show protocols all r')).toMatch(/Message:\s+routelet shutting down \(SIGTERM\)/);
    expect(kernel('10.201.0.0/24')).toBe('');
    expect(kernel('10.202.0.0/24')).toBe('');
  }, 60_000);
});
