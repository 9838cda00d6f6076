// 1,000 TCP-MD5 sessions from one namespace: one BIRD 2 process with 1,000 `protocol bgp`,
// each bound to its own source address (strict bind: one listening socket, one key each, so
// BIRD does not meet its own 963-key wall), all connecting at once to one agent that takes
// them as dynamic neighbours of a listen range with a shared password (one prefix key).
// Every session reaches Established on both sides.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PeerView } from '../../src/api/types.js';
import { type AgentProcess, dumpAgentLogs, startAgent, stopAllAgents } from '../support/agent.js';
import { type Daemon, startDaemon, stopAllDaemons } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';

const N = Number(process.env.SESSIONS_SCALE ?? 1000);
// BIRD locks a BGP protocol on its neighbour's address: each protocol needs its own, so the
// agent has 1,000 addresses too (it listens on :: and takes them all). iBGP, as Calico runs
// it: BIRD routes iBGP sessions through the routing table (an eBGP neighbour would be sent
// to directly, one ARP resolution per address)
const ADDRS = Array.from({ length: N }, (_, i) => `10.0.${4 + Math.floor(i / 250)}.${(i % 250) + 1}`);
const AGENT_ADDRS = Array.from({ length: N }, (_, i) => `10.0.${64 + Math.floor(i / 250)}.${(i % 250) + 1}`);

let R: Netns;
let B: Netns;
let agent: AgentProcess | undefined;
let bird: Daemon | undefined;

beforeAll(() => {
  requireRoot();
  requireCommand('bird', 'bird2');
  R = new Netns('scr');
  B = new Netns('scb');
  const { aDev, bDev } = link(R, '10.0.0.1/16', B, '10.0.0.2/16');
  B.exec('ip', ['-batch', '-'], { input: ADDRS.map((a) => `addr add ${a}/32 dev ${bDev}`).join('\n') + '\n' });
  R.exec('ip', ['-batch', '-'], { input: AGENT_ADDRS.map((a) => `addr add ${a}/32 dev ${aDev}`).join('\n') + '\n' });
  // through one neighbour entry each way, no ARP at all
  B.ip('route', 'add', '10.0.64.0/22', 'via', '10.0.0.1');
  R.ip('route', 'add', '10.0.4.0/22', 'via', '10.0.0.2');
  const mac = (ns: Netns, dev: string) => ns.json<{ address: string }[]>('link', 'show', 'dev', dev)[0]!.address;
  B.ip('neigh', 'replace', '10.0.0.1', 'lladdr', mac(R, aDev), 'dev', bDev, 'nud', 'permanent');
  R.ip('neigh', 'replace', '10.0.0.2', 'lladdr', mac(B, bDev), 'dev', aDev, 'nud', 'permanent');
});

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') {
    dumpAgentLogs([agent], 8000);
    process.stderr.write(`\n===== bird =====\n${bird?.log().slice(-4000)}\n`);
  }
});

afterAll(async () => {
  await stopAllAgents();
  await stopAllDaemons();
  R?.delete();
  B?.delete();
});

function birdConf(): string {
  // starts spread over four seconds: 1,000 SYNs in the same instant overflow the veth's
  // receive backlog (net.core.netdev_max_backlog, 1,000, not ours to raise) and wait for
  // retransmission, which no real NIC would make them do
  const protos = ADDRS.map((a, i) => `protocol bgp p${i} from peer { local ${a} as 65000; neighbor ${AGENT_ADDRS[i]} as 65000; connect delay time ${1 + (i % 4)}; }`).join('\n');
  return `router id 10.0.0.2;
log stderr { warning, error, fatal };
protocol device {}
template bgp peer {
  password "mesh-secret";
  strict bind on;
  connect retry time 5;
  ipv4 { import none; export none; };
}
${protos}
`;
}

describe(`${N} TCP-MD5 sessions from one namespace`, () => {
  it('all reach Established, on both sides', async () => {
    agent = await startAgent(R, {
      ROUTELET_ASN: '65000',
      ROUTELET_ROUTER_ID: '10.0.0.1',
      ROUTELET_LISTEN_RANGE: '10.0.0.0/16',
      ROUTELET_PASSWORD: 'mesh-secret',
      ROUTELET_LOG_LEVEL: 'info',
    });
    const t0 = Date.now();
    bird = await startDaemon('bird', B, birdConf(), { readyTimeoutMs: 60_000 });
    let peers: PeerView[] = [];
    const deadline = Date.now() + 150_000;
    for (;;) {
      peers = await agent.peers();
      if (peers.filter((p) => p.state === 'Established').length === N) break;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const seconds = (Date.now() - t0) / 1000;
    const up = peers.filter((p) => p.state === 'Established');
    process.stdout.write(`${up.length} of ${N} sessions Established ${seconds.toFixed(1)} s after BIRD started\n`);
    const times = agent.lines().filter((l) => typeof l.msg === 'string' && l.msg.endsWith(' established')).map((l) => Date.parse(l.time as string) - t0);
    const q = (f: number) => (times[Math.min(times.length - 1, Math.floor(times.length * f))]! / 1000).toFixed(1);
    if (times.length) process.stdout.write(`sessions established after (s): first ${q(0)}, median ${q(0.5)}, 90% ${q(0.9)}, last ${q(1)}\n`);
    expect(up).toHaveLength(N);
    expect(new Set(up.map((p) => p.address))).toEqual(new Set(ADDRS));
    expect(up.every((p) => p.dynamic && p.asn === 65000 && p.type === 'ibgp')).toBe(true);
    // BIRD's side: every protocol up
    const protocols = bird.cli('show protocols');
    expect(protocols.split('\n').filter((l) => /^p\d+\s+BGP\s+\S+\s+up\s+.*Established/.test(l))).toHaveLength(N);
  }, 240_000);
});
