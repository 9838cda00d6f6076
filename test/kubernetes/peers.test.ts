// desiredPeers and nodeToPeers on Node objects shaped as the API serves them.
import { describe, expect, it } from 'vitest';
import { makeNode, type NodeInput } from '../../bench/kube-apiserver.js';
import { nodeInfo, type NodeInfo } from '../../src/kubernetes/objects.js';
import { desiredPeers, isPassiveSide, type MeshSettings } from '../../src/kubernetes/peers.js';
import { parseSelector } from '../../src/config/selector.js';
import type { PeerConfig } from '../../src/config/index.js';

const defaults = { port: 179, password: 'secret', holdTime: 90, keepaliveTime: undefined, tcpUserTimeout: 0, gracefulRestart: true };
const mesh: MeshSettings = { asn: 64512, defaults, reflectors: { mode: 'mesh' } };

const T0 = Date.parse('2026-12-01T00:00:00Z');
function n(i: number, extra: Partial<NodeInput> = {}): NodeInfo {
  return nodeInfo(
    makeNode({
      name: `node-${i}`,
      internalIPs: [`10.0.0.${i}`, `fd00::${i}`],
      podCIDRs: [`10.244.${i}.0/24`, `fd00:244:${i}::/64`],
      zone: `zone-${i % 3}`,
      readySince: new Date(T0 + i * 1000),
      ...extra,
    }),
  );
}
const cluster = (k: number) => Array.from({ length: k }, (_, i) => n(i + 1));

describe('full mesh', () => {
  it('peers with every other node on IPv4 and IPv6, iBGP on the local AS, with its pod CIDRs', () => {
    const d = desiredPeers({ self: 'node-3', nodes: cluster(5), settings: mesh });
    expect(d.role).toBe('mesh');
    expect(d.podCIDRs).toEqual(['10.244.3.0/24', 'fd00:244:3::/64']);
    expect(d.peers.map((p) => p.address)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.4', '10.0.0.5', 'fd00::1', 'fd00::2', 'fd00::4', 'fd00::5']);
    for (const p of d.peers) {
      expect(p).toMatchObject({ asn: 64512, ibgp: true, origin: 'mesh', routeReflectorClient: false, password: 'secret', port: 179, gracefulRestart: true });
      expect(p.nodeName).toBe(`node-${p.address.split(/[.:]/).pop()}`);
    }
  });

  it('the PeerConfig fields are all there, as src/config makes them', () => {
    const p = desiredPeers({ self: 'node-1', nodes: cluster(2), settings: mesh }).peers[0]!;
    const keys: (keyof PeerConfig)[] = ['address', 'family', 'port', 'asn', 'ibgp', 'password', 'holdTime', 'keepaliveTime', 'tcpUserTimeout', 'passive', 'routeReflectorClient', 'ttlSecurity', 'multihop', 'gracefulRestart', 'maxPrefixes', 'description'];
    for (const k of keys) expect(Object.prototype.hasOwnProperty.call(p, k)).toBe(true);
  });

  it('exactly one side of each pair is passive: the higher address waits', () => {
    const nodes = [n(1), n(2), n(10), n(200, { internalIPs: ['10.0.0.200', 'fd00::c8'] })];
    const plans = new Map(nodes.map((x) => [x.name, desiredPeers({ self: x.name, nodes, settings: mesh })]));
    const addrOf = (x: NodeInfo, fam: 4 | 6) => (fam === 4 ? x.internalIPv4! : x.internalIPv6!);
    for (const a of nodes)
      for (const b of nodes) {
        if (a === b) continue;
        for (const fam of [4, 6] as const) {
          const ab = plans.get(a.name)!.peers.find((p) => p.address === addrOf(b, fam))!;
          const ba = plans.get(b.name)!.peers.find((p) => p.address === addrOf(a, fam))!;
          expect(ab.passive).not.toBe(ba.passive);
        }
      }
    // 10.0.0.10 > 10.0.0.2 as addresses though not as text
    expect(isPassiveSide('10.0.0.10', '10.0.0.2')).toBe(true);
    expect(isPassiveSide('10.0.0.2', '10.0.0.10')).toBe(false);
    expect(isPassiveSide('fd00::1:0', 'fd00::ffff')).toBe(true);
  });

  it('a family only one side has gets no session; a node without InternalIP gets none', () => {
    const nodes = [n(1), n(2, { internalIPs: ['10.0.0.2'] }), n(3, { internalIPs: [] })];
    const d = desiredPeers({ self: 'node-1', nodes, settings: mesh });
    expect(d.peers.map((p) => p.address)).toEqual(['10.0.0.2']);
  });

  it('a node being deleted is no peer; this node unknown: no generated peers', () => {
    const nodes = cluster(3);
    const gone = nodeInfo({ ...makeNode({ name: 'node-9', internalIPs: ['10.0.0.9'] }), metadata: { name: 'node-9', deletionTimestamp: '2026-12-04T00:00:00Z' } });
    expect(desiredPeers({ self: 'node-1', nodes: [...nodes, gone], settings: mesh }).peers.map((p) => p.nodeName)).not.toContain('node-9');
    const d = desiredPeers({ self: 'node-42', nodes, settings: mesh });
    expect(d.selfKnown).toBe(false);
    expect(d.peers).toEqual([]);
  });

  it('the same cluster listed in another order gives a deep-equal result', () => {
    const nodes = cluster(6);
    const a = desiredPeers({ self: 'node-2', nodes, settings: mesh });
    const b = desiredPeers({ self: 'node-2', nodes: [...nodes].reverse(), settings: mesh });
    expect(b).toEqual(a);
  });
});

describe('route reflectors by label', () => {
  const rrLabel = { 'routelet.io/rr': 'true' };
  const settings: MeshSettings = { ...mesh, reflectors: { mode: 'selector', selector: parseSelector('routelet.io/rr=true')! } };
  const nodes = [n(1, { labels: rrLabel }), n(2, { labels: rrLabel }), n(3), n(4), n(5)];

  it('a reflector peers with the other reflector plainly and with every other node as client', () => {
    const d = desiredPeers({ self: 'node-1', nodes, settings });
    expect(d.role).toBe('reflector');
    expect(d.reflectors).toEqual(['node-1', 'node-2']);
    const v4 = d.peers.filter((p) => p.family === 4);
    expect(v4.map((p) => [p.nodeName, p.routeReflectorClient, p.origin])).toEqual([
      ['node-2', false, 'reflector'],
      ['node-3', true, 'reflector'],
      ['node-4', true, 'reflector'],
      ['node-5', true, 'reflector'],
    ]);
  });

  it('a client peers with the reflectors only', () => {
    const d = desiredPeers({ self: 'node-4', nodes, settings });
    expect(d.role).toBe('client');
    expect(d.peers.map((p) => p.nodeName)).toEqual(['node-1', 'node-2', 'node-1', 'node-2']);
    expect(d.peers.every((p) => !p.routeReflectorClient && p.origin === 'reflector')).toBe(true);
  });

  it('the annotation overrides the selector both ways', () => {
    const ns = [n(1, { labels: rrLabel, annotations: { 'routelet.io/route-reflector': 'false' } }), n(2, { labels: rrLabel }), n(3, { annotations: { 'routelet.io/route-reflector': 'true' } }), n(4)];
    expect(desiredPeers({ self: 'node-4', nodes: ns, settings }).reflectors).toEqual(['node-2', 'node-3']);
  });

  it('a selector matching no node falls back to the full mesh and says so', () => {
    const d = desiredPeers({ self: 'node-3', nodes: cluster(4), settings });
    expect(d.role).toBe('mesh');
    expect(d.peers).toHaveLength(6);
    expect(d.problems.join()).toMatch(/no route reflector/);
  });
});

describe('annotations and file peers', () => {
  it('routelet.io/peers adds external peers with their options; they win over a generated peer on the same address', () => {
    const tor = JSON.stringify([
      { address: '192.0.2.1', asn: 65001, ttlSecurity: true, holdTime: 9, description: 'ToR' },
      { address: '10.0.0.2', asn: 64512, passive: true },
    ]);
    const nodes = [n(1, { annotations: { 'routelet.io/peers': tor } }), n(2), n(3)];
    const d = desiredPeers({ self: 'node-1', nodes, settings: mesh });
    const t = d.peers.find((p) => p.address === '192.0.2.1')!;
    expect(t).toMatchObject({ asn: 65001, ibgp: false, ttlSecurity: 1, holdTime: 9, origin: 'annotation', nodeName: 'node-1', description: 'ToR' });
    expect(d.peers.find((p) => p.address === '10.0.0.2')).toMatchObject({ origin: 'annotation', passive: true });
    expect(d.problems.join()).toMatch(/annotation peer replaces the mesh one/);
    // other nodes' annotations are not this node's peers
    expect(desiredPeers({ self: 'node-2', nodes, settings: mesh }).peers.some((p) => p.address === '192.0.2.1')).toBe(false);
  });

  it('a malformed annotation is ignored with a problem, the rest still works', () => {
    const nodes = [n(1, { annotations: { 'routelet.io/peers': '[{"address":"nope","asn":1}]', 'routelet.io/asn': 'x' } }), n(2)];
    const d = desiredPeers({ self: 'node-1', nodes, settings: mesh });
    expect(d.peers).toHaveLength(2);
    expect(d.problems).toHaveLength(2);
    expect(d.asn).toBe(64512);
  });

  it('routelet.io/asn puts a node in its own AS: no iBGP mesh with the others', () => {
    const nodes = [n(1), n(2), n(3, { annotations: { 'routelet.io/asn': '65010' } }), n(4, { annotations: { 'routelet.io/asn': '65010' } })];
    const d1 = desiredPeers({ self: 'node-1', nodes, settings: mesh });
    expect(d1.peers.map((p) => p.nodeName)).toEqual(['node-2', 'node-2']);
    const d3 = desiredPeers({ self: 'node-3', nodes, settings: mesh });
    expect(d3.asn).toBe(65010);
    expect(d3.peers.map((p) => [p.nodeName, p.asn])).toEqual([
      ['node-4', 65010],
      ['node-4', 65010],
    ]);
  });

  it('file peers with a node selector go to the matching nodes only', () => {
    const peer: PeerConfig = {
      address: '192.0.2.9', family: 4, port: 179, asn: 65002, ibgp: false, password: undefined, holdTime: 90, keepaliveTime: undefined,
      tcpUserTimeout: 0, passive: false, routeReflectorClient: false, ttlSecurity: 0, multihop: 0, gracefulRestart: true, maxPrefixes: undefined, description: 'rack 1 ToR',
    };
    const settings: MeshSettings = { ...mesh, filePeers: [{ peer, nodeSelector: parseSelector('rack in (r1)')! }] };
    const nodes = [n(1, { labels: { rack: 'r1' } }), n(2, { labels: { rack: 'r2' } })];
    expect(desiredPeers({ self: 'node-1', nodes, settings }).peers.find((p) => p.address === '192.0.2.9')).toMatchObject({ origin: 'file', nodeName: undefined });
    expect(desiredPeers({ self: 'node-2', nodes, settings }).peers.some((p) => p.address === '192.0.2.9')).toBe(false);
  });
});

describe('BFD from annotations', () => {
  const bfdOf = (self: string, nodes: NodeInfo[], settings: MeshSettings = mesh) =>
    desiredPeers({ self, nodes, settings }).peers.map((p) => [p.nodeName, p.bfd, p.bfdInterval, p.bfdMultiplier]);

  it('without BFD annotations the generated peers carry no BFD fields: the agent defaults apply', () => {
    for (const p of desiredPeers({ self: 'node-1', nodes: cluster(3), settings: mesh }).peers) {
      expect('bfd' in p || 'bfdInterval' in p || 'bfdMultiplier' in p).toBe(false);
    }
  });

  it('routelet.io/bfd: "false" turns BFD off for the sessions to and from that node, on both ends', () => {
    const nodes = [n(1), n(2, { annotations: { 'routelet.io/bfd': 'false' } }), n(3)];
    // node-1 toward node-2 off, toward node-3 untouched
    expect(bfdOf('node-1', nodes)).toEqual([
      ['node-2', false, undefined, undefined],
      ['node-3', undefined, undefined, undefined],
      ['node-2', false, undefined, undefined],
      ['node-3', undefined, undefined, undefined],
    ]);
    // node-2 toward everyone off
    expect(bfdOf('node-2', nodes).every(([, bfd]) => bfd === false)).toBe(true);
  });

  it('routelet.io/bfd: "true" turns it on over ROUTELET_BFD=off; "false" on either end wins over "true" on the other', () => {
    const off: MeshSettings = { ...mesh, defaults: { ...defaults, bfd: { enabled: false, interval: 300, multiplier: 3 } } };
    const nodes = [n(1, { annotations: { 'routelet.io/bfd': 'true' } }), n(2), n(3, { annotations: { 'routelet.io/bfd': ' FALSE ' } })];
    const plans = new Map(nodes.map((x) => [x.name, desiredPeers({ self: x.name, nodes, settings: off })]));
    const between = (a: string, b: string) => plans.get(a)!.peers.filter((p) => p.nodeName === b).map((p) => p.bfd);
    expect(between('node-1', 'node-2')).toEqual([true, true]);
    expect(between('node-2', 'node-1')).toEqual([true, true]);
    expect(between('node-1', 'node-3')).toEqual([false, false]);
    expect(between('node-3', 'node-1')).toEqual([false, false]);
    expect(between('node-2', 'node-3')).toEqual([false, false]);
  });

  it('interval and multiplier: the larger of the two nodes, the same on both ends', () => {
    const withDefaults: MeshSettings = { ...mesh, defaults: { ...defaults, bfd: { enabled: true, interval: 300, multiplier: 3 } } };
    const nodes = [
      n(1, { annotations: { 'routelet.io/bfd-interval': '1000' } }),
      n(2, { annotations: { 'routelet.io/bfd-interval': '100', 'routelet.io/bfd-multiplier': '5' } }),
      n(3),
    ];
    const plans = new Map(nodes.map((x) => [x.name, desiredPeers({ self: x.name, nodes, settings: withDefaults })]));
    const between = (a: string, b: string) => {
      const p = plans.get(a)!.peers.find((q) => q.nodeName === b && q.family === 4)!;
      return [p.bfd, p.bfdInterval, p.bfdMultiplier];
    };
    expect(between('node-1', 'node-2')).toEqual([undefined, 1000, 5]);
    expect(between('node-2', 'node-1')).toEqual([undefined, 1000, 5]);
    // 100 asked by node-2, 300 (the default) by node-3: 300, as RFC 5880 negotiation would give
    expect(between('node-2', 'node-3')).toEqual([undefined, 300, 5]);
    expect(between('node-3', 'node-2')).toEqual([undefined, 300, 5]);
    expect(between('node-1', 'node-3')).toEqual([undefined, 1000, undefined]);
  });

  it('the same rule in the reflector topology', () => {
    const rr: MeshSettings = { ...mesh, reflectors: { mode: 'selector', selector: parseSelector('rr=yes')! } };
    const nodes = [n(1, { labels: { rr: 'yes' } }), n(2, { annotations: { 'routelet.io/bfd': 'false' } }), n(3)];
    expect(desiredPeers({ self: 'node-2', nodes, settings: rr }).peers.map((p) => [p.nodeName, p.origin, p.bfd])).toEqual([
      ['node-1', 'reflector', false],
      ['node-1', 'reflector', false],
    ]);
    expect(desiredPeers({ self: 'node-1', nodes, settings: rr }).peers.map((p) => [p.nodeName, p.bfd])).toEqual([
      ['node-2', false],
      ['node-3', undefined],
      ['node-2', false],
      ['node-3', undefined],
    ]);
  });

  it('malformed BFD annotations are ignored with a problem each, naming the annotation', () => {
    const nodes = [n(1, { annotations: { 'routelet.io/bfd': 'yes', 'routelet.io/bfd-interval': '5', 'routelet.io/bfd-multiplier': '3x' } }), n(2)];
    const d = desiredPeers({ self: 'node-1', nodes, settings: mesh });
    expect(d.problems).toEqual([
      'node node-1: routelet.io/bfd="yes" ignored: expected "true" or "false"',
      'node node-1: routelet.io/bfd-interval="5" ignored: expected milliseconds, 10–60000',
      'node node-1: routelet.io/bfd-multiplier="3x" ignored: expected a number 1–255',
    ]);
    expect(d.peers.every((p) => p.bfd === undefined && p.bfdInterval === undefined && p.bfdMultiplier === undefined)).toBe(true);
  });

  it('routelet.io/peers entries take bfd, bfdInterval and bfdMultiplier; a secret (password, bfdAuth) refuses the annotation', () => {
    const tor = JSON.stringify([{ address: '192.0.2.1', asn: 65001, bfd: true, bfdInterval: 100, bfdMultiplier: 4 }, { address: '192.0.2.2', asn: 65001, bfd: false }]);
    const d = desiredPeers({ self: 'node-1', nodes: [n(1, { annotations: { 'routelet.io/peers': tor } }), n(2)], settings: mesh });
    expect(d.peers.find((p) => p.address === '192.0.2.1')).toMatchObject({ bfd: true, bfdInterval: 100, bfdMultiplier: 4 });
    const two = d.peers.find((p) => p.address === '192.0.2.2')!;
    expect([two.bfd, 'bfdInterval' in two]).toEqual([false, false]);
    for (const bad of [
      { address: '192.0.2.1', asn: 65001, bfdInterval: 5 },
      { address: '192.0.2.1', asn: 65001, bfdAuth: { type: 'keyed-sha1', keyId: 1, password: 'x' } },
      { address: '192.0.2.1', asn: 65001, password: 'x' },
    ]) {
      const r = desiredPeers({ self: 'node-1', nodes: [n(1, { annotations: { 'routelet.io/peers': JSON.stringify([bad]) } }), n(2)], settings: mesh });
      expect(r.peers.some((p) => p.address === '192.0.2.1')).toBe(false);
      expect(r.problems.join()).toMatch(/routelet\.io\/peers ignored: peers\[0/);
    }
  });
});
