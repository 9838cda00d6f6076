// Who holds a key our route was refused at (EEXIST: a connected route, a static route, another
// daemon's). The route queue's dumps are filtered by the kernel to our protocol
// (NETLINK_GET_STRICT_CHK), so routes of other owners that were there before the agent started
// are read with iproute2 (`ip -j route show table T`), once per family for every refusal
// waiting for a name, only when a refusal happens; routes of others added or replacing ours
// later are known from the monitor. Without `ip` the reason says "another route".
import { execFile } from 'node:child_process';
import { parsePrefix, type Prefix } from '../net/prefix.js';
import type { Family } from '../native/netlink.js';

const PROTOCOL_NUMBERS: Record<string, number> = {
  redirect: 1,
  kernel: 2,
  boot: 3,
  static: 4,
  gated: 8,
  ra: 9,
  mrt: 10,
  zebra: 11,
  bird: 12,
  dnrouted: 13,
  xorp: 14,
  ntk: 15,
  dhcp: 16,
  mrouted: 17,
  keepalived: 18,
  babel: 42,
  openr: 99,
  bgp: 186,
  isis: 187,
  ospf: 188,
  rip: 189,
  eigrp: 192,
};

interface IpRoute {
  dst: string;
  protocol?: string;
  metric?: number;
  type?: string;
}

/**
 * The rtm_protocol of every unicast route in the table at `metric`, by prefix. netns: a name
 * (`ip -n`) or a path (`nsenter --net=`); undefined: our own namespace.
 */
export function routesAtMetric(netns: string | undefined, family: Family, table: number, metric: number): Promise<Map<Prefix, number>> {
  const ipArgs = ['-j', `-${family}`, 'route', 'show', 'table', String(table)];
  let cmd = 'ip';
  let args = ipArgs;
  if (netns !== undefined && netns.includes('/')) {
    cmd = 'nsenter';
    args = [`--net=${netns}`, 'ip', ...ipArgs];
  } else if (netns !== undefined) args = ['-n', netns, ...ipArgs];
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 1 << 30, timeout: 30_000 }, (err, stdout) => {
      if (err) {
        reject(err);
        return;
      }
      const out = new Map<Prefix, number>();
      for (const r of JSON.parse(stdout || '[]') as IpRoute[]) {
        if ((r.metric ?? 0) !== metric || (r.type !== undefined && r.type !== 'unicast')) continue;
        const dst = r.dst === 'default' ? (family === 4 ? '0.0.0.0/0' : '::/0') : r.dst.includes('/') ? r.dst : `${r.dst}/${family === 4 ? 32 : 128}`;
        const p = parsePrefix(dst);
        if (p === undefined || r.protocol === undefined) continue;
        const n = PROTOCOL_NUMBERS[r.protocol] ?? Number(r.protocol);
        if (Number.isInteger(n)) out.set(p, n);
      }
      resolve(out);
    });
  });
}
