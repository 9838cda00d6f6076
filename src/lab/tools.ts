// The host tools the lab runs: iproute2 (ip) and BIRD 2 (bird, birdc).
import { spawnSync } from 'node:child_process';

const TOOLS: [string, string][] = [
  ['ip', 'iproute2'],
  ['bird', 'bird2'],
  ['birdc', 'bird2'],
];

/** whether `cmd` is on PATH */
export function installed(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** null when every tool is there, else a one-line message naming what is missing and its package. */
export function requireTools(): string | null {
  const missing = TOOLS.filter(([cmd]) => !installed(cmd));
  if (missing.length === 0) return null;
  return `missing ${missing.map(([c]) => c).join(', ')} (Debian packages: ${[...new Set(missing.map(([, p]) => p))].join(', ')})`;
}
