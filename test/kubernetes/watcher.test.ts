// The watcher with the real @kubernetes/client-node against the stand-in API server.
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApiServer, type NodeInput } from '../../bench/kube-apiserver.js';
import { KubeWatcher, type ChangeMarks } from '../../src/kubernetes/watcher.js';
import { desiredPeers, type MeshSettings } from '../../src/kubernetes/peers.js';
import { nodeHealth } from '../../src/kubernetes/health.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const settings: MeshSettings = {
  asn: 64512,
  defaults: { port: 179, password: undefined, holdTime: 90, keepaliveTime: undefined, tcpUserTimeout: 0, gracefulRestart: true },
  reflectors: { mode: 'mesh' },
};

function node(i: number, extra: Partial<NodeInput> = {}): NodeInput {
  return { name: `node-${i}`, internalIPs: [`10.0.0.${i}`, `fd00::${i}`], podCIDRs: [`10.244.${i}.0/24`, `fd00:244:${i}::/64`], zone: `z${i % 3}`, ...extra };
}

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: { nodes?: number; pageSize?: number; server?: ConstructorParameters<typeof KubeApiServer>[0] } = {}) {
  const server = new KubeApiServer(opts.server);
  await server.start();
  cleanups.push(() => server.stop());
  for (let i = 1; i <= (opts.nodes ?? 0); i++) server.addNode(node(i));
  const marks: ChangeMarks[] = [];
  const watcher = new KubeWatcher({
    source: { kind: 'options', options: server.kubeconfig() },
    onChange: (m) => marks.push(m),
    debounceMs: 50,
    backoff: { initialMs: 50, maxMs: 400 },
    pageSize: opts.pageSize ?? 500,
  });
  cleanups.push(() => watcher.stop());
  await watcher.start();
  await watcher.whenSynced();
  return { server, watcher, marks };
}

const watchesOf = (server: KubeApiServer, path: string) => server.requests.filter((r) => r.url.startsWith(path) && r.url.includes('watch=true'));
const listsOf = (server: KubeApiServer, path: string) => server.requests.filter((r) => r.url.startsWith(path) && !r.url.includes('watch='));

describe('KubeWatcher against the stand-in API server', () => {
  it('lists in pages of one snapshot, then watches from its resourceVersion with bookmarks', async () => {
    const { server, watcher } = await setup({ nodes: 7, pageSize: 3 });
    expect([...watcher.nodes.keys()].sort()).toEqual([1, 2, 3, 4, 5, 6, 7].map((i) => `node-${i}`));
    expect(watcher.leases.size).toBe(7);
    const lists = listsOf(server, '/api/v1/nodes');
    expect(lists).toHaveLength(3); // 3 + 3 + 1
    expect(lists.every((r) => r.url.includes('limit=3'))).toBe(true);
    expect(lists.filter((r) => r.url.includes('continue=')).length).toBe(2);
    await waitFor('node watch', () => watchesOf(server, '/api/v1/nodes').length === 1);
    const w = new URL(watchesOf(server, '/api/v1/nodes')[0]!.url, 'http://x').searchParams;
    expect(w.get('allowWatchBookmarks')).toBe('true');
    expect(w.get('resourceVersion')).toBe(server.resourceVersion);
    const n3 = watcher.nodes.get('node-3')!;
    expect(n3.internalIPv4).toBe('10.0.0.3');
    expect(n3.internalIPv6).toBe('fd00::3');
    expect(n3.podCIDRs).toEqual(['10.244.3.0/24', 'fd00:244:3::/64']);
    expect(n3.ready).toBe('True');
    expect(watcher.leases.get('node-3')!.leaseDurationSeconds).toBe(40);
    expect(typeof watcher.leases.get('node-3')!.renewTime).toBe('number');
  });

  it('added, changed and deleted Nodes reach the cache; a burst marks once', async () => {
    const { server, watcher, marks } = await setup({ nodes: 2 });
    await waitFor('watches', () => server.watchCount === 2);
    await new Promise((r) => setTimeout(r, 100));
    marks.length = 0;
    for (let i = 3; i <= 7; i++) server.addNode(node(i), { lease: false });
    await waitFor('5 nodes added', () => watcher.nodes.size === 7);
    await new Promise((r) => setTimeout(r, 150));
    expect(marks).toEqual([{ nodes: true, leases: false }]);
    server.updateNode('node-4', (n) => {
      n.metadata.labels['routelet.io/role'] = 'edge';
    });
    await waitFor('label change', () => watcher.nodes.get('node-4')!.labels['routelet.io/role'] === 'edge');
    server.renewLease('node-1');
    await waitFor('lease renewal', () => marks.some((m) => m.leases));
    server.deleteNode('node-2');
    await waitFor('node-2 deleted', () => !watcher.nodes.has('node-2') && !watcher.leases.has('node-2'));
    expect(watcher.nodes.size).toBe(6);
  });

  it('a dropped watch reconnects from its resourceVersion without a relist', async () => {
    const { server, watcher } = await setup({ nodes: 3 });
    await waitFor('watches', () => server.watchCount === 2);
    const listsBefore = watcher.status().nodes.lists;
    const rv = server.resourceVersion;
    server.dropWatches();
    server.addNode(node(9));
    await waitFor('node-9 after the drop', () => watcher.nodes.has('node-9'));
    expect(watcher.status().nodes.lists).toBe(listsBefore);
    const watches = watchesOf(server, '/api/v1/nodes');
    expect(watches.length).toBeGreaterThanOrEqual(2);
    expect(new URL(watches[1]!.url, 'http://x').searchParams.get('resourceVersion')).toBe(rv);
  });

  for (const watchGone of ['event', 'status'] as const) {
    it(`410 Gone (${watchGone === 'event' ? 'ERROR event' : 'HTTP 410'}) relists; an unchanged cluster changes no desired peer`, async () => {
      const { server, watcher, marks } = await setup({ nodes: 4, server: { watchGone } });
      await waitFor('watches', () => server.watchCount === 2);
      const before = desiredPeers({ self: 'node-1', nodes: watcher.nodes.values(), settings });
      expect(before.peers).toHaveLength(6);
      await new Promise((r) => setTimeout(r, 100));
      marks.length = 0;
      const lists = watcher.status().nodes.lists;
      server.renewLease('node-2'); // the history moves past the watchers' resourceVersion
      server.compact();
      server.dropWatches();
      await waitFor('relist', () => watcher.status().nodes.lists === lists + 1 && server.watchCount === 2);
      await new Promise((r) => setTimeout(r, 150));
      expect(desiredPeers({ self: 'node-1', nodes: watcher.nodes.values(), settings })).toEqual(before);
      expect(marks.some((m) => m.nodes)).toBe(false);
      // and the watch goes on from the relist
      server.deleteNode('node-4');
      await waitFor('node-4 deleted', () => !watcher.nodes.has('node-4'));
    });
  }

  it('bookmarks advance the resourceVersion: a compaction after one needs no relist', async () => {
    const { server, watcher } = await setup({ nodes: 2 });
    await waitFor('watches', () => server.watchCount === 2);
    const nodeRv = watcher.status().nodes.resourceVersion;
    for (let i = 0; i < 5; i++) server.renewLease('node-1'); // leases move the shared revision, nodes do not
    await waitFor('lease rv', () => watcher.status().leases.resourceVersion === server.resourceVersion);
    expect(watcher.status().nodes.resourceVersion).toBe(nodeRv);
    server.bookmark();
    await waitFor('bookmark', () => watcher.status().nodes.resourceVersion === server.resourceVersion);
    const lists = watcher.status().nodes.lists;
    server.compact();
    server.dropWatches();
    await waitFor('rewatch', () => watchesOf(server, '/api/v1/nodes').length >= 2 && server.watchCount === 2);
    server.addNode(node(5));
    await waitFor('node-5', () => watcher.nodes.has('node-5'));
    expect(watcher.status().nodes.lists).toBe(lists);
  });

  it('the API server down: retries with backoff, then catches up', async () => {
    const { server, watcher } = await setup({ nodes: 2 });
    await waitFor('watches', () => server.watchCount === 2);
    await server.stop();
    await waitFor('errors counted', () => watcher.status().nodes.errors >= 2);
    server.addNode(node(3));
    await server.start();
    await waitFor('node-3 after the restart', () => watcher.nodes.has('node-3'));
    expect(watcher.nodes.size).toBe(3);
  });

  it('a continue token expired mid-list restarts the list from its first page', async () => {
    const server = new KubeApiServer();
    await server.start();
    cleanups.push(() => server.stop());
    for (let i = 1; i <= 6; i++) server.addNode(node(i));
    let expired = false;
    server.onListPage = (kind, page) => {
      if (kind === 'nodes' && page === 1 && !expired) {
        expired = true;
        server.renewLease('node-1');
        server.compact();
      }
    };
    const watcher = new KubeWatcher({ source: { kind: 'options', options: server.kubeconfig() }, onChange: () => {}, pageSize: 2, backoff: { initialMs: 50, maxMs: 400 } });
    cleanups.push(() => watcher.stop());
    await watcher.start();
    await watcher.whenSynced();
    expect(expired).toBe(true);
    expect(watcher.nodes.size).toBe(6);
    expect(listsOf(server, '/api/v1/nodes').length).toBe(5); // page 0, page 1 (410), pages 0, 1, 2
    expect(watcher.status().nodes).toMatchObject({ lists: 1, errors: 0 });
  });

  it('health evidence and pod CIDRs through the client: Lease renewals, Ready, spec.podCIDRs', async () => {
    const { server, watcher } = await setup({ nodes: 3 });
    await waitFor('watches', () => server.watchCount === 2);
    const health = (name: string) => nodeHealth(watcher.nodes.get(name), watcher.leases.get(name), Date.now(), 1000).health;
    expect(['node-1', 'node-2', 'node-3'].map(health)).toEqual(['alive', 'alive', 'alive']);
    server.renewLease('node-2', new Date(Date.now() - 60_000)); // its last renewal a minute old
    server.setReady('node-3', 'Unknown');
    await waitFor('node-2 dead', () => health('node-2') === 'dead');
    await waitFor('node-3 dead', () => health('node-3') === 'dead');
    expect(health('node-1')).toBe('alive');
    server.renewLease('node-2');
    await waitFor('node-2 alive again', () => health('node-2') === 'alive');
    server.updateNode('node-1', (n) => {
      n.spec.podCIDRs = ['10.245.1.0/24', 'fd00:245:1::/64'];
      n.spec.podCIDR = '10.245.1.0/24';
    });
    await waitFor('new pod CIDRs', () => desiredPeers({ self: 'node-1', nodes: watcher.nodes.values(), settings }).podCIDRs[0] === '10.245.1.0/24');
    expect(desiredPeers({ self: 'node-1', nodes: watcher.nodes.values(), settings }).podCIDRs).toEqual(['10.245.1.0/24', 'fd00:245:1::/64']);
  });

  it('automatic reflectors from what the client served (HTTPS, a kubeconfig file): every node agrees, a NotReady reflector is replaced everywhere', async () => {
    const server = new KubeApiServer({ tls: true });
    await server.start();
    cleanups.push(() => server.stop());
    const t0 = Date.now() - 3_600_000;
    for (let i = 1; i <= 6; i++) server.addNode(node(i, { readySince: new Date(t0 + i * 60_000) })); // zones z1 z2 z0 z1 z2 z0
    // a kubeconfig file, as KUBECONFIG would name it
    const dir = mkdtempSync(join(tmpdir(), 'routelet-kubeconfig-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'config'), server.kubeconfigFile());
    const watcher = new KubeWatcher({ source: { kind: 'file', path: join(dir, 'config') }, onChange: () => {}, debounceMs: 20 });
    cleanups.push(() => watcher.stop());
    await watcher.start();
    await watcher.whenSynced();
    await waitFor('watches', () => server.watchCount === 2);
    const auto: MeshSettings = { ...settings, reflectors: { mode: 'auto', count: 3 } };
    const views = () => [1, 2, 3, 4, 5, 6].map((i) => desiredPeers({ self: `node-${i}`, nodes: watcher.nodes.values(), settings: auto }));
    const first = views();
    expect(first[0]!.reflectors).toEqual(['node-1', 'node-2', 'node-3']); // one per zone, longest Ready
    for (const v of first) expect(v.reflectors).toEqual(first[0]!.reflectors);
    expect(first[3]!.role).toBe('client');
    expect(new Set(first[3]!.peers.map((p) => p.nodeName))).toEqual(new Set(['node-1', 'node-2', 'node-3']));
    server.setReady('node-2', 'False');
    await waitFor('node-2 NotReady', () => watcher.nodes.get('node-2')!.ready === 'False');
    const after = views();
    expect(after[0]!.reflectors).toEqual(['node-1', 'node-3', 'node-5']); // node-5: zone z2 like node-2
    for (const v of after) expect(v.reflectors).toEqual(after[0]!.reflectors);
    server.setReady('node-2', 'True');
    await waitFor('node-2 Ready', () => watcher.nodes.get('node-2')!.ready === 'True');
    expect(views()[0]!.reflectors).toEqual(['node-1', 'node-3', 'node-5']);
  });

  it('a Node deleted while the API was away and its history compacted: the relist after 410 removes it', async () => {
    const { server, watcher, marks } = await setup({ nodes: 4 });
    await waitFor('watches', () => server.watchCount === 2);
    await server.stop();
    server.deleteNode('node-3');
    server.compact();
    marks.length = 0;
    await server.start();
    await waitFor('node-3 gone', () => !watcher.nodes.has('node-3') && !watcher.leases.has('node-3'));
    expect(watcher.status().nodes.lists).toBe(2);
    await waitFor('marked', () => marks.some((m) => m.nodes));
    expect(desiredPeers({ self: 'node-1', nodes: watcher.nodes.values(), settings }).peers.map((p) => p.nodeName)).toEqual(['node-2', 'node-4', 'node-2', 'node-4']);
  });
});
