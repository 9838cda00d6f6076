// Connection collision with a real BIRD 2 (RFC 4271 6.8): both sides connect at once and both
// connections carry an OPEN before either side has seen the other's; exactly one session
// survives, the one initiated by the speaker with the higher BGP identifier — with either
// side higher.
//
// Making "at once" happen on a machine where a handshake takes microseconds: BIRD's packets to
// the agent go to a wrong MAC address (a permanent neighbour entry), so both sides' SYNs (or
// SYN-ACKs) are lost and both sides sit in SYN-SENT; BIRD is stopped (SIGSTOP) while the
// entry is corrected, so both TCP connections complete by the kernels alone and the agent's
// OPENs wait in BIRD's socket buffers; then BIRD continues (SIGCONT) and finds two
// connections, each with an OPEN.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, dumpAgentLogs, startAgent, stopAllAgents } from '../support/agent.js';
import { type Daemon, startDaemon, stopAllDaemons, waitFor } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';

let R: Netns;
let B: Netns;
let rDev: string;
let bDev: string;
let agent: AgentProcess | undefined;
let bird: Daemon | undefined;

const birdConf = (routerId: string) => `router id ${routerId};
log stderr all;
debug protocols { states, events };
protocol device {}
protocol static s4 { ipv4; route 10.201.0.0/24 blackhole; }
protocol bgp r {
  local 10.0.0.2 as 65001;
  neighbor 10.0.0.1 as 65000;
  connect delay time 1;
  connect retry time 30;
  hold time 30;
  ipv4 { import all; export all; };
}
`;

beforeAll(() => {
  requireRoot();
  requireCommand('bird', 'bird2');
  requireCommand('ss', 'iproute2');
  R = new Netns('clr');
  B = new Netns('clb');
  ({ aDev: rDev, bDev } = link(R, '10.0.0.1/24', B, '10.0.0.2/24'));
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') {
    dumpAgentLogs([agent]);
    process.stderr.write(`\n===== bird =====\n${bird?.log().slice(-6000)}\n`);
  }
  await stopAllAgents();
  if (bird) process.kill(bird.pid, 'SIGCONT');
  await stopAllDaemons();
  bird = undefined;
});

afterAll(() => {
  R?.delete();
  B?.delete();
});

/** TCP connections between the two, as `local:port>peer:port` seen from the agent's side. */
function connections(state: string): string[] {
  // the dual-stack listener's connections show as [::ffff:a.b.c.d]:port
  const out = R.exec('ss', ['-Htn', 'state', state]).replace(/\[::ffff:([0-9.]+)\]/g, '$1');
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 4 && f[f.length - 1]!.startsWith('10.0.0.2:'))
    .map((f) => `${f[f.length - 2]}>${f[f.length - 1]}`);
}

async function collide(agentId: string, birdId: string) {
  const mac = R.json<{ address: string }[]>('link', 'show', 'dev', rDev)[0]!.address;
  // BIRD's packets to the agent go nowhere for now
  B.ip('neigh', 'replace', '10.0.0.1', 'lladdr', '02:00:00:00:00:99', 'dev', bDev, 'nud', 'permanent');
  bird = await startDaemon('bird', B, birdConf(birdId));
  await waitFor('BIRD to try connecting', () => (/10\.0\.0\.1:179/.test(B.exec('ss', ['-Htn', 'state', 'syn-sent'])) ? true : undefined), 10_000, 50);
  process.kill(bird.pid, 'SIGSTOP');
  agent = await startAgent(R, {
    ROUTELET_ASN: '65000',
    ROUTELET_ROUTER_ID: agentId,
    ROUTELET_PEERS: '10.0.0.2@65001',
    ROUTELET_CONNECT_RETRY: '30',
    ROUTELET_HOLD_TIME: '30',
  });
  await waitFor('the agent to try connecting', () => (connections('syn-sent').length ? true : undefined), 10_000, 50);
  // now both handshakes can complete, by the kernels alone: BIRD is stopped
  B.ip('neigh', 'replace', '10.0.0.1', 'lladdr', mac, 'dev', bDev, 'nud', 'permanent');
  const both = await waitFor('two TCP connections, one each way', () => {
    const c = connections('established');
    return c.some((x) => x.startsWith('10.0.0.1:179>')) && c.some((x) => x.endsWith('>10.0.0.2:179')) ? c : undefined;
  }, 20_000, 100).catch((e: Error) => {
    throw new Error(`${e.message}\nagent side:\n${R.exec('ss', ['-tan'])}\nBIRD side:\n${B.exec('ss', ['-tan'])}\n${B.ip('neigh')}`);
  });
  expect(both).toHaveLength(2);
  process.kill(bird.pid, 'SIGCONT');
  const p = await agent.waitPeer('10.0.0.2', (x) => x.state === 'Established', 20_000);
  // stable: the same session a few seconds later, one TCP connection left
  await new Promise((r) => setTimeout(r, 3000));
  const later = await agent.peer('10.0.0.2');
  expect(later!.state).toBe('Established');
  expect(later!.uptimeSeconds).toBeGreaterThanOrEqual(2);
  expect(later!.connection).toEqual(p.connection);
  expect(connections('established')).toHaveLength(1);
  expect(bird.cli('show protocols r')).toMatch(/\bup\b.*Established/);
  // a collision was resolved, by the agent or by BIRD (whichever had both OPENs first)
  const resolved = agent.lines().filter(
    (l) => typeof l.msg === 'string' && (l.msg.startsWith('connection collision with 10.0.0.2') || l.msg === '10.0.0.2: received NOTIFICATION Cease/Connection Collision Resolution'),
  );
  return { kept: p.connection!.direction, resolved: resolved.map((l) => `${l.connection ?? ''} ${l.msg as string}`.trim()) };
}

describe('connection collision with BIRD 2', () => {
  it("BIRD's identifier is higher: the connection BIRD initiated survives", async () => {
    const r = await collide('10.0.0.1', '10.0.0.2');
    expect(r.kept).toBe('incoming');
    expect(connections('established')[0]).toMatch(/^10\.0\.0\.1:179>/);
    expect(r.resolved.length).toBeGreaterThan(0);
    for (const m of r.resolved) expect(m).toMatch(/closing the outgoing connection|^outgoing .*received NOTIFICATION Cease\/Connection Collision/);
  }, 90_000);

  it("the agent's identifier is higher: the connection the agent initiated survives", async () => {
    const r = await collide('10.0.0.9', '10.0.0.2');
    expect(r.kept).toBe('outgoing');
    expect(connections('established')[0]).toMatch(/>10\.0\.0\.2:179$/);
    expect(r.resolved.length).toBeGreaterThan(0);
    for (const m of r.resolved) expect(m).toMatch(/closing the incoming connection|^incoming .*received NOTIFICATION Cease\/Connection Collision/);
  }, 90_000);
});
