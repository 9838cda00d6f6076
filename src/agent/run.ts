// Wiring of the running agent. Grows with each subsystem; stops on SIGTERM/SIGINT.
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';

export async function runAgent(config: Config, log: Logger): Promise<number> {
  log.info({ asn: config.asn, routerId: config.routerId, peers: config.peers.length }, 'routelet agent starting');
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}
