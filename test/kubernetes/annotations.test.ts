// The routelet.io/* Node annotations end to end (their parsing is unit-tested in peers.test.ts):
// three routelet nodes from the stand-in API server and a top-of-rack router (BIRD 2, AS 65010)
// on the same LAN that is not a node.
//  1. routelet.io/peers on node-1 names the ToR: node-1 (and only node-1) peers with it, learns
//     its route and announces its pod CIDR to it;
//  2. the annotation moved from node-1 to node-2 while the agents run: node-1's ToR session
//     ends, node-2's comes up, and no mesh session is touched;
//  3. routelet.io/asn puts node-2 and node-3 in AS 64513: they peer with each other in that AS
//     (their OPENs carry it) and with node-1 no longer.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dumpAgentLogs } from '../support/agent.js';
import { type Daemon, startDaemon, stopAllDaemons } from '../support/daemons.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { Cluster } from '../../bench/cluster.js';

const TOR_ASN = 65010;
const TOR_ROUTE = '10.50.0.0/24';
let c: Cluster;
let tor: { address: string; bird: Daemon };

const peersAnnotation = (address: string) => JSON.stringify([{ address, asn: TOR_ASN, description: 'rack ToR' }]);

function torConf(address: string, nodes: string[]): string {
  return `router id ${address};
log stderr all;
protocol device {}
protocol static s4 { ipv4; route ${TOR_ROUTE} blackhole; }
${nodes
  .map(
    (n, i) => `protocol bgp n${i + 1} {
  local ${address} as ${TOR_ASN};
  neighbor ${n} as 64512;
  connect retry time 1;
  error wait time 1, 5;
  ipv4 { import all; export where proto = "s4"; };
}`,
  )
  .join('\n')}
`;
}

/** BIRD's state of its session to node n ("Established", "Active", …). */
function torSession(n: number): string {
  const line = tor.bird.cli(`show protocols n${n}`).split('\n').find((l) => l.startsWith(`n${n} `)) ?? '';
  return line.trim().split(/\s+/).slice(5).join(' ');
}

beforeAll(async () => {
  requireRoot();
  requireCommand('bird', 'bird2');
  c = await Cluster.create({ nodes: 3 });
  const h = c.lanHost(9);
  tor = { address: h.address, bird: await startDaemon('bird', h.ns, torConf(h.address, c.nodes.map((n) => n.address))) };
  c.api.updateNode('node-1', (n) => (n.metadata.annotations['routelet.io/peers'] = peersAnnotation(tor.address)));
  await c.startAll();
  await c.waitConverged();
}, 180_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') {
    dumpAgentLogs(c.nodes.map((n) => n.agent), 6000);
    process.stderr.write(`\n===== ToR bird =====\n${tor?.bird.log().slice(-3000)}\n`);
  }
});

afterAll(async () => {
  await stopAllDaemons();
  await c?.destroy();
});

describe('Node annotations', () => {
  it('routelet.io/peers: the annotated node, and only it, peers with its top-of-rack router', async () => {
    const [n1, n2, n3] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0], typeof c.nodes[0]];
    const p = await n1.agent!.waitPeer(tor.address, (x) => x.state === 'Established', 30_000);
    expect(p).toMatchObject({ origin: 'annotation', nodeName: 'node-1', asn: TOR_ASN, type: 'ebgp', description: 'rack ToR' });
    await c.until(async () => ((await c.routes(n1)).get(TOR_ROUTE)?.includes(tor.address) ? [] : [`node-1 lacks ${TOR_ROUTE} via the ToR`]), 20_000);
    await c.until(async () => (tor.bird.cli(`show route ${n1.podCIDR} protocol n1`).includes(n1.podCIDR) ? [] : ['the ToR lacks node-1’s pod CIDR']), 20_000);
    for (const n of [n2, n3]) expect(await n.agent!.peer(tor.address), n.name).toBeUndefined();
    expect(torSession(2)).not.toMatch(/Established/);
    expect(torSession(3)).not.toMatch(/Established/);
  }, 60_000);

  it('the annotation moved to another node: that session moves, the mesh stays as it was', async () => {
    const [n1, n2] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0]];
    const meshBefore = new Map((await n1.agent!.peers()).filter((p) => p.origin === 'mesh').map((p) => [p.address, p.uptimeSeconds]));
    expect(meshBefore.size).toBe(2);
    c.api.updateNode('node-1', (n) => delete n.metadata.annotations['routelet.io/peers']);
    c.api.updateNode('node-2', (n) => (n.metadata.annotations['routelet.io/peers'] = peersAnnotation(tor.address)));
    const p = await n2.agent!.waitPeer(tor.address, (x) => x.state === 'Established', 30_000);
    expect(p).toMatchObject({ origin: 'annotation', nodeName: 'node-2' });
    await c.until(async () => ((await n1.agent!.peer(tor.address)) === undefined ? [] : ['node-1 still has the ToR peer']), 20_000);
    await c.until(async () => ((await c.routes(n2)).get(TOR_ROUTE)?.includes(tor.address) ? [] : [`node-2 lacks ${TOR_ROUTE} via the ToR`]), 20_000);
    expect(torSession(1)).not.toMatch(/Established/);
    // node-1's mesh sessions were not restarted: each has been up at least as long as before
    const after = await n1.agent!.peers();
    for (const [address, up] of meshBefore) {
      const q = after.find((x) => x.address === address);
      expect(q?.state, address).toBe('Established');
      expect(q!.uptimeSeconds, address).toBeGreaterThanOrEqual(up);
    }
    await c.waitConverged();
  }, 60_000);

  it('routelet.io/asn: two nodes move to their own AS — each restarts into it, keeping its routes meanwhile — and peer in it, no longer with the third', async () => {
    const [n1, n2, n3] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0], typeof c.nodes[0]];
    for (const n of ['node-2', 'node-3']) c.api.updateNode(n, (x) => (x.metadata.annotations['routelet.io/asn'] = '64513'));
    // the AS is the agent's for its run: it stops the graceful-restart way and exits 0, for the
    // DaemonSet to start it again (here: the test)
    for (const n of [n2, n3]) {
      const r = await Promise.race([n.agent!.exited, new Promise<null>((res) => setTimeout(() => res(null), 20_000))]);
      expect(r, `${n.name} exited to apply its AS`).toEqual({ code: 0, signal: null });
      expect(n.agent!.log()).toContain("kubernetes: this node's AS is now 64513 (routelet.io/asn), the agent runs as 64512: restarting to apply it");
      // its own routes stayed in its kernel (graceful restart)
      expect((await c.routes(n)).size, `${n.name}'s routes kept`).toBeGreaterThan(0);
    }
    for (const n of [n2, n3]) await c.start(n);
    for (const n of [n2, n3]) expect(n.agent!.log()).toContain("kubernetes: this node's AS is 64513 (routelet.io/asn, from the state file), not ROUTELET_ASN 64512");
    const p = await n2.agent!.waitPeer(n3.address, (x) => x.state === 'Established', 30_000);
    expect(p).toMatchObject({ origin: 'mesh', type: 'ibgp', asn: 64513 });
    // node-3's pod CIDR reaches node-2 in AS 64513, and the two leave node-1's kernel
    await c.waitConverged([n2], [n3], 30_000);
    await c.until(() => c.present([n1], [n2.podCIDR, n3.podCIDR]), 30_000);
    expect((await n1.agent!.peers()).filter((x) => x.origin === 'mesh')).toEqual([]);
    // no restart loop: a second sync changes nothing
    await new Promise((r) => setTimeout(r, 1500));
    for (const n of [n2, n3]) expect(n.agent!.running, `${n.name} still running`).toBe(true);
  }, 120_000);
});
