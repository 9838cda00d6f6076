import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { microtask } from '../../src/sys/microtask.js';

describe('microtask', () => {
  it('runs after the synchronous work, in order among promise reactions and queueMicrotask callbacks', async () => {
    const seen: string[] = [];
    microtask(() => seen.push('a'));
    void Promise.resolve().then(() => seen.push('promise'));
    queueMicrotask(() => seen.push('queueMicrotask'));
    microtask(() => seen.push('b'));
    seen.push('sync');
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['sync', 'a', 'promise', 'queueMicrotask', 'b']);
  });

  it('an exception in the callback ends the process, as one from queueMicrotask does', () => {
    // the built module (the test command builds dist/ first): a child process cannot load TypeScript
    const module = fileURLToPath(new URL('../../dist/sys/microtask.js', import.meta.url));
    const code = `import { microtask } from ${JSON.stringify(module)}; microtask(() => { throw new Error('boom from a microtask'); }); setTimeout(() => console.log('still running'), 200);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('boom from a microtask');
    expect(r.stdout).not.toContain('still running');
  });
});
