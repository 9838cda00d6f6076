// The node's own addresses and connected subnets for the RIB's import sanity
// (src/rib/sanity.ts): read from os.networkInterfaces() (as devices.ts does) now and every
// REFRESH_MS, into a LocalAddresses the RIB listens to. The RIB re-checks what it holds
// only when the set changed.
import { networkInterfaces } from 'node:os';
import { type LocalAddress, LocalAddresses } from '../rib/sanity.js';

const REFRESH_MS = 5000;

/** Every address of every interface (loopback and link-local included) with its prefix length. */
export function hostAddresses(read: typeof networkInterfaces = networkInterfaces): LocalAddress[] {
  const out: LocalAddress[] = [];
  for (const addrs of Object.values(read())) {
    for (const a of addrs ?? []) {
      const len = a.cidr ? Number(a.cidr.slice(a.cidr.lastIndexOf('/') + 1)) : a.family === 'IPv4' ? 32 : 128;
      out.push({ address: a.address, prefixLength: len });
    }
  }
  return out;
}

/** A LocalAddresses kept current from the host (an unref'd timer: it never keeps the process up). */
export function hostLocalAddresses(intervalMs = REFRESH_MS): LocalAddresses {
  const local = new LocalAddresses();
  const refresh = (): void => {
    try {
      local.update(hostAddresses());
    } catch {
      // keep the last set
    }
  };
  refresh();
  setInterval(refresh, intervalMs).unref();
  return local;
}
