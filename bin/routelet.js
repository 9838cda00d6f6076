#!/usr/bin/env node
// Entry point of the `routelet` command; the code lives in dist/ (built by `npm run setup`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('routelet: not built yet (dist/ is missing); run: npm run setup\n');
  process.exit(1);
}
const argv = process.argv.slice(2);
// `routelet agent`: SIGTERM and SIGINT are caught before anything else loads, so a stop during
// start-up is a clean stop (src/agent/signals.ts), not death by the signal half-way through
if (argv[0] === 'agent' && !argv.includes('--check')) {
  const { catchStopSignals } = await import(new URL('../dist/agent/signals.js', import.meta.url).href);
  catchStopSignals();
}
// `routelet agent`: the BPF programs start loading on a native thread now, so the kernel
// verifies them while Node loads the rest of the agent (PeerWatch.start takes the result)
if (argv[0] === 'agent' && !argv.includes('--check') && (process.env.ROUTELET_BPF ?? '').trim().toLowerCase() !== 'off') {
  try {
    const { PeerWatch } = await import(new URL('../dist/health/service.js', import.meta.url).href);
    PeerWatch.preload({ bpf: 'auto' });
  } catch {
    // PeerWatch.start loads them itself and says what went wrong
  }
}
const { main } = await import(entry.href);
process.exitCode = await main(argv);
