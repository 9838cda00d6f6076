// SIGTERM and SIGINT from the first moment of `routelet agent` (bin/routelet.js installs these
// before it loads anything else): a stop asked for while the agent still loads, reads its
// configuration or starts its sessions is remembered, and runAgent stops cleanly instead of
// the process dying of the signal half-way through start-up (issue 12).

/** a signal, or the agent's own request to restart (a change only a new start applies, e.g. its AS) */
export type StopSignal = 'SIGTERM' | 'SIGINT' | 'restart';

let received: StopSignal | null = null;
let installed = false;
const waiters = new Set<(sig: StopSignal) => void>();

/** Catch SIGTERM and SIGINT from now on (idempotent). */
export function catchStopSignals(): void {
  if (installed) return;
  installed = true;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => stopWith(sig));
}

function stopWith(sig: StopSignal): void {
  // the first one counts; runAgent's deadline bounds the stop whatever else arrives
  if (received) return;
  received = sig;
  for (const w of [...waiters]) w(sig);
}

/**
 * The agent stops as on SIGTERM (graceful restart: its routes stay in the kernel, its peers
 * keep theirs) and exits 0, for its supervisor (the DaemonSet's kubelet) to start it again.
 */
export function requestRestart(): void {
  stopWith('restart');
}

/** The stop signal received so far, or null. */
export function stopSignal(): StopSignal | null {
  return received;
}

/** Resolves with the first stop signal (at once when one was received already). */
export function nextStopSignal(): Promise<StopSignal> {
  if (received) return Promise.resolve(received);
  return new Promise((resolve) => {
    const w = (sig: StopSignal) => {
      waiters.delete(w);
      resolve(sig);
    };
    waiters.add(w);
  });
}
