// Network namespaces for the tests: src/lab/netns.ts (routelet lab and the benchmarks use it
// too), and a check the tests make that nothing is left behind.
import { execFileSync } from 'node:child_process';

export * from '../../src/lab/netns.js';

export function netnsExists(name: string): boolean {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').some((l) => l.split(' ')[0] === name);
}
