import { get } from 'node:http';
// The CLI's view of a running agent: its HTTP API at --http ADDR or ROUTELET_HTTP_ADDRESS.
import { ConfigError } from '../config/index.js';
import { parseHostPort } from '../config/values.js';
import { UsageError } from './errors.js';

export function agentAddress(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): URL {
  const [text, name] = flag !== undefined ? [flag, '--http'] : [env.ROUTELET_HTTP_ADDRESS, 'ROUTELET_HTTP_ADDRESS'];
  if (text === undefined) return new URL('http://127.0.0.1:9179');
  const hp = parseHostPort(text, 1);
  if (!hp) {
    const expected = 'HOST:PORT with an IP address, IPv6 as [::1]:9179';
    if (name === '--http') throw new UsageError(`invalid --http ${JSON.stringify(text)}: expected ${expected}`);
    throw new ConfigError(name, text, expected);
  }
  return new URL(`http://${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${hp.port}`);
}

/** A runtime failure talking to the agent (exit 1). */
export class AgentUnreachable extends Error {}

export function getJson<T>(base: URL, path: string): Promise<T> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          reject(new AgentUnreachable(`the routelet agent at ${base.host} answered ${res.statusCode} for ${url.pathname}: ${body.trim()}`));
          return;
        }
        try {
          resolve(JSON.parse(body) as T);
        } catch (e) {
          reject(new AgentUnreachable(`the routelet agent at ${base.host} sent invalid JSON: ${(e as Error).message}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) =>
      reject(new AgentUnreachable(`cannot reach the routelet agent at ${base.host}: ${e.code ?? e.message}`)),
    );
  });
}

/**
 * `routelet status` and `routelet routes`: GET a view of the agent and print it, as JSON with
 * --json or laid out by `format`; 1 (one line on stderr) when the agent cannot be reached.
 */
export async function printView<T>(base: URL, path: string, json: boolean | undefined, format: (view: T) => string): Promise<number> {
  try {
    const view = await getJson<T>(base, path);
    process.stdout.write(json ? `${JSON.stringify(view, null, 2)}\n` : `${format(view)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof AgentUnreachable) {
      process.stderr.write(`routelet: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
