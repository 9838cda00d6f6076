// Why the kernel refused a route, in words an operator can act on: the errno name first (as
// `/api/v1/routes` and `/readyz` show it), then what it means for this route's next hops,
// e.g. `ENETUNREACH (gateway 10.9.9.9 not reachable)`.
import type { Hop } from '../native/netlink.js';

export interface Refusal {
  /** positive errno */
  errno: number;
  /** errno name, 'ENETUNREACH' */
  code: string;
  /** the kernel's extended-ack text, or the queue's own ('next-hop handle 7 is not defined') */
  message: string;
}

function gateways(hops: readonly Hop[]): string {
  const gws = hops.filter((h) => h.gateway !== undefined).map((h) => h.gateway!);
  if (gws.length === 0) return '';
  return gws.length === 1 ? `gateway ${gws[0]}` : `gateways ${gws.join(', ')}`;
}

function devices(hops: readonly Hop[], name: (ifindex: number) => string): string {
  const devs = [...new Set(hops.filter((h) => h.ifindex).map((h) => name(h.ifindex!)))];
  if (devs.length === 0) return 'the device';
  return devs.length === 1 ? `device ${devs[0]}` : `devices ${devs.join(', ')}`;
}

/** Words for a refusal of a route through `hops` (empty for a delete). */
export function describeRefusal(r: Refusal, hops: readonly Hop[], deviceName: (ifindex: number) => string = (i) => `#${i}`): string {
  const gw = gateways(hops);
  let words: string;
  switch (r.code) {
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      words = gw ? `${gw} not reachable` : 'no route to the next hop';
      break;
    case 'ENETDOWN':
      words = `${devices(hops, deviceName)} is down`;
      break;
    case 'ENODEV':
      words = `${devices(hops, deviceName)} does not exist`;
      break;
    case 'EINVAL':
      words = /nexthop id/i.test(r.message)
        ? `its kernel next-hop object is missing${gw ? ` (${gw})` : ''}`
        : `invalid route${r.message ? `: ${r.message}` : ''}`;
      return `${r.code} (${words})`;
    case 'EPERM':
    case 'EACCES':
      words = 'not permitted: the agent needs CAP_NET_ADMIN';
      break;
    case 'EEXIST':
      words = 'a route that cannot be replaced is in the way';
      break;
    case 'ESRCH':
    case 'ENOENT':
      words = 'no such route';
      break;
    case 'ENOBUFS':
      words = 'netlink replies lost (socket buffer overflow); retrying';
      break;
    case 'ENOMEM':
    case 'EBUSY':
    case 'EAGAIN':
      words = 'kernel busy or out of memory; retrying';
      break;
    case 'ETIMEDOUT':
      words = 'no answer from the kernel';
      break;
    default:
      words = r.message || 'refused by the kernel';
      return `${r.code} (${words})`;
  }
  return `${r.code} (${words})`;
}
