// The node's own addresses and connected subnets for the RIB's import sanity
// (src/rib/sanity.ts): from the host's interfaces (interfaces.ts: read again only after the
// kernel reported an address change), into a LocalAddresses the RIB listens to. The RIB
// re-checks what it holds only when the set changed.
import { type LocalAddress, LocalAddresses } from '../rib/sanity.js';
import { hostInterfaces, type HostInterfaces, type InterfaceList } from './interfaces.js';

/** A burst of changes (an interface and its addresses) is read once, this long after the first. */
const SETTLE_MS = 100;

/** Every address of every interface (loopback and link-local included) with its prefix length. */
export function hostAddresses(list: InterfaceList): LocalAddress[] {
  const out: LocalAddress[] = [];
  for (const addrs of Object.values(list)) {
    for (const a of addrs ?? []) {
      const len = a.cidr ? Number(a.cidr.slice(a.cidr.lastIndexOf('/') + 1)) : a.family === 'IPv4' ? 32 : 128;
      out.push({ address: a.address, prefixLength: len });
    }
  }
  return out;
}

/**
 * A LocalAddresses kept current from the host: read now and after each change the host reports
 * (the FIB's netlink monitor tells it). pollMs: also read on a timer, for an agent with no FIB
 * (no monitor). Timers are unref'd: they never keep the process up.
 */
export function hostLocalAddresses(o: { host?: HostInterfaces; pollMs?: number } = {}): LocalAddresses {
  const host = o.host ?? hostInterfaces;
  const local = new LocalAddresses();
  const refresh = (): void => {
    try {
      local.update(hostAddresses(host.list()));
    } catch {
      // keep the last set
    }
  };
  refresh();
  let pending = false;
  host.onChange(() => {
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      refresh();
    }, SETTLE_MS).unref();
  });
  if (o.pollMs !== undefined)
    setInterval(() => {
      host.changed();
    }, o.pollMs).unref();
  return local;
}
