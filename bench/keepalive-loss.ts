// The peers without BFD (issue 14, last section): can routelet's own silent-host detection
// (ROUTELET_KEEPALIVE_TIME=1 with a TCP user timeout) be on by default without resetting
// healthy sessions on a lossy path? One `routelet agent` (BFD off) with one BIRD 2 peer per
// TCP user timeout under test, each in a namespace of its own whose nftables drops --loss % of
// the packets both ways (numgen random). Over --seconds, the sessions' flaps (false resets:
// the peers are alive) are counted; then every peer goes silent (drop everything) and the time
// until its route leaves the agent's kernel is measured (ip monitor).
//
// --keepalive sets ROUTELET_KEEPALIVE_TIME (seconds; `default`: unset, a third of the hold time);
// a TCP user timeout may be listed more than once (one peer each, more samples of one setting).
//
//   node dist-bench/keepalive-loss.js [--loss 5] [--seconds 120] [--timeouts 300,1000,3000] [--keepalive 1]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAgent } from '#dist/lab/agent.js';
import { startDaemon, stopAllDaemons } from '#dist/lab/daemons.js';
import { Netns, link, sh } from '#dist/lab/netns.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const loss = Number(arg('loss', '5'));
const seconds = Number(arg('seconds', '120'));
const timeouts = arg('timeouts', '300,1000,3000').split(',').map(Number);
const keepalive = arg('keepalive', '1');
const keepaliveWords = keepalive === 'default' ? 'keepalive a third of the hold time (30 s)' : `keepalive ${keepalive} s`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function lossy(ns: Netns, percent: number): void {
  ns.exec('nft', ['-f', '-'], {
    input: `table inet rltloss {
  chain in { type filter hook input priority -300; meta l4proto tcp numgen random mod 1000 < ${percent * 10} counter drop; }
  chain out { type filter hook output priority -300; meta l4proto tcp numgen random mod 1000 < ${percent * 10} counter drop; }
}
`,
  });
}

async function main(): Promise<void> {
  const a = new Netns('klaa');
  const peers: { ns: Netns; address: string; route: string; timeout: number }[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'routelet-kl-'));
  const mon: ChildProcess = spawn('ip', ['-n', a.name, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const deleted = new Map<string, number>();
  let buf = '';
  mon.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const now = Date.now();
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) if (l.startsWith('Deleted')) deleted.set(l.split(/\s+/)[1]!, now);
  });
  let agent: ReturnType<typeof spawnAgent> | undefined;
  try {
    for (const [i, timeout] of timeouts.entries()) {
      const ns = new Netns(`klb${i}`);
      link(a, `10.9.${20 + i}.1/24`, ns, `10.9.${20 + i}.2/24`);
      const route = `10.78.${i}.0/24`;
      await startDaemon(
        'bird',
        ns,
        `router id 10.9.${20 + i}.2;
protocol device {}
protocol static { ipv4; route ${route} blackhole; }
protocol bgp a { local 10.9.${20 + i}.2 as 6510${i}; neighbor 10.9.${20 + i}.1 as 65000; connect delay time 1; connect retry time 1; error wait time 1, 2; ipv4 { import all; export all; }; }
`,
      );
      peers.push({ ns, address: `10.9.${20 + i}.2`, route, timeout });
    }
    writeFileSync(join(dir, 'peers.json'), JSON.stringify(peers.map((p, i) => ({ address: p.address, asn: 65100 + i, tcpUserTimeout: p.timeout }))));
    agent = spawnAgent(a.name, {
      ROUTELET_ASN: '65000',
      ROUTELET_ROUTER_ID: '10.9.20.1',
      ROUTELET_PEERS_FILE: join(dir, 'peers.json'),
      ...(keepalive === 'default' ? {} : { ROUTELET_KEEPALIVE_TIME: keepalive }),
      ROUTELET_BFD: 'off',
      ROUTELET_CONNECT_RETRY: '1',
      ROUTELET_LOG_LEVEL: 'info',
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ps = await agent.peers().catch(() => []);
      if (ps.length === peers.length && ps.every((p) => p.state === 'Established')) break;
      if (Date.now() > deadline) throw new Error(`not Established in 60 s: ${JSON.stringify(ps.map((p) => [p.address, p.state]))}`);
      await sleep(500);
    }
    const flaps = async (): Promise<Map<string, number>> => {
      const m = (await agent!.get('/metrics')).body;
      const out = new Map<string, number>();
      for (const p of peers) out.set(p.address, Number(new RegExp(`routelet_bgp_peer_flaps_total\\{peer="${p.address.replace(/\./g, '\\.')}"\\} (\\d+)`).exec(m)?.[1] ?? 0));
      return out;
    };
    const f0 = await flaps();
    for (const p of peers) lossy(p.ns, loss);
    await sleep(seconds * 1000);
    const f1 = await flaps();
    const dropped = new Map<string, number>();
    for (const p of peers) {
      const listing = p.ns.exec('nft', ['list', 'table', 'inet', 'rltloss']);
      dropped.set(p.address, [...listing.matchAll(/packets (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0));
      p.ns.exec('nft', ['delete', 'table', 'inet', 'rltloss']);
    }
    // detection: wait until all are Established again, then silence all at once
    const d2 = Date.now() + 60_000;
    for (;;) {
      const ps = await agent.peers().catch(() => []);
      if (ps.every((p) => p.state === 'Established') && peers.every((p) => sh('ip', ['-n', a.name, 'route', 'show', p.route]).length > 0)) break;
      if (Date.now() > d2) throw new Error('not back within 60 s');
      await sleep(500);
    }
    await sleep(3000);
    deleted.clear();
    const t0 = Date.now();
    for (const p of peers)
      p.ns.exec('nft', ['-f', '-'], { input: 'table inet rltsilent {\n chain in { type filter hook input priority -300; policy drop; }\n chain out { type filter hook output priority -300; policy drop; }\n}\n' });
    const d3 = Date.now() + 120_000;
    while (peers.some((p) => !deleted.has(p.route)) && Date.now() < d3) await sleep(20);
    for (const p of peers) {
      const falseResets = f1.get(p.address)! - f0.get(p.address)!;
      const det = deleted.has(p.route) ? `${deleted.get(p.route)! - t0} ms` : 'not within 120 s';
      console.log(`${keepaliveWords}, TCP user timeout ${p.timeout} ms, ${loss} % loss both ways for ${seconds} s: ${falseResets} false resets (${((falseResets / seconds) * 3600).toFixed(1)} per hour; ${dropped.get(p.address)} TCP segments dropped); silent peer → route out in ${det}`);
    }
    console.log(`load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    mon.kill();
    await agent?.stop();
    await stopAllDaemons();
    for (const p of peers) p.ns.delete();
    a.delete();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
