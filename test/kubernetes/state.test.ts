// The on-node cache: written atomically, read back at a start with the API unreachable.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeNode } from '../../bench/kube-apiserver.js';
import { nodeInfo } from '../../src/kubernetes/objects.js';
import { desiredPeers, type MeshSettings } from '../../src/kubernetes/peers.js';
import { readState, writeState, STATE_FILE } from '../../src/kubernetes/state.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'routelet-kstate-'));
  dirs.push(d);
  return join(d, 'state');
};

const settings: MeshSettings = {
  asn: 64512,
  defaults: { port: 179, password: 'pw', holdTime: 90, keepaliveTime: 30, tcpUserTimeout: 0, gracefulRestart: true },
  reflectors: { mode: 'mesh' },
};
const nodes = [1, 2, 3].map((i) =>
  nodeInfo(makeNode({ name: `node-${i}`, internalIPs: [`10.0.0.${i}`, `fd00::${i}`], podCIDRs: [`10.244.${i}.0/24`, `fd00:244:${i}::/64`], annotations: i === 1 ? { 'routelet.io/peers': '[{"address":"192.0.2.1","asn":65001,"description":"ToR"}]' } : {} })),
);

describe('the state file', () => {
  it('round trip: the same peers and pod CIDRs, the password not on disk but put back', () => {
    const dir = tmp();
    const d = desiredPeers({ self: 'node-1', nodes, settings });
    writeState(dir, { nodeName: 'node-1', writtenAt: 1234, asn: d.asn, peers: d.peers, podCIDRs: d.podCIDRs });
    const text = readFileSync(join(dir, STATE_FILE), 'utf8');
    expect(text).not.toContain('pw');
    expect(statSync(join(dir, STATE_FILE)).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
    const r = readState(dir, 'node-1', 'pw');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.state.peers).toEqual(d.peers);
    expect(r.state.podCIDRs).toEqual(['10.244.1.0/24', 'fd00:244:1::/64']);
    expect(r.state.asn).toBe(64512);
  });

  it('round trip of BFD options from annotations: a restart from the file keeps them', () => {
    const dir = tmp();
    const annotated = [
      nodeInfo(makeNode({ name: 'node-1', internalIPs: ['10.0.0.1'], annotations: { 'routelet.io/bfd-interval': '1000', 'routelet.io/peers': '[{"address":"192.0.2.1","asn":65001,"bfd":false}]' } })),
      nodeInfo(makeNode({ name: 'node-2', internalIPs: ['10.0.0.2'], annotations: { 'routelet.io/bfd': 'false' } })),
      nodeInfo(makeNode({ name: 'node-3', internalIPs: ['10.0.0.3'], annotations: { 'routelet.io/bfd-multiplier': '5' } })),
    ];
    const d = desiredPeers({ self: 'node-1', nodes: annotated, settings });
    expect(d.peers.map((p) => [p.address, p.bfd, p.bfdInterval, p.bfdMultiplier])).toEqual([
      ['10.0.0.2', false, 1000, undefined],
      ['10.0.0.3', undefined, 1000, 5],
      ['192.0.2.1', false, undefined, undefined],
    ]);
    writeState(dir, { nodeName: 'node-1', writtenAt: 1, asn: d.asn, peers: d.peers, podCIDRs: d.podCIDRs });
    const r = readState(dir, 'node-1', 'pw');
    expect(r.ok && r.state.peers).toEqual(d.peers);
  });

  it('a peers-file peer with bfdAuth: its key is not on disk', () => {
    const dir = tmp();
    const filePeer = {
      address: '192.0.2.9', family: 4 as const, port: 179, asn: 65002, ibgp: false, password: 'tcp-md5-key', holdTime: 90, keepaliveTime: undefined, tcpUserTimeout: 0,
      passive: false, routeReflectorClient: false, ttlSecurity: 0, multihop: 0, gracefulRestart: true, maxPrefixes: undefined, description: 'ToR',
      bfdAuth: { type: 'keyed-sha1' as const, keyId: 5, key: 'bfd-secret-key' },
    };
    const d = desiredPeers({ self: 'node-1', nodes, settings: { ...settings, filePeers: [{ peer: filePeer, nodeSelector: undefined }] } });
    expect(d.peers.find((p) => p.address === '192.0.2.9')?.bfdAuth).toEqual(filePeer.bfdAuth);
    writeState(dir, { nodeName: 'node-1', writtenAt: 1, asn: d.asn, peers: d.peers, podCIDRs: d.podCIDRs });
    const text = readFileSync(join(dir, STATE_FILE), 'utf8');
    expect(text).toContain('192.0.2.9');
    expect(text).not.toContain('bfd-secret-key');
    expect(text).not.toContain('bfdAuth');
    expect(text).not.toContain('tcp-md5-key');
  });

  it('replaced whole: a second write leaves only the new content', () => {
    const dir = tmp();
    const d = desiredPeers({ self: 'node-1', nodes, settings });
    writeState(dir, { nodeName: 'node-1', writtenAt: 1, asn: d.asn, peers: d.peers, podCIDRs: d.podCIDRs });
    const fewer = desiredPeers({ self: 'node-1', nodes: nodes.slice(0, 2), settings });
    writeState(dir, { nodeName: 'node-1', writtenAt: 2, asn: fewer.asn, peers: fewer.peers, podCIDRs: fewer.podCIDRs });
    const r = readState(dir, 'node-1', 'pw');
    expect(r.ok && r.state.peers.length).toBe(fewer.peers.length);
    expect(r.ok && r.state.writtenAt).toBe(2);
  });

  it('missing, malformed or another node\'s file: a reason, no exception', () => {
    const dir = tmp();
    expect(readState(dir, 'node-1', undefined)).toMatchObject({ ok: false, reason: expect.stringMatching(/no state file/) });
    writeState(dir, { nodeName: 'node-2', writtenAt: 1, asn: 1, peers: [], podCIDRs: [] });
    expect(readState(dir, 'node-1', undefined)).toMatchObject({ ok: false, reason: expect.stringMatching(/node-2/) });
    writeFileSync(join(dir, STATE_FILE), '{"version":1,');
    expect(readState(dir, 'node-1', undefined)).toMatchObject({ ok: false, reason: expect.stringMatching(/not JSON/) });
    writeFileSync(join(dir, STATE_FILE), '{"version":1,"nodeName":"node-1","writtenAt":1,"asn":1,"podCIDRs":[],"peers":[{"address":"x"}]}');
    expect(readState(dir, 'node-1', undefined)).toMatchObject({ ok: false, reason: expect.stringMatching(/malformed at peers\.0/) });
  });
});

describe('the client library stays off the start path', () => {
  it('no module of src/kubernetes imports @kubernetes/client-node but as types, except the dynamic import in KubeWatcher.start', () => {
    const src = join(import.meta.dirname, '../../src/kubernetes');
    for (const f of readdirSync(src).filter((x) => x.endsWith('.ts'))) {
      const text = readFileSync(join(src, f), 'utf8');
      const staticImports = text.match(/^import\s+(?!type\b)[^;]*['"]@kubernetes\/client-node['"]/gm) ?? [];
      expect(staticImports, f).toEqual([]);
      const dynamic = text.match(/await import\(\s*['"]@kubernetes\/client-node['"]\s*\)/g) ?? [];
      expect(dynamic.length, f).toBe(f === 'watcher.ts' ? 1 : 0);
    }
  });
});
