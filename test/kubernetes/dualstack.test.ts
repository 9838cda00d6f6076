// The Kubernetes mode on a dual-stack cluster: every Node has an IPv4 and an IPv6 InternalIP and
// an IPv4 and an IPv6 pod CIDR (spec.podCIDRs). The mesh has a session per family per pair
// (each over the family's InternalIPs), and every kernel holds every other node's IPv6 pod
// CIDR via that node's IPv6 address, as it holds the IPv4 one via its IPv4 address. A Node
// deleted takes both of its pod CIDRs out of every kernel.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dumpAgentLogs } from '../support/agent.js';
import { requireRoot } from '../support/privileges.js';
import { Cluster } from '../../bench/cluster.js';

let c: Cluster;

beforeAll(async () => {
  requireRoot();
  c = await Cluster.create({ nodes: 4, dualStack: true, env: { ROUTELET_HOLD_TIME: '9' } });
}, 60_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') dumpAgentLogs(c.nodes.map((n) => n.agent), 5000);
});

afterAll(async () => {
  await c?.destroy();
});

describe('a dual-stack cluster from the Kubernetes API', () => {
  it('IPv6 pod CIDRs reach every kernel over the IPv6 sessions, beside the IPv4 ones', async () => {
    await c.startAll();
    await c.waitConverged();
    await c.until(() => c.missing6(), 60_000);
    for (const n of c.nodes) {
      const peers = await n.agent!.peers();
      const others = c.nodes.filter((o) => o !== n);
      // a session per family per pair, each over that family's InternalIPs
      expect(peers.map((p) => p.address).sort()).toEqual([...others.map((o) => o.address), ...others.map((o) => o.address6!)].sort());
      expect(peers.every((p) => p.state === 'Established' && p.origin === 'mesh')).toBe(true);
      // the IPv6 routes: via the node's IPv6 address, nothing else
      const v6 = await c.routes(n, 6);
      for (const o of others) expect(v6.get(o.podCIDR6!), `${n.name}: ${o.podCIDR6}`).toEqual([o.address6]);
      expect([...v6.keys()].sort()).toEqual(others.map((o) => o.podCIDR6!).sort());
    }
  }, 240_000);

  it('a Node deleted takes both its pod CIDRs out of every kernel', async () => {
    const gone = c.node(2);
    const others = c.nodes.filter((n) => n !== gone);
    c.renewing.delete(gone.name);
    c.api.deleteNode(gone.name);
    await c.until(() => c.present(others, [gone.podCIDR, gone.podCIDR6!]), 10_000, 20);
    for (const n of others) expect((await n.agent!.peers()).map((p) => p.address)).not.toContain(gone.address6);
    // the other nodes' routes stay, in both families
    expect(await c.missing(others, others)).toEqual([]);
    expect(await c.missing6(others, others)).toEqual([]);
  }, 120_000);
});
