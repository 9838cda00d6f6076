// Loaded into `routelet agent` with `node --import` by `npm run bench:latency -- --breakdown`:
// stamps every hop mark of the route install path (src/sys/hops.ts, the diagnostics channel
// 'routelet:hop') with the monotonic clock, and the garbage collections beside them. On SIGUSR2
// it writes what it holds to $HOP_TRACE_FILE (JSON, written to a temporary name and renamed, so
// the reader never sees half a file).
//
// Marks go to preallocated typed arrays: recording one costs a clock read and three stores.
import { subscribe } from 'node:diagnostics_channel';
import { renameSync, writeFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const FILE = process.env.HOP_TRACE_FILE;
const CAP = 1 << 20;

if (FILE) {
  const at = new Float64Array(CAP);
  const hops = new Int32Array(CAP);
  const values = new Float64Array(CAP);
  let n = 0;
  subscribe('routelet:hop', (m) => {
    if (n >= CAP) return;
    const { hop, value } = m as { hop: number; value: number };
    at[n] = Number(process.hrtime.bigint());
    hops[n] = hop;
    values[n++] = value;
  });
  // performance.now() runs on the same monotonic clock from a different origin
  const offsetNs = Number(process.hrtime.bigint()) - performance.now() * 1e6;
  const gcs: { at: number; ns: number }[] = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ at: offsetNs + e.startTime * 1e6, ns: e.duration * 1e6 });
  }).observe({ entryTypes: ['gc'] });
  process.on('SIGUSR2', () => {
    const out = { at: Array.from(at.subarray(0, n)), hop: Array.from(hops.subarray(0, n)), value: Array.from(values.subarray(0, n)), gcs };
    writeFileSync(`${FILE}.tmp`, JSON.stringify(out));
    renameSync(`${FILE}.tmp`, FILE);
  });
}
