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
    threadJumps(this.insns);
    return removeUnreachable(this.insns, this.mapRefs);
  }
}

function isJump(op: number): boolean {
  const cls = op & 0x07;
  return (cls === BPF_JMP || cls === BPF_JMP32) && op !== OP_CALL && op !== OP_EXIT && (op & 0xf0) !== 0x80 && (op & 0xf0) !== 0x90;
}

/**
 * A jump whose target is an unconditional `ja` goes straight to that ja's destination (the
 * generator chains labels freely); the `ja`s left behind become unreachable or no-ops.
 */
function threadJumps(insns: Insn[]): void {
  const n = insns.length;
  const final = (pc: number): number => {
    let t = pc;
    for (let hops = 0; hops < 64 && t < n && insns[t].opcode === OP_JA && insns[t].off !== -1; hops++) t = t + 1 + insns[t].off;
    return t;
  };
  for (let i = 0; i < n; i++) {
    const ins = insns[i];
    if (ins.opcode === OP_LDDW) {
      i++;
      continue;
    }
    if (ins.opcode !== OP_JA && !isJump(ins.opcode)) continue;
    const rel = final(i + 1 + ins.off) - i - 1;
    if (rel >= -32768 && rel <= 32767) ins.off = rel;
  }
}

/**
 * Drop instructions no path reaches (the generator leaves some: exit blocks nothing jumps to),
 * since verifiers reject unreachable code, and re-target every relative offset.
 */
function removeUnreachable(insns: Insn[], mapRefs: { insn: number; map: number }[]): { insns: Insn[]; bytes: Uint8Array; mapRefs: { insn: number; map: number }[] } {
  const n = insns.length;
  const reach = new Uint8Array(n);
  const work: number[] = [0];
  while (work.length > 0) {
    const pc = work.pop() as number;
    if (pc < 0 || pc >= n || reach[pc] === 1) continue;
    reach[pc] = 1;
    const ins = insns[pc];
    // Local functions and callbacks referenced from reachable code are reachable too.
    if ((ins.opcode === OP_CALL && ins.src === BPF_PSEUDO_CALL) || (ins.opcode === OP_LDDW && ins.src === BPF_PSEUDO_FUNC)) work.push(pc + 1 + ins.imm);
    if (ins.opcode === OP_LDDW) {
      if (pc + 1 < n) reach[pc + 1] = 1;
      work.push(pc + 2);
    } else if (ins.opcode === OP_EXIT) {
      // ends the path
    } else if (ins.opcode === OP_JA) {
      work.push(pc + 1 + ins.off);
    } else if (isJump(ins.opcode)) {
      work.push(pc + 1 + ins.off, pc + 1);
    } else work.push(pc + 1);
  }
  // `ja +0` is a no-op: dropped like unreachable code (a jump to it lands on the next kept insn).
  for (let i = 0; i < n; i++) if (reach[i] === 1 && insns[i].opcode === OP_JA && insns[i].off === 0) reach[i] = 2;
  const newIndex = new Int32Array(n + 1);
  let k = 0;
  for (let i = 0; i < n; i++) {
    newIndex[i] = k;
    if (reach[i] === 1) k++;
  }
  newIndex[n] = k;
  if (k === n) return { insns, bytes: encode(insns), mapRefs };
  const out: Insn[] = [];
  for (let i = 0; i < n; i++) {
    if (reach[i] !== 1) continue;
    const ins = { ...insns[i] };
    const at = newIndex[i];
    if (ins.opcode === OP_JA || isJump(ins.opcode)) ins.off = newIndex[i + 1 + ins.off] - at - 1;
    else if ((ins.opcode === OP_CALL && ins.src === BPF_PSEUDO_CALL) || (ins.opcode === OP_LDDW && ins.src === BPF_PSEUDO_FUNC)) {
      ins.imm = newIndex[i + 1 + ins.imm] - at - 1;
    }
    out.push(ins);
  }
  const refs = mapRefs.filter((r) => reach[r.insn] === 1).map((r) => ({ insn: newIndex[r.insn], map: r.map }));
  return { insns: out, bytes: encode(out), mapRefs: refs };
}
