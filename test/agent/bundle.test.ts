// bin/routelet.js runs the bundle, dist/routelet.mjs (scripts/bundle.mjs), not the compiled
// modules beside it: the agent's code comes from the bundle; the bundle alone (no other file
// of dist/) runs the command; without it bin fails with the way to build it.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns } from '../support/netns.js';
import { startAgent } from '../support/agent.js';
import { ROOT } from '../support/cli.js';
import { requireRoot } from '../support/privileges.js';

const dirs: string[] = [];
let ns: Netns | undefined;

afterAll(() => {
  ns?.delete();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A copy of the package with bin/, package.json and node_modules, plus these files of the checkout. */
function copyWith(files: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'routelet-bundle-'));
  dirs.push(dir);
  for (const f of ['bin', 'package.json', ...files]) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

const run = (dir: string, args: string[]) =>
  spawnSync(process.execPath, [join(dir, 'bin', 'routelet.js'), ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH! } });

describe('bin/routelet.js runs the bundle', () => {
  it('the agent started by bin runs its code from dist/routelet.mjs', async () => {
    requireRoot();
    ns = new Netns('bndl');
    ns.ip('link', 'set', 'lo', 'up');
    const a = await startAgent(ns, { ROUTELET_ASN: '65000', ROUTELET_ROUTER_ID: '192.0.2.1', ROUTELET_KUBERNETES: 'off' });
    try {
      const starting = a.lines().find((l) => l.msg === 'routelet agent starting');
      expect(starting?.code).toBe(join(ROOT, 'dist', 'routelet.mjs'));
    } finally {
      expect((await a.stop()).code).toBe(0);
    }
  }, 60_000);

  it('the bundle and the addon alone, without the compiled modules, run --version and agent --check', () => {
    requireRoot();
    const dir = copyWith(['dist/routelet.mjs', 'build/Release/routelet_native.node']);
    const v = run(dir, ['--version']);
    expect(v.stderr).toBe('');
    expect(v.stdout).toMatch(/^routelet \d+\.\d+\.\d+\n$/);
    const c = run(dir, ['agent', '--check', '--json']);
    expect(c.stderr).toBe('');
    const checks = JSON.parse(c.stdout) as { name: string; required: boolean; ok: boolean }[];
    expect(checks.map((x) => x.name)).toEqual(expect.arrayContaining(['rtnetlink', 'tcp-md5']));
    expect(checks.filter((x) => x.required && !x.ok)).toEqual([]);
  }, 60_000);

  it('without the bundle, bin exits 1 and says how to build it', () => {
    const dir = copyWith(['dist/cli']);
    const r = run(dir, ['--version']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('dist/routelet.mjs is missing');
    expect(r.stderr).toContain('run: npm run setup');
  });
});
