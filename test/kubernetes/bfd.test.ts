// BFD of the node-to-node sessions from Node annotations, end to end: three routelet nodes on
// one LAN with the stand-in API server, BFD on (the default, 300 ms × 3).
//  1. node-3 annotated routelet.io/bfd: "false": node-1 and node-2 run BFD with each other, Up
//     on both ends; nobody runs BFD with node-3 (no session on either end), and every BGP
//     session is Established all the same;
//  2. routelet.io/bfd-interval: "600" on node-2: the sessions to and from node-2 are re-timed to
//     600 ms on both ends (a poll sequence) and their BGP sessions are not restarted;
//  3. node-3's annotation removed: BFD with node-3 comes Up on both ends.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PeerView } from '../../src/api/types.js';
import { dumpAgentLogs } from '../support/agent.js';
import { requireRoot } from '../support/privileges.js';
import { Cluster, type ClusterNode } from '../../bench/cluster.js';

let c: Cluster;

beforeAll(async () => {
  requireRoot();
  c = await Cluster.create({ nodes: 3, env: { ROUTELET_BFD: 'on' } });
  c.api.updateNode('node-3', (o) => {
    o.metadata.annotations = { ...o.metadata.annotations, 'routelet.io/bfd': 'false' };
  });
  await c.startAll();
  await c.waitConverged();
}, 120_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') dumpAgentLogs(c.nodes.map((n) => n.agent), 5000);
});

afterAll(async () => {
  await c?.destroy();
});

const view = async (n: ClusterNode, of: ClusterNode): Promise<PeerView | undefined> => (await n.agent!.peers()).find((p) => p.address === of.address);
const pairs = (): [ClusterNode, ClusterNode][] => c.nodes.flatMap((a) => c.nodes.filter((b) => b !== a).map((b) => [a, b] as [ClusterNode, ClusterNode]));

describe('BFD of the node mesh from Node annotations', () => {
  it('routelet.io/bfd: "false" on node-3: no BFD to or from it, BFD Up between the others, BGP Established everywhere', async () => {
    const [n1, n2, n3] = c.nodes as [ClusterNode, ClusterNode, ClusterNode];
    await c.until(async () => {
      const left: string[] = [];
      for (const [a, b] of [
        [n1, n2],
        [n2, n1],
      ] as const) {
        const v = await view(a, b);
        // both ends: a side goes Up on the other's Init and sees its Up in its next packet
        if (v?.bfd?.state !== 'up' || v.bfd.remoteState !== 'up') left.push(`${a.name} → ${b.name}: BFD ${v?.bfd?.state ?? 'none'}/${v?.bfd?.remoteState ?? 'none'}`);
      }
      return left;
    }, 30_000);
    for (const [a, b] of pairs()) {
      const v = (await view(a, b))!;
      expect(v.state, `${a.name} → ${b.name}`).toBe('Established');
      if (a === n3 || b === n3) expect(v.bfd, `${a.name} → ${b.name}`).toBeNull();
      else expect(v.bfd).toMatchObject({ state: 'up', remoteState: 'up', txIntervalMs: 300, detectionTimeMs: 900 });
    }
  });

  it('routelet.io/bfd-interval: "600" on node-2 re-times the sessions to and from it on both ends; BGP stays', async () => {
    const [n1, n2] = c.nodes as [ClusterNode, ClusterNode];
    const before = (await view(n1, n2))!;
    c.api.updateNode('node-2', (o) => {
      o.metadata.annotations = { ...o.metadata.annotations, 'routelet.io/bfd-interval': '600' };
    });
    await c.until(async () => {
      const left: string[] = [];
      for (const [a, b] of [
        [n1, n2],
        [n2, n1],
      ] as const) {
        const v = await view(a, b);
        if (v?.bfd?.state !== 'up' || v.bfd.txIntervalMs !== 600 || v.bfd.detectionTimeMs !== 1800) left.push(`${a.name} → ${b.name}: ${JSON.stringify(v?.bfd)}`);
      }
      return left;
    }, 20_000);
    const after = (await view(n1, n2))!;
    expect(after.state).toBe('Established');
    // the same BGP session (no restart) and the same BFD session (re-timed by a poll sequence)
    expect(after.uptimeSeconds).toBeGreaterThanOrEqual(before.uptimeSeconds);
    expect(after.bfd!.localDiscriminator).toBe(before.bfd!.localDiscriminator);
    expect(after.bfd!.upSince).toBe(before.bfd!.upSince);
  });

  it('the annotation removed from node-3: BFD with node-3 comes Up on both ends', async () => {
    const n3 = c.node(3);
    c.api.updateNode('node-3', (o) => {
      const { 'routelet.io/bfd': _gone, ...rest } = o.metadata.annotations as Record<string, string>;
      o.metadata.annotations = rest;
    });
    await c.until(async () => {
      const left: string[] = [];
      for (const [a, b] of pairs()) {
        if (a !== n3 && b !== n3) continue;
        const v = await view(a, b);
        if (v?.bfd?.state !== 'up') left.push(`${a.name} → ${b.name}: BFD ${v?.bfd?.state ?? 'none'}`);
      }
      return left;
    }, 30_000);
    for (const [a, b] of pairs()) expect((await view(a, b))!.state).toBe('Established');
  });
});
