// `routelet status [--json] [--http ADDR]`: the sessions, like `birdc show protocols`.
import { formatPeers } from '../api/format.js';
import type { PeerView } from '../api/types.js';
import { parse } from './args.js';
import { AgentUnreachable, agentAddress, getJson } from './client.js';

export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' }, http: { type: 'string' } }, 'status');
  const base = agentAddress(values.http);
  try {
    const peers = await getJson<PeerView[]>(base, '/api/v1/peers');
    process.stdout.write(values.json ? `${JSON.stringify(peers, null, 2)}\n` : `${formatPeers(peers)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof AgentUnreachable) {
      process.stderr.write(`routelet: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
