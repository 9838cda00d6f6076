// A bug while handling one peer's message (an exception other than BgpError, issue 12) resets
// that peer's connection with Cease/Unspecific, is logged at error level as a bug with the
// message octets and counted — and nothing else happens: the process and every other session
// go on. Real sessions on loopback TCP, the decoder and the handlers as the agent runs them;
// the bugs are injected (a throwing UPDATE handler, as the agent's RIB import would throw;
// a decoder that throws a TypeError, as the codec did on the UPDATE of issue 12).
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log.js';
import { encodeUpdate, makeAttributes, type NotificationMessage, type UpdateInit, type UpdateMessage } from '../../src/bgp/codec/index.js';
import { parsePrefix } from '../../src/net/prefix.js';
import { internalErrors } from '../../src/bgp/session/connection.js';
import { Session, type SessionContext } from '../../src/bgp/session/index.js';
import { TestSpeaker } from '../support/speaker.js';
import { passivePeer } from './support.js';

// the decoder throws a TypeError for any message carrying this octet string (see the mock)
const POISON = Buffer.from('c0ffee15dead', 'hex');
vi.mock('../../src/bgp/codec/message.js', async (load) => {
  const real = await load<typeof import('../../src/bgp/codec/message.js')>();
  return {
    ...real,
    decodeMessage: (...args: Parameters<typeof real.decodeMessage>) => {
      if (Buffer.from(args[0].raw).includes(Buffer.from('c0ffee15dead', 'hex'))) {
        const frozen: number[] = Object.freeze([2, 1]) as number[];
        frozen.sort(); // TypeError: Cannot assign to read only property '0'
      }
      return real.decodeMessage(...args);
    },
  };
});

const LOCAL_AS = 65000;
const PEER_AS = 65001;
const A = '127.0.0.2';
const B = '127.0.0.3';
/** a prefix the UPDATE handler chokes on */
const POISON_PREFIX = '10.66.0.0/16';

const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  },
});
const log = createLogger('debug', sink);

const updates = new Map<string, UpdateMessage[]>();
const ctx: SessionContext = {
  local: { asn: LOCAL_AS, routerId: '127.0.0.1' },
  connectRetry: 1,
  connectRetryMax: 2,
  initialHold: 240,
  gracefulRestart: () => null,
  log,
  events: {
    established: () => {},
    update(s, m) {
      // what the agent does here is the RIB import; this one has a bug for one prefix
      if (m.reach.some((r) => r.family === 4 && Array.from(r.prefixes).includes(parsePrefix(POISON_PREFIX) as number))) {
        throw new TypeError(`injected: the import of ${POISON_PREFIX} failed`);
      }
      const l = updates.get(s.address) ?? [];
      l.push(m);
      updates.set(s.address, l);
    },
    routeRefresh: () => {},
    down: () => {},
  },
};

const settings = (address: string) => passivePeer(address, PEER_AS);

const sessions = new Map<string, Session>();
let server: Server;
let port = 0;
const speakers: TestSpeaker[] = [];

beforeAll(async () => {
  for (const a of [A, B]) {
    const s = new Session(settings(a), ctx);
    sessions.set(a, s);
    s.start();
  }
  server = createServer((socket) => {
    const s = sessions.get(socket.remoteAddress!.replace(/^::ffff:/, ''));
    if (!s) return void socket.destroy();
    s.accept(socket, { address: socket.localAddress!, port: socket.localPort! }, { address: socket.remoteAddress!, port: socket.remotePort! });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await Promise.all(speakers.map((s) => s.close()));
  await Promise.all([...sessions.values()].map((s) => s.stop(null, 'test over', 500)));
  await new Promise((r) => server?.close(r));
});

async function peer(address: string): Promise<TestSpeaker> {
  const s = await TestSpeaker.connect({ host: '127.0.0.1', port, localAddress: address, asn: PEER_AS, routerId: address });
  speakers.push(s);
  await s.establish();
  await waitUntil(() => sessions.get(address)!.isEstablished);
  return s;
}

async function waitUntil(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const announce = (prefix: string, unknown: { code: number; flags: number; value: string }[] = []): UpdateInit => ({
  reach: [
    {
      family: 4,
      prefixes: [parsePrefix(prefix) as number],
      attrs: makeAttributes({ origin: 0, asPath: [{ type: 2, asns: [PEER_AS] }], nextHop: '192.0.2.1', ...(unknown.length ? { unknown } : {}) }),
    },
  ],
});

describe('a bug while handling one peer’s message', () => {
  for (const where of ['the UPDATE handler (the RIB import)', 'the decoder'] as const) {
    it(`in ${where}: that peer gets Cease/Unspecific and reconnects; the other session never notices`, async () => {
      const [a, b] = [await peer(A), await peer(B)];
      const before = { a: sessions.get(A)!.internalErrors, b: sessions.get(B)!.internalErrors, all: internalErrors.count };
      const bUpdates = updates.get(B)?.length ?? 0;
      const from = a.received.length;

      // the message with the bug, then one that would be fine, in the same TCP segment
      const bad = where === 'the decoder' ? announce('10.1.0.0/16', [{ code: 250, flags: 0xc0, value: POISON.toString('hex') }]) : announce(POISON_PREFIX);
      const wire = encodeUpdate(bad, a.options);
      a.sendRaw(Buffer.concat([wire, encodeUpdate(announce('10.2.0.0/16'), a.options)]));

      const n = (await a.next((m) => m.type === 'notification', 5000, from)) as NotificationMessage;
      expect([n.code, n.subcode]).toEqual([6, 0]);
      await a.whenClosed(5000);

      // counted and logged as a bug, with the octets of the message
      expect(sessions.get(A)!.internalErrors).toBe(before.a + 1);
      expect(internalErrors.count).toBe(before.all + 1);
      const bug = lines.filter((l) => l.level === 50 && String(l.msg).startsWith('BUG:')).at(-1)!;
      expect(bug).toBeDefined();
      expect(bug.peer).toBe(A);
      expect(bug.message).toBe(wire.toString('hex'));
      expect(bug.during).toBe(where === 'the decoder' ? 'decoding UPDATE' : 'handling UPDATE');
      expect(String((bug.err as { message: string }).message)).toMatch(where === 'the decoder' ? /read only property/ : /injected/);
      expect(sessions.get(A)!.lastError?.text).toMatch(/sent NOTIFICATION Cease\/Unspecific \(internal error while/);
      // the message after the bad one was not handled: the connection was gone
      expect((updates.get(A) ?? []).some((m) => m.reach.some((r) => Array.from(r.prefixes).includes(parsePrefix('10.2.0.0/16') as number)))).toBe(false);

      // B is still up and its UPDATEs are handled
      expect(sessions.get(B)!.isEstablished).toBe(true);
      expect(sessions.get(B)!.internalErrors).toBe(before.b);
      b.sendUpdate(announce('10.3.0.0/16'));
      await waitUntil(() => (updates.get(B)?.length ?? 0) === bUpdates + 1);
      expect(b.closed).toBe(false);

      // A comes back, and its next UPDATE is handled
      const a2 = await peer(A);
      const aUpdates = updates.get(A)?.length ?? 0;
      a2.sendUpdate(announce('10.4.0.0/16'));
      await waitUntil(() => (updates.get(A)?.length ?? 0) === aUpdates + 1);
      await Promise.all([a2.close(), b.close()]);
      await waitUntil(() => !sessions.get(A)!.isEstablished && !sessions.get(B)!.isEstablished);
    });
  }
});
