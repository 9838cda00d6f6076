// /readyz lines of a peer that is not up (src/agent/view.ts): a reason the last error already
// gives is left out, told apart by the kinds of the reasons, not by their words, so that
// rewording a message cannot change which lines /readyz shows.
import { describe, expect, it } from 'vitest';
import { plainError, socketError, type LastError, type Session } from '../../src/bgp/session/index.js';
import type { AgentState, PeerEntry } from '../../src/agent/state.js';
import { AgentSnapshots } from '../../src/agent/view.js';
import type { DeadPeer } from '../../src/gr/index.js';

interface Case {
  lastError: LastError | null;
  dead?: DeadPeer;
  keyRefused?: string;
}

function problems(c: Case): string[] {
  const session = { address: '10.0.0.3', state: 'Active', isEstablished: false, lastError: c.lastError, dynamic: false, settings: { port: 179 } } as unknown as Session;
  const entry = { session, rib: 1, configured: true, updateErrors: {}, logged: new Set() } as unknown as PeerEntry;
  const state = {
    config: { peers: [{ address: '10.0.0.3' }] },
    entries: new Map([[session, entry]]),
    rib: { peerCounts: () => ({ received: 0, accepted: 0, advertised: 0, staleRoutes: 0 }) },
    fib: null,
    gr: { peerDead: () => c.dead ?? null, peerRestarting: () => false, problems: () => [] },
    watch: { md5Failures: () => 0, mode: 'fallback', readinessProblems: () => [] },
    listener: { keyStatus: () => (c.keyRefused ? { state: 'failed', code: c.keyRefused } : undefined), problems: () => [] },
  } as unknown as AgentState;
  return new AgentSnapshots(state).problems();
}

const dead = (evidence: string, code: string | null, kind: DeadPeer['kind'] = 'refused'): DeadPeer => ({ evidence, code, kind, since: 0 });

describe('/readyz reasons of a peer that is not up', () => {
  it('the dead evidence is left out when it is the same socket error as the last error', () => {
    expect(problems({ lastError: socketError({ code: 'ECONNREFUSED' }), dead: dead('ECONNREFUSED (bpf inet_sk_error_report)', 'ECONNREFUSED') })).toEqual([
      'BGP not established with 10.0.0.3: Active (last error ECONNREFUSED)',
    ]);
    // the same code, however the evidence is worded
    expect(problems({ lastError: socketError({ code: 'ECONNREFUSED' }), dead: dead('refused, reworded', 'ECONNREFUSED') })).toEqual([
      'BGP not established with 10.0.0.3: Active (last error ECONNREFUSED)',
    ]);
  });

  it('a different socket error, or evidence told in words, is shown beside the last error', () => {
    expect(problems({ lastError: socketError({ code: 'ETIMEDOUT' }), dead: dead('ECONNREFUSED (socket error)', 'ECONNREFUSED') })).toEqual([
      'BGP not established with 10.0.0.3: Active (last error ETIMEDOUT; dead: ECONNREFUSED (socket error))',
    ]);
    expect(problems({ lastError: socketError({ code: 'ETIMEDOUT' }), dead: dead('host gone (retransmissions) (bpf tcp_retransmit_skb)', null, 'host-gone') })).toEqual([
      'BGP not established with 10.0.0.3: Active (last error ETIMEDOUT; dead: host gone (retransmissions) (bpf tcp_retransmit_skb))',
    ]);
  });

  it('a session closed because its host is dead: the death is the last error, said once, whatever its words', () => {
    expect(problems({ lastError: plainError('peer host gone: x', 'any words at all', 'peer-dead'), dead: dead('host gone (retransmissions) (bpf tcp_retransmit_skb)', null, 'host-gone') })).toEqual([
      'BGP not established with 10.0.0.3: Active (last error any words at all)',
    ]);
    // words alone do not make a reason the death: an 'other' last error that reads like one leaves the evidence shown
    expect(problems({ lastError: plainError('host gone: refused'), dead: dead('ECONNREFUSED (socket error)', 'ECONNREFUSED') })).toEqual([
      'BGP not established with 10.0.0.3: Active (last error host gone: refused; dead: ECONNREFUSED (socket error))',
    ]);
  });

  it('a refused TCP-MD5 key is said once when it is the last error, else beside it', () => {
    expect(problems({ lastError: plainError('refused key, long words', 'key words', 'key-refused'), keyRefused: 'ENOMEM' })).toEqual([
      'BGP not established with 10.0.0.3: Active (last error key words)',
    ]);
    expect(problems({ lastError: socketError({ code: 'ENOMEM' }), keyRefused: 'ENOMEM' })).toEqual([
      'BGP not established with 10.0.0.3: Active (last error ENOMEM; TCP-MD5 key refused by the kernel: ENOMEM)',
    ]);
    expect(problems({ lastError: null, keyRefused: 'ENOMEM' })).toEqual(['BGP not established with 10.0.0.3: Active (TCP-MD5 key refused by the kernel: ENOMEM)']);
  });
});
