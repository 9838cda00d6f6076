// `routelet agent`: start, run until SIGTERM or SIGINT, stop within 5 s. SIGHUP reloads the
// peers (ROUTELET_PEERS_FILE, ROUTELET_PEERS): an extension of CONTRACT.md.
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import { Agent } from './agent.js';
import { installTestHooks } from './testhook.js';

/** Hard bound on stopping: CONTRACT.md says 5 s. */
const STOP_DEADLINE_MS = 4500;

export async function runAgent(config: Config, log: Logger): Promise<number> {
  let agent: Agent;
  try {
    agent = await Agent.start(config, log);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    log.fatal({ err, code: err.code }, `routelet agent could not start: ${err.message}`);
    return 1;
  }
  log.info({ http: `${agent.http?.address.host}:${agent.http?.address.port}` }, 'routelet agent running');
  installTestHooks(process.env, log);
  const signal = await new Promise<string>((resolve) => {
    const onHup = () => {
      log.info({ signal: 'SIGHUP' }, 'reloading the configuration');
      agent.reload().catch((e: unknown) => log.error({ err: e }, 'reload failed'));
    };
    process.on('SIGHUP', onHup);
    const stop = (sig: string) => {
      process.off('SIGHUP', onHup);
      resolve(sig);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  const deadline = setTimeout(() => {
    log.error({ signal }, 'stopping took too long: exiting now');
    process.exit(1);
  }, STOP_DEADLINE_MS);
  deadline.unref();
  await agent.stop(`shutting down (${signal})`);
  clearTimeout(deadline);
  // native watchers may outlive the stop by a moment; do not let them hold the process
  setTimeout(() => process.exit(0), 300).unref();
  return 0;
}
