// Smoke run of `npm run bench:rib` (bench/rib-ns.ts) at a tiny size: the harness brings
// up both reflectors in its namespaces, every client of each ends up holding every route,
// the last line is the JSON with figures side by side, and nothing it started is left
// behind. It checks the harness works, not how fast anything is.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireCommand, requireRoot } from '../support/privileges.js';

const BENCH = join(import.meta.dirname, '..', '..', 'dist-bench', 'rib-ns.js');
let child: ChildProcess | undefined;

beforeAll(() => {
  requireRoot();
  requireCommand('bird', 'bird2');
  requireCommand('cc', 'gcc');
});

afterAll(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    child = spawn(process.execPath, [BENCH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

type Medians = Record<string, Record<string, number | null>>;

describe('bench:rib smoke run', () => {
  it('a bad option is a usage error that starts nothing', () => {
    const r = spawnSync(process.execPath, [BENCH, '--only', 'x'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--only: "x" is none of a, b, c');
  });

  it('routelet and BIRD each reflect a small feed to 10 clients and 40 clients to each other', async () => {
    const r = await run(['--prefixes', '5000', '--clients', '10', '--rr-clients', '40', '--runs', '1', '--only', 'a,c', '--rr-modes', 'up', '--timeout', '60']);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const json = JSON.parse(lines.at(-1)!) as { feed10: { medians: Medians }; 'clients-up': { medians: Medians }; prefixes: number };
    expect(json.prefixes).toBe(5000);
    for (const k of ['routelet', 'bird']) {
      // the sinks report "done" only when every client holds every route
      expect(json.feed10.medians['at every client']![k]).toBeGreaterThan(0);
      expect(json['clients-up'].medians['first connect → converged']![k]).toBeGreaterThan(0);
      expect(json['clients-up'].medians['reflector RSS']![k]).toBeGreaterThan(1);
    }
    expect(json.feed10.medians['at every client']!.ratio).toBeGreaterThan(0);
    expect(r.stdout).toContain('routelet/BIRD');
    // its namespaces are gone (named rlt<pid>…, src/lab/netns.ts)
    const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(left).not.toContain(`rlt${child!.pid}`);
  }, 120_000);
});
