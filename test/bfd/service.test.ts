// BfdService against a second BfdService, in two namespaces: slow start, the transmit rate,
// multihop (UDP 4784) between loopback addresses, the single-hop TTL check (RFC 5881 §5), a
// removed or closed session tells the peer AdminDown (no failure there), and errors in Node's
// shape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BfdService, bfdPacketCodec } from '../../src/native/bfd.js';
import { waitFor } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireRoot } from '../support/privileges.js';
import { EventLog, sleep } from './support.js';

const A4 = '10.9.3.1';
const B4 = '10.9.3.2';
const STRANGER = '10.9.3.3';
const LA = '10.255.3.1';
const LB = '10.255.3.2';
// IPv6 on the link, where B never opens a BFD socket: nothing listens on b's UDP 3784
const A6 = 'fd00:93::1';
const B6 = 'fd00:93::2';
const t = { desiredMinTxMs: 300, requiredMinRxMs: 300, multiplier: 3 };

describe('BfdService with itself', () => {
  let a: Netns;
  let b: Netns;
  let A: BfdService;
  let B: BfdService;
  const logA = new EventLog();
  const logB = new EventLog();

  beforeAll(() => {
    requireRoot();
    a = new Netns('bfdsa');
    b = new Netns('bfdsb');
    const { aDev, bDev } = link(a, `${A4}/24`, b, [`${B4}/24`, `${STRANGER}/24`]);
    a.ip('-6', 'addr', 'add', `${A6}/64`, 'dev', aDev, 'nodad');
    b.ip('-6', 'addr', 'add', `${B6}/64`, 'dev', bDev, 'nodad');
    a.ip('addr', 'add', `${LA}/32`, 'dev', 'lo');
    b.ip('addr', 'add', `${LB}/32`, 'dev', 'lo');
    a.ip('route', 'add', `${LB}/32`, 'via', B4);
    b.ip('route', 'add', `${LA}/32`, 'via', A4);
    A = new BfdService({ netns: a.name, onEvents: logA.push });
    B = new BfdService({ netns: b.name, onEvents: logB.push });
  });

  afterAll(() => {
    A?.close();
    B?.close();
    a?.delete();
    b?.delete();
  });

  it('slow start: 1 s while not Up (§6.8.3), then the configured interval', async () => {
    const id = A.addSession({ peer: B4, ...t });
    expect(A.session(id)).toMatchObject({ state: 'down', advertisedMinTxMs: 1000, localDiscriminator: id, remoteDiscriminator: 0 });
    await sleep(2500);
    // one at once, then every 750–1000 ms
    const sent = A.session(id)!.txPackets;
    expect(sent).toBeGreaterThanOrEqual(3);
    expect(sent).toBeLessThanOrEqual(4);
    const idB = B.addSession({ peer: A4, ...t });
    await waitFor('Up', () => (A.session(id)?.state === 'up' && B.session(idB)?.state === 'up' ? true : undefined));
    expect(A.session(id)).toMatchObject({ advertisedMinTxMs: 300, txIntervalMs: 300, remoteDiscriminator: idB });
    await waitFor('poll done', () => (A.session(id)?.pollActive ? undefined : true));
    // 300 ms less 0–25 % jitter: 10 to 13.3 packets in 3 s (§6.8.7)
    const n0 = A.session(id)!.txPackets;
    await sleep(3000);
    const n = A.session(id)!.txPackets - n0;
    console.log(`packets sent in 3 s at 300 ms: ${n}`);
    expect(n).toBeGreaterThanOrEqual(9);
    expect(n).toBeLessThanOrEqual(14);
  });

  it('multihop sessions between loopback addresses come Up on UDP 4784', async () => {
    const ma = A.addSession({ peer: LB, local: LA, multihop: true, ...t });
    const mb = B.addSession({ peer: LA, local: LB, multihop: true, ...t });
    await waitFor('multihop Up', () => (A.session(ma)?.state === 'up' && B.session(mb)?.state === 'up' ? true : undefined));
    expect(A.session(ma)).toMatchObject({ multihop: true, local: LA, remoteDiscriminator: mb });
    expect(a.exec('ss', ['-Hunl', 'sport', '=', ':4784'])).toMatch(/4784/);
  });

  it('meticulous keyed SHA1: Up with the same key, never with another', async () => {
    const auth = { type: 'meticulous-keyed-sha1' as const, keyId: 9, key: 'twenty-byte-secret!!' };
    const ma = A.addSession({ peer: LB, local: LA, ...t, auth });
    const mb = B.addSession({ peer: LA, local: LB, ...t, auth });
    await waitFor('Up', () => (A.session(ma)?.state === 'up' && B.session(mb)?.state === 'up' ? true : undefined));
    await sleep(1000);
    expect(A.session(ma)).toMatchObject({ auth: 'meticulous-keyed-sha1', rxAuthFailures: 0 });
    expect(A.session(ma)!.rxPackets).toBeGreaterThan(3);
    // B removes its session (A hears AdminDown) and comes back with another key: A drops its packets
    B.removeSession(mb);
    await waitFor('A Down', () => (A.session(ma)?.state === 'down' ? true : undefined), 5000, 50);
    const mb2 = B.addSession({ peer: LA, local: LB, ...t, auth: { ...auth, key: 'another-secret' } });
    await sleep(2500);
    expect(A.session(ma)!.state).not.toBe('up');
    expect(A.session(ma)!.rxAuthFailures).toBeGreaterThan(0);
    expect(B.session(mb2)!.rxAuthFailures).toBeGreaterThan(0);
    A.removeSession(ma);
    B.removeSession(mb2);
  });

  it('single-hop packets with a TTL other than 255 are dropped (RFC 5881 §5)', async () => {
    const pkt = bfdPacketCodec().encode({ state: 'down', detectMult: 3, myDisc: 0xabcdef, yourDisc: 0, desiredMinTxUs: 1_000_000, requiredMinRxUs: 300_000 });
    const send = (ttl: number): void => {
      const js = `const s=require('dgram').createSocket('udp4');s.bind({address:'${STRANGER}',port:49999},()=>{s.setTTL(${ttl});s.send(Buffer.from('${pkt.toString('hex')}','hex'),3784,'${A4}',()=>s.close());});`;
      b.exec(process.execPath, ['-e', js]);
    };
    // quiet first: the sessions the last test removed each sent a packet A has no session for
    // (its AdminDown), which A's thread may count a little later
    for (let last = A.stats().rxNoSession, since = Date.now(); Date.now() - since < 500; await sleep(50)) {
      const now = A.stats().rxNoSession;
      if (now !== last) [last, since] = [now, Date.now()];
    }
    const s0 = A.stats();
    send(64);
    await waitFor('the TTL 64 packet counted', () => (A.stats().rxBadTtl > s0.rxBadTtl ? true : undefined), 5000, 20);
    const s1 = A.stats();
    send(255);
    await waitFor('the TTL 255 packet counted', () => (A.stats().rxNoSession > s1.rxNoSession ? true : undefined), 5000, 20);
    await sleep(100);
    const s2 = A.stats();
    expect(s1.rxBadTtl - s0.rxBadTtl).toBe(1);
    expect(s1.rxNoSession - s0.rxNoSession).toBe(0);
    // the same packet at TTL 255 passes the check and is dropped only for want of a session
    expect(s2.rxBadTtl - s1.rxBadTtl).toBe(0);
    expect(s2.rxNoSession - s1.rxNoSession).toBe(1);
  });

  it('errors in Node shape: a duplicate session, an unknown interface, not an address', () => {
    let err: NodeJS.ErrnoException | undefined;
    try {
      A.addSession({ peer: B4, ...t });
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err?.code).toBe('EEXIST');
    try {
      A.addSession({ peer: '10.9.3.9', ifname: 'nosuchdev0', ...t });
      err = undefined;
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err?.code).toBe('ENODEV');
    expect(err?.syscall).toBe('if_nametoindex');
    expect(() => A.addSession({ peer: 'nope', ...t })).toThrow(TypeError);
    expect(() => A.addSession({ peer: '10.9.3.9', ...t, multiplier: 0 })).toThrow(RangeError);
    expect(A.setTimers(12345, { desiredMinTxMs: 500 })).toBe(false);
  });

  // A session bound to a local address sends through a connected socket, which hears the
  // peer's ICMP errors: each would fail the next send, were it not sent again.
  it('a peer without BFD answers ICMP port unreachable: every packet still goes out, no send error', async () => {
    const noPorts = (): number => Number(/Udp6NoPorts\s+(\d+)/.exec(b.exec('cat', ['/proc/net/snmp6']))![1]);
    const n0 = noPorts();
    const id = A.addSession({ peer: B6, local: A6, ...t });
    try {
      await sleep(3500);
      const s = A.session(id)!;
      // one at once, then every 750–1000 ms (slow start): 4 or 5, each answered with an ICMP error
      expect(noPorts() - n0).toBeGreaterThanOrEqual(3);
      expect(s.txErrors).toBe(0);
      expect(s.lastTxError).toBeNull();
      expect(s.txPackets).toBeGreaterThanOrEqual(4);
    } finally {
      A.removeSession(id);
    }
  });

  it('a removed session tells its peer AdminDown: Down there, and no failure', async () => {
    const idA = A.sessions().find((s) => s.peer === B4 && !s.multihop)!.id;
    const idB = B.sessions().find((s) => s.peer === A4 && !s.multihop)!.id;
    const n = logB.of(idB).length;
    expect(A.removeSession(idA)).toBe(true);
    expect(A.removeSession(idA)).toBe(false);
    const e = await waitFor('B Down', () => logB.of(idB).slice(n)[0], 5000, 20);
    expect(e).toMatchObject({ from: 'up', to: 'down', diag: 3, remoteState: 'adminDown', remoteDiag: 7, failure: false });
  });

  it('close() tells every peer AdminDown', async () => {
    const mb = B.sessions().find((s) => s.multihop)!;
    expect(mb.state).toBe('up');
    const n = logB.of(mb.id).length;
    A.close();
    const e = await waitFor('B Down', () => logB.of(mb.id).slice(n)[0], 5000, 20);
    expect(e).toMatchObject({ to: 'down', remoteState: 'adminDown', failure: false });
    expect(() => A.addSession({ peer: B4, ...t })).toThrow(/closed/);
  });
});
