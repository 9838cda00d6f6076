// BFD detection end to end (issue 14): `routelet agent` (ROUTELET_BFD on, 300 ms × 3, hold
// time 90 s) and, beside it in the same run, BIRD 2 (`bfd on`, 300 ms × 3), both peering with
// one BIRD peer B that announces 10.77.1.0/24. B goes silent (nftables drops everything in its
// namespace: no RST, no ICMP); measured: the time from the drop to the route's deletion in the
// agent's kernel and in the observer BIRD's kernel (`ip monitor route` in each namespace, the
// line's arrival time). Median and maximum over --runs (default 10); each run waits a random
// 0–300 ms first so the drop meets the transmit timers at different phases.
//
//   npm run build && npm run build:bench && node dist-bench/bfd-agent.js [--runs 10]
import { type ChildProcess, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { spawnAgent } from '#dist/lab/agent.js';
import { type Daemon, startDaemon, stopAllDaemons } from '#dist/lab/daemons.js';
import { Netns, link, sh } from '#dist/lab/netns.js';
import { waitFor } from './ns.js';


const runs = (() => {
  const i = process.argv.indexOf('--runs');
  return i >= 0 ? Number(process.argv[i + 1]) : 10;
})();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ROUTE = '10.77.1.0/24';

/** `ip monitor route` in a namespace: when a deletion of ROUTE was seen, by arrival time. */
class Monitor {
  readonly #p: ChildProcess;
  deleted: number[] = [];
  added: number[] = [];
  constructor(ns: Netns) {
    this.#p = spawn('ip', ['-n', ns.name, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    this.#p.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const now = Date.now();
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        if (!l.includes(ROUTE.split('/')[0]!)) continue;
        (l.startsWith('Deleted') ? this.deleted : this.added).push(now);
      }
    });
  }
  close(): void {
    this.#p.kill();
  }
}

/** One `nft -i` in B's namespace, started beforehand: the drop is in place when nft reads the line. */
class Silencer {
  readonly #nft: ChildProcess;
  constructor(ns: Netns) {
    this.#nft = spawn('ip', ['netns', 'exec', ns.name, 'nft', '-i'], { stdio: ['pipe', 'ignore', 'inherit'] });
  }
  silence(): void {
    this.#nft.stdin!.write('add table inet rltsilent\nadd chain inet rltsilent in { type filter hook input priority -300; policy drop; }\nadd chain inet rltsilent out { type filter hook output priority -300; policy drop; }\n');
  }
  unsilence(): void {
    this.#nft.stdin!.write('delete table inet rltsilent\n');
  }
  close(): void {
    this.#nft.stdin!.end();
  }
}

function stats(xs: number[]): string {
  const s = [...xs].sort((x, y) => x - y);
  const med = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return `median ${med.toFixed(0)} ms, max ${s.at(-1)!.toFixed(0)} ms, min ${s[0]!.toFixed(0)} ms (n=${s.length})`;
}

const BGP_FAST = 'connect delay time 1; connect retry time 1; error wait time 1, 2; error forget time 10; graceful restart on;';

async function main(): Promise<void> {
  const a = new Netns('bbaa');
  const b = new Netns('bbab');
  const d = new Netns('bbad');
  link(a, '10.9.7.1/24', b, '10.9.7.2/24');
  link(d, '10.9.8.1/24', b, '10.9.8.2/24');
  const daemons: Daemon[] = [];
  const monA = new Monitor(a);
  const monD = new Monitor(d);
  const nft = new Silencer(b);
  const agent = spawnAgent(a.name, { ROUTELET_ASN: '65000', ROUTELET_ROUTER_ID: '10.9.7.1', ROUTELET_PEERS: '10.9.7.2@65002', ROUTELET_CONNECT_RETRY: '1', ROUTELET_LOG_LEVEL: 'info' });
  try {
    daemons.push(
      await startDaemon(
        'bird',
        b,
        `router id 10.9.7.2;
protocol device {}
protocol bfd { interface "*" { interval 300 ms; multiplier 3; }; }
protocol static s4 { ipv4; route ${ROUTE} blackhole; }
protocol bgp agent { local 10.9.7.2 as 65002; neighbor 10.9.7.1 as 65000; bfd on; ${BGP_FAST} ipv4 { import all; export all; }; }
protocol bgp observer { local 10.9.8.2 as 65002; neighbor 10.9.8.1 as 65003; bfd on; ${BGP_FAST} ipv4 { import all; export all; }; }
`,
      ),
    );
    daemons.push(
      await startDaemon(
        'bird',
        d,
        `router id 10.9.8.1;
protocol device {}
protocol kernel { ipv4 { export all; }; }
protocol bfd { interface "*" { interval 300 ms; multiplier 3; }; }
protocol bgp b { local 10.9.8.1 as 65003; neighbor 10.9.8.2 as 65002; bfd on; ${BGP_FAST} ipv4 { import all; export none; }; }
`,
      ),
    );
    const has = (ns: Netns) => sh('ip', ['-n', ns.name, 'route', 'show', ROUTE]).includes(ROUTE.split('/')[0]!);
    const ours: number[] = [];
    const birds: number[] = [];
    for (let r = 0; r < runs; r++) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        let up = false;
        try {
          const p = (await agent.peers()).find((x) => x.address === '10.9.7.2');
          up = p?.bfd?.state === 'up' && / Up /.test(daemons[1]!.cli('show bfd sessions'));
        } catch {
          up = false;
        }
        if (up && has(a) && has(d)) break;
        if (Date.now() > deadline) throw new Error(`run ${r + 1}: not ready within 60 s\n${agent.log().slice(-3000)}`);
        await sleep(200);
      }
      await sleep(1000 + Math.random() * 300);
      const na = monA.deleted.length;
      const nd = monD.deleted.length;
      const t0 = Date.now();
      nft.silence();
      const tA = await waitFor('the agent kernel deletion', () => monA.deleted[na], 10_000, 5);
      const tD = await waitFor('the BIRD kernel deletion', () => monD.deleted[nd], 10_000, 5);
      nft.unsilence();
      ours.push(tA - t0);
      birds.push(tD - t0);
      console.log(`run ${r + 1}: routelet agent ${tA - t0} ms, BIRD ${tD - t0} ms (silent peer → route out of the kernel)`);
    }
    console.log(`detection end to end at 300 ms × 3 (hold time 90 s): routelet agent ${stats(ours)}; BIRD 2 ${stats(birds)}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    nft.close();
    monA.close();
    monD.close();
    await agent.stop();
    await stopAllDaemons();
    for (const ns of [a, b, d]) ns.delete();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
