// Is a peer's host there? One TCP connection to its BGP port, closed at once (graceful
// restart's fast unlock asks this of passive peers, src/gr). And the source addresses our
// connections bind to when the agent listens on one address rather than on all.
import { connect } from './connector.js';
import type { TransportPeer } from './peers.js';

/** Source address per family for a listen address: none (the kernel picks) when it is a wildcard. */
export function bindAddresses(listen: string): { 4?: string; 6?: string } {
  if (listen === '::' || listen === '0.0.0.0') return {};
  return listen.includes(':') ? { 6: listen } : { 4: listen };
}

/**
 * Connect to the peer and close the connection at once: null when it answered, else the
 * errno name (ECONNREFUSED, ETIMEDOUT after timeoutMs, …; EUNKNOWN without one).
 */
export async function probePeer(peer: TransportPeer & { readonly port: number }, timeoutMs: number, listen: string): Promise<string | null> {
  const localAddress = bindAddresses(listen)[peer.family];
  try {
    const { socket } = await connect({ peer, port: peer.port, timeoutMs, ...(localAddress ? { localAddress } : {}) });
    socket.destroy();
    return null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
  }
}
