// Files the configuration names: TCP-MD5 keys (ROUTELET_PASSWORD_FILE, a peer's
// passwordFile) and the peers file (ROUTELET_PEERS_FILE).
import { createRequire } from 'node:module';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import type { HostFacts } from './host.js';
import { peerFileEntry, type PeerFileEntry } from './schema.js';

export function readSecretFile(variable: string, path: string, host: HostFacts): string {
  let text: string;
  try {
    text = host.readFile(path);
  } catch (e) {
    throw new ConfigError(variable, path, `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const key = text.replace(/\r?\n$/, '');
  if (key.length < 1 || Buffer.byteLength(key) > 80)
    throw new ConfigError(variable, path, 'a file holding a TCP-MD5 key of 1–80 bytes');
  return key;
}

/**
 * JSON (a subset of YAML) is parsed as JSON; anything else by the yaml package, loaded only
 * then: it costs about 40 ms of the agent's start-up, which a restarting node spends waiting.
 */
function parsePeersText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    return parse(text) as unknown;
  }
}

export function readPeersFile(path: string, host: HostFacts): PeerFileEntry[] {
  const variable = 'ROUTELET_PEERS_FILE';
  let text: string;
  try {
    text = host.readFile(path);
  } catch (e) {
    throw new ConfigError(variable, path, `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = parsePeersText(text);
  } catch (e) {
    throw new ConfigError(variable, path, `YAML or JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (doc === null || doc === undefined) return [];
  const list = z.array(peerFileEntry).safeParse(doc);
  if (!list.success) {
    const issue = list.error.issues[0]!;
    const where = issue.path.length ? `peers[${issue.path.map(String).join('].')}`.replace(/\]\.(\w+)$/, '].$1') : 'the file';
    throw new ConfigError(variable, path, `a list of peers; ${where}: ${issue.message}`);
  }
  return list.data;
}
