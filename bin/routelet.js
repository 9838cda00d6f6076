#!/usr/bin/env node
// Entry point of the `routelet` command. The code runs from one bundled file, dist/routelet.mjs
// (built by `npm run setup` or `npm run build`: tsc, then scripts/bundle.mjs).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = new URL('../dist/routelet.mjs', import.meta.url);
if (!existsSync(fileURLToPath(bundle))) {
  process.stderr.write('routelet: not built yet (dist/routelet.mjs is missing); run: npm run setup\n');
  process.exit(1);
}
const argv = process.argv.slice(2);
const agent = argv[0] === 'agent' && !argv.includes('--check');
// `routelet agent`: SIGTERM and SIGINT are caught before anything else loads, so a stop during
// start-up is a clean stop (src/agent/signals.ts), not death by the signal half-way through.
// Until the bundle has loaded and its own handlers are in place, a signal is only held here,
// then handed to those handlers (src/agent/signals.ts keeps its
// state in the bundle's copy of the module, the one the agent reads).
let held;
const hold = (sig) => {
  held ??= sig;
};
if (agent) for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, hold);
const { catchStopSignals, PeerWatch, main } = await import(bundle.href);
if (agent) {
  catchStopSignals();
  for (const sig of ['SIGTERM', 'SIGINT']) process.off(sig, hold);
  // as Node delivers a signal: to its listeners, now, before the agent starts anything
  if (held) process.emit(held, held);
}
// `routelet agent`: the BPF programs start loading on a native thread now, so the kernel
// verifies them while the agent starts (PeerWatch.start takes the result)
if (agent && (process.env.ROUTELET_BPF ?? '').trim().toLowerCase() !== 'off') {
  try {
    PeerWatch.preload({ bpf: 'auto' });
  } catch {
    // PeerWatch.start loads them itself and says what went wrong
  }
}
process.exitCode = await main(argv);
