// What the loader needs to know of the host it runs on, injectable for tests.
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';

export interface HostFacts {
  /** the first global IPv4 address of the host, for the default router ID */
  firstGlobalIPv4(): string | undefined;
  /** every address of the host's interfaces, loopback included: none of them can be a peer */
  localAddresses(): string[];
  readFile(path: string): string;
  /** the host name, the default Kubernetes node name (os.hostname() when absent) */
  hostName?(): string;
}

export const realHost: HostFacts = {
  firstGlobalIPv4() {
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? []) {
        if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.')) return a.address;
      }
    }
    return undefined;
  },
  localAddresses() {
    return Object.values(networkInterfaces()).flatMap((addrs) => (addrs ?? []).map((a) => a.address));
  },
  readFile: (p) => readFileSync(p, 'utf8'),
  hostName: hostname,
};
