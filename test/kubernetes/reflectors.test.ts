// Automatic route-reflector selection: the same set on every node, stable while its members stay
// Ready, spread across zones, a failed reflector replaced and not taken back.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeNode, type NodeInput } from '../../bench/kube-apiserver.js';
import { nodeInfo, type NodeInfo } from '../../src/kubernetes/objects.js';
import { selectReflectors } from '../../src/kubernetes/reflectors.js';
import { desiredPeers, type MeshSettings } from '../../src/kubernetes/peers.js';

const T0 = Date.parse('2026-12-01T00:00:00Z');
function n(i: number, zone: string | undefined, readyAt: number, extra: Partial<NodeInput> = {}): NodeInfo {
  return nodeInfo(makeNode({ name: `node-${i}`, internalIPs: [`10.0.0.${i}`], zone, readySince: new Date(T0 + readyAt * 1000), ...extra }));
}
const settings: MeshSettings = {
  asn: 64512,
  defaults: { port: 179, password: undefined, holdTime: 90, keepaliveTime: undefined, tcpUserTimeout: 0, gracefulRestart: true },
  reflectors: { mode: 'auto', count: 3 },
};

describe('selectReflectors', () => {
  it('spreads across zones, longest Ready first within a zone', () => {
    const nodes = [n(1, 'a', 1), n(2, 'a', 2), n(3, 'a', 3), n(4, 'b', 4), n(5, 'b', 5), n(6, 'c', 6)];
    expect(selectReflectors(nodes, 3)).toEqual(['node-1', 'node-4', 'node-6']);
    // two zones, three reflectors: one of each, then the longest Ready
    expect(selectReflectors(nodes.slice(0, 5), 3)).toEqual(['node-1', 'node-2', 'node-4']);
  });

  it('every node computes the same set whatever the order it lists the nodes in', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ zone: fc.constantFrom('a', 'b', 'c', undefined), ready: fc.integer({ min: 0, max: 20 }), ok: fc.boolean() }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer(),
        (specs, count, seed) => {
          const nodes = specs.map((s, i) => n(i + 1, s.zone, s.ready, { ready: s.ok ? 'True' : 'False' }));
          const shuffled = [...nodes].sort((x, y) => ((x.name.length * 31 + seed) % 7) - ((y.name.length * 17 + seed) % 5));
          const a = selectReflectors(nodes, count);
          expect(selectReflectors(shuffled, count)).toEqual(a);
          expect(a.length).toBe(Math.min(count, nodes.filter((x) => x.ready === 'True').length));
          // and every node's desiredPeers agrees on it
          const views = nodes.map((x) => desiredPeers({ self: x.name, nodes: shuffled, settings: { ...settings, reflectors: { mode: 'auto', count } } }).reflectors);
          for (const v of views) expect(v).toEqual(a);
        },
      ),
    );
  });

  it('stable while the reflectors stay Ready: nodes added, deleted or flapping elsewhere change nothing', () => {
    const base = [n(1, 'a', 1), n(2, 'a', 2), n(3, 'b', 3), n(4, 'b', 4), n(5, 'c', 5), n(6, 'c', 6)];
    const rr = selectReflectors(base, 3);
    expect(rr).toEqual(['node-1', 'node-3', 'node-5']);
    // new nodes (Ready later), in existing zones and a new one
    expect(selectReflectors([...base, n(7, 'a', 100), n(8, 'b', 101)], 3)).toEqual(rr);
    // a non-reflector deleted, another NotReady
    const others = base.filter((x) => x.name !== 'node-2').map((x) => (x.name === 'node-4' ? n(4, 'b', 50, { ready: 'False' }) : x));
    expect(selectReflectors(others, 3)).toEqual(rr);
    // labels and annotations unrelated to routelet change
    expect(selectReflectors(base.map((x) => ({ ...x, labels: { ...x.labels, team: 'x' } })), 3)).toEqual(rr);
  });

  it('a reflector that stops being Ready or is deleted is replaced, in its zone when it can; coming back it does not take its place back', () => {
    const base = [n(1, 'a', 1), n(2, 'a', 2), n(3, 'b', 3), n(4, 'b', 4), n(5, 'c', 5), n(6, 'c', 6)];
    const down = base.map((x) => (x.name === 'node-3' ? n(3, 'b', 60, { ready: 'Unknown' }) : x));
    const replaced = selectReflectors(down, 3);
    expect(replaced).toEqual(['node-1', 'node-4', 'node-5']);
    // node-3 Ready again: a new lastTransitionTime, so node-4 keeps the role
    const back = base.map((x) => (x.name === 'node-3' ? n(3, 'b', 120) : x));
    expect(selectReflectors(back, 3)).toEqual(replaced);
    // node-5 deleted: node-6 of the same zone
    expect(selectReflectors(back.filter((x) => x.name !== 'node-5'), 3)).toEqual(['node-1', 'node-4', 'node-6']);
  });

  it('route-reflector annotations: true always in, false never', () => {
    const nodes = [
      n(1, 'a', 1, { annotations: { 'routelet.io/route-reflector': 'false' } }),
      n(2, 'a', 2),
      n(3, 'b', 3),
      n(4, 'c', 9, { annotations: { 'routelet.io/route-reflector': 'true' } }),
    ];
    expect(selectReflectors(nodes, 2)).toEqual(['node-2', 'node-4']);
  });

  it('no Ready node: no reflector, and desiredPeers falls back to the mesh', () => {
    const nodes = [n(1, 'a', 1, { ready: 'False' }), n(2, 'a', 2, { ready: 'Unknown' })];
    expect(selectReflectors(nodes, 3)).toEqual([]);
    const d = desiredPeers({ self: 'node-1', nodes, settings });
    expect(d.role).toBe('mesh');
    expect(d.peers.map((p) => p.nodeName)).toEqual(['node-2']);
  });
});
