// RFC 8538 §5 end to end: the session wraps a Cease in Cease/Hard Reset when the N-bit was
// negotiated and the subcode calls for it (the rule: src/bgp/codec/notification.ts; the one
// place that applies it: src/bgp/session/cease.ts). routelet against TestSpeakers from a
// second namespace: too many prefixes, with and without the N-bit, and a peer removed on
// SIGHUP with the N-bit.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeNotification, type Message, type NotificationMessage, parseAsPath, sharedInterner } from '../../src/bgp/codec/index.js';
import { parsePrefix } from '../../src/net/prefix.js';
import { type AgentProcess, dumpAgentLogs, startAgent, stopAllAgents } from '../support/agent.js';
import { Netns, link } from '../support/netns.js';
import { requireRoot } from '../support/privileges.js';
import { defaultCapabilities, TestSpeaker } from '../support/speaker.js';

const ME = '10.0.0.1';
const PEER_AS = 65001;

let R: Netns;
let S: Netns;
let agent: AgentProcess | undefined;
let dir: string;
let peersFile: string;
const speakers: TestSpeaker[] = [];

const peersConfig = [
  { address: '10.0.0.2', asn: PEER_AS, passive: true, maxPrefixes: 2 }, // N-bit: too many prefixes
  { address: '10.0.0.3', asn: PEER_AS, passive: true, maxPrefixes: 2 }, // no GR: too many prefixes
  { address: '10.0.0.4', asn: PEER_AS, passive: true }, // N-bit: removed on SIGHUP
];

beforeAll(async () => {
  requireRoot();
  dir = mkdtempSync(join(tmpdir(), 'routelet-hardreset-'));
  R = new Netns('hrr');
  S = new Netns('hrs');
  link(R, ['10.0.0.1/24'], S, ['10.0.0.2/24', '10.0.0.3/24', '10.0.0.4/24']);
  peersFile = join(dir, 'peers.yaml');
  writeFileSync(peersFile, JSON.stringify(peersConfig));
  agent = await startAgent(R, {
    ROUTELET_ASN: '65000',
    ROUTELET_ROUTER_ID: ME,
    ROUTELET_PEERS_FILE: peersFile,
    ROUTELET_CONNECT_RETRY: '1',
    ROUTELET_CONNECT_RETRY_MAX: '2',
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

const withNBit = [
  ...defaultCapabilities(PEER_AS),
  { kind: 'graceful-restart' as const, restarting: false, notification: true, restartTime: 120, families: [{ afi: 1, safi: 1, forwarding: true }] },
];

async function established(address: string, nBit: boolean): Promise<TestSpeaker> {
  const s = await TestSpeaker.connect({ host: ME, netns: S, localAddress: address, asn: PEER_AS, routerId: address, ...(nBit ? { capabilities: withNBit } : {}) });
  speakers.push(s);
  await s.establish();
  await agent!.waitPeer(address, (x) => x.state === 'Established', 10_000);
  return s;
}

const isNotification = (m: Message): m is NotificationMessage => m.type === 'notification';

async function notificationFrom(s: TestSpeaker): Promise<NotificationMessage> {
  const n = (await s.next(isNotification, 10_000)) as NotificationMessage;
  await s.whenClosed(10_000);
  return n;
}

function sendPrefixes(s: TestSpeaker, from: string, count: number): void {
  const attrs = sharedInterner.intern({ origin: 0, asPath: parseAsPath(String(PEER_AS)), nextHop: from });
  const prefixes = Array.from({ length: count }, (_, i) => parsePrefix(`10.77.${i}.0/24`) as number);
  s.sendUpdate({ reach: [{ family: 4, prefixes, attrs }] });
}

describe('Hard Reset (RFC 8538 §5)', () => {
  it('too many prefixes from an N-bit peer: Cease/Hard Reset around Maximum Number of Prefixes Reached', async () => {
    const s = await established('10.0.0.2', true);
    sendPrefixes(s, '10.0.0.2', 3);
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([6, 9]);
    expect(Buffer.from(n.data).toString('hex')).toBe('060100010100000002');
    expect(describeNotification(n)).toBe('Cease/Hard Reset (Cease/Maximum Number of Prefixes Reached (AFI 1 SAFI 1, limit 2))');
  });

  it('too many prefixes from a peer without the N-bit: the Cease alone', async () => {
    const s = await established('10.0.0.3', false);
    sendPrefixes(s, '10.0.0.3', 3);
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([6, 1]);
    expect(Buffer.from(n.data).toString('hex')).toBe('00010100000002');
  });

  it('an N-bit peer removed on SIGHUP: Cease/Hard Reset around Peer De-configured with the message', async () => {
    const s = await established('10.0.0.4', true);
    writeFileSync(peersFile, JSON.stringify(peersConfig.filter((p) => p.address !== '10.0.0.4')));
    agent!.signal('SIGHUP');
    const n = await notificationFrom(s);
    expect([n.code, n.subcode]).toEqual([6, 9]);
    expect([n.data[0], n.data[1]]).toEqual([6, 3]);
    const text = Buffer.from(n.data.subarray(3, 3 + n.data[2]!)).toString('utf8');
    expect(text).toBe('routelet: peer removed from the configuration');
  });
});
