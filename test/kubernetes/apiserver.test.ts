// The stand-in API server serves what the API serves: its objects, lists, watch events and
// Status answers pass the Kubernetes schemas (kubernetes-models), with plain HTTP as a client.
import { afterEach, describe, expect, it } from 'vitest';
import { validate as validNode } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Node';
import { validate as validNodeList } from 'kubernetes-models/_schemas/IoK8sApiCoreV1NodeList';
import { validate as validLease } from 'kubernetes-models/_schemas/IoK8sApiCoordinationV1Lease';
import { validate as validLeaseList } from 'kubernetes-models/_schemas/IoK8sApiCoordinationV1LeaseList';
import { validate as validWatchEvent } from '@kubernetes-models/apimachinery/_schemas/IoK8sApimachineryPkgApisMetaV1WatchEvent';
import { validate as validStatus } from '@kubernetes-models/apimachinery/_schemas/IoK8sApimachineryPkgApisMetaV1Status';
import { KubeApiServer } from '../../bench/kube-apiserver.js';

type V = ((d: unknown) => boolean) & { errors?: unknown };
function ok(v: V, d: unknown): void {
  const good = v(d);
  expect(good ? [] : v.errors).toEqual([]);
}

const servers: KubeApiServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});
async function server(opts?: ConstructorParameters<typeof KubeApiServer>[0]) {
  const s = new KubeApiServer(opts);
  await s.start();
  servers.push(s);
  for (let i = 1; i <= 5; i++) s.addNode({ name: `n${i}`, internalIPs: [`10.0.0.${i}`, `fd00::${i}`], podCIDRs: [`10.244.${i}.0/24`, `fd00:244:${i}::/64`], zone: 'a' });
  return s;
}
const auth = { headers: { authorization: 'Bearer stand-in-token' } };
const NODES = '/api/v1/nodes';
const LEASES = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases';

/** Read a watch stream's lines until `count` events or the end. */
async function events(url: string, count: number, during?: () => void): Promise<{ status: number; events: any[] }> {
  const ac = new AbortController();
  const res = await fetch(url, { ...auth, signal: ac.signal });
  const out: any[] = [];
  if (res.status !== 200) return { status: res.status, events: [await res.json()] };
  const reader = res.body!.getReader();
  let buf = '';
  during?.();
  while (out.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += Buffer.from(value).toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      out.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  }
  ac.abort();
  return { status: res.status, events: out };
}

describe('stand-in kube-apiserver', () => {
  it('Nodes and Leases pass the schemas; list items carry no kind, as the API serves them', async () => {
    const s = await server();
    ok(validNode, s.node('n1'));
    ok(validLease, s.lease('n1'));
    const list = await (await fetch(`${s.url}${NODES}`, auth)).json();
    // kubernetes-models' list schemas require kind and apiVersion on items, which the API leaves
    // out of list items: the envelope is checked alone, each item with its type restored
    ok(validNodeList, { ...list, items: [] });
    for (const item of list.items) ok(validNode, { kind: 'Node', apiVersion: 'v1', ...item });
    expect(list.kind).toBe('NodeList');
    expect(list.items).toHaveLength(5);
    expect(list.items[0].kind).toBeUndefined();
    expect(list.items[0].spec.podCIDRs).toEqual(['10.244.1.0/24', 'fd00:244:1::/64']);
    expect(list.items[0].spec.podCIDR).toBe('10.244.1.0/24');
    const leases = await (await fetch(`${s.url}${LEASES}`, auth)).json();
    ok(validLeaseList, { ...leases, items: [] });
    for (const item of leases.items) ok(validLease, { kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', ...item });
    expect(leases.items[0].kind).toBeUndefined();
    expect(leases.items[0].spec.renewTime).toMatch(/\.\d{6}Z$/);
  });

  it('chunks: limit and continue walk one snapshot; an expired token is 410 Expired', async () => {
    const s = await server();
    const p1 = await (await fetch(`${s.url}${NODES}?limit=2`, auth)).json();
    expect(p1.items.map((n: any) => n.metadata.name)).toEqual(['n1', 'n2']);
    expect(p1.metadata.remainingItemCount).toBe(3);
    s.addNode({ name: 'n0' }); // after the snapshot: not in its pages
    const p2 = await (await fetch(`${s.url}${NODES}?limit=2&continue=${encodeURIComponent(p1.metadata.continue)}`, auth)).json();
    expect(p2.items.map((n: any) => n.metadata.name)).toEqual(['n3', 'n4']);
    expect(p2.metadata.resourceVersion).toBe(p1.metadata.resourceVersion);
    s.compact();
    const r = await fetch(`${s.url}${NODES}?limit=2&continue=${encodeURIComponent(p2.metadata.continue)}`, auth);
    expect(r.status).toBe(410);
    const st = await r.json();
    ok(validStatus, st);
    expect(st).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
  });

  it('watch: ADDED/MODIFIED/DELETED from a resourceVersion, BOOKMARK when allowed, each a WatchEvent', async () => {
    const s = await server();
    const rv = s.resourceVersion;
    const got = await events(`${s.url}${NODES}?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`, 4, () => {
      s.addNode({ name: 'n6' }, { lease: false });
      s.setReady('n2', 'False');
      s.deleteNode('n3');
      s.bookmark();
    });
    expect(got.events.map((e) => [e.type, e.object.metadata.name])).toEqual([
      ['ADDED', 'n6'],
      ['MODIFIED', 'n2'],
      ['DELETED', 'n3'],
      ['BOOKMARK', undefined],
    ]);
    for (const e of got.events) ok(validWatchEvent, e);
    for (const e of got.events.slice(0, 3)) ok(validNode, e.object);
    expect(Number(got.events[3].object.metadata.resourceVersion)).toBe(Number(s.resourceVersion));
    expect(got.events[3].object.kind).toBe('Node');
  });

  it('watch from a compacted resourceVersion: an ERROR event with a 410 Status, or a 410 answer', async () => {
    for (const watchGone of ['event', 'status'] as const) {
      const s = await server({ watchGone });
      const rv = s.resourceVersion;
      s.renewLease('n1');
      s.compact();
      const got = await events(`${s.url}${NODES}?watch=true&resourceVersion=${rv}`, 1);
      const st = watchGone === 'event' ? (expect(got.events[0].type).toBe('ERROR'), got.events[0].object) : got.events[0];
      expect(got.status).toBe(watchGone === 'event' ? 200 : 410);
      ok(validStatus, st);
      expect(st.code).toBe(410);
    }
  });
});
