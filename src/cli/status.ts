// `routelet status [--json] [--http ADDR]`: the sessions, like `birdc show protocols`.
import { formatPeers } from '../api/format.js';
import type { PeerView } from '../api/types.js';
import { parse } from './args.js';
import { agentAddress, printView } from './client.js';

export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' }, http: { type: 'string' } }, 'status');
  return printView<PeerView[]>(agentAddress(values.http), '/api/v1/peers', values.json, formatPeers);
}
