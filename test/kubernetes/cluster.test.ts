// The Kubernetes mode end to end: six routelet nodes in network namespaces on one LAN, each
// with its Node object and Lease in the stand-in API server (HTTPS, KUBECONFIG). One cluster
// runs through the scenarios in order (each leaves it converged for the next):
//  1. the mesh converges: every kernel holds every other node's pod CIDR, from the API alone;
//  2. a node added (a session on each other node) and one deleted (its routes leave every kernel
//     at once, its sessions end with Cease/Peer De-configured);
//  3. reflectors by label, then automatic: every agent restarted with the new setting, one at a
//     time as a DaemonSet rolls, and no pod CIDR leaves any kernel at any moment of the switch;
//  4. a node that goes silent (its agent stopped, its Lease no longer renewed): its routes stay
//     while its Lease is fresh (graceful restart) and leave once the Lease expires;
//  5. the API server stopped while a node restarts: it starts from its state file and recovers;
//  6. the same for a node on the passive side of its pairs (the highest address): restarting, it
//     connects to every peer itself instead of waiting for their reconnect backoff.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dumpAgentLogs } from '../support/agent.js';
import { requireRoot } from '../support/privileges.js';
import { Cluster, type ClusterNode } from '../../bench/cluster.js';

const LEASE_SECONDS = 16;
let c: Cluster;

beforeAll(async () => {
  requireRoot();
  c = await Cluster.create({ nodes: 6, leaseSeconds: LEASE_SECONDS, env: { ROUTELET_HOLD_TIME: '9' } });
}, 60_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') dumpAgentLogs(c.nodes.map((n) => n.agent), 5000);
});

afterAll(async () => {
  await c?.destroy();
});

const running = () => c.nodes.filter((n) => n.agent?.running);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sample every kernel of `nodes` until stopped: every pod CIDR missing at any moment is kept. */
function watchLoss(nodes: () => ClusterNode[]): { stop: () => Promise<string[]> } {
  const lost = new Set<string>();
  let on = true;
  const loop = (async () => {
    while (on) {
      const ns = nodes();
      for (const m of await c.missing(ns, ns)) lost.add(m);
      await sleep(150);
    }
  })();
  return {
    stop: async () => {
      on = false;
      await loop;
      return [...lost];
    },
  };
}

/** Restart every running agent with `env`, one at a time (SIGTERM: graceful restart), as a DaemonSet rolls. */
async function roll(order: ClusterNode[], env: Record<string, string>): Promise<void> {
  for (const n of order) {
    const r = await n.agent!.stop();
    expect(r.code).toBe(0);
    await c.start(n, env);
    // the next one only once this one has its peers again and reads the API (maxUnavailable: 1):
    // until then it cannot tell a restarting neighbour (Lease fresh) from a dead one
    await c.until(async () => {
      const peers = await n.agent!.peers().catch(() => []);
      if (!n.agent!.log().includes('kubernetes: synced from the API')) return [`${n.name} not synced from the API`];
      return peers.length > 0 && peers.every((p) => p.state === 'Established') ? [] : [`${n.name} not Established with all its peers`];
    }, 60_000);
  }
}

describe('a six-node cluster from the Kubernetes API', () => {
  it("the mesh converges: every kernel holds every other node's pod CIDR", async () => {
    await c.startAll();
    const ms = await c.waitConverged();
    const peers = await c.node(1).agent!.peers();
    expect(peers.map((p) => p.address).sort()).toEqual(c.nodes.filter((n) => n.index !== 1).map((n) => n.address).sort());
    for (const p of peers) {
      expect(p).toMatchObject({ origin: 'mesh', state: 'Established', nodeHealth: { health: 'alive' } });
      expect(p.nodeName).toMatch(/^node-\d$/);
    }
    // one connection per pair: the lower address connects
    expect(peers.every((p) => p.connection?.direction === 'outgoing')).toBe(true);
    process.stderr.write(`mesh of 6 converged ${ms} ms after the last agent answered\n`);
  }, 240_000);

  it('a node added gets a session on each node; a node deleted leaves every kernel at once', async () => {
    const n7 = c.addNetNode(7);
    await c.start(n7);
    await c.waitConverged();
    for (const n of running()) expect((await n.agent!.peers()).length, n.name).toBe(running().length - 1);

    const gone = c.node(2);
    const others = running().filter((n) => n !== gone);
    const t0 = Date.now();
    c.api.deleteNode(gone.name);
    c.renewing.delete(gone.name);
    const ms = await c.until(() => c.present(others, [gone.podCIDR]), 10_000, 20);
    process.stderr.write(`node deleted → its pod CIDR gone from ${others.length} kernels in ${Date.now() - t0} ms\n`);
    expect(ms).toBeLessThan(5000);
    for (const n of others) {
      const peers = await n.agent!.peers();
      expect(peers.map((p) => p.address)).not.toContain(gone.address);
      // withdrawn, not kept as stale: no path to it remains at all
      expect(await n.agent!.routes(gone.podCIDR)).toEqual([]);
    }
    // de-configured with Cease/Peer De-configured
    expect(c.node(1).agent!.log()).toContain(`kubernetes: ${gone.address} removed from the configuration`);
    await gone.agent!.stop('SIGKILL');
    await c.waitConverged(running(), running());
  }, 120_000);

  it('reflectors by label, then chosen automatically: no route lost during either switch', async () => {
    // label two nodes; roll every agent to the selector, reflectors first
    for (const i of [1, 3]) c.api.updateNode(`node-${i}`, (n) => (n.metadata.labels['routelet.io/rr'] = 'true'));
    // the agents have seen the labels (kept with their Node list on the node) before the roll:
    // a reflector that restarts into its role does not change its sessions after the restart
    // (a peer whose options change is restarted, and its routes leave this node's kernel until
    // it is up again)
    await c.until(async () => running().filter((n) => !readFileSync(join(n.stateDir, 'kubernetes-nodes.json'), 'utf8').includes('routelet.io/rr')).map((n) => `${n.name} has not seen the labels`), 20_000);
    const watch1 = watchLoss(running);
    const order = [c.node(1), c.node(3), ...running().filter((n) => n.index !== 1 && n.index !== 3)];
    await roll(order, { ROUTELET_RR_NODE_SELECTOR: 'routelet.io/rr=true' });
    await c.waitConverged(running(), running());
    // a client peers with the reflectors only, and they reflect every other node's routes
    await c.until(async () => {
      const peers = await c.node(5).agent!.peers();
      return peers.length === 2 && peers.every((p) => p.origin === 'reflector' && p.state === 'Established')
        ? []
        : [JSON.stringify(peers.map((p) => [p.address, p.origin, p.state])), JSON.stringify(await c.node(5).agent!.routes(c.node(4).podCIDR)), JSON.stringify((await c.node(1).agent!.peers()).map((p) => [p.address, p.routeReflectorClient, p.prefixes]))];
    }, 60_000);
    expect((await c.node(5).agent!.peers()).map((p) => p.nodeName).sort()).toEqual(['node-1', 'node-3']);
    const r1 = await c.node(1).agent!.peers();
    expect(r1.filter((p) => p.routeReflectorClient).map((p) => p.nodeName).sort()).toEqual(['node-4', 'node-5', 'node-6', 'node-7']);
    expect(await watch1.stop()).toEqual([]);

    // automatic: two reflectors chosen alike by every agent
    const watch2 = watchLoss(running);
    await roll(running(), { ROUTELET_RR_AUTO: '2' });
    await c.waitConverged(running(), running());
    const reflectorsSeen = new Set<string>();
    for (const n of running()) {
      const peers = await n.agent!.peers();
      if (peers.length < running().length - 1) for (const p of peers) reflectorsSeen.add(p.nodeName!);
    }
    expect(reflectorsSeen.size).toBe(2);
    expect(await watch2.stop()).toEqual([]);
  }, 300_000);

  it('a node gone silent keeps its routes while its Lease is fresh, and loses them once it expires', async () => {
    const silent = c.nodes.find((n) => n.agent?.running && n.index >= 4)!;
    const others = running().filter((n) => n !== silent);
    c.renewing.delete(silent.name);
    const renewed = Date.parse(c.api.lease(silent.name)!.spec.renewTime);
    silent.agent!.signal('SIGSTOP');
    const expires = renewed + LEASE_SECONDS * 1000;
    // its sessions time out (hold time 9 s) before the Lease expires: graceful restart keeps its routes
    await sleep(Math.max(0, expires - 1500 - Date.now()));
    expect(await c.present(others, [silent.podCIDR])).toHaveLength(others.length);
    await c.until(() => c.present(others, [silent.podCIDR]), LEASE_SECONDS * 1000, 20);
    const late = Date.now() - expires;
    process.stderr.write(`silent node: pod CIDR gone from ${others.length} kernels ${late} ms after its Lease expired\n`);
    expect(late).toBeLessThan(3000);
    const peer = (await others[0]!.agent!.peers()).find((p) => p.nodeName === silent.name);
    if (peer) expect(peer.nodeHealth).toMatchObject({ health: 'dead' });
    silent.agent!.signal('SIGCONT');
    await silent.agent!.stop('SIGKILL');
    c.api.deleteNode(silent.name);
  }, 120_000);

  it('the API server stopped while a node restarts: it starts from its state file and recovers', async () => {
    await c.waitConverged(running(), running());
    const n = running()[0]!;
    const others = running().filter((x) => x !== n);
    const stopped = await n.agent!.stop();
    expect(stopped.code).toBe(0);
    await c.api.stop();
    const spawned = Date.now();
    const a = await c.start(n);
    await c.until(async () => (a.log().includes('restart recovery done') ? [] : ['no recovery yet']), 30_000);
    const done = a.lines().find((l) => String(l.msg).startsWith('restart recovery done'))!;
    process.stderr.write(`restart with the API down: recovery done ${Date.parse(String(done.time)) - spawned} ms after spawn (${String(done.msg)})\n`);
    expect(String(done.msg)).toMatch(/End-of-RIB/);
    expect(a.log()).toContain('starting from the state file');
    await c.waitConverged([n], others, 30_000);
    await c.waitConverged(others, [n], 30_000);
    // the API back: the agent resyncs and changes no session
    await c.api.start();
    await c.until(async () => (a.log().includes('kubernetes: synced from the API') ? [] : ['not resynced']), 60_000);
    const peers = await a.peers();
    expect(peers.every((p) => p.state === 'Established')).toBe(true);
  }, 180_000);

  it('a node on the passive side restarts with the API down: it connects to its peers itself and recovers without waiting for them', async () => {
    await c.waitConverged(running(), running());
    // the highest address: each of its peers has the lower address, connects to it and is waited for
    const n = running().reduce((a, b) => (a.index > b.index ? a : b));
    const before = (await n.agent!.peers()).map((p) => p.address).sort();
    expect(before.length).toBeGreaterThan(0);
    const env = n.agent!.env; // the same settings (the topology the cluster rolled to)
    expect((await n.agent!.stop()).code).toBe(0);
    await c.api.stop();
    const spawned = Date.now();
    const a = await c.start(n, env);
    await c.until(async () => (a.log().includes('restart recovery done') ? [] : ['no recovery yet']), 30_000);
    const done = a.lines().find((l) => String(l.msg).startsWith('restart recovery done'))!;
    process.stderr.write(`passive side, restart with the API down: recovery done ${Date.parse(String(done.time)) - spawned} ms after spawn (${String(done.msg)})\n`);
    expect(String(done.msg)).toMatch(/End-of-RIB received from every configured peer/);
    expect(a.log()).toContain(`kubernetes: restarting: connecting to the ${before.length} node peers this node is passive towards`);
    // every session is on the connection this node opened: a peer that connected at the same
    // moment lost the collision to the higher identifier, this node's (RFC 4271 6.8)
    const peers = await a.peers();
    expect(peers.map((p) => [p.address, p.state, p.connection?.direction]).sort()).toEqual(before.map((x) => [x, 'Established', 'outgoing']));
    const others = running().filter((x) => x !== n);
    await c.waitConverged([n], others, 30_000);
    await c.waitConverged(others, [n], 30_000);
    // the API back: the agent resyncs, its sessions stay up
    await c.api.start();
    await c.until(async () => (a.log().includes('kubernetes: synced from the API') ? [] : ['not resynced']), 60_000);
    expect((await a.peers()).every((p) => p.state === 'Established')).toBe(true);
  }, 180_000);
});
