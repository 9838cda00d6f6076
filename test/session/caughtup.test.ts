// Issue 15: a lone UPDATE handled inline, in the socket's data callback, is followed there and
// then by the session's caughtUp event (the agent sends its route to the kernel from it),
// before any microtask of that callback runs; a burst that takes the shared drain is not.
// A real session on loopback TCP with a test speaker.
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { encodeUpdate, makeAttributes, type UpdateInit } from '../../src/bgp/codec/index.js';
import { prefix4 } from '../../src/net/prefix.js';
import { Session, type SessionContext } from '../../src/bgp/session/index.js';
import { TestSpeaker } from '../support/speaker.js';
import { passivePeer } from './support.js';

const PEER_AS = 65001;
const A = '127.0.0.4';

const events: string[] = [];
const ctx: SessionContext = {
  local: { asn: 65000, routerId: '127.0.0.1' },
  connectRetry: 1,
  connectRetryMax: 2,
  initialHold: 240,
  gracefulRestart: () => null,
  log: createLogger('warn', new Writable({ write: (_c, _e, done) => done() })),
  events: {
    established: () => {},
    update(_s, m) {
      const p = m.reach[0]?.prefixes[0];
      events.push(`update ${p === undefined ? '-' : String(p)}`);
      queueMicrotask(() => events.push('microtask'));
    },
    caughtUp: () => events.push('caughtUp'),
    routeRefresh: () => {},
    down: () => {},
  },
};

const settings = passivePeer(A, PEER_AS);

let session: Session;
let server: Server;
let speaker: TestSpeaker;

beforeAll(async () => {
  session = new Session(settings, ctx);
  session.start();
  server = createServer((socket) => session.accept(socket, { address: socket.localAddress!, port: socket.localPort! }, { address: socket.remoteAddress!, port: socket.remotePort! }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  speaker = await TestSpeaker.connect({ host: '127.0.0.1', port, localAddress: A, asn: PEER_AS, routerId: A });
  await speaker.establish();
  await until(() => session.isEstablished);
});

afterAll(async () => {
  await speaker?.close();
  await session?.stop(null, 'test over', 500);
  await new Promise((r) => server?.close(r));
});

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const announce = (i: number): UpdateInit => ({
  reach: [{ family: 4, prefixes: [prefix4((0x0a400000 + i * 256) >>> 0, 24) as number], attrs: makeAttributes({ origin: 0, asPath: [{ type: 2, asns: [PEER_AS] }], nextHop: '192.0.2.1' }) }],
});
const updates = () => events.filter((e) => e.startsWith('update')).length;

describe('caughtUp', () => {
  it('follows a lone UPDATE in the data callback, before its microtasks', async () => {
    events.length = 0;
    speaker.sendUpdate(announce(1));
    await until(() => events.includes('microtask'));
    expect(events).toEqual([`update ${prefix4(0x0a400100, 24)}`, 'caughtUp', 'microtask']);
  });

  it('does not come with a burst that takes the shared drain', async () => {
    events.length = 0;
    // 400 UPDATEs in one write: more than the data callback handles inline, and more than one
    // turn of the drain (TURN_BYTES)
    speaker.sendRaw(Buffer.concat(Array.from({ length: 400 }, (_, i) => encodeUpdate(announce(100 + i), speaker.options))));
    await until(() => updates() === 400);
    await new Promise((r) => setImmediate(r));
    const first = events.findIndex((e) => e.startsWith('update'));
    const last = events.findLastIndex((e) => e.startsWith('update'));
    expect(events.slice(first, last + 1).filter((e) => e === 'caughtUp')).toEqual([]);
  });
});
