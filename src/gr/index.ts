// Graceful restart (RFC 4724, RFC 8538): the ONE place the agent asks what to do with routes
// when a session comes up, goes down or sends End-of-RIB, and what to advertise in OPEN. The
// calls, both roles and fast unlock are explained in README.md; the interfaces are in types.ts.
import { GracefulRestartPolicy } from './policy.js';
import type { GracefulRestart, GracefulRestartOptions } from './types.js';

export type { BfdDown, DeadPeer, GracefulRestart, GracefulRestartOptions, GrPeer, Recovery } from './types.js';

export function createGracefulRestart(o: GracefulRestartOptions): GracefulRestart {
  return new GracefulRestartPolicy(o);
}
