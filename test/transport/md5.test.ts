// TCP-MD5 and the accept filter with real sockets between two network namespaces: one
// dual-stack listener, clients bound to distinct source addresses of the other namespace.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/bgp/transport/connector.js';
import { Listener } from '../../src/bgp/transport/listener.js';
import type { TransportPeer } from '../../src/bgp/transport/peers.js';
import { sockets } from '../../src/native/sockets.js';
import { parseCidr } from '../../src/net/ip.js';
import { Netns, link } from '../support/netns.js';
import { requireRoot } from '../support/privileges.js';
import { Inbox, exchange, fdOf, memoryLog, nsPath, peer, readBytes } from './support.js';

const PORT = 1179;
let S: Netns;
let C: Netns;

const CLIENT4 = ['10.0.0.2', '10.0.0.3', '10.0.1.5', '10.0.2.5', ...Array.from({ length: 20 }, (_, i) => `10.0.3.${i + 1}`), ...Array.from({ length: 20 }, (_, i) => `10.0.4.${i + 1}`)];
const CLIENT6 = ['fd00::2', 'fd00::3', 'fd00:1::5', 'fd00:2::5'];

beforeAll(() => {
  requireRoot();
  S = new Netns('md5s');
  C = new Netns('md5c');
  link(S, ['10.0.0.1/16', 'fd00::1/64'], C, [...CLIENT4.map((a) => `${a}/16`), 'fd00::2/64', 'fd00::3/64', 'fd00:1::5/128', 'fd00:2::5/128']);
  S.ip('-6', 'route', 'add', 'fd00::/16', 'via', 'fd00::2');
  C.ip('-6', 'route', 'add', 'default', 'via', 'fd00::1', 'src', 'fd00::2');
});

afterAll(() => {
  C?.delete();
  S?.delete();
});

let listener: Listener | undefined;
let inbox: Inbox | undefined;
afterEach(() => {
  inbox?.closeAll();
  listener?.close();
  listener = undefined;
});

function listen(peers: TransportPeer[], ranges: string[] = [], rangePassword?: string) {
  const m = memoryLog();
  listener = Listener.open({
    address: '::',
    port: PORT,
    peers,
    dynamic: { ranges: ranges.map((r) => parseCidr(r)!), password: rangePassword, ibgp: true },
    log: m.log,
    netns: nsPath(S.name),
  });
  inbox = new Inbox(listener);
  return { l: listener, inbox, lines: m.lines };
}

/** The server namespace's TCP-MD5 drop counters. */
function md5Counters(): Record<'TcpExtTCPMD5Failure' | 'TcpExtTCPMD5NotFound', number> {
  const text = S.exec('nstat', ['-az', 'TcpExtTCPMD5Failure', 'TcpExtTCPMD5NotFound']);
  const get = (n: string) => Number(new RegExp(`${n}\\s+(\\d+)`).exec(text)?.[1] ?? NaN);
  return { TcpExtTCPMD5Failure: get('TcpExtTCPMD5Failure'), TcpExtTCPMD5NotFound: get('TcpExtTCPMD5NotFound') };
}

const server = (a: string) => (a.includes(':') ? 'fd00::1' : '10.0.0.1');

/** The listener resets the connection: either the connect already reports it, or the first read does. */
async function expectReset(from: string): Promise<void> {
  let out;
  try {
    out = await dial(from);
  } catch (e) {
    expect(e).toMatchObject({ code: 'ECONNRESET', syscall: 'connect' });
    return;
  }
  out.socket.write('OPEN');
  await expect(readBytes(out.socket, 1, 3000)).rejects.toMatchObject({ code: 'ECONNRESET' });
}

function dial(from: string, password?: string, timeoutMs = 2500) {
  return connect({ peer: peer(server(from), { password }), port: PORT, localAddress: from, timeoutMs, netns: nsPath(C.name) });
}

describe.each([
  ['IPv4', '10.0.0.2', '10.0.0.3'],
  ['IPv6', 'fd00::2', 'fd00::3'],
])('TCP-MD5 over %s on a dual-stack listener', (_name, client, other) => {
  it('matching key: accepted, named as the peer, data flows both ways; the accepted socket holds one key', async () => {
    const peers = [peer(client, { password: 's3cret' }), ...Array.from({ length: 300 }, (_, i) => peer(`10.50.${i >> 8}.${i & 255}`, { password: `other${i}` }))];
    const { l, inbox } = listen(peers);
    const out = await dial(client, 's3cret');
    const inb = await inbox.wait(client);
    expect(inb.kind).toBe('configured');
    expect(inb.remote.address).toBe(client); // an IPv4 peer is not ::ffff:10.0.0.2
    expect(inb.peer.address).toBe(client);
    expect(out.local.address.replace(/^::ffff:/, '')).toBe(client);
    await exchange(inb.socket, out.socket, client);
    // the listening socket holds 301 keys; the accepted one a copy of the single key that matched
    expect(l.snapshot().shards[0]!.optmem).toBe(301 * 136);
    expect(sockets.info(fdOf(inb.socket)).optmem).toBe(136);
    expect(sockets.info(fdOf(out.socket)).optmem).toBe(136);
    expect(l.keyStatus(client)).toEqual({ state: 'installed', key: `${client}/${client.includes(':') ? 128 : 32}`, shard: 0 });
    out.socket.destroy();
  });

  it('wrong key or no key: the kernel drops the SYN, the connect times out and nothing is accepted', async () => {
    const { inbox } = listen([peer(client, { password: 's3cret' })]);
    const before = md5Counters();
    await expect(dial(client, 'wrong', 2000)).rejects.toMatchObject({ code: 'ETIMEDOUT', syscall: 'connect' });
    await expect(dial(client, undefined, 2000)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(inbox.byAddress.size).toBe(0);
    const after = md5Counters();
    expect(after.TcpExtTCPMD5Failure).toBeGreaterThan(before.TcpExtTCPMD5Failure); // wrong key
    expect(after.TcpExtTCPMD5NotFound).toBeGreaterThan(before.TcpExtTCPMD5NotFound); // no key
  });

  it('a source that is neither a configured peer nor in a listen range is reset before any byte is read, and logged', async () => {
    const { inbox, lines } = listen([peer(client)]);
    const refused: string[] = [];
    listener!.on('refused', (r) => refused.push(r.address));
    await expectReset(other);
    expect(refused).toEqual([other]);
    expect(inbox.byAddress.size).toBe(0);
    expect(lines().some((l) => l.peer === other && /refused connection/.test(String(l.msg)))).toBe(true);
    // the configured peer still gets in
    const ok = await dial(client);
    await inbox.wait(client);
    ok.socket.destroy();
  });
});

describe('prefix keys', () => {
  it('a listen range with a password: dynamic neighbours come in with the range key; outsiders are refused', async () => {
    const { l, inbox } = listen([], ['10.0.1.0/24', 'fd00:1::/64'], 'dyn');
    expect(l.snapshot().keys).toBe(2);
    for (const a of ['10.0.1.5', 'fd00:1::5']) {
      const out = await dial(a, 'dyn');
      const inb = await inbox.wait(a);
      expect(inb.kind).toBe('dynamic');
      expect(inb.range).toEqual(parseCidr(a.includes(':') ? 'fd00:1::/64' : '10.0.1.0/24'));
      await exchange(inb.socket, out.socket, a);
      out.socket.destroy();
    }
    await expect(dial('10.0.1.5', undefined, 2000)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    // outside the range, no key covers it: TCP completes, the filter resets it
    await expectReset('fd00:2::5');
    await expectReset('10.0.2.5');
  });

  it('a /32 exception with another password inside a covering prefix', async () => {
    const peers = Array.from({ length: 20 }, (_, i) => peer(`10.0.3.${i + 1}`, { password: i + 1 === 7 ? 'special' : 'mesh' }));
    const { l, inbox } = listen(peers);
    expect(l.snapshot().keys).toBe(2);
    const a = await dial('10.0.3.7', 'special');
    const b = await dial('10.0.3.8', 'mesh');
    await exchange((await inbox.wait('10.0.3.7')).socket, a.socket, 'exception');
    await exchange((await inbox.wait('10.0.3.8')).socket, b.socket, 'covered');
    await expect(dial('10.0.3.7', 'mesh', 2000)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(l.keyStatus('10.0.3.7')).toMatchObject({ state: 'installed', key: '10.0.3.7/32' });
    expect(l.keyStatus('10.0.3.8')).toMatchObject({ state: 'installed', key: '10.0.3.0/27' });
    a.socket.destroy();
    b.socket.destroy();
  });

  it('a peer without a password inside the prefix of a shared password stays unsigned: the keys go around it', async () => {
    const peers = Array.from({ length: 20 }, (_, i) => peer(`10.0.4.${i + 1}`, { password: i + 1 === 9 ? undefined : 'mesh' }));
    const { l, inbox } = listen(peers);
    expect(l.snapshot().keys).toBeLessThan(10);
    expect(l.keyStatus('10.0.4.9')).toEqual({ state: 'none' });
    const plain = await dial('10.0.4.9');
    const signed = await dial('10.0.4.10', 'mesh');
    await exchange((await inbox.wait('10.0.4.9')).socket, plain.socket, 'plain');
    await exchange((await inbox.wait('10.0.4.10')).socket, signed.socket, 'signed');
    await expect(dial('10.0.4.11', undefined, 2000)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    plain.socket.destroy();
    signed.socket.destroy();
  });
});

describe('changing the peers', () => {
  it('keys follow update(); an established session keeps its own copy of the key when the listener drops it', async () => {
    const { l, inbox } = listen([peer('10.0.3.1', { password: 'one' })]);
    const first = await dial('10.0.3.1', 'one');
    const firstIn = await inbox.wait('10.0.3.1');
    // 10.0.3.1 removed, 10.0.3.2 added with a password, and 10.0.3.3 with another
    l.update([peer('10.0.3.2', { password: 'two' }), peer('10.0.3.3', { password: 'three' })], { ranges: [], password: undefined, ibgp: true });
    expect(l.snapshot().shards[0]!.optmem).toBe(2 * 136);
    expect(l.keyStatus('10.0.3.1')).toBeUndefined();
    await exchange(firstIn.socket, first.socket, 'still up');
    const second = await dial('10.0.3.2', 'two');
    await exchange((await inbox.wait('10.0.3.2')).socket, second.socket, 'added');
    // a changed password takes effect for new connections
    l.update([peer('10.0.3.2', { password: 'two' }), peer('10.0.3.3', { password: 'changed' })], { ranges: [], password: undefined, ibgp: true });
    await expect(dial('10.0.3.3', 'three', 2000)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    const third = await dial('10.0.3.3', 'changed');
    await inbox.wait('10.0.3.3');
    for (const c of [first, second, third]) c.socket.destroy();
  });
});

describe('listener', () => {
  it('a second listener on the same address and port fails with EADDRINUSE in Node shape', () => {
    listen([]);
    const other = sockets.open(6, nsPath(S.name));
    try {
      expect(() => sockets.bind(other, '::', PORT)).toThrow(expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind', errno: -98 }));
    } finally {
      sockets.close(other);
    }
  });

  it('asks for a backlog of 65535, gets what net.core.somaxconn allows, and warns when that is small', () => {
    S.exec('sysctl', ['-qw', 'net.core.somaxconn=512']);
    try {
      const { l, lines } = listen([]);
      expect(l.snapshot().backlog).toEqual({ asked: 65535, effective: 512 });
      expect(sockets.info(l.fds[0]!).tcp?.backlog).toBe(512);
      expect(lines().some((x) => x.sysctl === 'net.core.somaxconn' && x.level === 40)).toBe(true);
    } finally {
      listener?.close();
      listener = undefined;
      S.exec('sysctl', ['-qw', 'net.core.somaxconn=4096']);
    }
    const { l, lines } = listen([]);
    expect(sockets.info(l.fds[0]!).tcp?.backlog).toBe(4096);
    expect(lines().some((x) => x.sysctl === 'net.core.somaxconn')).toBe(false);
  });
});
