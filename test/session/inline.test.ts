// Issue 15: a lone small message is decoded and dispatched in the socket's data callback
// itself; more than a few frames take the shared setImmediate drain and its per-turn budgets.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { encodeKeepalive } from '../../src/bgp/codec/index.js';
import { Connection, type ConnectionHost } from '../../src/bgp/session/connection.js';
import type { State } from '../../src/bgp/session/fsm.js';

/** Enough of a net.Socket for a Connection: records what is written, emits what the test feeds. */
class FakeSocket extends EventEmitter {
  written: Buffer[] = [];
  destroyed = false;
  closed = false;
  writableLength = 0;
  paused = false;
  setNoDelay(): this {
    return this;
  }
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  cork(): void {}
  uncork(): void {}
  write(b: Buffer): boolean {
    this.written.push(b);
    return true;
  }
  end(): this {
    return this.destroy();
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

function openSent(): { c: Connection; socket: FakeSocket; states: string[] } {
  const states: string[] = [];
  const noop = () => {};
  const host: ConnectionHost = {
    timers: () => ({ connectRetry: 30, initialHold: 240 }),
    openMessage: () => encodeKeepalive(), // what is written does not matter here
    checkOpen: () => ({ ok: false, code: 2, subcode: 0, reason: 'test' }) as never,
    connect: noop,
    cancelConnect: noop,
    connectTimedOut: noop,
    opened: noop,
    established: noop,
    update: noop,
    routeRefresh: noop,
    ignored: noop,
    notification: noop,
    closed: noop,
    holdExpired: noop,
    released: noop,
    stateChanged: (c: Connection, from: State) => states.push(`${from}→${c.state}`),
  };
  const c = new Connection('incoming', host);
  const socket = new FakeSocket();
  c.event({ type: 'ManualStartPassive' });
  c.attach(socket as unknown as Socket, { address: '127.0.0.1', port: 179 }, { address: '127.0.0.2', port: 40000 });
  c.event({ type: 'TcpConnectionConfirmed' });
  expect(c.state).toBe('OpenSent');
  states.length = 0;
  return { c, socket, states };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Connection: a lone message is handled in the data callback', () => {
  it('one KEEPALIVE (an FSM error in OpenSent) is dispatched before emit() returns', async () => {
    const { c, states } = openSent();
    const socket = c.socket as unknown as FakeSocket;
    socket.emit('data', encodeKeepalive());
    expect(states).toEqual(['OpenSent→Idle']);
    expect(c.stats.messagesIn).toBe(1);
    c.destroy();
    await nextTurn();
  });

  it('more than a few frames in one chunk wait for the drain', async () => {
    const { c, socket, states } = openSent();
    const k = encodeKeepalive();
    socket.emit('data', Buffer.concat([k, k, k, k, k]));
    expect(states).toEqual([]);
    expect(c.stats.messagesIn).toBe(0);
    await nextTurn();
    expect(states).toEqual(['OpenSent→Idle']);
    expect(c.stats.messagesIn).toBe(1); // the rest were dropped with the connection
    c.destroy();
  });

  it('a message split over chunks is handled when its last part arrives', async () => {
    const { c, socket, states } = openSent();
    const k = encodeKeepalive();
    socket.emit('data', k.subarray(0, 10));
    expect(states).toEqual([]);
    socket.emit('data', k.subarray(10));
    expect(states).toEqual(['OpenSent→Idle']);
    c.destroy();
    await nextTurn();
  });
});
