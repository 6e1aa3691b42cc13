// Kernel-style disassembly for the verifier log (kernel/bpf/disasm.c): `r0 = *(u32 *)(r1 +4)`,
// `if r0 != 0x7 goto pc+1`, `call bpf_map_lookup_elem#1`. Never throws.

import type { Insn } from '../isa.js';
import { helperName } from '../helpers/protos.js';

const ALU_OPS = ['+=', '-=', '*=', '/=', '|=', '&=', '<<=', '>>=', 'neg', '%=', '^=', '=', 's>>=', 'endian'];
const JMP_OPS: Record<number, string> = {
  0x10: '==',
  0x20: '>',
  0x30: '>=',
  0x40: '&',
  0x50: '!=',
  0x60: 's>',
  0x70: 's>=',
  0xa0: '<',
  0xb0: '<=',
  0xc0: 's<',
  0xd0: 's<=',
};
const SIZE = ['u32', 'u16', 'u8', 'u64'];
const SSIZE = ['s32', 's16', 's8', 's64'];

function sgn(n: number): string {
  return n >= 0 ? `+${n}` : `${n}`;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

export function kernelDisasm(insns: readonly Insn[], i: number): string {
  const x = insns[i];
  if (x === undefined) return '(out of range)';
  const op = x.opcode;
  const cls = op & 7;
  const isX = (op & 8) !== 0;
  const code = op & 0xf0;
  const sz = (op >> 3) & 3;
  if (cls === 4 || cls === 7) {
    const r = cls === 7 ? 'r' : 'w';
    if (code === 0xd0) {
      if (cls === 7) return `r${x.dst} = bswap${x.imm} r${x.dst}`;
      return `r${x.dst} = ${isX ? 'be' : 'le'}${x.imm} r${x.dst}`;
    }
    if (code === 0x80) return `${r}${x.dst} = -${r}${x.dst}`;
    if (code === 0xb0 && isX && x.off !== 0) return `${r}${x.dst} = (s${x.off})${r}${x.src}`;
    let o = ALU_OPS[code >> 4] ?? '?';
    if ((code === 0x30 || code === 0x90) && x.off === 1) o = `s${o}`;
    return `${r}${x.dst} ${o} ${isX ? `${r}${x.src}` : `${x.imm}`}`;
  }
  if (cls === 1) {
    const s = (op & 0xe0) === 0x80 ? SSIZE[sz] : SIZE[sz];
    return `r${x.dst} = *(${s} *)(r${x.src} ${sgn(x.off)})`;
  }
  if (cls === 2) return `*(${SIZE[sz]} *)(r${x.dst} ${sgn(x.off)}) = ${x.imm}`;
  if (cls === 3) {
    const mem = `(${SIZE[sz]} *)(r${x.dst} ${sgn(x.off)})`;
    if ((op & 0xe0) === 0x60) return `*${mem} = r${x.src}`;
    const w = sz === 3 ? '64' : '';
    switch (x.imm) {
      case 0x00:
        return `lock *${mem} += r${x.src}`;
      case 0x40:
        return `lock *${mem} |= r${x.src}`;
      case 0x50:
        return `lock *${mem} &= r${x.src}`;
      case 0xa0:
        return `lock *${mem} ^= r${x.src}`;
      case 0x01:
        return `r${x.src} = atomic${w}_fetch_add(${mem}, r${x.src})`;
      case 0x41:
        return `r${x.src} = atomic${w}_fetch_or(${mem}, r${x.src})`;
      case 0x51:
        return `r${x.src} = atomic${w}_fetch_and(${mem}, r${x.src})`;
      case 0xa1:
        return `r${x.src} = atomic${w}_fetch_xor(${mem}, r${x.src})`;
      case 0xe1:
        return `r${x.src} = atomic${w}_xchg(${mem}, r${x.src})`;
      case 0xf1:
        return `r0 = atomic${w}_cmpxchg(${mem}, r0, r${x.src})`;
      case 0x100:
        return `r${x.dst} = load_acquire((${SIZE[sz]} *)(r${x.src} ${sgn(x.off)}))`;
      case 0x110:
        return `store_release(${mem}, r${x.src})`;
      default:
        return `(bad atomic ${hex(x.imm)})`;
    }
  }
  if (cls === 0) {
    if (op === 0x18) {
      const hi = insns[i + 1]?.imm ?? 0;
      if (x.src === 1 || x.src === 5) return `r${x.dst} = map[id:${x.imm}]`;
      if (x.src === 2 || x.src === 6) return `r${x.dst} = map[id:${x.imm}][0]+${hi}`;
      if (x.src === 4) return `r${x.dst} = subprog[${sgn(x.imm)}]`;
      const v = (BigInt(hi >>> 0) << 32n) | BigInt(x.imm >>> 0);
      return `r${x.dst} = 0x${v.toString(16)}`;
    }
    return `(${op.toString(16)}) legacy packet load`;
  }
  if (cls === 5 || cls === 6) {
    if (code === 0x00) return cls === 5 ? `goto pc${sgn(x.off)}` : `gotol pc${sgn(x.imm)}`;
    if (code === 0x80) {
      if (x.src === 1) return `call pc${sgn(x.imm)}`;
      if (isX) return `callx r${x.dst}`;
      return `call bpf_${helperName(x.imm)}#${x.imm}`;
    }
    if (code === 0x90) return 'exit';
    const r = cls === 5 ? 'r' : 'w';
    const o = JMP_OPS[code] ?? '?';
    return `if ${r}${x.dst} ${o} ${isX ? `${r}${x.src}` : hex(x.imm)} goto pc${sgn(x.off)}`;
  }
  return `(${op.toString(16)}) ?`;
}

/** `N: (op) text` as in the verifier log. */
export function logLine(insns: readonly Insn[], i: number): string {
  const op = insns[i]?.opcode ?? 0;
  return `${i}: (${op.toString(16).padStart(2, '0')}) ${kernelDisasm(insns, i)}`;
}
