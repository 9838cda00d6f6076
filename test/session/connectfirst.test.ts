// A passive peer started with connectFirst (a restarting node of the Kubernetes mesh connects to
// the peers it is passive towards: src/agent/agent.ts): the session connects all the same until
// it is first Established, and is passive again from then on — a drop after that is waited
// out, not reconnected. Without connectFirst a passive session never connects.
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Session, type SessionContext } from '../../src/bgp/session/index.js';
import { TestSpeaker } from '../support/speaker.js';
import { passivePeer } from './support.js';

const LOCAL_AS = 65000;
const PEER_AS = 65001;

const ctx: SessionContext = {
  local: { asn: LOCAL_AS, routerId: '10.0.0.1' },
  // the shortest reconnect backoff: a session that would reconnect does so within a second
  connectRetry: 1,
  connectRetryMax: 1,
  initialHold: 240,
  gracefulRestart: () => null,
  log: createLogger('silent'),
  events: { established: () => {}, update: () => {}, routeRefresh: () => {}, down: () => {} },
};

const settings = (port: number) => passivePeer('127.0.0.1', PEER_AS, { port });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
}

/** A TCP server on 127.0.0.1 that counts the connections it is offered (and closes them). */
async function counter(port = 0): Promise<{ server: Server; port: number; connections: () => number }> {
  let n = 0;
  const server = createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, connections: () => n };
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

describe('a passive session with connectFirst', () => {
  it('without it, a passive session never connects', async () => {
    const c = await counter();
    cleanup.push(() => new Promise((r) => c.server.close(r)));
    const s = new Session(settings(c.port), ctx);
    cleanup.push(() => s.stop(null, 'test over', 500));
    expect(s.connecting).toBe(false);
    s.start();
    await sleep(2500);
    expect(c.connections()).toBe(0);
    expect(s.state).toBe('Active');
  });

  it('connects until Established, then is passive again: a drop is not reconnected', async () => {
    // a free port for the speaker
    const probe = await counter();
    const port = probe.port;
    await new Promise((r) => probe.server.close(r));

    const s = new Session(settings(port), ctx, { connectFirst: true });
    cleanup.push(() => s.stop(null, 'test over', 500));
    expect(s.connecting).toBe(true);
    const speaker = await TestSpeaker.listen({ host: '127.0.0.1', port, asn: PEER_AS, routerId: '10.0.0.2' }, () => s.start());
    cleanup.push(() => speaker.close());
    await speaker.establish();
    await waitUntil(() => s.isEstablished);
    expect(s.current!.direction).toBe('outgoing');
    expect(s.connecting).toBe(false);

    // the peer goes away; whatever listens on its port from now on is never connected to
    await speaker.close();
    await waitUntil(() => !s.isEstablished);
    const c = await counter(port);
    cleanup.push(() => new Promise((r) => c.server.close(r)));
    await sleep(2500);
    expect(c.connections()).toBe(0);
    expect(s.primary).toBeNull();
    expect(s.state).toBe('Active');
  });

  it('a session that is not passive ignores it (it connects anyway, and again after a drop)', async () => {
    const c = await counter();
    cleanup.push(() => new Promise((r) => c.server.close(r)));
    const s = new Session({ ...settings(c.port), passive: false }, ctx, { connectFirst: true });
    cleanup.push(() => s.stop(null, 'test over', 500));
    s.start();
    // the counter closes each connection at once: the session keeps reconnecting (backoff 1 s)
    await waitUntil(() => c.connections() >= 2, 5000);
    expect(s.connecting).toBe(true);
  });
});
