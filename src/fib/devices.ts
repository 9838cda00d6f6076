// Which device a next hop is on, when it is on a subnet of one of our interfaces (the Calico
// case: every BGP next hop is a node address on the shared network). A hop that names its
// device lets the FIB program the route against a kernel next-hop object, which the kernel
// installs about 1.5× faster than a route carrying its own gateway (src/fib/README.md); a
// hop on no connected subnet (multihop eBGP, a gateway behind a default route) keeps the plain
// gateway form and the kernel resolves it.
//
// The interface list comes from the host's interfaces (interfaces.ts: os.networkInterfaces(),
// read again only after the kernel reported an address change) and /sys/class/net/NAME/ifindex;
// answers are cached with it. A device that goes down takes its next-hop objects with it and
// the FIB defines them again (reconcile.ts).
import { readFileSync } from 'node:fs';
import { cidrContains, parseCidr, parseIP, type Cidr } from '../net/ip.js';
import { hostInterfaces, type HostInterfaces, type InterfaceList } from './interfaces.js';

interface Connected {
  readonly cidr: Cidr;
  readonly ifindex: number;
}

export class ConnectedDevices {
  #list: Connected[] = [];
  #readAt = -1;
  readonly #cache = new Map<string, number>();
  readonly #host: HostInterfaces;
  readonly #read: () => Connected[];

  /** host: whose changes make it read again; read: the connected subnets (default: from host) */
  constructor(o: { host?: HostInterfaces; read?: () => Connected[] } = {}) {
    const host = (this.#host = o.host ?? hostInterfaces);
    this.#read = o.read ?? (() => readConnected(host.list()));
  }

  /** Changes when the interfaces do (deviceFor's answers may change with it, never without). */
  get generation(): number {
    return this.#host.generation;
  }

  /** The ifindex of the device whose subnet holds `address` (the longest match), or 0. */
  deviceFor(address: string): number {
    const gen = this.#host.generation;
    if (gen !== this.#readAt) {
      this.#readAt = gen;
      try {
        this.#list = this.#read();
      } catch {
        this.#list = [];
      }
      this.#cache.clear();
    }
    let d = this.#cache.get(address);
    if (d !== undefined) return d;
    d = 0;
    const a = parseIP(address);
    if (a) {
      let best = -1;
      for (const c of this.#list) {
        if (c.cidr.family !== a.family || c.cidr.length <= best || !cidrContains(c.cidr, a.family, a.bytes)) continue;
        // a host route of our own address (/32, /128) is not a subnet a gateway can be on
        if (c.cidr.length === (a.family === 4 ? 32 : 128)) continue;
        best = c.cidr.length;
        d = c.ifindex;
      }
    }
    this.#cache.set(address, d);
    return d;
  }
}

function readConnected(list: InterfaceList): Connected[] {
  const out: Connected[] = [];
  for (const [name, addrs] of Object.entries(list)) {
    if (!addrs || name === 'lo') continue;
    let ifindex = 0;
    for (const a of addrs) {
      if (a.internal || !a.cidr) continue;
      // IPv6 link-local subnets are per device: a link-local next hop carries its scope elsewhere
      if (a.family === 'IPv6' && /^fe[89ab]/i.test(a.address)) continue;
      const cidr = parseCidr(a.cidr, true);
      if (!cidr) continue;
      if (ifindex === 0) ifindex = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim()) || -1;
      if (ifindex > 0) out.push({ cidr, ifindex });
    }
  }
  return out;
}

