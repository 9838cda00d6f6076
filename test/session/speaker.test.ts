// routelet agent against test peers built on the codec (TestSpeaker), each from its own
// address in a second namespace: OPEN errors get the right NOTIFICATION; malformed UPDATEs
// get a NOTIFICATION or are treated as withdrawals while the session stays up, and the agent
// never crashes; connection collision keeps exactly the connection RFC 4271 6.8 picks (and
// closes the other before answering its OPEN), in
// both orders of BGP identifiers; hold time 0 and hold timer expiry; dynamic neighbours in
// and outside the listen range; a peer removed from the configuration on SIGHUP gets
// Cease/Peer De-configured; lastError and /readyz name a refused connection.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeNotification, encodeOpen, type Message, type NotificationMessage } from '../../src/bgp/codec/index.js';
import { type AgentProcess, dumpAgentLogs, startAgent, stopAllAgents } from '../support/agent.js';
import { waitFor } from '../support/daemons.js';
import { Netns, link } from '../support/netns.js';
import { requireRoot } from '../support/privileges.js';
import { defaultCapabilities, holdPort, TestSpeaker } from '../support/speaker.js';

const ME = '10.0.0.1';
const PEER_AS = 65001;

let R: Netns;
let S: Netns;
let agent: AgentProcess | undefined;
let dir: string;
let peersFile: string;
const speakers: TestSpeaker[] = [];

const peersConfig = [
  { address: '10.0.0.2', asn: PEER_AS, passive: true }, // OPEN errors
  { address: '10.0.0.3', asn: PEER_AS, passive: true }, // malformed UPDATEs
  { address: '10.0.0.4', asn: PEER_AS }, // collision: the peer's identifier is higher
  { address: '10.0.0.5', asn: PEER_AS }, // collision: ours is higher
  { address: '10.0.0.6', asn: PEER_AS, passive: true }, // removed on SIGHUP
  { address: '10.0.0.7', asn: PEER_AS, passive: true, holdTime: 3 }, // hold timer expiry
  { address: '10.0.0.8', asn: PEER_AS, passive: true }, // hold time 0
  { address: '10.0.0.9', asn: PEER_AS }, // nothing listens: ECONNREFUSED
  { address: '10.0.0.10', asn: 65000, passive: true }, // iBGP: bad BGP identifier
  { address: '10.0.0.11', asn: PEER_AS, passive: true }, // GR: the peer restarts
  { address: '10.0.0.12', asn: PEER_AS }, // collision with a young established session
  { address: '10.0.0.13', asn: PEER_AS }, // collision with an older established session
  { address: '10.0.0.14', asn: PEER_AS }, // collision, the winner's OPEN first: the peer's identifier is higher
  { address: '10.0.0.15', asn: PEER_AS }, // collision, the winner's OPEN first: ours is higher
];

beforeAll(async () => {
  requireRoot();
  dir = mkdtempSync(join(tmpdir(), 'routelet-speaker-'));
  R = new Netns('spr');
  S = new Netns('sps');
  const sAddrs = ['10.0.0.2/24', ...[3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map((i) => `10.0.0.${i}/24`), '10.0.1.5/24', '10.0.1.6/24', '10.0.2.5/24'];
  link(R, ['10.0.0.1/24', '10.0.1.1/24', '10.0.2.1/24'], S, sAddrs);
  peersFile = join(dir, 'peers.yaml');
  writeFileSync(peersFile, JSON.stringify(peersConfig));
  agent = await startAgent(R, {
    ROUTELET_ASN: '65000',
    ROUTELET_ROUTER_ID: ME,
    ROUTELET_PEERS_FILE: peersFile,
    ROUTELET_LISTEN_RANGE: '10.0.1.0/24',
    ROUTELET_LISTEN_ASN: '65010',
    ROUTELET_CONNECT_RETRY: '1',
    ROUTELET_CONNECT_RETRY_MAX: '2',
    ROUTELET_GR_RESTART_TIME: '60',
  });
}, 60_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') dumpAgentLogs([agent]);
  await Promise.all(speakers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await stopAllAgents();
  R?.delete();
  S?.delete();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function speaker(localAddress: string, o: { asn?: number; routerId?: string; holdTime?: number; capabilities?: ReturnType<typeof defaultCapabilities> } = {}) {
  return TestSpeaker.connect({ host: ME, netns: S, localAddress, asn: o.asn ?? PEER_AS, routerId: o.routerId ?? localAddress, ...(o.holdTime !== undefined ? { holdTime: o.holdTime } : {}), ...(o.capabilities ? { capabilities: o.capabilities } : {}) }).then((s) => {
    speakers.push(s);
    return s;
  });
}

const isNotification = (m: Message): m is NotificationMessage => m.type === 'notification';

/** The NOTIFICATION routelet sends, then the connection closes. */
async function notificationFrom(s: TestSpeaker): Promise<NotificationMessage> {
  const n = (await s.next(isNotification, 10_000)) as NotificationMessage;
  await s.whenClosed(10_000);
  return n;
}

// ---- crafted messages

const u16 = (n: number) => [n >> 8, n & 255];
const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const ORIGIN = (v: number) => [0x40, 1, 1, v];
const AS_PATH = (...asns: number[]) => [0x40, 2, 2 + 4 * asns.length, 2, asns.length, ...asns.flatMap(u32)];
const NEXT_HOP = (ip: string) => [0x40, 3, 4, ...ip.split('.').map(Number)];
const LOCAL_PREF = (v: number) => [0x40, 5, 4, ...u32(v)];
const nlri = (p: string) => {
  const [a, l] = p.split('/');
  const len = Number(l);
  return [len, ...a!.split('.').map(Number).slice(0, Math.ceil(len / 8))];
};

function message(type: number, body: number[]): Buffer {
  return Buffer.from([...Array(16).fill(0xff), ...u16(19 + body.length), type, ...body]);
}

function update(attrs: number[][], announce: string[] = [], withdraw: string[] = []): Buffer {
  const w = withdraw.flatMap(nlri);
  const a = attrs.flat();
  return message(2, [...u16(w.length), ...w, ...u16(a.length), ...a, ...announce.flatMap(nlri)]);
}

const good = (nh: string) => [ORIGIN(0), AS_PATH(PEER_AS), NEXT_HOP(nh)];

async function routeOf(prefix: string) {
  return (await agent!.routes(prefix)).find((r) => r.prefix === prefix);
}

describe('OPEN errors get the right NOTIFICATION', () => {
  const open = (o: { asn?: number; holdTime?: number; routerId?: string } = {}) =>
    encodeOpen({ asn: o.asn ?? PEER_AS, holdTime: o.holdTime ?? 90, routerId: o.routerId ?? '10.0.0.2', capabilities: defaultCapabilities(o.asn ?? PEER_AS) });

  it('bad peer AS (2/2)', async () => {
    const s = await speaker('10.0.0.2', { asn: 65099 });
    s.sendOpen();
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([2, 2]);
    const p = await agent!.peer('10.0.0.2');
    expect(p!.lastError).toMatch(/^sent NOTIFICATION OPEN Message Error\/Bad Peer AS/);
    expect(p!.lastError).toContain('peer AS 65099');
  });

  it('bad BGP identifier (2/3): an iBGP peer with our own identifier', async () => {
    const s = await speaker('10.0.0.10', { asn: 65000, routerId: ME });
    s.sendOpen();
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([2, 3]);
  });

  it('unsupported optional parameter (2/4)', async () => {
    const s = await speaker('10.0.0.2');
    const o = open();
    o[29] = 1; // the first optional parameter: type 1 (authentication, deprecated) instead of capabilities
    s.sendRaw(o);
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([2, 4]);
  });

  it('unacceptable hold time (2/6)', async () => {
    const s = await speaker('10.0.0.2');
    s.sendRaw(open({ holdTime: 2 }));
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([2, 6]);
  });

  it('unsupported capability (2/7): no address family in common, our multiprotocol capabilities as data', async () => {
    const s = await speaker('10.0.0.2', { capabilities: [{ kind: 'multiprotocol', afi: 25, safi: 65 }, { kind: 'as4', asn: PEER_AS }] });
    s.sendOpen();
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([2, 7]);
    expect([...n.data]).toEqual([1, 4, 0, 1, 0, 1, 1, 4, 0, 2, 0, 1]);
  });

  it('unsupported version (2/1) with the version we support', async () => {
    const s = await speaker('10.0.0.2');
    const o = open();
    o[19] = 3;
    s.sendRaw(o);
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([2, 1]);
    expect([...n.data]).toEqual([0, 4]);
    expect(agent!.running).toBe(true);
  });
});

describe('malformed UPDATEs', () => {
  it('treat-as-withdraw: the route goes, the session stays up; attribute-discard keeps the route', async () => {
    const s = await speaker('10.0.0.3');
    await s.establish();
    s.sendRaw(update(good('10.0.0.3'), ['10.99.1.0/24', '10.99.3.0/24']));
    await pollRoute('10.99.1.0/24', true);
    // ORIGIN value 5 is undefined: RFC 7606 §7.1, treat as withdraw
    s.sendRaw(update([ORIGIN(5), AS_PATH(PEER_AS), NEXT_HOP('10.0.0.3')], ['10.99.1.0/24']));
    await pollRoute('10.99.1.0/24', false);
    // LOCAL_PREF from an external peer is discarded (RFC 7606 §7.5), the route is kept
    s.sendRaw(update([...good('10.0.0.3'), LOCAL_PREF(500)], ['10.99.4.0/24']));
    const r = await pollRoute('10.99.4.0/24', true);
    expect(r!.paths[0]!.localPref).toBe(100);
    const p = await agent!.peer('10.0.0.3');
    expect(p!.state).toBe('Established');
    expect((await routeOf('10.99.3.0/24'))?.prefix).toBe('10.99.3.0/24');
    const metrics = (await agent!.get('/metrics')).body;
    expect(metrics).toMatch(/routelet_bgp_update_errors_total\{peer="10\.0\.0\.3",action="treat-as-withdraw"\} 1/);
    expect(agent!.lines().some((l) => l.code === 'ORIGIN_VALUE' && /malformed UPDATE/.test(String(l.msg)))).toBe(true);
    expect(s.closed).toBe(false);
  });

  it('session reset: attribute lengths that overrun the message get UPDATE Message Error/Malformed Attribute List (3/1), and the routes go', async () => {
    const s = await speaker('10.0.0.3');
    await s.establish();
    s.sendRaw(update(good('10.0.0.3'), ['10.99.2.0/24']));
    await pollRoute('10.99.2.0/24', true);
    // total path attribute length larger than the message
    s.sendRaw(message(2, [0, 0, 0, 200, ...ORIGIN(0)]));
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([3, 1]);
    await pollRoute('10.99.2.0/24', false);
    const p = await agent!.peer('10.0.0.3');
    expect(p!.lastError).toMatch(/^sent NOTIFICATION UPDATE Message Error\/Malformed Attribute List/);
  });

  it('a bad message header gets Message Header Error (1/1); the agent keeps running', async () => {
    const s = await speaker('10.0.0.3');
    await s.establish();
    const bad = message(4, []);
    bad[3] = 0; // the marker is not all ones
    s.sendRaw(bad);
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([1, 1]);
    expect((await agent!.get('/livez')).status).toBe(200);
    expect(agent!.running).toBe(true);
  });
});

async function pollRoute(prefix: string, present: boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await routeOf(prefix);
    if (Boolean(r) === present) return r;
    if (Date.now() > deadline) throw new Error(`${prefix} ${present ? 'not learned' : 'still present'} after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe('connection collision (RFC 4271 6.8)', () => {
  /** `first`: whose connection gets the peer's OPEN first, 200 ms before the other (the agent has answered or closed it by then) */
  async function collide(address: string, peerId: string, first: 'ours' | 'theirs') {
    // routelet connects to the peer (A, initiated by us) …
    const a = await TestSpeaker.listen({ host: address, port: 179, netns: S, asn: PEER_AS, routerId: peerId });
    speakers.push(a);
    await a.next((m) => m.type === 'open', 10_000);
    // … and the peer connects to routelet (B, initiated by the peer): both in OpenSent
    const b = await speaker(address, { routerId: peerId });
    await b.next((m) => m.type === 'open', 10_000);
    (first === 'ours' ? a : b).sendOpen();
    await new Promise((r) => setTimeout(r, 200));
    (first === 'ours' ? b : a).sendOpen();
    const loser = await Promise.race([
      a.next(isNotification, 10_000).then((n) => ({ which: 'ours' as const, n })),
      b.next(isNotification, 10_000).then((n) => ({ which: 'theirs' as const, n })),
    ]);
    expect([(loser.n as NotificationMessage).code, (loser.n as NotificationMessage).subcode]).toEqual([6, 7]);
    // the loser is closed before it is answered: no KEEPALIVE on it, so the peer cannot have
    // established it (BIRD then keeps it by its own rule and both connections die)
    expect((loser.which === 'ours' ? a : b).received.some((r) => r.message?.type === 'keepalive')).toBe(false);
    const survivor = loser.which === 'ours' ? b : a;
    // the survivor completes: KEEPALIVE both ways
    await survivor.next((m) => m.type === 'keepalive', 10_000);
    survivor.sendKeepalive();
    const p = await agent!.waitPeer(address, (x) => x.state === 'Established', 10_000);
    // exactly one connection survives
    await (loser.which === 'ours' ? a : b).whenClosed(10_000);
    expect(survivor.closed).toBe(false);
    return { closed: loser.which, kept: p.connection!.direction };
  }

  it('the peer has the higher BGP identifier: the connection it initiated survives', async () => {
    const r = await collide('10.0.0.4', '10.0.0.200', 'ours');
    expect(r).toEqual({ closed: 'ours', kept: 'incoming' });
  });

  it('we have the higher BGP identifier: the connection we initiated survives', async () => {
    const r = await collide('10.0.0.5', '1.1.1.1', 'theirs');
    expect(r).toEqual({ closed: 'theirs', kept: 'outgoing' });
  });

  it('the winner gets its OPEN first: the loser is closed when its own comes, against the winner in OpenConfirm', async () => {
    expect(await collide('10.0.0.14', '10.0.0.200', 'theirs')).toEqual({ closed: 'ours', kept: 'incoming' });
    expect(await collide('10.0.0.15', '1.1.1.1', 'ours')).toEqual({ closed: 'theirs', kept: 'outgoing' });
  });
});

describe('graceful restart helper and established sessions', () => {
  const grCaps = (restarting: boolean) => [
    ...defaultCapabilities(PEER_AS),
    { kind: 'graceful-restart' as const, restarting, notification: false, restartTime: 60, families: [{ afi: 1, safi: 1, forwarding: true }] },
  ];

  it('a peer that restarts (a new OPEN with the Restart State bit) replaces its session; its routes stay, stale, until its End-of-RIB', async () => {
    const old = await speaker('10.0.0.11', { capabilities: grCaps(false) });
    await old.establish();
    old.sendRaw(update(good('10.0.0.11'), ['10.97.0.0/24', '10.97.1.0/24']));
    await pollRoute('10.97.1.0/24', true);
    const fresh = await speaker('10.0.0.11', { capabilities: grCaps(true) });
    await fresh.establish();
    // the old connection is simply dropped: no NOTIFICATION
    await old.whenClosed(5000);
    expect(old.received.some((r) => r.message?.type === 'notification')).toBe(false);
    const p = await agent!.waitPeer('10.0.0.11', (x) => x.state === 'Established', 5000);
    expect(p.gracefulRestart.staleRoutes).toBe(2);
    expect((await routeOf('10.97.0.0/24'))!.paths[0]!.stale).toBe(true);
    // it sends one route again, then End-of-RIB: the other is swept
    fresh.sendRaw(update(good('10.0.0.11'), ['10.97.0.0/24']));
    fresh.sendRaw(message(2, [0, 0, 0, 0]));
    await pollRoute('10.97.1.0/24', false);
    expect((await routeOf('10.97.0.0/24'))!.paths[0]!.stale).toBe(false);
    expect((await agent!.peer('10.0.0.11'))!.gracefulRestart.staleRoutes).toBe(0);
  });

  /** routelet's own connection (A) Established; then the peer's (B) sends its OPEN. */
  async function establishedThenOpen(address: string, peerId: string, waitMs: number) {
    const a = await TestSpeaker.listen({ host: address, port: 179, netns: S, asn: PEER_AS, routerId: peerId });
    speakers.push(a);
    await a.establish();
    await agent!.waitPeer(address, (x) => x.state === 'Established', 10_000);
    await new Promise((r) => setTimeout(r, waitMs));
    const b = await speaker(address, { routerId: peerId });
    await b.next((m) => m.type === 'open', 10_000);
    b.sendOpen();
    const loser = await Promise.race([
      a.next(isNotification, 10_000).then((n) => ({ closed: 'ours' as const, n: n as NotificationMessage })),
      b.next(isNotification, 10_000).then((n) => ({ closed: 'theirs' as const, n: n as NotificationMessage })),
    ]);
    expect([loser.n.code, loser.n.subcode]).toEqual([6, 7]);
    if (loser.closed === 'ours') {
      await b.next((m) => m.type === 'keepalive', 10_000);
      b.sendKeepalive();
    }
    const p = await agent!.waitPeer(address, (x) => x.state === 'Established' && x.connection!.direction === (loser.closed === 'ours' ? 'incoming' : 'outgoing'), 10_000);
    return { closed: loser.closed, kept: p.connection!.direction };
  }

  it('both connected at once and the peer saw ours only in OpenConfirm: a session under 5 s old yields to the higher identifier', async () => {
    expect(await establishedThenOpen('10.0.0.12', '10.0.0.200', 0)).toEqual({ closed: 'ours', kept: 'incoming' });
  });

  it('a session older than that keeps its connection: the new one is closed (RFC 4271 6.8)', async () => {
    expect(await establishedThenOpen('10.0.0.13', '10.0.0.200', 5500)).toEqual({ closed: 'theirs', kept: 'outgoing' });
  }, 30_000);
});

describe('timers', () => {
  it('hold time 0: no keepalives, the session stays up', async () => {
    const s = await speaker('10.0.0.8', { holdTime: 0 });
    await s.establish();
    const p = await agent!.waitPeer('10.0.0.8', (x) => x.state === 'Established', 10_000);
    expect(p.holdTime).toBe(0);
    const from = s.received.length;
    await new Promise((r) => setTimeout(r, 4000));
    expect(s.received.slice(from).filter((m) => m.message?.type === 'keepalive')).toHaveLength(0);
    expect((await agent!.peer('10.0.0.8'))!.state).toBe('Established');
  });

  it('hold timer expiry: Hold Timer Expired sent, in lastError', async () => {
    const s = await speaker('10.0.0.7', { holdTime: 3 });
    // establish by hand, then stay silent
    s.sendOpen();
    await s.next((m) => m.type === 'open');
    s.sendKeepalive();
    await s.next((m) => m.type === 'keepalive');
    await agent!.waitPeer('10.0.0.7', (x) => x.state === 'Established', 10_000);
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([4, 0]);
    const p = await agent!.peer('10.0.0.7');
    expect(p!.lastError).toMatch(/^sent NOTIFICATION Hold Timer Expired/);
  });
});

describe('dynamic neighbours', () => {
  it('a neighbour in the listen range comes up (AS = ROUTELET_LISTEN_ASN) and is removed when it goes down', async () => {
    const s = await speaker('10.0.1.5', { asn: 65010 });
    await s.establish();
    const p = await agent!.waitPeer('10.0.1.5', (x) => x.state === 'Established', 10_000);
    expect(p).toMatchObject({ dynamic: true, asn: 65010, type: 'ebgp' });
    await s.close();
    await waitForGone('10.0.1.5');
  });

  const dynamicGr = (restartTime: number) => [...defaultCapabilities(65010), { kind: 'graceful-restart' as const, restarting: false, notification: false, restartTime, families: [{ afi: 1, safi: 1, forwarding: true }] }];

  it('a dynamic neighbour with graceful restart whose host still answers keeps its routes, stale, for its restart time; then it is removed', async () => {
    // the peer's BGP port keeps answering (a daemon restarting, not a dead host): the agent's
    // probes find it alive, so only the restart time ends the wait
    const port = await holdPort(S, '10.0.1.6');
    try {
      const s = await speaker('10.0.1.6', { asn: 65010, capabilities: dynamicGr(3) });
      await s.establish();
      s.sendRaw(update([ORIGIN(0), AS_PATH(65010), NEXT_HOP('10.0.1.6')], ['10.98.0.0/24']));
      await pollRoute('10.98.0.0/24', true);
      // closed with a FIN, without a NOTIFICATION: graceful restart applies (a socket closed
      // with the agent's data unread would reset, and a reset is a host gone: nothing kept)
      await s.finish();
      const closedAt = Date.now();
      const p = await agent!.waitPeer('10.0.1.6', (x) => x.state !== 'Established', 10_000);
      expect(p.gracefulRestart).toMatchObject({ restarting: true, staleRoutes: 1 });
      expect((await routeOf('10.98.0.0/24'))!.paths[0]!.stale).toBe(true);
      await pollRoute('10.98.0.0/24', false, 10_000);
      // kept for the restart time (3 s), not dropped by a probe
      expect(Date.now() - closedAt).toBeGreaterThan(2500);
      await waitForGone('10.0.1.6');
    } finally {
      await port.close();
    }
  });

  it('a dynamic neighbour with graceful restart whose host refuses connections is dead: its routes go at the next probe, long before its restart time', async () => {
    const s = await speaker('10.0.1.6', { asn: 65010, capabilities: dynamicGr(60) });
    await s.establish();
    s.sendRaw(update([ORIGIN(0), AS_PATH(65010), NEXT_HOP('10.0.1.6')], ['10.98.1.0/24']));
    await pollRoute('10.98.1.0/24', true);
    await s.finish();
    // probes run every 2 s: the refusal ends the 60 s restart time within one period or so
    await pollRoute('10.98.1.0/24', false, 6000);
    await waitForGone('10.0.1.6', 2000);
    await waitFor('the refusal in the log', () => (agent!.lines().some((l) => /10\.0\.1\.6 is dead/.test(String(l.msg))) ? true : undefined), 2000);
  });

  it('a neighbour with another AS gets Bad Peer AS', async () => {
    const s = await speaker('10.0.1.5', { asn: 65011 });
    s.sendOpen();
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([2, 2]);
  });

  it('a source outside the listen range is refused before any BGP byte', async () => {
    // the agent resets the connection as soon as it is accepted: the relay may see the reset
    // before or after it reports the connection
    let received = -1;
    try {
      const s = await speaker('10.0.2.5');
      await s.whenClosed(10_000);
      received = s.rx.length;
    } catch (e) {
      expect(String(e)).toMatch(/ECONNRESET/);
      received = 0;
    }
    expect(received).toBe(0);
    expect((await agent!.peers()).some((p) => p.address === '10.0.2.5')).toBe(false);
    await waitFor('the refusal in the log', () => (agent!.lines().some((l) => String(l.msg).startsWith('refused connection from 10.0.2.5')) ? true : undefined), 5000);
  });
});

async function waitForGone(address: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while ((await agent!.peers()).some((p) => p.address === address)) {
    if (Date.now() > deadline) throw new Error(`${address} still listed after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('errors in words', () => {
  it('a refused connection: lastError ECONNREFUSED, /readyz names the peer, the state and the errno', async () => {
    const p = await agent!.waitPeer('10.0.0.9', (x) => x.lastError !== null, 15_000);
    expect(p.lastError).toMatch(/^ECONNREFUSED \(connection refused/);
    expect(['Active', 'Connect', 'Idle']).toContain(p.state);
    const r = await agent!.readyz();
    expect(r.status).toBe(503);
    expect(r.body).toMatch(/^BGP not established with 10\.0\.0\.9: (Active|Connect|Idle) \(last error ECONNREFUSED\)$/m);
  });
});

describe('configuration reload (SIGHUP)', () => {
  it('a peer removed from ROUTELET_PEERS_FILE gets Cease/Peer De-configured with a shutdown message; a peer added appears', async () => {
    const s = await speaker('10.0.0.6');
    await s.establish();
    await agent!.waitPeer('10.0.0.6', (x) => x.state === 'Established', 10_000);
    writeFileSync(peersFile, JSON.stringify([...peersConfig.filter((p) => p.address !== '10.0.0.6'), { address: '10.0.0.20', asn: PEER_AS, passive: true }]));
    agent!.signal('SIGHUP');
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([6, 3]);
    const text = Buffer.from(n.data.subarray(1, 1 + n.data[0]!)).toString('utf8');
    expect(text).toBe('routelet: peer removed from the configuration');
    expect(describeNotification(n)).toMatch(/^Cease\/Peer De-configured/);
    await waitForGone('10.0.0.6');
    await agent!.waitPeer('10.0.0.20', (x) => x.state === 'Active', 10_000);
  });

  it('a reload the configuration refuses keeps the previous peers and says why in the log, /readyz and a metric', async () => {
    const good = readFileSync(peersFile, 'utf8');
    const before = (await agent!.peers()).map((p) => p.address).sort();
    // the same address twice: refused as a whole
    writeFileSync(peersFile, JSON.stringify([...JSON.parse(good), { address: '10.0.0.20', asn: PEER_AS }, { address: '10.0.0.21', asn: PEER_AS }]));
    agent!.signal('SIGHUP');
    const deadline = Date.now() + 10_000;
    let r = await agent!.readyz();
    while (!/^configuration reload refused/m.test(r.body) && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
      r = await agent!.readyz();
    }
    expect(r.body).toMatch(/^configuration reload refused, the previous peers stay: .*10\.0\.0\.20/m);
    expect((await agent!.peers()).map((p) => p.address).sort()).toEqual(before);
    expect((await agent!.get('/metrics')).body).toMatch(/^routelet_config_reloads_total\{result="refused"\} 1$/m);
    expect(agent!.log()).toMatch(/configuration not reloaded, the previous peers stay/);
    writeFileSync(peersFile, good);
    agent!.signal('SIGHUP');
    const until = Date.now() + 10_000;
    while (/^configuration reload refused/m.test((await agent!.readyz()).body) && Date.now() < until) await new Promise((res) => setTimeout(res, 100));
    expect((await agent!.readyz()).body).not.toMatch(/^configuration reload refused/m);
  });
});

describe('SIGTERM as peers see it (graceful restart on)', () => {
  it('N-bit peer: Cease/Administrative Reset with a message; GR peer without it: closed with no NOTIFICATION; peer without GR: Cease/Administrative Shutdown', async () => {
    const gr = (notification: boolean) => [
      ...defaultCapabilities(PEER_AS),
      { kind: 'graceful-restart' as const, restarting: false, notification, restartTime: 120, families: [{ afi: 1, safi: 1, forwarding: true }] },
    ];
    const nbit = await speaker('10.0.0.2', { capabilities: gr(true) });
    const plainGr = await speaker('10.0.0.3', { capabilities: gr(false) });
    const noGr = await speaker('10.0.0.8');
    for (const s of [nbit, plainGr, noGr]) await s.establish();
    for (const a of ['10.0.0.2', '10.0.0.3', '10.0.0.8']) await agent!.waitPeer(a, (x) => x.state === 'Established', 10_000);
    const r = await agent!.stop('SIGTERM');
    expect(r.code).toBe(0);
    expect(r.ms).toBeLessThan(5000);
    for (const s of [nbit, plainGr, noGr]) await s.whenClosed(5000);
    const notifications = (s: TestSpeaker) => s.received.filter((m) => m.message?.type === 'notification').map((m) => m.message as NotificationMessage);
    const [n] = notifications(nbit);
    expect(describeNotification(n!)).toBe('Cease/Administrative Reset: "routelet shutting down (SIGTERM) (graceful restart)"');
    expect(notifications(plainGr)).toEqual([]);
    const [m] = notifications(noGr);
    expect(describeNotification(m!)).toBe('Cease/Administrative Shutdown: "routelet shutting down (SIGTERM)"');
  });
});
