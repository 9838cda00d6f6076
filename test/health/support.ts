// Helpers for the peer-health tests: sockets inside test namespaces (created by a thread of
// the addon that joins the namespace, then adopted by Node), a cgroup v2 of this test
// process alone for sockops, and waiting for events with a generous bound.
import { mkdirSync, rmdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { Server, Socket, createServer } from 'node:net';
import { join } from 'node:path';
import { testSocketIn } from '../../src/native/bpf-peerwatch.js';
import { ownCgroup2Dir } from '../../src/sys/cgroup.js';
import type { PeerHealthEvent, PeerHealthKind } from '../../src/health/events.js';
import type { PeerWatch } from '../../src/health/service.js';
import { sh, type Netns } from '../support/netns.js';

export const nsPath = (ns: Netns): string => `/var/run/netns/${ns.name}`;
export const nsInode = (ns: Netns): number => statSync(nsPath(ns)).ino;

/** `ip netns exec NS sysctl -w k=v …` */
export function sysctl(ns: Netns, ...settings: string[]): void {
  ns.exec('sysctl', ['-q', '-w', ...settings]);
}

/** Fast neighbour resolution on a device: 3 probes 100 ms apart. */
export function fastNeighbours(ns: Netns, dev: string): void {
  for (const fam of ['ipv4', 'ipv6'])
    sysctl(ns, `net.${fam}.neigh.${dev}.retrans_time_ms=100`, `net.${fam}.neigh.${dev}.ucast_solicit=3`, `net.${fam}.neigh.${dev}.mcast_solicit=3`);
}

export interface Conn {
  socket: Socket;
  /** the error Node reported on the socket, once it does */
  error: Promise<NodeJS.ErrnoException>;
  connected: Promise<void>;
}

/**
 * Connect from inside ns, optionally with TCP-MD5 keys and a source address; errors are
 * caught (and kept), never thrown.
 */
export function connectFrom(ns: Netns, host: string, port: number, md5?: { address: string; key: string }[], source?: string): Conn {
  const family = host.includes(':') ? 6 : 4;
  const fd = testSocketIn(nsPath(ns), { family, ...(md5 ? { md5 } : {}), ...(source ? { bind: { address: source, port: 0 } } : {}) });
  const socket = new Socket({ fd, readable: true, writable: true });
  const error = new Promise<NodeJS.ErrnoException>((resolve) => socket.on('error', resolve));
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.connect(port, host);
  return { socket, error, connected };
}

/** A listener inside ns; accepted sockets are kept (and returned) for the test to act on. */
export async function listenIn(
  ns: Netns,
  address: string,
  port: number,
  md5?: { address: string; key: string }[],
): Promise<{ server: Server; accepted: Socket[]; next: () => Promise<Socket> }> {
  const family = address.includes(':') ? 6 : 4;
  const fd = testSocketIn(nsPath(ns), { family, bind: { address, port }, ...(md5 ? { md5 } : {}) });
  const accepted: Socket[] = [];
  const waiting: ((s: Socket) => void)[] = [];
  const server = createServer((s) => {
    s.on('error', () => {});
    accepted.push(s);
    waiting.shift()?.(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => resolve());
  });
  const next = () => new Promise<Socket>((resolve) => (accepted.length ? resolve(accepted[accepted.length - 1]!) : waiting.push(resolve)));
  return { server, accepted, next };
}

/** Collects every event a PeerWatch delivers. */
export class Collector {
  readonly events: PeerHealthEvent[] = [];
  readonly batches: number[] = [];
  #waiters: { pred: (e: PeerHealthEvent) => boolean; resolve: (e: PeerHealthEvent) => void }[] = [];
  constructor(watch: PeerWatch) {
    watch.onEvents((batch) => {
      this.batches.push(batch.length);
      for (const e of batch) {
        this.events.push(e);
        this.#waiters = this.#waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
      }
    });
  }

  /** The first event (already seen or coming) that matches, within `ms`. */
  wait(pred: (e: PeerHealthEvent) => boolean, ms: number, what = 'event'): Promise<PeerHealthEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no ${what} within ${ms} ms; saw: ${this.describe()}`));
      }, ms);
      const done = (e: PeerHealthEvent) => {
        clearTimeout(t);
        resolve(e);
      };
      this.#waiters.push({ pred, resolve: done });
    });
  }

  kind(peer: string, kind: PeerHealthKind, ms: number): Promise<PeerHealthEvent> {
    return this.wait((e) => e.peer === peer && e.kind === kind, ms, `${kind} event for ${peer}`);
  }

  of(peer: string): PeerHealthEvent[] {
    return this.events.filter((e) => e.peer === peer);
  }

  describe(): string {
    return JSON.stringify(this.events.map((e) => `${e.peer}:${e.port} ${e.kind} ${e.code ?? ''} ${e.oldState ?? ''}>${e.newState ?? ''}`));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A cgroup v2 of this test process alone, so the sockops program sees only its sockets.
 * The process moves in; cleanup moves it back and removes the directory.
 */
export function privateCgroup(tag: string): { path: string; release: () => void } {
  const parent = ownCgroup2Dir();
  const path = join(parent, `routelet-test-${process.pid}-${tag}`);
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'cgroup.procs'), String(process.pid));
  return {
    path,
    release: () => {
      try {
        writeFileSync(join(parent, 'cgroup.procs'), String(process.pid));
      } catch {
        /* already out */
      }
      if (existsSync(path)) rmdirSync(path);
    },
  };
}

/** Ping until the address answers (a fresh veth needs a moment before NDP works), at most ~5 s. */
export function waitReachable(ns: Netns, address: string): void {
  for (let i = 0; i < 10; i++) {
    const r = ns.exec('ping', ['-c1', '-W1', '-i0.2', address], { allowFail: true });
    if (/1 received/.test(r)) return;
  }
  throw new Error(`${address} does not answer ping from ${ns.name}`);
}

/** The test topology: A (the agent) — R (a router) — C (peers), IPv4 and IPv6. */
export interface Topology {
  a: Netns;
  r: Netns;
  c: Netns;
  /** device names: A's side to R, R's side to A, R's side to C, C's side to R */
  aDev: string;
  raDev: string;
  rcDev: string;
  cDev: string;
}

export function routed(NetnsCtor: new (tag: string) => Netns, link: (a: Netns, aa: string[], b: Netns, bb: string[]) => { aDev: string; bDev: string }): Topology {
  const a = new NetnsCtor('a');
  const r = new NetnsCtor('r');
  const c = new NetnsCtor('c');
  const ar = link(a, ['10.77.1.1/24', 'fd77:1::1/64'], r, ['10.77.1.2/24', 'fd77:1::2/64']);
  const rc = link(r, ['10.77.2.1/24', 'fd77:2::1/64'], c, ['10.77.2.2/24', '10.77.2.3/24', 'fd77:2::2/64', 'fd77:2::3/64']);
  sysctl(r, 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
  a.ip('route', 'add', 'default', 'via', '10.77.1.2');
  a.ip('-6', 'route', 'add', 'default', 'via', 'fd77:1::2');
  c.ip('route', 'add', 'default', 'via', '10.77.2.1');
  c.ip('-6', 'route', 'add', 'default', 'via', 'fd77:2::1');
  fastNeighbours(a, ar.aDev);
  fastNeighbours(r, rc.aDev);
  // ICMP errors are the evidence here: no rate limit on sending them, neither per destination
  // (ratelimit) nor the namespace's shared budget (ratemask: no type counts against it). The
  // router's per-source limit on route errors (net.ipv4.route.error_cost) is the host's, and
  // left alone: icmpCounters() shows it at work (IcmpOutRateLimitHost stays 0, the error is
  // simply not sent).
  for (const n of [a, r]) sysctl(n, 'net.ipv4.icmp_ratelimit=0', 'net.ipv6.icmp.ratelimit=0', 'net.ipv4.icmp_ratemask=0', 'net.ipv6.icmp.ratemask=');
  for (const [n, addr] of [[a, '10.77.1.2'], [a, 'fd77:1::2'], [c, '10.77.2.1'], [c, 'fd77:2::1'], [a, '10.77.2.2'], [a, 'fd77:2::2']] as const)
    waitReachable(n, addr);
  return { a, r, c, aDev: ar.aDev, raDev: ar.bDev, rcDev: rc.aDev, cDev: rc.bDev };
}

/** The namespace's ICMP and no-route counters, for a failure message: which hop stayed silent. */
export function icmpCounters(ns: Netns): string {
  const want = /^(IpExtInNoRoutes|IpOutNoRoutes|IcmpInDestUnreachs|IcmpOutDestUnreachs|IcmpOutErrors|IcmpOutRateLimitGlobal|IcmpOutRateLimitHost|TcpExtTCPTimeouts)\s+(\d+)/;
  return ns
    .exec('nstat', ['-az'])
    .split('\n')
    .map((l) => want.exec(l))
    .filter((m) => m !== null)
    .map((m) => `${m[1]}=${m[2]}`)
    .join(' ');
}

export { sh };
