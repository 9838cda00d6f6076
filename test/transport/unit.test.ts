// Pure parts of the transport: TTL rules, the accept policy, peer identity, error words.
import { describe, expect, it } from 'vitest';
import { SOCKET_ERRORS, socketErrorText } from '../../src/bgp/transport/errors.js';
import { AcceptPolicy, minTtl, sendTtl, transportPolicy } from '../../src/bgp/transport/peers.js';
import { loadConfig } from '../../src/config/index.js';
import { parseCidr, peerIdentity } from '../../src/net/ip.js';
import { peer } from './support.js';

describe('TTL rules', () => {
  it('GTSM sends 255 and accepts 256 − hops; multihop N sends N; otherwise 1 for eBGP, 64 for iBGP', () => {
    expect(sendTtl({ ttlSecurity: 1, multihop: 5, ibgp: false })).toBe(255);
    expect(minTtl({ ttlSecurity: 1 })).toBe(255);
    expect(minTtl({ ttlSecurity: 3 })).toBe(253);
    expect(minTtl({ ttlSecurity: 0 })).toBe(0);
    expect(sendTtl({ ttlSecurity: 0, multihop: 5, ibgp: false })).toBe(5);
    expect(sendTtl({ ttlSecurity: 0, multihop: 0, ibgp: false })).toBe(1);
    expect(sendTtl({ ttlSecurity: 0, multihop: 0, ibgp: true })).toBe(64);
  });
});

describe('peer identity', () => {
  it('names an IPv4 peer of a dual-stack socket as IPv4, and IPv6 canonically', () => {
    expect(peerIdentity('::ffff:10.0.0.1')).toEqual({ family: 4, address: '10.0.0.1' });
    expect(peerIdentity('::FFFF:a00:1')).toEqual({ family: 4, address: '10.0.0.1' });
    expect(peerIdentity('10.0.0.1')).toEqual({ family: 4, address: '10.0.0.1' });
    expect(peerIdentity('FD00:0::0:1')).toEqual({ family: 6, address: 'fd00::1' });
    expect(peerIdentity('::1')).toEqual({ family: 6, address: '::1' });
    expect(peerIdentity('nope')).toBeUndefined();
  });
});

describe('AcceptPolicy', () => {
  const policy = new AcceptPolicy([peer('10.0.0.2'), peer('fd00::2')], { ranges: [parseCidr('10.1.0.0/16')!, parseCidr('fd01::/64')!], password: 'dyn', ibgp: true });
  it('configured peers by address, whichever form the socket gives', () => {
    expect(policy.classify('::ffff:10.0.0.2')).toMatchObject({ kind: 'configured', address: '10.0.0.2', family: 4 });
    expect(policy.classify('fd00:0::2')).toMatchObject({ kind: 'configured', address: 'fd00::2' });
  });
  it('dynamic neighbours from the listen ranges get the range password and iBGP TTL', () => {
    const c = policy.classify('::ffff:10.1.200.3');
    expect(c).toMatchObject({ kind: 'dynamic', address: '10.1.200.3', peer: { password: 'dyn', ttlSecurity: 0, ibgp: true } });
    expect(policy.classify('fd01::99')).toMatchObject({ kind: 'dynamic' });
  });
  it('everything else is refused, with the reason', () => {
    expect(policy.classify('10.2.0.1')).toMatchObject({ kind: 'refused', reason: expect.stringMatching(/outside the listen ranges 10\.1\.0\.0\/16, fd01::\/64/) });
    expect(new AcceptPolicy([], { ranges: [], password: undefined, ibgp: true }).classify('10.0.0.2')).toMatchObject({ kind: 'refused', reason: 'not a configured peer, and no listen range is set' });
  });
  it('is built from the configuration', () => {
    const { config } = loadConfig({ ROUTELET_ASN: '65000', ROUTELET_ROUTER_ID: '1.1.1.1', ROUTELET_PEERS: '10.0.0.2@65001', ROUTELET_LISTEN_RANGE: '10.9.0.0/16', ROUTELET_PASSWORD: 'pw', ROUTELET_TCP_USER_TIMEOUT: '400' });
    const t = transportPolicy(config);
    expect(t.dynamic).toEqual({ ranges: [parseCidr('10.9.0.0/16')], password: 'pw', ibgp: true, tcpUserTimeout: 400 });
    expect(new AcceptPolicy(t.peers, t.dynamic).classify('10.9.1.1')).toMatchObject({ kind: 'dynamic', peer: { tcpUserTimeout: 400 } });
    expect(new AcceptPolicy(t.peers, t.dynamic).classify('10.0.0.2')).toMatchObject({ kind: 'configured', peer: { password: 'pw', ibgp: false } });
  });
});

describe('socket errors in words', () => {
  it('every code the connect tests meet has words; unknown codes fall back to the message', () => {
    for (const c of ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'ENOMEM', 'EADDRNOTAVAIL']) expect(SOCKET_ERRORS[c], c).toBeTruthy();
    expect(socketErrorText({ code: 'ECONNREFUSED' })).toBe('ECONNREFUSED (connection refused: nothing listens on the BGP port)');
    expect(socketErrorText({ code: 'EWHAT', message: 'odd' })).toBe('EWHAT (odd)');
  });
});
