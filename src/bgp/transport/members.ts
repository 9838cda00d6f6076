// The sockets of one listener: a SO_REUSEPORT group bound to one address and port, each member
// with its minimum TTL and its TCP-MD5 keys, and the BPF program that sends each SYN to its
// member. Applies a ShardLayout to the kernel by difference (keys removed first, so memory is
// free for the ones added) and remembers the kernel's answer for every key on every member.
import type { NativeOutcome } from '../../native/addon.js';
import { type SocketFamily, sockets } from '../../native/sockets.js';
import { encodeProgram, selectorProgram } from './cbpf.js';
import { type Md5Key, keyId } from './keyplan.js';
import type { ShardLayout } from './shards.js';

export interface MemberSettings {
  family: SocketFamily;
  /** IPV6_V6ONLY off: IPv4 peers arrive v4-mapped on the IPv6 socket */
  dualStack: boolean;
  address: string;
  port: number;
  backlog: number;
  netns: string | undefined;
}

export interface InstalledKey {
  key: Md5Key;
  outcome: NativeOutcome;
}

export interface Member {
  index: number;
  fd: number;
  minTtl: number;
  keys: Map<string, InstalledKey>;
}

const SEND_TTL = 255; // SYN-ACKs must pass GTSM peers' own minimum-TTL check

export class Members {
  readonly list: Member[] = [];
  private program = '';
  programLength = 0;

  constructor(
    private readonly s: MemberSettings,
    private readonly onOpen: (m: Member) => void,
    private readonly onClose: (m: Member) => void,
  ) {}

  private open(index: number): Member {
    const { s } = this;
    const fd = sockets.open(s.family, s.netns);
    try {
      sockets.setOption(fd, 'SO_REUSEADDR', 1);
      sockets.setOption(fd, 'SO_REUSEPORT', 1);
      if (s.family === 6) {
        sockets.setOption(fd, 'IPV6_V6ONLY', s.dualStack ? 0 : 1);
        sockets.setOption(fd, 'IPV6_UNICAST_HOPS', SEND_TTL);
        sockets.setOption(fd, 'IPV6_TCLASS', 0xc0);
      }
      if (s.family === 4 || s.dualStack) {
        sockets.setOption(fd, 'IP_TTL', SEND_TTL);
        sockets.setOption(fd, 'IP_TOS', 0xc0);
      }
      sockets.bind(fd, s.address, s.port);
      sockets.listen(fd, s.backlog);
    } catch (e) {
      sockets.close(fd);
      throw e;
    }
    const m: Member = { index, fd, minTtl: 0, keys: new Map() };
    this.list.push(m);
    this.onOpen(m);
    return m;
  }

  private setMinTtl(m: Member, minTtl: number): void {
    if (m.minTtl === minTtl) return;
    if (this.s.family === 4 || this.s.dualStack) sockets.setOption(m.fd, 'IP_MINTTL', minTtl);
    if (this.s.family === 6) sockets.setOption(m.fd, 'IPV6_MINHOPCOUNT', minTtl);
    m.minTtl = minTtl;
  }

  /** Make the kernel match the layout. Throws only when a socket cannot be made or bound. */
  apply(layout: ShardLayout): void {
    while (this.list.length < layout.shards.length) this.open(this.list.length);
    layout.shards.forEach((sh, i) => this.setMinTtl(this.list[i]!, sh.minTtl));
    // keys: removals everywhere first, so the option memory they held is free for additions
    layout.shards.forEach((sh, i) => {
      const m = this.list[i]!;
      const want = new Set(sh.keys.map(keyId));
      for (const [id, k] of m.keys) {
        if (want.has(id)) continue;
        if (k.outcome.ok) sockets.md5(m.fd, k.key.address, k.key.length, null);
        m.keys.delete(id);
      }
    });
    layout.shards.forEach((sh, i) => {
      const m = this.list[i]!;
      for (const key of sh.keys) {
        const id = keyId(key);
        const have = m.keys.get(id);
        if (have && have.outcome.ok && have.key.password === key.password) continue;
        m.keys.set(id, { key, outcome: sockets.md5(m.fd, key.address, key.length, key.password) });
      }
    });
    // the selector first, then members it no longer names can go (from the end: indexes stay)
    const prog = selectorProgram(layout.segments);
    const bytes = encodeProgram(prog);
    const text = bytes.toString('base64');
    if (text !== this.program) {
      sockets.attachReuseportCbpf(this.list[0]!.fd, bytes);
      this.program = text;
      this.programLength = prog.length;
    }
    while (this.list.length > layout.shards.length) {
      const m = this.list.pop()!;
      this.onClose(m);
      sockets.close(m.fd);
    }
  }

  closeAll(): void {
    while (this.list.length) {
      const m = this.list.pop()!;
      this.onClose(m);
      sockets.close(m.fd);
    }
  }
}
