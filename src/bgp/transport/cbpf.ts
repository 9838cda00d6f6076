// The classic BPF program that picks a listening socket of the SO_REUSEPORT group by the SYN's
// source address (SO_ATTACH_REUSEPORT_CBPF; the return value is the member's index, in the
// order the members called listen()). Pure: segments in, instructions out.
//
// The program reads the IP header through the SKF_NET_OFF window (it works for IPv4 SYNs on a
// dual-stack socket as well as IPv6), then walks a binary search tree over the segment starts:
// one 32-bit compare per level for IPv4, a 128-bit compare (four words) for IPv6.
import { endianness } from 'node:os';
import type { Family } from '../../net/ip.js';
import type { Segment } from './shards.js';

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** The kernel's limit on a classic BPF program (BPF_MAXINSNS). */
export const CBPF_MAX_INSNS = 4096;

// opcodes (linux/filter.h, linux/bpf_common.h)
export const BPF = {
  LD_W_ABS: 0x00 | 0x00 | 0x20,
  LD_B_ABS: 0x00 | 0x10 | 0x20,
  ALU_RSH_K: 0x04 | 0x70 | 0x00,
  JA: 0x05 | 0x00,
  JEQ_K: 0x05 | 0x10 | 0x00,
  JGT_K: 0x05 | 0x20 | 0x00,
  JGE_K: 0x05 | 0x30 | 0x00,
  RET_K: 0x06 | 0x00,
} as const;

/** Negative offsets from here read the network (IP) header. */
export const SKF_NET_OFF = -0x100000;

type Label = number;
type Op =
  | { t: 's'; code: number; k: number }
  | { t: 'j'; code: number; k: number; jt: Label; jf: Label; far?: boolean }
  | { t: 'ja'; to: Label }
  | { t: 'label'; id: Label };

class Assembler {
  private ops: Op[] = [];
  private next = 0;
  label(): Label {
    return this.next++;
  }
  place(id: Label): void {
    this.ops.push({ t: 'label', id });
  }
  stmt(code: number, k: number): void {
    this.ops.push({ t: 's', code, k: k >>> 0 });
  }
  jump(code: number, k: number, jt: Label, jf: Label): void {
    this.ops.push({ t: 'j', code, k: k >>> 0, jt, jf });
  }
  ret(k: number): void {
    this.stmt(BPF.RET_K, k);
  }

  /** Resolve labels; a conditional jump farther than 255 becomes `jcond 0,1; ja T; ja F`. */
  assemble(): Insn[] {
    const size = (op: Op) => (op.t === 'label' ? 0 : op.t === 'j' && op.far ? 3 : 1);
    let pos: Map<Label, number>;
    for (;;) {
      pos = new Map();
      let p = 0;
      const at = new Map<Op, number>();
      for (const op of this.ops) {
        if (op.t === 'label') pos.set(op.id, p);
        at.set(op, p);
        p += size(op);
      }
      let changed = false;
      for (const op of this.ops) {
        if (op.t !== 'j' || op.far) continue;
        const here = at.get(op)! + 1;
        const dt = pos.get(op.jt)! - here;
        const df = pos.get(op.jf)! - here;
        if (dt < 0 || df < 0) throw new Error('classic BPF jumps only forward');
        if (dt > 255 || df > 255) {
          op.far = true;
          changed = true;
        }
      }
      if (!changed) break;
    }
    const out: Insn[] = [];
    for (const op of this.ops) {
      if (op.t === 'label') continue;
      if (op.t === 's') out.push({ code: op.code, jt: 0, jf: 0, k: op.k });
      else if (op.t === 'ja') out.push({ code: BPF.JA, jt: 0, jf: 0, k: pos.get(op.to)! - (out.length + 1) });
      else if (!op.far) {
        const here = out.length + 1;
        out.push({ code: op.code, jt: pos.get(op.jt)! - here, jf: pos.get(op.jf)! - here, k: op.k });
      } else {
        out.push({ code: op.code, jt: 0, jf: 1, k: op.k });
        out.push({ code: BPF.JA, jt: 0, jf: 0, k: pos.get(op.jt)! - (out.length + 1) });
        out.push({ code: BPF.JA, jt: 0, jf: 0, k: pos.get(op.jf)! - (out.length + 1) });
      }
    }
    return out;
  }
}

function words(v: bigint, n: number): number[] {
  const out: number[] = [];
  for (let i = n - 1; i >= 0; i--) out.push(Number((v >> BigInt(32 * i)) & 0xffffffffn));
  return out;
}

/**
 * Emit: go to `ge` when the source address ≥ start, else to `lt`. IPv4 expects the address in
 * A. IPv6 compares word by word from word `known` on: the words above it are already known to
 * equal start's (the search has narrowed the address to an interval whose ends share them).
 */
function compareGe(asm: Assembler, family: Family, start: bigint, known: number, ge: Label, lt: Label): void {
  if (family === 4) {
    asm.jump(BPF.JGE_K, Number(start), ge, lt);
    return;
  }
  const w = words(start, 4);
  for (let i = known; i < 4; i++) {
    asm.stmt(BPF.LD_W_ABS, SKF_NET_OFF + 8 + 4 * i);
    if (i === 3) {
      asm.jump(BPF.JGE_K, w[i]!, ge, lt);
      break;
    }
    const eq = asm.label();
    const next = asm.label();
    asm.jump(BPF.JGT_K, w[i]!, ge, eq);
    asm.place(eq);
    asm.jump(BPF.JEQ_K, w[i]!, next, lt);
    asm.place(next);
  }
}

/** How many leading 32-bit words every address in [lo, hi] shares. */
function sharedWords(lo: bigint, hi: bigint): number {
  let n = 0;
  while (n < 3 && words(lo, 4)[n] === words(hi, 4)[n]) n++;
  return n;
}

function tree(asm: Assembler, family: Family, segs: readonly Segment[]): void {
  // interval 0 is below the first start (member 0); interval i ≥ 1 starts at segs[i-1]
  const shard = [0, ...segs.map((s) => s.shard)];
  const top = 1n << BigInt(family === 4 ? 32 : 128);
  const startOf = (i: number) => (i === 0 ? 0n : segs[i - 1]!.start);
  const gen = (i: number, j: number): void => {
    if (shard.slice(i, j + 1).every((s) => s === shard[i])) {
      asm.ret(shard[i]!);
      return;
    }
    const mid = (i + j + 1) >> 1;
    const ge = asm.label();
    const lt = asm.label();
    const hi = j + 1 < shard.length ? startOf(j + 1) : top;
    compareGe(asm, family, startOf(mid), family === 6 ? sharedWords(startOf(i), hi - 1n) : 0, ge, lt);
    asm.place(lt);
    gen(i, mid - 1);
    asm.place(ge);
    gen(mid, j);
  };
  gen(0, segs.length);
}

/** The member-selection program for these segments. */
export function selectorProgram(segments: Record<Family, readonly Segment[]>): Insn[] {
  const asm = new Assembler();
  const v4 = asm.label();
  const not4 = asm.label();
  const v6 = asm.label();
  const other = asm.label();
  asm.stmt(BPF.LD_B_ABS, SKF_NET_OFF);
  asm.stmt(BPF.ALU_RSH_K, 4);
  asm.jump(BPF.JEQ_K, 4, v4, not4);
  asm.place(not4);
  asm.jump(BPF.JEQ_K, 6, v6, other);
  asm.place(other);
  asm.ret(0);
  asm.place(v4);
  if (segments[4].length) asm.stmt(BPF.LD_W_ABS, SKF_NET_OFF + 12);
  tree(asm, 4, segments[4]);
  asm.place(v6);
  tree(asm, 6, segments[6]);
  return asm.assemble();
}

/** struct sock_filter[] in host byte order, for SO_ATTACH_REUSEPORT_CBPF. */
export function encodeProgram(insns: readonly Insn[]): Buffer {
  const b = Buffer.alloc(insns.length * 8);
  const le = endianness() === 'LE';
  insns.forEach((x, i) => {
    if (le) {
      b.writeUInt16LE(x.code, i * 8);
      b.writeUInt32LE(x.k >>> 0, i * 8 + 4);
    } else {
      b.writeUInt16BE(x.code, i * 8);
      b.writeUInt32BE(x.k >>> 0, i * 8 + 4);
    }
    b.writeUInt8(x.jt, i * 8 + 2);
    b.writeUInt8(x.jf, i * 8 + 3);
  });
  return b;
}
