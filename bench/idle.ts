// `npm run bench:idle`: what 2,000 established, idle BGP sessions cost the agent, with 30 s
// keepalives (hold time 90). Goal (issue 4): under 2 % of one core in steady state.
//
// In two network namespaces made here: one BIRD 2 process holds the 2,000 sessions on the far
// side (one `protocol bgp` each, from its own address, iBGP as Calico runs it); the agent
// takes them as dynamic neighbours of a listen range. Once every session is Established and
// a settling period has passed, the CPU time of both processes is read from /proc over
// several windows; the median of each is printed, BIRD's beside the agent's as the reference
// measured in the same run (it does the same keepalive work for the same sessions on its
// side). The machine may be shared: the load average is printed too. Last line: JSON.
//
//   npm run bench:idle -- [--sessions 2000] [--windows 3] [--window 60] [--settle 40] [--md5]
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { link } from '#dist/lab/netns.js';
import { Child, cleanup, httpGet, Netns, sh } from './ns.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '2000' },
    windows: { type: 'string', default: '3' },
    window: { type: 'string', default: '60' },
    settle: { type: 'string', default: '40' },
    md5: { type: 'boolean', default: false },
    /** write a V8 CPU profile of the agent's measured windows into this directory */
    profile: { type: 'string' },
    /** ROUTELET_BPF for the agent (default auto) */
    bpf: { type: 'string', default: 'auto' },
  },
});
const N = Number(values.sessions);
const WINDOWS = Number(values.windows);
const WINDOW_S = Number(values.window);
const SETTLE_S = Number(values.settle);
const BIN = fileURLToPath(new URL('../bin/routelet.js', import.meta.url));

// the agent's namespace and BIRD's, joined by a veth pair (deleted at exit by ./ns.js)
const rns = new Netns('r');
const bns = new Netns('b');
const R = rns.name;
const dir = mkdtempSync(join(tmpdir(), 'routelet-bench-idle-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// addresses: agent side 10.0.64.0/20, BIRD side 10.0.16.0/20, 250 per /24
const addr = (base: number, i: number) => `10.0.${base + Math.floor(i / 250)}.${(i % 250) + 1}`;
const peerAddrs = Array.from({ length: N }, (_, i) => addr(16, i));
const agentAddrs = Array.from({ length: N }, (_, i) => addr(64, i));

function topology(): void {
  const { aDev: a, bDev: b } = link(rns, '10.0.0.1/16', bns, '10.0.0.2/16');
  rns.batch([...agentAddrs.map((x) => `addr add ${x}/32 dev ${a}`), `route add 10.0.16.0/20 via 10.0.0.2`]);
  bns.batch([...peerAddrs.map((x) => `addr add ${x}/32 dev ${b}`), `route add 10.0.64.0/20 via 10.0.0.1`]);
  const mac = (ns: Netns, dev: string) => ns.json<{ address: string }[]>('link', 'show', 'dev', dev)[0]!.address;
  bns.ip('neigh', 'replace', '10.0.0.1', 'lladdr', mac(rns, a), 'dev', b, 'nud', 'permanent');
  rns.ip('neigh', 'replace', '10.0.0.2', 'lladdr', mac(bns, b), 'dev', a, 'nud', 'permanent');
}

function startBird(): Child {
  const conf = `router id 10.0.0.2;
log stderr { warning, error, fatal };
protocol device {}
template bgp peer {
  ${values.md5 ? 'password "mesh-secret";' : ''}
  strict bind on;
  hold time 90;
  keepalive time 30;
  connect retry time 5;
  ipv4 { import none; export none; };
}
${peerAddrs.map((x, i) => `protocol bgp p${i} from peer { local ${x} as 65000; neighbor ${agentAddrs[i]} as 65000; connect delay time ${1 + (i % 4)}; }`).join('\n')}
`;
  writeFileSync(join(dir, 'bird.conf'), conf);
  return new Child('bird', bns.name, ['bird', '-f', '-c', join(dir, 'bird.conf'), '-s', join(dir, 'bird.ctl'), '-P', join(dir, 'bird.pid')], { stdout: 'ignore' });
}

function startAgent(): Child {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ROUTELET_') && v !== undefined) env[k] = v;
  Object.assign(env, {
    ROUTELET_ASN: '65000',
    ROUTELET_ROUTER_ID: '10.0.0.1',
    ROUTELET_LISTEN_RANGE: '10.0.0.0/16',
    ROUTELET_HOLD_TIME: '90',
    ROUTELET_LOG_LEVEL: 'warn',
    ROUTELET_BPF: values.bpf!,
    ...(values.md5 ? { ROUTELET_PASSWORD: 'mesh-secret' } : {}),
  });
  const node = values.profile ? [process.execPath, '--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [process.execPath];
  return new Child('agent', R, [...node, BIN, 'agent'], { env, stdout: 'ignore' });
}

async function get(path: string): Promise<string> {
  return (await httpGet(R, 9179, path, 5000)).body;
}

async function established(): Promise<number> {
  const peers = JSON.parse(await get('/api/v1/peers')) as { state: string }[];
  return peers.filter((p) => p.state === 'Established').length;
}

const CLK_TCK = Number(sh('getconf', ['CLK_TCK']).trim()) || 100;
/**
 * On-CPU time of every thread of a process, in seconds, from schedstat: the scheduler's exact
 * runtime. (utime/stime are sampled at the tick on this kernel, TICK_CPU_ACCOUNTING, and a
 * process that wakes briefly and often is charged whole ticks: they over-count it several-fold.)
 */
function cpuSeconds(pid: number, onlyTid?: number): number {
  let ns = 0;
  for (const tid of onlyTid !== undefined ? [String(onlyTid)] : readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended
    }
  }
  return ns / 1e9;
}
function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / CLK_TCK, system: Number(f[12]) / CLK_TCK };
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  topology();
  const agent = startAgent();
  const t0 = Date.now();
  for (;;) {
    try {
      await get('/livez');
      break;
    } catch {
      if (Date.now() - t0 > 30_000) throw new Error(`the agent did not start: ${agent.stderr.slice(-3000)}`);
      await sleep(0.2);
    }
  }
  const bird = startBird();
  const t1 = Date.now();
  let up = 0;
  while ((up = await established()) < N) {
    if (Date.now() - t1 > 180_000) throw new Error(`only ${up} of ${N} sessions Established after 180 s`);
    await sleep(1);
  }
  const upSeconds = (Date.now() - t1) / 1000;
  process.stdout.write(`${N} sessions Established in ${upSeconds.toFixed(1)} s; settling ${SETTLE_S} s\n`);
  await sleep(SETTLE_S);
  const agentPid = agent.pid; // `ip netns exec` execs into node: same PID
  const birdPid = bird.pid;
  const rows: { agent: number; agentMainThread: number; bird: number; agentUser: number; agentSystem: number }[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    const t0 = cpuTimes(agentPid);
    const m0 = cpuSeconds(agentPid, agentPid);
    const a0 = cpuSeconds(agentPid);
    const b0 = cpuSeconds(birdPid);
    const s0 = process.hrtime.bigint();
    await sleep(WINDOW_S);
    const secs = Number(process.hrtime.bigint() - s0) / 1e9;
    const t1 = cpuTimes(agentPid);
    const row = {
      agent: ((cpuSeconds(agentPid) - a0) / secs) * 100,
      agentMainThread: ((cpuSeconds(agentPid, agentPid) - m0) / secs) * 100,
      bird: ((cpuSeconds(birdPid) - b0) / secs) * 100,
      agentUser: ((t1.user - t0.user) / secs) * 100,
      agentSystem: ((t1.system - t0.system) / secs) * 100,
    };
    rows.push(row);
    process.stdout.write(
      `window ${w + 1}/${WINDOWS} (${secs.toFixed(0)} s): agent ${row.agent.toFixed(2)} % of one core (main thread ${row.agentMainThread.toFixed(2)}; tick-sampled utime ${row.agentUser.toFixed(2)} + stime ${row.agentSystem.toFixed(2)}), BIRD ${row.bird.toFixed(2)} %; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
    );
  }
  const still = await established();
  const a = median(rows.map((r) => r.agent));
  const b = median(rows.map((r) => r.bird));
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${agentPid}/status`, 'utf8'))![1]) / 1024;
  process.stdout.write(
    `\nidle cost of ${N} sessions (hold 90 s, keepalive 30 s${values.md5 ? ', TCP-MD5' : ''}): agent ${a.toFixed(2)} % of one core (goal < 2 %), BIRD on the other side ${b.toFixed(2)} %, ratio agent/BIRD ${(a / b).toFixed(2)}; agent RSS ${rss.toFixed(0)} MiB; ${still} still Established; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  process.stdout.write(`${JSON.stringify({ sessions: N, md5: values.md5, establishedSeconds: upSeconds, windows: rows, agentCpuPercent: a, birdCpuPercent: b, ratio: a / b, agentRssMiB: rss, stillEstablished: still, load: loadavg() })}\n`);
  if (still !== N) process.exitCode = 1;
  if (values.profile) {
    await agent.kill('SIGTERM');
  }
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`bench idle failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(cleanup);
