// A small classic BPF interpreter for the instructions cbpf.ts emits, reading the IP header
// through the SKF_NET_OFF window as the kernel does; for testing the generated programs.
import { BPF, SKF_NET_OFF, type Insn } from '../../src/bgp/transport/cbpf.js';

export function runSelector(prog: readonly Insn[], ipHeader: Uint8Array): number {
  let a = 0;
  const load = (k: number, size: 1 | 4): number => {
    const off = (k | 0) - SKF_NET_OFF;
    if (off < 0 || off + size > ipHeader.length) throw new Error(`load out of the header at ${off}`);
    let v = 0;
    for (let i = 0; i < size; i++) v = (v * 256 + ipHeader[off + i]!) >>> 0;
    return v;
  };
  for (let pc = 0, steps = 0; pc < prog.length; pc++, steps++) {
    if (steps > 100000) throw new Error('no end');
    const x = prog[pc]!;
    const k = x.k >>> 0;
    switch (x.code) {
      case BPF.LD_W_ABS: a = load(x.k, 4); break;
      case BPF.LD_B_ABS: a = load(x.k, 1); break;
      case BPF.ALU_RSH_K: a = a >>> k; break;
      case BPF.JA: pc += k; break;
      case BPF.JEQ_K: pc += a === k ? x.jt : x.jf; break;
      case BPF.JGT_K: pc += a > k ? x.jt : x.jf; break;
      case BPF.JGE_K: pc += a >= k ? x.jt : x.jf; break;
      case BPF.RET_K: return k;
      default: throw new Error(`opcode ${x.code} not interpreted`);
    }
  }
  throw new Error('fell off the end');
}

/** A minimal IPv4 or IPv6 header with the given source address bytes. */
export function ipHeader(src: Uint8Array): Uint8Array {
  if (src.length === 4) {
    const h = new Uint8Array(20);
    h[0] = 0x45;
    h.set(src, 12);
    return h;
  }
  const h = new Uint8Array(40);
  h[0] = 0x60;
  h.set(src, 8);
  return h;
}
