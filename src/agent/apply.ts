// A change of the configured peers carried out: the peer plan (src/peers/plan.ts) applied to
// the listener, the watch lists and the sessions. SIGHUP and the Kubernetes mode both come
// through here (Agent.applyPeers).
import type { PeerConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import { planPeers } from '../peers/index.js';
import { type Listener, transportPolicy } from '../bgp/transport/index.js';
import { cease, type Sessions } from '../bgp/session/index.js';
import type { Config } from '../config/index.js';

export interface PeerChangeTarget {
  readonly log: Logger;
  readonly listener: Pick<Listener, 'update'>;
  readonly sessions: Pick<Sessions, 'add' | 'remove' | 'get'>;
  /** the peer-health and BFD watch lists, and the TCP-MD5 key notes, follow the new peers */
  followPeers(peers: readonly PeerConfig[]): void;
  noteKeyRefusals(): void;
}

/**
 * Replace the configured peers of `config` by `nextPeers`: added ones start, removed ones get
 * Cease/Peer De-configured (their routes withdrawn), ones whose options changed restart with
 * Cease/Other Configuration Change. Returns the configuration with the new peers at once
 * (before the sessions have finished changing) and a promise of the sessions' work.
 */
export function applyPeerPlan(t: PeerChangeTarget, config: Config, nextPeers: readonly PeerConfig[], why: string): { config: Config; done: Promise<void> } {
  const plan = planPeers(config.peers, nextPeers);
  const next = { ...config, peers: [...nextPeers] };
  const { peers, dynamic } = transportPolicy(next);
  try {
    t.listener.update(peers, dynamic);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    t.log.error({ err, code: err.code }, `${why}: the listening sockets could not take the new peers (${err.message}); connections from added peers may be refused until the next start`);
  }
  t.followPeers(nextPeers);
  const work: Promise<void>[] = [];
  for (const { address } of plan.removed) {
    t.log.info({ peer: address }, `${why}: ${address} removed from the configuration`);
    work.push(t.sessions.remove(address, cease.deconfigured('routelet: peer removed from the configuration'), 'peer de-configured'));
  }
  for (const { after: q, options } of plan.changed) {
    t.log.info({ peer: q.address, options }, `${why}: the options of ${q.address} changed: restarting its session`);
    work.push(t.sessions.remove(q.address, cease.configurationChange(), 'configuration changed').then(() => void t.sessions.add(q)));
  }
  const added = (async () => {
    for (const q of plan.added) {
      // it was a dynamic neighbour until now
      if (t.sessions.get(q.address)) await t.sessions.remove(q.address, cease.configurationChange(), 'now a configured peer');
      t.log.info({ peer: q.address }, `${why}: ${q.address} added to the configuration`);
      t.sessions.add(q);
    }
  })();
  return { config: next, done: Promise.all([...work, added]).then(() => t.noteKeyRefusals()) };
}
