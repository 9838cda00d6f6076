// The Kubernetes mode end to end: six routelet nodes in network namespaces on one LAN, each
// with its Node object and Lease in the stand-in API server (HTTPS, KUBECONFIG). One cluster
// runs through the scenarios in order (each leaves it converged for the next):
//  1. the mesh converges: every kernel holds every other node's pod CIDR, from the API alone;
//  2. a node added (a session on each other node) and one deleted (its routes leave every kernel
//     at once, its sessions end with Cease/Peer De-configured);
//  3. reflectors by label, then automatic: every agent is restarted with the new setting while the
//     others run, and no pod CIDR leaves any kernel at any moment of the switch;
//  4. a node that goes silent (its agent stopped, its Lease no longer renewed): its routes stay
//     while its Lease is fresh (graceful restart) and leave once the Lease expires;
//  5. the API server stopped while a node restarts: it starts from its state file and recovers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dumpAgentLogs } from '../support/agent.js';
import { requireRoot } from '../support/privileges.js';
import { Cluster } from './cluster.js';

let c: Cluster;

beforeAll(async () => {
  requireRoot();
  c = await Cluster.create({ nodes: 6, leaseSeconds: 12 });
}, 60_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') dumpAgentLogs(c.nodes.map((n) => n.agent), 6000);
});

afterAll(async () => {
  await c?.destroy();
});

describe('a six-node cluster from the Kubernetes API', () => {
  it('the mesh converges: every kernel holds every other node\'s pod CIDR', async () => {
    await c.startAll({ ROUTELET_HOLD_TIME: '9' });
    const ms = await c.waitConverged();
    const peers = await c.node(1).agent!.peers();
    expect(peers.map((p) => p.address).sort()).toEqual(c.nodes.filter((n) => n.index !== 1).map((n) => n.address).sort());
    for (const p of peers) {
      expect(p).toMatchObject({ origin: 'mesh', state: 'Established', nodeHealth: { health: 'alive' } });
      expect(p.nodeName).toMatch(/^node-\d$/);
    }
    process.stderr.write(`mesh converged ${ms} ms after the last agent answered\n`);
  }, 180_000);
});
// DEBUG
afterAll(() => {
  process.stderr.write(`requests: ${c.api.requests.length}\n${c.api.requests.map((r) => r.url).join('\n')}\n`);
  for (const n of c.nodes) process.stderr.write(`${n.name} sockets:\n${n.ns.exec('ss', ['-tn'], { allowFail: true })}\n`);
  for (const n of c.nodes) {
    const a = n.agent;
    if (a) for (const l of a.lines()) {
      const m = String(l.msg);
      if (process.env.DBGF && !m.includes(process.env.DBGF)) continue;
      process.stderr.write(`${n.name} ${new Date(l.time as number).toISOString().slice(17, 23)} ${m.slice(0, 150)} ${l.err ? JSON.stringify(l.err).slice(0, 200) : ''}\n`);
    }
  }
});
