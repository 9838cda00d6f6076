// A session's socket read through onread (src/bgp/transport/reader.ts): every byte arrives, in
// order, also the bytes sent before the session took the socket; pause() holds the bytes back
// until resume(); the peer's end closes the socket; and no 'data' event is involved.
import { once } from 'node:events';
import { type AddressInfo, type Socket, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/bgp/transport/connector.js';
import { receive } from '../../src/bgp/transport/reader.js';
import { requireRoot } from '../support/privileges.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

/** A loopback server and our socket connected to it (through the addon's connect), onread or not. */
async function pair(onread = true): Promise<{ ours: Socket; theirs: Socket }> {
  requireRoot();
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup.push(() => server.close());
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const { socket } = await connect({
    peer: { address: '127.0.0.1', family: 4, password: undefined, ttlSecurity: 0, multihop: 0, ibgp: true },
    port: (server.address() as AddressInfo).port,
    timeoutMs: 5000,
    onread,
  });
  const [theirs] = await accepted;
  cleanup.push(() => {
    socket.destroy();
    theirs.destroy();
  });
  return { ours: socket, theirs };
}

describe('reader: onread sockets for sessions', () => {
  it('delivers every byte in order, the early ones first, without data events', async () => {
    const { ours, theirs } = await pair();
    const early = Buffer.from('before the session took the socket;');
    theirs.write(early);
    await sleep(100); // read by then, with nobody to take it
    const got: Buffer[] = [];
    receive(ours, (c) => got.push(c));
    expect(Buffer.concat(got).toString()).toBe(early.toString());
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 255;
    theirs.write(big);
    for (let t = 0; Buffer.concat(got).length < early.length + big.length && t < 100; t++) await sleep(20);
    const all = Buffer.concat(got);
    expect(all.length).toBe(early.length + big.length);
    expect(all.subarray(early.length).equals(big)).toBe(true);
    // chunks are copies: an earlier one is not overwritten by later reads into the shared buffer
    expect(got[0]!.toString()).toBe(early.toString());
    expect(ours.listenerCount('data')).toBe(0);
    expect(() => receive(ours, () => {})).toThrow(/already has a receiver/);
  });

  it('pause() holds bytes back until resume(); the peer closing closes the socket', async () => {
    const { ours, theirs } = await pair();
    const got: Buffer[] = [];
    receive(ours, (c) => got.push(c));
    theirs.write('one');
    for (let t = 0; got.length === 0 && t < 50; t++) await sleep(10);
    expect(Buffer.concat(got).toString()).toBe('one');
    ours.pause();
    theirs.write('two');
    await sleep(150);
    expect(Buffer.concat(got).toString()).toBe('one');
    ours.resume();
    for (let t = 0; Buffer.concat(got).length < 6 && t < 50; t++) await sleep(10);
    expect(Buffer.concat(got).toString()).toBe('onetwo');
    const closed = once(ours, 'close');
    theirs.end();
    await closed;
  });

  it('a socket made without onread keeps its data events', async () => {
    const { ours, theirs } = await pair(false);
    const got: Buffer[] = [];
    receive(ours, (c) => got.push(c));
    expect(ours.listenerCount('data')).toBe(1);
    theirs.write('plain');
    for (let t = 0; got.length === 0 && t < 50; t++) await sleep(10);
    expect(Buffer.concat(got).toString()).toBe('plain');
  });
});
