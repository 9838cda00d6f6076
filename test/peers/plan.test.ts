// The peer plan (src/peers/plan.ts), alone: old and new peer lists in, the peers to start,
// stop and restart out; and the settings a reload cannot change without a restart. Peers
// come from loadConfig, as SIGHUP gives them to the agent.
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config, type HostFacts, type PeerConfig } from '../../src/config/index.js';
import { BFD_OPTIONS, changedOptions, PEER_OPTIONS, peerKey, planPeers, planReload } from '../../src/peers/index.js';
import { dynamicPeerSettings } from '../../src/peers/index.js';

const host: HostFacts = {
  firstGlobalIPv4: () => '192.0.2.10',
  localAddresses: () => ['192.0.2.10', '127.0.0.1', '::1'],
  readFile: () => {
    throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
  },
};
const load = (env: Record<string, string>): Config => loadConfig({ ROUTELET_ASN: '65000', ...env }, host).config;
const peers = (spec: string, env: Record<string, string> = {}): readonly PeerConfig[] => load({ ROUTELET_PEERS: spec, ...env }).peers;
const addresses = (ps: readonly { address: string }[]) => ps.map((p) => p.address);

describe('planPeers', () => {
  it('the same peers: nothing to do', () => {
    const a = peers('10.0.0.2@65001,10.0.0.3@65002');
    expect(planPeers(a, peers('10.0.0.2@65001,10.0.0.3@65002'))).toEqual({ added: [], removed: [], changed: [], bfd: [] });
    expect(planPeers([], [])).toEqual({ added: [], removed: [], changed: [], bfd: [] });
  });

  it('added in the new order, removed in the old order; order alone changes nothing', () => {
    const plan = planPeers(peers('10.0.0.2@65001,10.0.0.3@65002,10.0.0.4@65003'), peers('10.0.0.6@65006,10.0.0.3@65002,10.0.0.5@65005'));
    expect(addresses(plan.added)).toEqual(['10.0.0.6', '10.0.0.5']);
    expect(addresses(plan.removed)).toEqual(['10.0.0.2', '10.0.0.4']);
    expect(plan.changed).toEqual([]);
    expect(planPeers(peers('10.0.0.2@65001,10.0.0.3@65002'), peers('10.0.0.3@65002,10.0.0.2@65001'))).toEqual({ added: [], removed: [], changed: [], bfd: [] });
  });

  it('a peer is its address: another port or AS is a change of that peer, another address a new peer', () => {
    const plan = planPeers(peers('10.0.0.2@65001,10.0.0.3@65002'), peers('10.0.0.2:1179@65001,10.0.0.9@65002'));
    expect(plan.changed.map((c) => [c.before.address, c.options])).toEqual([['10.0.0.2', ['port']]]);
    expect(plan.changed[0]!.after.port).toBe(1179);
    expect(addresses(plan.removed)).toEqual(['10.0.0.3']);
    expect(addresses(plan.added)).toEqual(['10.0.0.9']);
    expect(peerKey({ address: 'fd00::2' })).toBe('fd00::2');
  });

  it('every option that differs is named: AS (and with it iBGP), hold time, password', () => {
    const before = peers('10.0.0.2@65000,10.0.0.3@65003');
    const after = peers('10.0.0.2@65010,10.0.0.3@65003', { ROUTELET_HOLD_TIME: '30', ROUTELET_PASSWORD: 'secret' });
    const plan = planPeers(before, after);
    expect(plan.changed.map((c) => [c.after.address, c.options])).toEqual([
      ['10.0.0.2', ['asn', 'ibgp', 'password', 'holdTime']],
      ['10.0.0.3', ['password', 'holdTime']],
    ]);
  });

  it('changedOptions compares every option of PeerConfig but the address', () => {
    const [p] = peers('10.0.0.2@65001');
    const keys = Object.keys(p!).filter((k) => k !== 'address').sort();
    // the import options and the BFD authentication are present only when the peers file sets them
    const optional = ['allowDefault', 'allowLinkLocal', 'importPrefixes', 'bfdAuth'];
    expect([...PEER_OPTIONS, ...BFD_OPTIONS].filter((k) => !optional.includes(k)).sort()).toEqual(keys);
    for (const k of PEER_OPTIONS) {
      const q = { ...p!, [k]: typeof p![k] === 'number' ? (p![k] as number) + 1 : typeof p![k] === 'boolean' ? !p![k] : 'x' } as PeerConfig;
      expect(changedOptions(p!, q)).toEqual([k]);
    }
    expect(changedOptions(p!, { ...p! })).toEqual([]);
    // a list option compares by content: the same list read again is no change
    const withList = { ...p!, importPrefixes: ['10.64.0.0/10 le 26'] } as PeerConfig;
    expect(changedOptions(withList, { ...p!, importPrefixes: ['10.64.0.0/10 le 26'] } as PeerConfig)).toEqual([]);
    expect(changedOptions(withList, { ...p!, importPrefixes: ['10.64.0.0/10 le 24'] } as PeerConfig)).toEqual(['importPrefixes']);
  });
});

describe('BFD options', () => {
  it('a changed BFD option re-times or toggles the BFD session only: the BGP session is not restarted', () => {
    const before = peers('10.0.0.2@65001,10.0.0.3@65002');
    const after = peers('10.0.0.2@65001,10.0.0.3@65002', { ROUTELET_BFD_INTERVAL: '100' });
    const plan = planPeers(before, after);
    expect(plan.changed).toEqual([]);
    expect(plan.bfd.map((c) => [c.after.address, c.options, c.after.bfdInterval])).toEqual([
      ['10.0.0.2', ['bfdInterval'], 100],
      ['10.0.0.3', ['bfdInterval'], 100],
    ]);
    const off = planPeers(before, peers('10.0.0.2:1179@65001,10.0.0.3@65002', { ROUTELET_BFD: 'off' }));
    expect(off.changed.map((c) => [c.after.address, c.options])).toEqual([['10.0.0.2', ['port']]]);
    expect(off.bfd.map((c) => [c.after.address, c.options])).toEqual([
      ['10.0.0.2', ['bfd']],
      ['10.0.0.3', ['bfd']],
    ]);
  });
});

describe('BFD authentication', () => {
  it('a changed bfdAuth (type, key ID or key) is a BFD change only; the same one in a new object is no change', () => {
    const [p] = peers('10.0.0.2@65001');
    const auth = { type: 'keyed-sha1', keyId: 5, key: 'k1' } as const;
    const a = { ...p!, bfdAuth: auth } as PeerConfig;
    expect(planPeers([a], [{ ...p!, bfdAuth: { ...auth } } as PeerConfig])).toEqual({ added: [], removed: [], changed: [], bfd: [] });
    for (const next of [{ ...auth, key: 'k2' }, { ...auth, keyId: 6 }, { ...auth, type: 'meticulous-keyed-sha1' as const }, undefined]) {
      const plan = planPeers([a], [{ ...p!, bfdAuth: next } as PeerConfig]);
      expect(plan.changed).toEqual([]);
      expect(plan.bfd.map((c) => c.options)).toEqual([['bfdAuth']]);
    }
  });
});

describe('planReload', () => {
  it('names the settings that wait for the next start, and plans the peers', () => {
    const before = load({ ROUTELET_PEERS: '10.0.0.2@65001' });
    const after = load({ ROUTELET_PEERS: '10.0.0.3@65001', ROUTELET_HOLD_TIME: '30', ROUTELET_GR: 'off', ROUTELET_CONNECT_RETRY: '7' });
    const plan = planReload(before, after);
    expect(plan.needRestart).toEqual(['holdTime', 'gr']);
    expect(addresses(plan.peers.added)).toEqual(['10.0.0.3']);
    expect(addresses(plan.peers.removed)).toEqual(['10.0.0.2']);
    expect(planReload(before, load({ ROUTELET_PEERS: '10.0.0.2@65001' }))).toEqual({ peers: { added: [], removed: [], changed: [], bfd: [] }, needRestart: [] });
  });
});

describe('dynamicPeerSettings', () => {
  it('a neighbour from the listen range: passive, the listen AS, the agent-wide timers and password', () => {
    const c = load({ ROUTELET_LISTEN_RANGE: '10.1.0.0/16', ROUTELET_LISTEN_ASN: '65000', ROUTELET_RR_CLUSTER_ID: '1.1.1.1', ROUTELET_HOLD_TIME: '30', ROUTELET_PASSWORD: 'k' });
    const s = dynamicPeerSettings(c, { address: '10.1.2.3', family: 4 });
    expect(s).toMatchObject({ address: '10.1.2.3', family: 4, port: c.listen.port, asn: 65000, ibgp: true, passive: true, holdTime: 30, password: 'k', routeReflectorClient: true, ttlSecurity: 0, multihop: 0 });
    const e = dynamicPeerSettings(load({ ROUTELET_LISTEN_RANGE: '10.1.0.0/16', ROUTELET_LISTEN_ASN: '65009', ROUTELET_RR_CLUSTER_ID: '1.1.1.1' }), { address: '10.1.2.4', family: 4 });
    expect(e).toMatchObject({ asn: 65009, ibgp: false, routeReflectorClient: false });
  });
});
