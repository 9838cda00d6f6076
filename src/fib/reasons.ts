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

/** rtm_protocol names as iproute2 spells them (/etc/iproute2/rt_protos), else the number. */
const PROTOCOLS: Record<number, string> = {
  1: 'redirect',
  2: 'kernel',
  3: 'boot',
  4: 'static',
  8: 'gated',
  9: 'ra',
  10: 'mrt',
  11: 'zebra',
  12: 'bird',
  13: 'dnrouted',
  14: 'xorp',
  15: 'ntk',
  16: 'dhcp',
  17: 'mrouted',
  18: 'keepalived',
  42: 'babel',
  99: 'openr',
  186: 'bgp',
  187: 'isis',
  188: 'ospf',
  189: 'rip',
  192: 'eigrp',
};

export function protocolName(protocol: number): string {
  return PROTOCOLS[protocol] ?? String(protocol);
}

function tableName(table: number): string {
  return table === 254 ? 'main' : table === 255 ? 'local' : table === 253 ? 'default' : String(table);
}

/**
 * A route we would install is held by a route of another owner (same table, prefix and
 * metric): `EEXIST (a route of protocol static holds 10.65.4.0/26 at metric 32 in table main: not replaced)`.
 */
export function describeHolder(prefix: string, metric: number, table: number, protocol: number | undefined): string {
  const who = protocol === undefined ? 'another route' : `a route of protocol ${protocolName(protocol)}`;
  return `EEXIST (${who} holds ${prefix} at metric ${metric} in table ${tableName(table)}: not replaced)`;
}
