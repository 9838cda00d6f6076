// BFD benchmark: routelet's native BFD against BIRD 2 in network namespaces (root needed).
//
//   detection: a silent peer (nftables drops everything in BIRD's namespace: no RST, no ICMP)
//     at 300 ms × 3; the time from the drop to our Down event, and to BIRD's own Down (its log,
//     millisecond timestamps) in the same run with the same settings; median and maximum over
//     --runs (default 10). Each run waits a random 0–300 ms first, so the drop meets the
//     transmit timers at different phases.
//   cost: --sessions (default 1000) sessions at 300 ms × 3 toward as many addresses on one veth,
//     each from an address of its own, BIRD answering all of them (one `neighbor … local …` each); the CPU of this process (which is the
//     BFD thread, the event loop being idle) and of BIRD over --seconds (default 30).
//
//   node dist/bench/bfd.js [--runs 10] [--sessions 1000] [--seconds 30] [--skip-detection] [--skip-cost]
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BfdService, type BfdStateEvent } from '#dist/native/bfd.js';
import { type Daemon, startDaemon, stopAllDaemons } from '#dist/lab/daemons.js';
import { waitFor } from './ns.js';
import { Netns, link, sh } from '#dist/lab/netns.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// One `nft -i` started beforehand in the peer's namespace: the drop takes effect when nft
// reads the line, not after a process start (hundreds of ms on a loaded machine), so the
// measured time is BFD's and not the shell's. `confirmed` resolves when nft has listed the table.
class Silencer {
  #nft;
  #out = '';
  constructor(ns: Netns) {
    this.#nft = spawn('ip', ['netns', 'exec', ns.name, 'nft', '-i'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#nft.stdout.on('data', (d: Buffer) => (this.#out += d.toString()));
  }
  silence(): Promise<number> {
    this.#out = '';
    this.#nft.stdin.write(
      'add table inet rltsilent\n' +
        'add chain inet rltsilent in { type filter hook input priority -300; policy drop; }\n' +
        'add chain inet rltsilent out { type filter hook output priority -300; policy drop; }\n' +
        'list table inet rltsilent\n',
    );
    return waitFor('nft', () => (/chain out/.test(this.#out) ? Date.now() : undefined), 10_000, 2);
  }
  unsilence(): void {
    this.#nft.stdin.write('delete table inet rltsilent\n');
  }
  close(): void {
    this.#nft.stdin.end();
  }
}

function stats(xs: number[]): string {
  const s = [...xs].sort((x, y) => x - y);
  const med = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return `median ${med.toFixed(0)} ms, max ${s.at(-1)!.toFixed(0)} ms, min ${s[0]!.toFixed(0)} ms (n=${s.length})`;
}

// BIRD's log line time ("2026-12-04 20:40:01.123 <TRACE> b1: Session to 10.9.0.1 changed state from Up to Down") → ms since the epoch
function birdDownAt(log: string, peer: string, after: number): number | undefined {
  for (const line of log.split('\n')) {
    const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) .*Session to (\S+) changed state from Up to Down/.exec(line);
    if (!m || m[2] !== peer) continue;
    const t = new Date(m[1]!.replace(' ', 'T') + 'Z').getTime();
    if (t >= after) return t;
  }
  return undefined;
}

async function detection(runs: number): Promise<void> {
  const a = new Netns('bbda');
  const b = new Netns('bbdb');
  const { aDev } = link(a, '10.9.0.1/24', b, '10.9.0.2/24');
  const dir = { log: '' };
  const conf = (logFile: string) => `router id 10.9.0.2;
log "${logFile}" all;
timeformat log "%F %T.%3f";
protocol device {}
protocol bfd b1 {
  debug { events };
  interface "*" { interval 300 ms; multiplier 3; };
  neighbor 10.9.0.1;
}
`;
  let bird: Daemon | undefined;
  const events: BfdStateEvent[] = [];
  const bfd = new BfdService({ netns: a.name, onEvents: (e) => events.push(...e) });
  const nft = new Silencer(b);
  try {
    // BIRD's process runs as root here; its log goes to a file in its own directory
    bird = await startDaemon('bird', b, conf('/dev/null'));
    dir.log = join(bird.dir, 'bfd.log');
    writeFileSync(join(bird.dir, 'bird.conf'), conf(dir.log));
    bird.cli('configure');
    const id = bfd.addSession({ peer: '10.9.0.2', ifname: aDev, desiredMinTxMs: 300, requiredMinRxMs: 300, multiplier: 3 });
    const ours: number[] = [];
    const birds: number[] = [];
    const confirms: number[] = [];
    const birdUp = () => / Up /.test(bird!.cli('show bfd sessions'));
    for (let r = 0; r < runs; r++) {
      await waitFor('Up', () => (bfd.session(id)?.state === 'up' && birdUp() ? true : undefined), 30_000, 50);
      await sleep(1000 + Math.random() * 300);
      const n = events.length;
      const t0 = Date.now();
      const confirmed = nft.silence();
      const down = await waitFor('Down', () => events.slice(n).find((e) => e.to === 'down'), 10_000, 10);
      const birdAt = await waitFor('BIRD Down in its log', () => birdDownAt(readFileSync(dir.log, 'utf8'), '10.9.0.1', t0 - 5), 10_000, 50);
      const t1 = await confirmed;
      nft.unsilence();
      ours.push(down.at - t0);
      birds.push(birdAt - t0);
      confirms.push(t1 - t0);
      console.log(`run ${r + 1}: routelet ${(down.at - t0).toFixed(0)} ms (diag ${down.diag}), BIRD ${birdAt - t0} ms; nft listed the rules ${t1 - t0} ms after the write`);
    }
    console.log(`detection at 300 ms × 3, silent peer → Down: routelet ${stats(ours)}; BIRD ${stats(birds)}; drop in place (nft listed it) ${stats(confirms)}`);
  } finally {
    nft.close();
    bfd.close();
    await stopAllDaemons();
    a.delete();
    b.delete();
  }
}

function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in ms at 100 Hz
}

async function cost(sessions: number, seconds: number): Promise<void> {
  const a = new Netns('bbca');
  const b = new Netns('bbcb');
  // pair i: BIRD's address 10.10.(1+i/250).(1+i%250), ours 10.10.(101+i/250).(1+i%250), one /16 on the veth
  const { aDev, bDev } = link(a, [], b, []);
  const peers: string[] = [];
  const locals: string[] = [];
  for (let i = 0; i < sessions; i++) {
    peers.push(`10.10.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`);
    locals.push(`10.10.${101 + Math.floor(i / 250)}.${1 + (i % 250)}`);
  }
  sh('ip', ['-n', b.name, '-batch', '-'], { input: peers.map((p) => `addr add ${p}/16 dev ${bDev}\n`).join('') });
  sh('ip', ['-n', a.name, '-batch', '-'], { input: locals.map((p) => `addr add ${p}/16 dev ${aDev}\n`).join('') });
  // the kernel's ARP table limit (gc_thresh3, 1024 by default) is shared by all namespaces:
  // permanent entries are not counted against it
  const mac = (ns: Netns, dev: string): string => (ns.json<{ address: string }[]>('link', 'show', 'dev', dev)[0]!.address);
  const aMac = mac(a, aDev);
  const bMac = mac(b, bDev);
  sh('ip', ['-n', a.name, '-batch', '-'], { input: peers.map((p) => `neigh replace ${p} lladdr ${bMac} dev ${aDev} nud permanent\n`).join('') });
  sh('ip', ['-n', b.name, '-batch', '-'], { input: locals.map((p) => `neigh replace ${p} lladdr ${aMac} dev ${bDev} nud permanent\n`).join('') });
  const bird = await startDaemon(
    'bird',
    b,
    `router id 10.10.1.1;
protocol device {}
protocol bfd b1 {
  interface "*" { interval 300 ms; multiplier 3; };
${peers.map((p, i) => `  neighbor ${locals[i]} local ${p};`).join('\n')}
}
`,
  );
  // Up → Down transitions (our side) while the CPU is measured: a flap under load shows here
  let window = false;
  let drops = 0;
  const bfd = new BfdService({ netns: a.name, onEvents: (es) => (drops += window ? es.filter((e) => e.from === 'up').length : 0) });
  try {
    const t = Date.now();
    const ids = peers.map((p, i) => bfd.addSession({ peer: p, local: locals[i], ifname: aDev, desiredMinTxMs: 300, requiredMinRxMs: 300, multiplier: 3 }));
    console.log(`${ids.length} sessions added in ${Date.now() - t} ms`);
    await waitFor(
      `all ${sessions} Up`,
      () => {
        const by: Record<string, number> = {};
        for (const s of bfd.sessions()) by[s.state] = (by[s.state] ?? 0) + 1;
        if (by.up === sessions) return true;
        throw new Error(`states ${JSON.stringify(by)}; BIRD: ${bird.cli('show bfd sessions').split('\n').filter((l) => / (Up|Down|Init) /.test(l)).reduce((m, l) => ((m[l.trim().split(/\s+/)[2]!] = (m[l.trim().split(/\s+/)[2]!] ?? 0) + 1), m), {} as Record<string, number>) && ''}${JSON.stringify(bfd.stats())}`);
      },
      60_000,
      1000,
    );
    console.log(`all Up after ${Date.now() - t} ms`);
    await sleep(5000);
    const c0 = process.cpuUsage();
    const b0 = cpuOf(bird.pid);
    const w0 = Date.now();
    window = true;
    await sleep(seconds * 1000);
    window = false;
    const c = process.cpuUsage(c0);
    const wall = Date.now() - w0;
    const b1 = cpuOf(bird.pid);
    const ss = bfd.sessions();
    const down = ss.filter((s) => s.state !== 'up').length;
    const tx = ss.reduce((n, s) => n + s.txPackets, 0);
    console.log(
      `${sessions} sessions at 300 ms × 3 for ${(wall / 1000).toFixed(1)} s: routelet process CPU ${(((c.user + c.system) / 1000 / wall) * 100).toFixed(2)} % of one core ` +
        `(user ${(c.user / 1000).toFixed(0)} ms, system ${(c.system / 1000).toFixed(0)} ms); BIRD ${(((b1 - b0) / wall) * 100).toFixed(2)} %; ` +
        `sessions not Up at the end: ${down}, Up → Down during the measurement: ${drops}; packets sent in total ${tx}`,
    );
  } finally {
    bfd.close();
    await stopAllDaemons();
    a.delete();
    b.delete();
  }
}

if (!flag('skip-detection')) await detection(arg('runs', 10));
if (!flag('skip-cost')) await cost(arg('sessions', 1000), arg('seconds', 30));
console.log(`loadavg: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
