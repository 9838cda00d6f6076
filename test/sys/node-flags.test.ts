// How node starts the agent (src/sys/node-flags.ts): the flags are node's own, so they are
// checked against node itself; the agent says when it runs without them; `routelet bench fib`
// runs itself again with them. The image's entry point is held to them in test/image.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { AGENT_NODE_FLAGS, hasAgentNodeFlags, SEMI_SPACE_MIB } from '../../src/sys/node-flags.js';
import { startAgent, stopAllAgents } from '../support/agent.js';
import { routelet } from '../support/cli.js';
import { Netns } from '../support/netns.js';
import { requireRoot } from '../support/privileges.js';

let ns: Netns | undefined;
afterAll(async () => {
  await stopAllAgents();
  ns?.delete();
});

/** The young generation's capacity at start, MiB, of a node started with these flags. */
function youngAtStart(flags: readonly string[]): number {
  const code = "const s = require('v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space'); process.stdout.write(String(s.space_size / 2 ** 20))";
  const r = spawnSync(process.execPath, [...flags, '-e', code], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return Number(r.stdout);
}

describe('the agent\'s node flags', () => {
  it('node takes them, and starts the young generation at its full size instead of 1 MiB', () => {
    expect(youngAtStart(AGENT_NODE_FLAGS)).toBe(SEMI_SPACE_MIB);
    expect(youngAtStart([])).toBeLessThan(SEMI_SPACE_MIB);
  });

  it('hasAgentNodeFlags needs every one of them', () => {
    expect(hasAgentNodeFlags(AGENT_NODE_FLAGS)).toBe(true);
    expect(hasAgentNodeFlags(['--expose-gc', ...AGENT_NODE_FLAGS])).toBe(true);
    expect(hasAgentNodeFlags(AGENT_NODE_FLAGS.slice(1))).toBe(false);
    expect(hasAgentNodeFlags([])).toBe(false);
  });

  it('the agent started without them says so at start, naming them; started with them it does not', async () => {
    requireRoot();
    ns = new Netns('nflg');
    ns.ip('link', 'set', 'lo', 'up');
    const env = { ROUTELET_ASN: '65000', ROUTELET_ROUTER_ID: '192.0.2.1', ROUTELET_KUBERNETES: 'off', ROUTELET_LOG_LEVEL: 'info' };
    const said = (lines: { msg?: unknown; expected?: unknown }[]) => lines.filter((l) => String(l.msg).startsWith('node was started without'));
    const without = await startAgent(ns, env, { nodeFlags: [] });
    const w = said(without.lines());
    expect((await without.stop()).code).toBe(0);
    expect(w).toHaveLength(1);
    expect(w[0]!.expected).toEqual(AGENT_NODE_FLAGS);
    expect(String(w[0]!.msg)).toContain(AGENT_NODE_FLAGS.join(' '));
    const withFlags = await startAgent(ns, env);
    const lines = withFlags.lines();
    expect((await withFlags.stop()).code).toBe(0);
    expect(lines.some((l) => l.msg === 'routelet agent starting')).toBe(true);
    expect(said(lines)).toEqual([]);
  }, 60_000);

  it('routelet bench fib started without them runs itself again with them', () => {
    requireRoot();
    // it stops at once (no reference loader there), after saying how node runs it
    const r = routelet(['bench', 'fib', '--routes', '1', '--floor', '/nonexistent/netlink-floor']);
    expect(r.stderr).toContain(`node ${AGENT_NODE_FLAGS.join(' ')} (the agent's flags`);
    expect(r.stderr).toContain('netlink-floor was not found');
    expect(r.status).toBe(1);
  });
});
