// Two agents on one node: a second `routelet agent` in the same network namespace (same BGP
// port, same kernel table and protocol) refuses to start and names the first; in another
// namespace it starts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns } from '../support/netns.js';
import { startAgent, type AgentProcess } from '../support/agent.js';
import { requireRoot } from '../support/privileges.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/routelet.js', import.meta.url));
let ns: Netns;
let first: AgentProcess | undefined;

beforeAll(async () => {
  requireRoot();
  ns = new Netns('inst');
  ns.ip('link', 'set', 'lo', 'up');
  first = await startAgent(ns, { ROUTELET_ASN: '65000', ROUTELET_ROUTER_ID: '192.0.2.1', ROUTELET_LISTEN_PORT: '1790' });
});

afterAll(async () => {
  await first?.stop();
  ns?.delete();
});

describe('one agent per network namespace', () => {
  it('a second agent in the same namespace exits 1 naming the first (its pid), and the first runs on', () => {
    const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, BIN, 'agent'], {
      env: { PATH: process.env.PATH!, ROUTELET_ASN: '65000', ROUTELET_ROUTER_ID: '192.0.2.1', ROUTELET_LISTEN_PORT: '1790', ROUTELET_HTTP_ADDRESS: '127.0.0.1:9180' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`another routelet agent \\(pid ${first!.pid}, started [^)]*HTTP 127\\.0\\.0\\.1:9179\\) holds BGP port 1790`));
    expect(first!.running).toBe(true);
  });

  it('another BGP port but the same kernel table and protocol is refused too', () => {
    const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, BIN, 'agent'], {
      env: { PATH: process.env.PATH!, ROUTELET_ASN: '65000', ROUTELET_ROUTER_ID: '192.0.2.1', ROUTELET_LISTEN_PORT: '1791', ROUTELET_HTTP_ADDRESS: '127.0.0.1:9180' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/holds kernel table 254 protocol 201 in this network namespace/);
  });
});
