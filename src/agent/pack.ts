// Whole BGP messages packed into few large Buffers before they reach the sockets. The RIB
// hands every member of an update group the same array of messages, often thousands of
// small UPDATEs (a route reflector's clients each announce a /26 with their own next hop
// and ORIGINATOR_ID: one prefix per UPDATE). Written one by one, each message costs every
// member a stream write and its bookkeeping objects; packed once per array (remembered by
// the array's identity), each member writes a few 64 KiB Buffers instead. A message is
// never split, and one that fills a chunk alone is passed on without a copy.

/** Target size of a packed Buffer (messages are never split across two). */
export const PACK_BYTES = 64 * 1024;

/** The same octets as `msgs`, in order, as few Buffers of at most `limit` octets each. */
export function packMessages(msgs: readonly Buffer[], limit = PACK_BYTES): readonly Buffer[] {
  if (msgs.length < 2) return msgs;
  const out: Buffer[] = [];
  let from = 0;
  let bytes = 0;
  const close = (to: number): void => {
    if (to - from === 1) out.push(msgs[from]!);
    else if (to > from) out.push(Buffer.concat(msgs.slice(from, to), bytes));
    from = to;
    bytes = 0;
  };
  for (let i = 0; i < msgs.length; i++) {
    const n = msgs[i]!.length;
    if (bytes + n > limit && i > from) close(i);
    bytes += n;
  }
  close(msgs.length);
  return out.length < msgs.length ? out : msgs;
}

/** packMessages, once per array: the members of a group get the array the first one got. */
export class Packer {
  #done = new WeakMap<readonly Buffer[], readonly Buffer[]>();

  constructor(private readonly limit = PACK_BYTES) {}

  pack(msgs: readonly Buffer[]): readonly Buffer[] {
    if (msgs.length < 2) return msgs;
    let p = this.#done.get(msgs);
    if (p === undefined) {
      p = packMessages(msgs, this.limit);
      this.#done.set(msgs, p);
    }
    return p;
  }
}
