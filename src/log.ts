// The one logger: pino JSON lines on stdout, level from ROUTELET_LOG_LEVEL.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = process.env.ROUTELET_LOG_LEVEL ?? 'info', dest: NodeJS.WritableStream | number = 1): Logger {
  return pino(
    { level, base: { name: 'routelet' }, timestamp: pino.stdTimeFunctions.isoTime },
    typeof dest === 'number' ? pino.destination({ dest, sync: true }) : dest,
  );
}
