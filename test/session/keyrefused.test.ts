// A TCP-MD5 key the kernel refuses: the namespace's option memory is lowered at run time below
// the ~136 bytes a key takes (net.core.optmem_max), then peers with passwords are added
// (SIGHUP). Outgoing connections cannot take their keys: the peer's lastError and /readyz
// name ENOMEM and what it means; the listening sockets cannot be updated either, which the log
// says; the agent keeps running and the peers are added all the same. (Per-peer refusals on
// the listening socket are the transport's tests: test/transport/scale.test.ts.)
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentProcess, dumpAgentLogs, startAgent, stopAllAgents } from '../support/agent.js';
import { Netns, link } from '../support/netns.js';
import { requireRoot } from '../support/privileges.js';

let R: Netns;
let P: Netns;
let agent: AgentProcess | undefined;
let dir: string;

beforeAll(() => {
  requireRoot();
  dir = mkdtempSync(join(tmpdir(), 'routelet-keyrefused-'));
  R = new Netns('krr');
  P = new Netns('krp');
  link(R, '10.0.0.1/24', P, ['10.0.0.2/24', '10.0.0.3/24']);
});

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') dumpAgentLogs([agent]);
});

afterAll(async () => {
  await stopAllAgents();
  R?.delete();
  P?.delete();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a TCP-MD5 key the kernel refuses', () => {
  it('is named per peer, with the errno, in lastError, /readyz and the log; the agent keeps running', async () => {
    const peers = join(dir, 'peers.yaml');
    writeFileSync(peers, JSON.stringify([{ address: '10.0.0.4', asn: 65001, passive: true }]));
    agent = await startAgent(R, { ROUTELET_ASN: '65000', ROUTELET_ROUTER_ID: '10.0.0.1', ROUTELET_PEERS_FILE: peers, ROUTELET_CONNECT_RETRY: '1' });
    R.exec('sysctl', ['-q', '-w', 'net.core.optmem_max=64']);
    writeFileSync(peers, JSON.stringify([
      { address: '10.0.0.2', asn: 65001, password: 'secret-2', passive: true },
      { address: '10.0.0.3', asn: 65001, password: 'secret-3' },
    ]));
    agent.signal('SIGHUP');
    const active = await agent.waitPeer('10.0.0.3', (p) => /^ENOMEM/.test(p.lastError ?? ''), 10_000);
    expect(active.lastError).toMatch(/^ENOMEM \(the kernel refused the TCP-MD5 key: the socket option memory \(net\.core\.optmem_max\) is spent\)/);
    expect((await agent.peer('10.0.0.2'))!.state).toBe('Active');
    const r = await agent.readyz();
    expect(r.status).toBe(503);
    // the listening socket: its keys for both peers were refused too
    expect(r.body).toMatch(/^BGP not established with 10\.0\.0\.2: Active \(last error TCP-MD5 key refused: ENOMEM\)$/m);
    expect(r.body).toMatch(/^BGP not established with 10\.0\.0\.3: (Active|Connect|Idle) \(last error ENOMEM; TCP-MD5 key refused by the kernel: ENOMEM\)$/m);
    expect((await agent.peer('10.0.0.2'))!.lastError).toMatch(/^TCP-MD5 key refused by the kernel on the listening socket: ENOMEM/);
    expect(agent.lines().some((l) => typeof l.msg === 'string' && l.msg.startsWith('reload: the listening sockets could not take the new peers'))).toBe(true);
    expect((await agent.peers()).map((p) => p.address).sort()).toEqual(['10.0.0.2', '10.0.0.3']);
    expect((await agent.get('/livez')).status).toBe(200);
  });
});
