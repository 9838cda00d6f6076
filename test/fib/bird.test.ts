// Issue 12, reproduced against a real BIRD 2 peer: a peer that announces the node's connected
// subnet, or a prefix the operator routes by hand, must not take the route over, and its
// withdrawal must not delete it. Namespace A (10.99.0.1/24) runs the agent, namespace B
// (10.99.0.2/24) runs BIRD exporting 10.99.0.0/24 (A's connected subnet), 10.65.4.0/26 (a static
// route in A at metric 0) and 10.65.5.0/26 (a static route in A at the agent's metric, 32: the
// agent's route cannot go in beside it and says so). `ip route` in A is checked before, while
// BIRD announces, and after it withdraws; the session stays up throughout.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RouteView } from '../../src/api/types.js';
import { type AgentProcess, dumpAgentLogs, startAgent, stopAllAgents } from '../support/agent.js';
import { type Daemon, startDaemon, stopAllDaemons, waitFor } from '../support/daemons.js';
import { link, Netns } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { birdClientConf } from '../rr/support.js';

const A_ADDR = '10.99.0.1';
const B_ADDR = '10.99.0.2';
const CONNECTED = '10.99.0.0/24';
const STATIC = '10.65.4.0/26';
const STATIC_AT_OUR_METRIC = '10.65.5.0/26';
const FREE = '10.65.6.0/26';

let A: Netns;
let B: Netns;
let agent: AgentProcess | undefined;
let bird: Daemon | undefined;

interface Row {
  dst: string;
  protocol: string;
  metric?: number;
  gateway?: string;
  scope?: string;
  dev?: string;
}

/** every route of a prefix in A's main table: `protocol metric scope/via` */
function rows(dst: string): string[] {
  return A.json<Row[]>('-4', 'route', 'show', 'table', 'main')
    .filter((r) => r.dst === dst)
    .map((r) => `${r.protocol} ${r.metric ?? 0} ${r.gateway ? `via ${r.gateway}` : `scope ${r.scope ?? 'global'}`}`)
    .sort();
}

/** what A's kernel must show whatever BIRD does: the connected and static routes, untouched */
function expectNodeRoutesIntact(): void {
  expect(rows(CONNECTED)).toContain('kernel 0 scope link');
  expect(rows(STATIC)).toContain(`static 0 via ${B_ADDR}`);
  expect(rows(STATIC_AT_OUR_METRIC)).toEqual([`static 32 via ${B_ADDR}`]);
  expect(A.ip('route', 'get', '10.99.0.7')).toMatch(/^10\.99\.0\.7 dev \S+ src 10\.99\.0\.1/);
  expect(A.ip('route', 'get', '10.65.4.7')).toMatch(/via 10\.99\.0\.2/);
}

/** waitFor with an async check */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const kernelState = async (prefix: string) => ((await agent!.routes(prefix)) as RouteView[]).find((r) => r.prefix === prefix)?.kernel;

beforeAll(async () => {
  requireRoot();
  requireCommand('bird', 'bird2');
  requireCommand('ip', 'iproute2');
  A = new Netns('fsa');
  B = new Netns('fsb');
  link(A, `${A_ADDR}/24`, B, `${B_ADDR}/24`);
  A.ip('route', 'add', STATIC, 'via', B_ADDR, 'proto', 'static');
  A.ip('route', 'add', STATIC_AT_OUR_METRIC, 'via', B_ADDR, 'proto', 'static', 'metric', '32');
}, 60_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') {
    dumpAgentLogs([agent]);
    if (bird) process.stderr.write(`\n===== bird =====\n${bird.log().slice(-3000)}\n`);
  }
});

afterAll(async () => {
  await stopAllAgents();
  await stopAllDaemons();
  A?.delete();
  B?.delete();
});

describe('the node’s own routes against a BIRD peer that announces them', () => {
  it('keeps the connected and static routes through the announcement and the withdrawal; the session stays up', async () => {
    // before
    expectNodeRoutesIntact();
    expect(rows(CONNECTED)).toEqual(['kernel 0 scope link']);

    agent = await startAgent(A, {
      ROUTELET_ASN: '65000',
      ROUTELET_ROUTER_ID: A_ADDR,
      ROUTELET_PEERS: `${B_ADDR}@65001`,
      ROUTELET_CONNECT_RETRY: '1',
      ROUTELET_CONNECT_RETRY_MAX: '2',
      ROUTELET_BPF: 'off',
    });
    bird = await startDaemon(
      'bird',
      B,
      birdClientConf({ routerId: B_ADDR, local: B_ADDR, neighbor: A_ADDR, asn: 65001, peerAsn: 65000, prefixes: [CONNECTED, STATIC, STATIC_AT_OUR_METRIC, FREE] }),
    );
    await agent.waitPeer(B_ADDR, (p) => p.state === 'Established');

    // during: the free prefix is installed at the agent's metric; the node's routes are untouched
    await waitFor('the free prefix in the kernel', () => (rows(FREE).some((r) => r.startsWith('201 ')) ? true : undefined));
    await new Promise((r) => setTimeout(r, 500)); // the rest of the announcement written too
    expectNodeRoutesIntact();
    expect(rows(FREE)).toEqual([`201 32 via ${B_ADDR}`]);
    await until('the agent to say the static route holds its prefix', async () => (await kernelState(STATIC_AT_OUR_METRIC))?.includes('protocol static') === true);
    expect(await kernelState(STATIC_AT_OUR_METRIC)).toBe('failed: EEXIST (a route of protocol static holds 10.65.5.0/26 at metric 32 in table main: not replaced)');
    expect(await kernelState(FREE)).toBe('installed');
    expectNodeRoutesIntact();
    // beside the connected route at metric 0 (which wins), never in its place
    expect(rows(CONNECTED).filter((r) => !r.startsWith('201 32 '))).toEqual(['kernel 0 scope link']);
    expect(rows(STATIC).filter((r) => !r.startsWith('201 32 '))).toEqual([`static 0 via ${B_ADDR}`]);
    const ready = await agent.readyz();
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('kernel route 10.65.5.0/26 failed: EEXIST (a route of protocol static holds 10.65.5.0/26 at metric 32 in table main: not replaced)');
    const metrics = (await agent.get('/metrics')).body;
    expect(metrics).toMatch(/^routelet_fib_routes_held 1$/m);

    // after: BIRD withdraws everything
    bird.cli('disable s4');
    await waitFor('the free prefix withdrawn from the kernel', () => (rows(FREE).length === 0 ? true : undefined));
    await until('the agent to let go of the held prefix', async () => (await kernelState(STATIC_AT_OUR_METRIC)) === undefined);
    await new Promise((r) => setTimeout(r, 1000));
    expectNodeRoutesIntact();
    expect(rows(CONNECTED)).toEqual(['kernel 0 scope link']);
    expect(rows(STATIC)).toEqual([`static 0 via ${B_ADDR}`]);
    expect((await agent.peer(B_ADDR))?.state).toBe('Established');
    expect(A.ip('route', 'show', 'proto', '201').trim()).toBe('');
    await until('ready again', async () => (await agent!.readyz()).status === 200);
  }, 90_000);
});
