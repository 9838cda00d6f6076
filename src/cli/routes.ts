// `routelet routes [--json] [--prefix P] [--http ADDR]`: the routing table with attributes,
// the best path and why it won, and the kernel state.
import type { RouteView } from '../api/types.js';
import { parseCidr, parseIP } from '../net/ip.js';
import { parse } from './args.js';
import { agentAddress, printView } from './client.js';
import { UsageError } from './errors.js';
import { table } from '../api/format.js';

export function formatRoutes(routes: RouteView[]): string {
  if (routes.length === 0) return 'no routes';
  const rows: string[][] = [];
  for (const r of routes) {
    r.paths.forEach((p, i) => {
      rows.push([
        i === 0 ? r.prefix : '',
        p.best ? '*' : p.multipath ? '=' : '',
        p.nextHop,
        p.peer,
        p.asPath === '' ? '(local)' : p.asPath,
        p.origin === 'IGP' ? 'i' : p.origin === 'EGP' ? 'e' : '?',
        p.localPref === null ? '' : String(p.localPref),
        p.med === null ? '' : String(p.med),
        [p.stale ? 'stale' : '', p.best && p.bestReason ? p.bestReason : ''].filter(Boolean).join('; '),
        i === 0 ? r.kernel : '',
      ]);
    });
  }
  return table(['PREFIX', 'B', 'NEXT HOP', 'PEER', 'AS PATH', 'O', 'LOCPRF', 'MED', 'INFO', 'KERNEL'], rows);
}

export async function routesCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' }, prefix: { type: 'string' }, http: { type: 'string' } }, 'routes');
  if (values.prefix !== undefined && !parseCidr(values.prefix) && !parseIP(values.prefix))
    throw new UsageError(`invalid --prefix ${JSON.stringify(values.prefix)}: expected a prefix such as 10.0.0.0/24 or an address`);
  const path = `/api/v1/routes${values.prefix !== undefined ? `?prefix=${encodeURIComponent(values.prefix)}` : ''}`;
  return printView<RouteView[]>(agentAddress(values.http), path, values.json, formatRoutes);
}
