// Shared by the FIB tests: a namespace with a veth link to a peer namespace, the kernel's own
// view of our routes (`ip -j route show`), and polling with a generous bound.
import { link, Netns } from '../support/netns.js';

export const PROTOCOL = 201;

export interface Topology {
  ns: Netns;
  peer: Netns;
  dev: string;
  ifindex: number;
}

/** ns —veth— peer, with 192.0.2.1/24 and fd00::1/64 on our side (gateways .2, .3, ::2, ::3 on-link). */
export function topology(tag: string): Topology {
  const ns = new Netns(tag);
  const peer = new Netns(`${tag}p`);
  const { aDev } = link(ns, ['192.0.2.1/24', 'fd00::1/64'], peer, ['192.0.2.2/24', 'fd00::2/64']);
  const ifindex = ns.json<{ ifindex: number }[]>('link', 'show', aDev)[0]!.ifindex;
  return { ns, peer, dev: aDev, ifindex };
}

export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  nhid?: number;
  protocol?: string;
  flags?: string[];
  nexthops?: { gateway?: string; dev?: string; weight?: number; flags?: string[] }[];
}

/** Routes of a protocol as `ip -j route show` reports them. */
export function ipRoutes(ns: Netns, family: 4 | 6 = 4, protocol = PROTOCOL): IpRoute[] {
  return ns.json<IpRoute[]>(`-${family}`, 'route', 'show', 'proto', String(protocol));
}

export function ipRoute(ns: Netns, dst: string, family: 4 | 6 = 4): IpRoute | undefined {
  return ipRoutes(ns, family).find((r) => r.dst === dst);
}

/** Gateways of a route, sorted (one for a single-path route, several for ECMP). */
export function gateways(r: IpRoute | undefined): string[] {
  if (!r) return [];
  const hops = r.nexthops ?? [r];
  return hops.map((h) => h.gateway ?? `dev ${h.dev}`).sort();
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
