// A small bytecode builder for the rule compiler: instructions by field, labels with forward
// references, map loads recorded for the loader, local functions. It only ever produces the
// numbers of engine/isa.ts; nothing is assembled from text.

import {
  BPF_ALU,
  BPF_ALU64,
  BPF_B,
  BPF_DW,
  BPF_H,
  BPF_JMP,
  BPF_JMP32,
  BPF_K,
  BPF_LDX,
  BPF_MEM,
  BPF_MOV,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  BPF_ST,
  BPF_STX,
  BPF_W,
  BPF_X,
  OP_CALL,
  OP_EXIT,
  OP_JA,
  OP_LDDW,
  encode,
  type Insn,
} from '../../engine/isa.js';

export type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
export type Size = 1 | 2 | 4 | 8;

export const SIZE_BITS: Record<Size, number> = { 1: BPF_B, 2: BPF_H, 4: BPF_W, 8: BPF_DW };

export interface Label {
  readonly id: number;
}

interface Fixup {
  insn: number;
  label: Label;
  /** 'off': 16-bit jump offset; 'imm': call local / lddw func (relative, in imm). */
  field: 'off' | 'imm';
}

export class EmitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmitError';
  }
}

export class Emitter {
  readonly insns: Insn[] = [];
  readonly mapRefs: { insn: number; map: number }[] = [];
  private readonly bound: (number | undefined)[] = [];
  private readonly fixups: Fixup[] = [];

  get pc(): number {
    return this.insns.length;
  }

  label(): Label {
    this.bound.push(undefined);
    return { id: this.bound.length - 1 };
  }

  bind(l: Label): void {
    if (this.bound[l.id] !== undefined) throw new EmitError(`label ${l.id} bound twice`);
    this.bound[l.id] = this.pc;
  }

  isBound(l: Label): boolean {
    return this.bound[l.id] !== undefined;
  }

  private push(opcode: number, dst: number, src: number, off: number, imm: number): number {
    this.insns.push({ opcode, dst, src, off, imm: imm | 0 });
    return this.insns.length - 1;
  }

  // ---- ALU
  alu64(op: number, dst: Reg, src: Reg | { imm: number }): void {
    if (typeof src === 'number') this.push(BPF_ALU64 | op | BPF_X, dst, src, 0, 0);
    else this.push(BPF_ALU64 | op | BPF_K, dst, 0, 0, src.imm);
  }

  alu32(op: number, dst: Reg, src: Reg | { imm: number }): void {
    if (typeof src === 'number') this.push(BPF_ALU | op | BPF_X, dst, src, 0, 0);
    else this.push(BPF_ALU | op | BPF_K, dst, 0, 0, src.imm);
  }

  mov(dst: Reg, src: Reg): void {
    this.alu64(BPF_MOV, dst, src);
  }

  movImm(dst: Reg, imm: number): void {
    if (imm >= -0x80000000 && imm <= 0x7fffffff && Number.isInteger(imm)) this.alu64(BPF_MOV, dst, { imm });
    else this.lddw(dst, BigInt(imm));
  }

  /** 64-bit immediate load (two slots). */
  lddw(dst: Reg, value: bigint): void {
    const v = BigInt.asUintN(64, value);
    this.push(OP_LDDW, dst, 0, 0, Number(v & 0xffffffffn) | 0);
    this.push(0, 0, 0, 0, Number(v >> 32n) | 0);
  }

  /** `lddw dst, map` (BPF_PSEUDO_MAP_FD with imm = the map's index); recorded in mapRefs. */
  ldMap(dst: Reg, mapIndex: number): void {
    const at = this.push(OP_LDDW, dst, BPF_PSEUDO_MAP_FD, 0, mapIndex);
    this.push(0, 0, 0, 0, 0);
    this.mapRefs.push({ insn: at, map: mapIndex });
  }

  /** `lddw dst, &map_value + off` (BPF_PSEUDO_MAP_VALUE) for a single-element array map. */
  ldMapValue(dst: Reg, mapIndex: number, off: number): void {
    const at = this.push(OP_LDDW, dst, BPF_PSEUDO_MAP_VALUE, 0, mapIndex);
    this.push(0, 0, 0, 0, off);
    this.mapRefs.push({ insn: at, map: mapIndex });
  }

  /** `lddw dst, func` (BPF_PSEUDO_FUNC) for bpf_loop callbacks. */
  ldFunc(dst: Reg, target: Label): void {
    const at = this.push(OP_LDDW, dst, BPF_PSEUDO_FUNC, 0, 0);
    this.push(0, 0, 0, 0, 0);
    this.fixups.push({ insn: at, label: target, field: 'imm' });
  }

  // ---- memory
  ldx(size: Size, dst: Reg, src: Reg, off: number): void {
    this.push(BPF_LDX | BPF_MEM | SIZE_BITS[size], dst, src, off, 0);
  }

  stx(size: Size, dst: Reg, off: number, src: Reg): void {
    this.push(BPF_STX | BPF_MEM | SIZE_BITS[size], dst, src, off, 0);
  }

  st(size: Size, dst: Reg, off: number, imm: number): void {
    this.push(BPF_ST | BPF_MEM | SIZE_BITS[size], dst, 0, off, imm);
  }

  // ---- control flow
  /** Conditional jump (64-bit compare). `op` is BPF_JEQ, BPF_JGT, ... */
  jmp(op: number, dst: Reg, src: Reg | { imm: number }, target: Label): void {
    const at =
      typeof src === 'number' ? this.push(BPF_JMP | op | BPF_X, dst, src, 0, 0) : this.push(BPF_JMP | op | BPF_K, dst, 0, 0, src.imm);
    this.fixups.push({ insn: at, label: target, field: 'off' });
  }

  /** Conditional jump comparing the low 32 bits. */
  jmp32(op: number, dst: Reg, src: Reg | { imm: number }, target: Label): void {
    const at =
      typeof src === 'number' ? this.push(BPF_JMP32 | op | BPF_X, dst, src, 0, 0) : this.push(BPF_JMP32 | op | BPF_K, dst, 0, 0, src.imm);
    this.fixups.push({ insn: at, label: target, field: 'off' });
  }

  ja(target: Label): void {
    const at = this.push(OP_JA, 0, 0, 0, 0);
    this.fixups.push({ insn: at, label: target, field: 'off' });
  }

  call(helperId: number): void {
    this.push(OP_CALL, 0, 0, 0, helperId);
  }

  callLocal(target: Label): void {
    const at = this.push(OP_CALL, 0, BPF_PSEUDO_CALL, 0, 0);
    this.fixups.push({ insn: at, label: target, field: 'imm' });
  }

  exit(): void {
    this.push(OP_EXIT, 0, 0, 0, 0);
  }

  /** Resolve labels; throws EmitError on an unbound label or a jump that does not fit 16 bits. */
  finish(): { insns: Insn[]; bytes: Uint8Array; mapRefs: { insn: number; map: number }[] } {
    for (const f of this.fixups) {
      const target = this.bound[f.label.id];
      if (target === undefined) throw new EmitError(`unbound label ${f.label.id} used at insn ${f.insn}`);
      const rel = target - f.insn - 1;
      if (f.field === 'off') {
        if (rel < -32768 || rel > 32767) throw new EmitError(`jump from insn ${f.insn} to ${target} does not fit a 16-bit offset`);
        this.insns[f.insn].off = rel;
      } else {
        this.insns[f.insn].imm = rel;
      }
    }
    return { insns: this.insns, bytes: encode(this.insns), mapRefs: this.mapRefs };
  }
}
