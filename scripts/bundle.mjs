// npm run build:bundle: the compiled command line (dist/cli/bundle.js, made by tsc) and every
// module it loads, statically or by import(), in one ES module, dist/routelet.mjs, which
// bin/routelet.js runs. Node then reads and compiles one file at start instead of some 230
// modules (issue 13: restart recovery with the Kubernetes API down).
// Left outside, loaded at run time as before:
//   - the native addon (build/Release/routelet_native.node, found from the package root by
//     src/native/addon.ts and loaded with require);
//   - @kubernetes/client-node (src/kubernetes/watcher.ts imports it lazily, only when the
//     agent watches the API; a big library the restart path never needs);
//   - yaml (src/config/files.ts requires it lazily, only for a configuration file).
// pino is bundled: routelet logs with its synchronous destination (src/log.ts), never with a
// transport, so its worker-thread code (thread-stream), bundled but never run, needs no file.
import { rolldown } from 'rolldown';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const input = `${root}dist/cli/bundle.js`;
const file = `${root}dist/routelet.mjs`;

const bundle = await rolldown({
  input,
  platform: 'node',
  external: [/^@kubernetes\/client-node(\/|$)/, /\.node$/],
  // an unresolved import is an error, never a silent external
  onLog(level, log, handler) {
    if (log.code === 'UNRESOLVED_IMPORT') throw new Error(`bundle: ${log.message}`);
    handler(level, log);
  },
});
try {
  // one file: the lazily imported modules (a command, the agent) are inlined, and still run
  // only when imported
  await bundle.write({ file, format: 'esm', codeSplitting: false, sourcemap: false });
} finally {
  await bundle.close();
}
process.stderr.write(`bundle: ${file} (${Math.round(statSync(file).size / 1024)} KiB)\n`);
