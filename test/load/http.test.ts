// Issue 12: HTTP cannot starve BGP. 22,000 idle connections to the HTTP port took every file
// descriptor of the agent: /livez failed and a new BGP connection timed out. Here the agent's
// descriptor limit is lowered to 1,024 (prlimit on the running agent) and 2,000 idle
// connections are opened to its HTTP port and held: /livez must still answer on a fresh
// connection, a BGP session must still come up, and the agent must hold no more than its
// HTTP cap of descriptors for HTTP.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_MAX_CONNECTIONS } from '../../src/http/limits.js';
import { type AgentProcess, dumpAgentLogs, startAgent, stopAllAgents } from '../support/agent.js';
import { link, Netns } from '../support/netns.js';
import { requireCommand, requireRoot } from '../support/privileges.js';
import { TestSpeaker } from '../support/speaker.js';

const IDLE = 2000;
const LIMIT = 1024;
const ME = '10.0.0.1';
const PEER = '10.0.0.2';

let R: Netns;
let S: Netns;
let agent: AgentProcess | undefined;
let holder: ChildProcess | undefined;
let speaker: TestSpeaker | undefined;

// opens `n` TCP connections to the port, sends nothing, holds them; says how many connected
// and, on "count" on stdin, how many are still open
const HOLDER = `
const net = require('node:net');
const [port, n] = process.argv.slice(1).map(Number);
let connected = 0, open = 0, settled = 0;
const say = () => process.stdout.write(JSON.stringify({ connected, open, settled }) + '\\n');
for (let i = 0; i < n; i++) {
  const s = net.connect({ host: '127.0.0.1', port });
  let done = false;
  const settle = () => { if (!done) { done = true; settled++; if (settled === n) say(); } };
  s.on('connect', () => { connected++; open++; settle(); });
  s.on('close', () => { if (s.connecting === false && done) open--; settle(); });
  s.on('error', () => {});
  s.resume();
  s.setTimeout(10000, settle);
}
process.stdin.on('data', () => say());
`;

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

beforeAll(() => {
  requireRoot();
  requireCommand('prlimit', 'util-linux');
  R = new Netns('lhr');
  S = new Netns('lhs');
  link(R, `${ME}/24`, S, `${PEER}/24`);
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') dumpAgentLogs([agent], 6000);
  if (holder && holder.exitCode === null) holder.kill('SIGKILL');
  await speaker?.close();
});

afterAll(async () => {
  await stopAllAgents();
  R?.delete();
  S?.delete();
});

describe('HTTP cannot starve BGP', () => {
  it(`${IDLE} idle HTTP connections with ${LIMIT} descriptors: /livez answers, a BGP session comes up`, async () => {
    agent = await startAgent(R, { ROUTELET_ASN: '65000', ROUTELET_ROUTER_ID: ME, ROUTELET_PEERS: `${PEER}@65001`, ROUTELET_LOG_LEVEL: 'info' });
    execFileSync('prlimit', ['--pid', String(agent.pid), `--nofile=${LIMIT}:${LIMIT}`]);
    const before = openFds(agent.pid);

    holder = spawn('ip', ['netns', 'exec', R.name, process.execPath, '-e', HOLDER, '9179', String(IDLE)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let lines = '';
    holder.stdout!.setEncoding('utf8').on('data', (d: string) => (lines += d));
    const report = async (): Promise<{ connected: number; open: number; settled: number }> => {
      const n = lines.split('\n').filter(Boolean).length;
      holder!.stdin!.write('count\n');
      const t = Date.now();
      while (lines.split('\n').filter(Boolean).length <= n && Date.now() - t < 10_000) await new Promise((r) => setTimeout(r, 20));
      return JSON.parse(lines.trim().split('\n').pop()!) as { connected: number; open: number; settled: number };
    };
    // every connect attempt settled (connected, refused or timed out)
    const t0 = Date.now();
    while (!lines.includes('\n') && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 50));
    const first = await report();
    process.stdout.write(`idle HTTP connections: ${first.connected} of ${IDLE} connected, ${first.open} still open; agent fds ${before} before, ${openFds(agent.pid)} now (limit ${LIMIT})\n`);

    // the agent holds at most its cap of HTTP connections, far from its descriptor limit
    expect(openFds(agent.pid)).toBeLessThanOrEqual(before + HTTP_MAX_CONNECTIONS + 16);

    // a health check on a fresh connection gets through, the idle ones notwithstanding
    const live = await agent.get('/livez', 3000).catch((e: Error) => ({ status: 0, body: e.message }));
    expect(live).toEqual({ status: 200, body: 'ok\n' });

    // BGP: a peer connects and its session comes up
    speaker = await TestSpeaker.connect({ host: ME, netns: S, localAddress: PEER, asn: 65001, routerId: PEER });
    await speaker.establish();
    await agent.waitPeer(PEER, (p) => p.state === 'Established', 15_000);

    // the agent still holds no more than its cap for HTTP (the holder may count more as open:
    // connections waiting in the kernel's accept queue, or closed and not yet read)
    const after = await report();
    process.stdout.write(`after BGP came up: holder counts ${after.open} open; agent fds ${openFds(agent.pid)}\n`);
    expect(openFds(agent.pid)).toBeLessThanOrEqual(before + HTTP_MAX_CONNECTIONS + 16);
  }, 120_000);

  it('an idle connection is closed after the idle timeout, a slow request after the headers timeout', async () => {
    agent ??= await startAgent(R, { ROUTELET_ASN: '65000', ROUTELET_ROUTER_ID: ME, ROUTELET_PEERS: `${PEER}@65001`, ROUTELET_LOG_LEVEL: 'info' });
    // two connections from inside the namespace: one says nothing, one sends half a request line
    const script = `
const net = require('node:net');
const t0 = Date.now();
const out = {};
let n = 0;
for (const [name, bytes] of [['idle', ''], ['slow', 'GET /liv']]) {
  const s = net.connect({ host: '127.0.0.1', port: 9179 }, () => { if (bytes) s.write(bytes); });
  s.on('error', () => {});
  s.resume();
  s.on('close', () => { out[name] = Date.now() - t0; if (++n === 2) { process.stdout.write(JSON.stringify(out)); process.exit(0); } });
}
setTimeout(() => { process.stdout.write(JSON.stringify(out)); process.exit(0); }, 30000);
`;
    const r = JSON.parse(execFileSync('ip', ['netns', 'exec', R.name, process.execPath, '-e', script], { encoding: 'utf8', timeout: 40_000 })) as { idle?: number; slow?: number };
    process.stdout.write(`closed by the agent after: idle ${r.idle} ms, slow ${r.slow} ms\n`);
    // limits.ts: idle 10 s, headers 5 s (checked every second)
    expect(r.idle).toBeGreaterThanOrEqual(4500);
    expect(r.idle).toBeLessThan(15_000);
    expect(r.slow).toBeGreaterThanOrEqual(4500);
    expect(r.slow).toBeLessThan(12_000);
  }, 60_000);
});
