// Test-only hooks of `routelet agent`, installed only when NODE_ENV=test (vitest sets it) and
// the hook's variable is set; the product's normal path never reaches them.
//
//   ROUTELET_TEST_BLOCK_LOOP_MS=3000: SIGUSR2 blocks the JavaScript event loop that long (a busy
//   loop), as a 1,000,000-prefix feed would; test/bfd/agent.test.ts shows that the native BFD
//   thread keeps the sessions Up meanwhile and no BGP session resets.
import type { Logger } from '../log.js';

export function installTestHooks(env: NodeJS.ProcessEnv, log: Logger): void {
  if (env.NODE_ENV !== 'test') return;
  const ms = Number(env.ROUTELET_TEST_BLOCK_LOOP_MS ?? 0);
  if (!Number.isFinite(ms) || ms <= 0) return;
  process.on('SIGUSR2', () => {
    log.warn({ ms }, `test hook: blocking the event loop for ${ms} ms`);
    const end = Date.now() + ms;
    while (Date.now() < end) {
      // busy: nothing else runs on this thread
    }
    log.warn({ ms }, 'test hook: event loop unblocked');
  });
}
