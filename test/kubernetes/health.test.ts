// nodeHealth from the Lease and the Ready condition.
import { describe, expect, it } from 'vitest';
import { makeLease, makeNode, microTime } from '../../bench/kube-apiserver.js';
import { leaseInfo, nodeInfo } from '../../src/kubernetes/objects.js';
import { nextHealthChange, nodeHealth } from '../../src/kubernetes/health.js';

const now = Date.parse('2026-12-04T12:00:00.000Z');
const node = (ready?: 'True' | 'False' | 'Unknown') => makeNode({ name: 'n1', internalIPs: ['10.0.0.1'], ready });
const lease = (agoMs: number, duration = 40) => leaseInfo(makeLease(node(), new Date(now - agoMs), duration));

describe('nodeHealth', () => {
  it('alive: Ready and the Lease renewed within its duration plus the grace', () => {
    const v = nodeHealth(nodeInfo(node()), lease(10_000), now, 5_000);
    expect(v.health).toBe('alive');
    expect(v.reason).toMatch(/renewed 10\.0 s ago/);
    expect(v.until).toBe(now - 10_000 + 45_000);
  });

  it('dead: the Lease expired (duration + grace), even while Ready still says True', () => {
    expect(nodeHealth(nodeInfo(node()), lease(44_999), now, 5_000).health).toBe('alive');
    const v = nodeHealth(nodeInfo(node()), lease(45_000), now, 5_000);
    expect(v.health).toBe('dead');
    expect(v.reason).toMatch(/not renewed for 45\.0 s/);
  });

  it('dead: Ready False or Unknown, whatever the Lease', () => {
    expect(nodeHealth(nodeInfo(node('False')), lease(1000), now).health).toBe('dead');
    const v = nodeHealth(nodeInfo(node('Unknown')), lease(1000), now);
    expect(v).toMatchObject({ health: 'dead' });
    expect(v.reason).toMatch(/Unknown/);
  });

  it('dead: the Node is being deleted', () => {
    const raw = node();
    raw.metadata.deletionTimestamp = '2026-12-04T11:59:00Z';
    expect(nodeHealth(nodeInfo(raw), lease(1000), now).health).toBe('dead');
  });

  it('unknown: no Node, no Lease', () => {
    expect(nodeHealth(undefined, lease(0), now).health).toBe('unknown');
    expect(nodeHealth(nodeInfo(node()), undefined, now)).toMatchObject({ health: 'unknown', reason: 'no Lease in kube-node-lease' });
  });

  it('renewTime in MicroTime and as a Date (the client deserializes lists) read the same', () => {
    const raw = makeLease(node(), new Date(now - 1234));
    expect(raw.spec.renewTime).toBe(microTime(new Date(now - 1234)));
    expect(raw.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const asDate = { ...raw, spec: { ...raw.spec, renewTime: new Date(now - 1234) } };
    expect(leaseInfo(asDate).renewTime).toBe(leaseInfo(raw).renewTime);
    expect(leaseInfo(raw).renewTime).toBe(now - 1234);
  });

  it('nextHealthChange: the earliest Lease expiry among the nodes', () => {
    const a = nodeInfo(makeNode({ name: 'a' }));
    const b = nodeInfo(makeNode({ name: 'b' }));
    const leases = new Map([
      ['a', leaseInfo(makeLease(makeNode({ name: 'a' }), new Date(now - 30_000)))],
      ['b', leaseInfo(makeLease(makeNode({ name: 'b' }), new Date(now - 5_000)))],
    ]);
    expect(nextHealthChange([a, b], leases, now, 2_000)).toBe(now - 30_000 + 42_000);
  });
});
