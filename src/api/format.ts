// Plain text of the API's views, shared by the CLI (`routelet status`, `routelet routes`) and
// the lab: tables with columns padded to their widest cell, durations, the sessions table.
import type { PeerView } from './types.js';

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return '-';
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const hh = String(Math.floor((s % 86400) / 3600)).padStart(2, '0');
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return d > 0 ? `${d}d ${hh}:${mm}:${ss}` : `${hh}:${mm}:${ss}`;
}

/** The sessions, like `birdc show protocols`: `routelet status` and the lab print this. */
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
    bfdCell(p.bfd),
    ...kubeCells(p),
    [p.lastError, p.md5Failures > 0 ? `${p.md5Failures} MD5 failures` : '', nodeInfo(p)].filter(Boolean).join('; '),
  ]);
  return table(['PEER', 'AS', 'TYPE', 'STATE', 'UPTIME', 'RCV/ACC/ADV', 'GR', 'BFD', ...(kube ? ['ORIGIN', 'NODE'] : []), 'INFO'], rows);
}

/** `Up 300ms×3 (det 900ms)`, `Down (last: control detection time expired)`, or '' without BFD. */
function bfdCell(b: PeerView['bfd']): string {
  if (!b) return '';
  const state = { adminDown: 'AdminDown', down: 'Down', init: 'Init', up: 'Up' }[b.state];
  if (b.state === 'up') return `${state} ${b.txIntervalMs}/${b.rxIntervalMs}ms det ${b.detectionTimeMs}ms`;
  return b.lastDown ? `${state} (last: ${b.lastDown.diagnostic})` : state;
}
