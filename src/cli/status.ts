// `routelet status [--json] [--http ADDR]`: the sessions, like `birdc show protocols`.
import type { PeerView } from '../api/types.js';
import { parse } from './args.js';
import { AgentUnreachable, agentAddress, getJson } from './client.js';
import { duration, table } from './table.js';

export function formatPeers(peers: PeerView[]): string {
  if (peers.length === 0) return 'no peers';
  // the Kubernetes mode: where each peer comes from and its node's health
  const kube = peers.some((p) => p.origin !== undefined);
  const kubeCells = (p: PeerView) => (kube ? [p.origin ?? (p.dynamic ? 'dynamic' : ''), p.nodeName ?? ''] : []);
  const nodeInfo = (p: PeerView) => (p.nodeHealth && p.nodeHealth.health !== 'alive' ? `node ${p.nodeHealth.health}: ${p.nodeHealth.reason}` : '');
  const rows = peers.map((p) => [
    p.address + (p.port !== 179 ? `:${p.port}` : ''),
    String(p.asn),
    p.dynamic ? 'dynamic' : (p.type ?? ''),
    p.state,
    duration(p.uptimeSeconds),
    `${p.prefixes.received}/${p.prefixes.accepted}/${p.prefixes.advertised}`,
    p.gracefulRestart.restarting ? `GR restarting (${p.gracefulRestart.staleRoutes} stale)` : p.gracefulRestart.negotiated ? 'GR' : '',
    ...kubeCells(p),
    [p.lastError, p.md5Failures > 0 ? `${p.md5Failures} MD5 failures` : '', nodeInfo(p)].filter(Boolean).join('; '),
  ]);
  return table(['PEER', 'AS', 'TYPE', 'STATE', 'UPTIME', 'RCV/ACC/ADV', 'GR', ...(kube ? ['ORIGIN', 'NODE'] : []), 'INFO'], rows);
}

export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' }, http: { type: 'string' } }, 'status');
  const base = agentAddress(values.http);
  try {
    const peers = await getJson<PeerView[]>(base, '/api/v1/peers');
    process.stdout.write(values.json ? `${JSON.stringify(peers, null, 2)}\n` : `${formatPeers(peers)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof AgentUnreachable) {
      process.stderr.write(`routelet: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
