// Files the configuration names: TCP-MD5 keys (ROUTELET_PASSWORD_FILE, a peer's
// passwordFile), BFD keys (a peer's bfdAuth.passwordFile) and the peers file (ROUTELET_PEERS_FILE).
import { createRequire } from 'node:module';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import type { HostFacts } from './host.js';
import { peerFileEntry, type PeerFileEntry } from './schema.js';

export function readSecretFile(variable: string, path: string, host: HostFacts): string {
  const key = readKeyFile(path, host, 80);
  if (typeof key !== 'string') throw new ConfigError(variable, path, key.why ?? 'a file holding a TCP-MD5 key of 1–80 bytes');
  return key;
}

/**
 * A key file's content without one trailing newline, or why it cannot be a key of 1–`max`
 * bytes (`why` undefined: readable, but the length is wrong). Never the content in the reason.
 */
export function readKeyFile(path: string, host: HostFacts, max: number): string | { why: string | undefined; bytes?: number } {
  let text: string;
  try {
    text = host.readFile(path);
  } catch (e) {
    return { why: `a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  const key = text.replace(/\r?\n$/, '');
  const bytes = Buffer.byteLength(key);
  if (bytes < 1 || bytes > max) return { why: undefined, bytes };
  return key;
}

/** A zod issue path in the peers file's terms: [1, 'bfdAuth', 'type'] → `peers[1].bfdAuth.type`. */
export function issuePath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'the file';
  return 'peers' + path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
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
    const where = issuePath(issue.path);
    throw new ConfigError(variable, path, `a list of peers; ${where}: ${issue.message}`);
  }
  return list.data;
}
