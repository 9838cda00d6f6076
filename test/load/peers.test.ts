// Issue 12, load: 10,000 configured active peers that do not answer, graceful restart and fast
// unlock on (the defaults) and a restart in progress (a kernel route of our protocol is
// adopted, so the agent waits for End-of-RIB from every peer). The agent must be live within
// 5 s and stay responsive, and SIGTERM during start-up must stop it cleanly.
//
// The peers' addresses are routed through a veth to a namespace that forwards nothing: every
// SYN is dropped without an answer, so each connect hangs and then fails, each failure is
// peer-health evidence for graceful restart, and the restart recovery has 10,000 peers to
// wait for. Before the fix, with ROUTELET_BPF=off, the agent never answered /livez within
// 40 s here (the issue saw 61 s): every event scanned every peer; with BPF it did not start at
// all (the kernel refused the 6,000th peer's counters with ENOMEM and the agent exited 1).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AgentProcess, dumpAgentLogs, spawnAgent, startAgent, stopAllAgents } from '../support/agent.js';
import { link, Netns } from '../support/netns.js';
import { requireRoot } from '../support/privileges.js';

const N = Number(process.env.LOAD_PEERS ?? 10_000);
const ME = '10.198.0.1';
const SINK = '10.198.0.2';
const peerAddress = (i: number) => `10.200.${Math.floor(i / 250)}.${(i % 250) + 1}`;

/**
 * The bound is 5 s on a node with its cores to itself. This machine's cores are shared
 * with other builds and tests: the bound grows with the load average per core (at most 4×),
 * and the figure is printed. Before the fix no bound of this size was met at all.
 */
function slowdown(): number {
  return Math.min(4, Math.max(1, loadavg()[0]! / cpus().length));
}
const liveBoundMs = () => Math.round(5000 * slowdown());
/** each /livez while the peers fail: 1 s, by the same measure */
const answerBoundMs = () => Math.round(1000 * slowdown());

let A: Netns;
let S: Netns;
let dir: string;
let peersFile: string;
let agent: AgentProcess | undefined;

function env(): Record<string, string> {
  return {
    ROUTELET_ASN: '65000',
    ROUTELET_ROUTER_ID: ME,
    ROUTELET_PEERS_FILE: peersFile,
    // 20,000 state changes at debug would be the test's own load
    ROUTELET_LOG_LEVEL: 'info',
  };
}

beforeAll(() => {
  requireRoot();
  A = new Netns('lda');
  S = new Netns('lds');
  link(A, `${ME}/24`, S, `${SINK}/24`);
  // S does not forward: SYNs to the peers' addresses die there, unanswered
  S.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0']);
  A.ip('route', 'add', '10.200.0.0/16', 'via', SINK);
  // a route of routelet's protocol (201) left by an "earlier run": the agent adopts it and
  // restarts, waiting for End-of-RIB from every configured peer (fast unlock stops waiting
  // for the dead ones)
  A.ip('route', 'add', '10.201.0.0/24', 'via', SINK, 'proto', '201');
  dir = mkdtempSync(join(tmpdir(), 'routelet-load-'));
  peersFile = join(dir, 'peers.json');
  writeFileSync(peersFile, JSON.stringify(Array.from({ length: N }, (_, i) => ({ address: peerAddress(i), asn: 65001 }))));
});

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') dumpAgentLogs([agent], 6000);
});

afterAll(async () => {
  await stopAllAgents();
  A?.delete();
  S?.delete();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`${N} configured peers that do not answer (graceful restart, fast unlock)`, () => {
  // peer-health evidence from the BPF programs (the default), and from socket errors alone
  for (const bpf of ['auto', 'off']) {
    it(`ROUTELET_BPF=${bpf}: the agent is live within the bound, stays responsive, and stops on SIGTERM`, async () => {
      const bound = liveBoundMs();
      const t0 = Date.now();
      agent = await startAgent(A, { ...env(), ROUTELET_BPF: bpf }, { readyTimeoutMs: bound });
      const liveMs = Date.now() - t0;
      process.stdout.write(`${N} peers, ROUTELET_BPF=${bpf}: /livez 200 after ${liveMs} ms (bound ${bound} ms, load ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores)\n`);
      expect(liveMs).toBeLessThan(bound);

      // responsive while the connects hang, fail and come back: every second for 10 s
      const answer = answerBoundMs();
      const slow: string[] = [];
      for (let i = 0; i < 10; i++) {
        const t = Date.now();
        const r = await agent.get('/livez', answer + 1000).catch((e: Error) => ({ status: 0, body: e.message }));
        const ms = Date.now() - t;
        if (r.status !== 200 || ms > answer) slow.push(`#${i}: ${r.status} after ${ms} ms ${r.body.trim()}`);
        await new Promise((r) => setTimeout(r, Math.max(0, 1000 - ms)));
      }
      expect(slow).toEqual([]);
      // the peers are all there, none Established, and the restart is waited out for them
      const peers = await agent.peers();
      expect(peers).toHaveLength(N);
      expect(peers.filter((p) => p.state === 'Established')).toEqual([]);
      // /readyz names a few of the peers the restart waits for and counts the rest
      const ready = await agent.readyz();
      const gr = ready.body.split('\n').find((l) => l.startsWith('graceful restart:')) ?? '';
      if (gr) expect(gr).toMatch(/ and \d+ more peers /);

      const stopped = await agent.stop();
      expect(stopped.code).toBe(0);
      expect(stopped.ms).toBeLessThan(5000);
    }, 120_000);
  }

  // The handlers are there before start-up work: from the agent's first log line (start-up is
  // beginning) a SIGTERM is a clean stop. Before the fix they came after the start, which with
  // these peers did not end, and SIGTERM killed the process. (Node's own start, before any of
  // routelet's code runs, cannot catch a signal: the test waits for the first line.)
  for (const delayMs of [0, 100, 300, 1500]) {
    it(`SIGTERM ${delayMs} ms into start-up stops it cleanly: exit 0 within 5 s, no stack trace`, async () => {
      const agent = spawnAgent(A, env());
      const t0 = Date.now();
      while (!agent.output().stdout.includes('\n') && agent.running && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 5));
      const caughtAfter = Date.now() - t0;
      const listening = agent.output().stdout.includes('HTTP listening');
      await new Promise((r) => setTimeout(r, delayMs));
      const { ms, ...r } = await agent.stop();
      const { stdout: out, stderr: err } = agent.output();
      const log = agent.log();
      process.stdout.write(`first log line ${caughtAfter} ms after spawn; SIGTERM ${delayMs} ms later (HTTP up then: ${listening}); stopped ${ms} ms after SIGTERM\n`);
      expect(listening).toBe(false);
      expect(r, log.slice(-3000)).toEqual({ code: 0, signal: null });
      expect(ms, log.slice(-3000)).toBeLessThan(5000);
      expect(err).not.toMatch(/\n\s+at /);
      expect(out).not.toMatch(/"level":(50|60)/);
    }, 40_000);
  }
});
