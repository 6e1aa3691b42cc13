// One eBPF instruction → WebAssembly instructions. Registers are i64 locals; 32-bit ALU ops run
// on i32 and zero-extend; division/modulo are guarded so that wasm's traps (x/0, INT_MIN/-1)
// become Linux's results. Memory operands address the engine's linear memory directly: the
// verifier proved them in bounds and wasm's own bounds keep any access inside the memory.

import {
  BPF_ADD,
  BPF_ALU,
  BPF_ALU64,
  BPF_AND,
  BPF_ARSH,
  BPF_ATOMIC,
  BPF_B,
  BPF_CMPXCHG,
  BPF_DIV,
  BPF_DW,
  BPF_END,
  BPF_FETCH,
  BPF_H,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JLE,
  BPF_JLT,
  BPF_JMP32,
  BPF_JNE,
  BPF_JSET,
  BPF_JSGE,
  BPF_JSGT,
  BPF_JSLE,
  BPF_JSLT,
  BPF_LOAD_ACQ,
  BPF_LSH,
  BPF_MEM,
  BPF_MEMSX,
  BPF_MOD,
  BPF_MOV,
  BPF_MUL,
  BPF_NEG,
  BPF_OR,
  BPF_RSH,
  BPF_ST,
  BPF_STORE_REL,
  BPF_STX,
  BPF_SUB,
  BPF_TO_BE,
  BPF_W,
  BPF_X,
  BPF_XCHG,
  BPF_XOR,
  type Insn,
} from '../isa.js';
import { Op, I64, I32, F64, type Code } from './wasm.js';

/** Local slots of every compiled function. r1..r5 and r10 are the parameters. */
export const L = {
  reg: [6, 0, 1, 2, 3, 4, 7, 8, 9, 10, 5] as const,
  cnt: 11,
  budget: 12,
  t1: 13,
  t2: 14,
  ti: 15,
  label: 16,
  tf: 17,
} as const;
/** Locals after the 6 parameters: r0, r6..r9, cnt, budget, t1, t2 (i64); ti, label (i32); tf (f64). */
export const EXTRA_LOCALS = [I64, I64, I64, I64, I64, I64, I64, I64, I64, I32, I32, F64] as const;

export class JitCompileError extends Error {
  constructor(
    readonly pc: number,
    message: string,
  ) {
    super(`instruction ${pc}: ${message}`);
    this.name = 'JitCompileError';
  }
}

const reg = (r: number, pc: number): number => {
  if (r > 10) throw new JitCompileError(pc, `register r${r} does not exist`);
  return L.reg[r];
};

/** Push the i32 address dst+off (or src+off). */
function addr(c: Code, r: number, off: number, pc: number): number {
  c.get(reg(r, pc)).op(Op.i32_wrap_i64);
  if (off >= 0) return off;
  c.i32c(off).op(Op.i32_add);
  return 0;
}

const LOAD_U: Record<number, number> = { [BPF_W]: Op.i64_load32_u, [BPF_H]: Op.i64_load16_u, [BPF_B]: Op.i64_load8_u, [BPF_DW]: Op.i64_load };
const LOAD_S: Record<number, number> = { [BPF_W]: Op.i64_load32_s, [BPF_H]: Op.i64_load16_s, [BPF_B]: Op.i64_load8_s };
const STORE: Record<number, number> = { [BPF_W]: Op.i64_store32, [BPF_H]: Op.i64_store16, [BPF_B]: Op.i64_store8, [BPF_DW]: Op.i64_store };

export function lowerLdx(c: Code, i: Insn, pc: number): void {
  const size = i.opcode & 0x18;
  const mode = i.opcode & 0xe0;
  const op = mode === BPF_MEM ? LOAD_U[size] : mode === BPF_MEMSX ? LOAD_S[size] : undefined;
  if (op === undefined) throw new JitCompileError(pc, `unsupported load opcode 0x${i.opcode.toString(16)}`);
  const off = addr(c, i.src, i.off, pc);
  c.mem(op, 0, off).set(reg(i.dst, pc));
}

export function lowerStore(c: Code, i: Insn, pc: number): void {
  const size = i.opcode & 0x18;
  const mode = i.opcode & 0xe0;
  if (mode === BPF_ATOMIC && (i.opcode & 7) === BPF_STX) return lowerAtomic(c, i, pc);
  if (mode !== BPF_MEM) throw new JitCompileError(pc, `unsupported store opcode 0x${i.opcode.toString(16)}`);
  const off = addr(c, i.dst, i.off, pc);
  if ((i.opcode & 7) === BPF_ST) c.i64c(i.imm);
  else c.get(reg(i.src, pc));
  c.mem(STORE[size], 0, off);
}

function lowerAtomic(c: Code, i: Insn, pc: number): void {
  const size = i.opcode & 0x18;
  const ld = LOAD_U[size];
  const st = STORE[size];
  const dst = reg(i.dst, pc);
  const src = reg(i.src, pc);
  const imm = i.imm;
  if (imm === BPF_LOAD_ACQ) {
    const off = addr(c, i.src, i.off, pc);
    c.mem(ld, 0, off).set(dst);
    return;
  }
  if (imm === BPF_STORE_REL) {
    const off = addr(c, i.dst, i.off, pc);
    c.get(src).mem(st, 0, off);
    return;
  }
  if (size !== BPF_W && size !== BPF_DW) throw new JitCompileError(pc, `atomic operation on ${size === BPF_B ? 'bytes' : 'half words'}`);
  const off = addr(c, i.dst, i.off, pc);
  c.set(L.ti);
  // Old value in t1 (zero-extended for 32-bit operations, as Linux's fetch forms return it).
  c.get(L.ti).mem(ld, 0, off).set(L.t1);
  const aop: Record<number, number> = { [BPF_ADD]: Op.i64_add, [BPF_OR]: Op.i64_or, [BPF_AND]: Op.i64_and, [BPF_XOR]: Op.i64_xor };
  if (imm === BPF_XCHG) {
    c.get(L.ti).get(src).mem(st, 0, off);
    c.get(L.t1).set(src);
  } else if (imm === BPF_CMPXCHG) {
    const r0 = L.reg[0];
    c.get(L.t1).get(r0);
    if (size === BPF_W) c.i64c2(-1, 0).op(Op.i64_and);
    c.op(Op.i64_eq).op(Op.if).u8(0x40);
    c.get(L.ti).get(src).mem(st, 0, off);
    c.op(Op.end);
    c.get(L.t1).set(r0);
  } else {
    const o = aop[imm & ~BPF_FETCH];
    if (o === undefined || (imm & ~(BPF_FETCH | 0xf0)) !== 0) {
      throw new JitCompileError(pc, `unsupported atomic operation 0x${imm.toString(16)}`);
    }
    c.get(L.ti).get(L.t1).get(src).op(o).mem(st, 0, off);
    if ((imm & BPF_FETCH) !== 0) c.get(L.t1).set(src);
  }
}

/** Push the second operand of an ALU/JMP instruction as i64 or i32. */
function operand(c: Code, i: Insn, wide: boolean, pc: number): void {
  if ((i.opcode & BPF_X) !== 0) {
    c.get(reg(i.src, pc));
    if (!wide) c.op(Op.i32_wrap_i64);
  } else if (wide) c.i64c(i.imm);
  else c.i32c(i.imm);
}

const ALU64_SIMPLE: Record<number, number> = {
  [BPF_ADD]: Op.i64_add,
  [BPF_SUB]: Op.i64_sub,
  [BPF_MUL]: Op.i64_mul,
  [BPF_OR]: Op.i64_or,
  [BPF_AND]: Op.i64_and,
  [BPF_XOR]: Op.i64_xor,
  [BPF_LSH]: Op.i64_shl,
  [BPF_RSH]: Op.i64_shr_u,
  [BPF_ARSH]: Op.i64_shr_s,
};
const ALU32_SIMPLE: Record<number, number> = {
  [BPF_ADD]: Op.i32_add,
  [BPF_SUB]: Op.i32_sub,
  [BPF_MUL]: Op.i32_mul,
  [BPF_OR]: Op.i32_or,
  [BPF_AND]: Op.i32_and,
  [BPF_XOR]: Op.i32_xor,
  [BPF_LSH]: Op.i32_shl,
  [BPF_RSH]: Op.i32_shr_u,
  [BPF_ARSH]: Op.i32_shr_s,
};

/** Byte-swap the i64 on the stack's low `bits` bits (16/32/64); result zero-extended. Uses t2. */
function bswap(c: Code, bits: number, pc: number): void {
  const t = L.t2;
  if (bits === 16) {
    // ((x & 0xff) << 8) | ((x >> 8) & 0xff)
    c.tee(t).i64c(0xff).op(Op.i64_and).i64c(8).op(Op.i64_shl);
    c.get(t).i64c(8).op(Op.i64_shr_u).i64c(0xff).op(Op.i64_and).op(Op.i64_or);
  } else if (bits === 32) {
    // Swap bytes within halves, then rotate the halves (on i32).
    c.op(Op.i32_wrap_i64).set(L.ti);
    c.get(L.ti).i32c(8).op(Op.i32_shr_u).i32c(0x00ff00ff).op(Op.i32_and);
    c.get(L.ti).i32c(0x00ff00ff).op(Op.i32_and).i32c(8).op(Op.i32_shl).op(Op.i32_or);
    c.i32c(16).op(Op.i32_rotl).op(Op.i64_extend_i32_u);
  } else if (bits === 64) {
    c.tee(t).i64c(8).op(Op.i64_shr_u).i64c2(0x00ff00ff, 0x00ff00ff).op(Op.i64_and);
    c.get(t).i64c2(0x00ff00ff, 0x00ff00ff).op(Op.i64_and).i64c(8).op(Op.i64_shl).op(Op.i64_or);
    c.tee(t).i64c(16).op(Op.i64_shr_u).i64c2(0x0000ffff, 0x0000ffff).op(Op.i64_and);
    c.get(t).i64c2(0x0000ffff, 0x0000ffff).op(Op.i64_and).i64c(16).op(Op.i64_shl).op(Op.i64_or);
    c.i64c(32).op(Op.i64_rotl);
  } else throw new JitCompileError(pc, `byte swap width ${bits} is not 16, 32 or 64`);
}

export function lowerAlu(c: Code, i: Insn, pc: number): void {
  const wide = (i.opcode & 7) === BPF_ALU64;
  const code = i.opcode & 0xf0;
  const dst = reg(i.dst, pc);
  const isX = (i.opcode & BPF_X) !== 0;
  const src = isX ? reg(i.src, pc) : -1;
  if (i.opcode === (BPF_ALU | BPF_X | BPF_END) || i.opcode === (BPF_ALU | BPF_END)) {
    // le (TO_LE) is a truncation on a little-endian machine; be (TO_BE) swaps.
    const bits = i.imm;
    if ((i.opcode & BPF_TO_BE) !== 0) {
      c.get(dst);
      bswap(c, bits, pc);
      c.set(dst);
    } else if (bits === 16 || bits === 32) {
      c.get(dst).i64c2(bits === 16 ? 0xffff : -1, 0).op(Op.i64_and).set(dst);
    } else if (bits !== 64) throw new JitCompileError(pc, `byte swap width ${bits} is not 16, 32 or 64`);
    return;
  }
  if (i.opcode === (BPF_ALU64 | BPF_END)) {
    c.get(dst);
    bswap(c, i.imm, pc);
    c.set(dst);
    return;
  }
  const simple = (wide ? ALU64_SIMPLE : ALU32_SIMPLE)[code];
  if (simple !== undefined) {
    c.get(dst);
    if (!wide) c.op(Op.i32_wrap_i64);
    operand(c, i, wide, pc);
    c.op(simple);
    if (!wide) c.op(Op.i64_extend_i32_u);
    c.set(dst);
    return;
  }
  switch (code) {
    case BPF_NEG:
      if (wide) c.i64c(0).get(dst).op(Op.i64_sub);
      else c.i32c(0).get(dst).op(Op.i32_wrap_i64).op(Op.i32_sub).op(Op.i64_extend_i32_u);
      c.set(dst);
      return;
    case BPF_MOV:
      if (i.off === 0) {
        if (wide) operand(c, i, true, pc);
        else if (isX) c.get(src).op(Op.i32_wrap_i64).op(Op.i64_extend_i32_u);
        else c.i64c2(i.imm, 0);
      } else {
        if (!isX) throw new JitCompileError(pc, 'movsx needs a register source');
        c.get(src);
        if (wide) {
          const ext = i.off === 8 ? Op.i64_extend8_s : i.off === 16 ? Op.i64_extend16_s : i.off === 32 ? Op.i64_extend32_s : -1;
          if (ext < 0) throw new JitCompileError(pc, `movsx offset ${i.off}`);
          c.op(ext);
        } else {
          const ext = i.off === 8 ? Op.i32_extend8_s : i.off === 16 ? Op.i32_extend16_s : -1;
          if (ext < 0) throw new JitCompileError(pc, `movsx32 offset ${i.off}`);
          c.op(Op.i32_wrap_i64).op(ext).op(Op.i64_extend_i32_u);
        }
      }
      c.set(dst);
      return;
    case BPF_DIV:
    case BPF_MOD:
      if (i.off !== 0 && i.off !== 1) throw new JitCompileError(pc, `division offset ${i.off} is not 0 or 1`);
      divMod(c, i, wide, code === BPF_MOD, i.off === 1, dst, src);
      return;
    default:
      throw new JitCompileError(pc, `unsupported ALU opcode 0x${i.opcode.toString(16)}`);
  }
}

/**
 * Division and modulo with Linux's results: x/0 = 0, x%0 = x (32-bit: zero-extended), and
 * signed INT_MIN/-1 = INT_MIN (wasm traps on div_s overflow, so -1 is handled as negation).
 */
function divMod(c: Code, i: Insn, wide: boolean, mod: boolean, signed: boolean, dst: number, src: number): void {
  const T = wide ? I64 : I32;
  const o = wide
    ? mod
      ? signed
        ? Op.i64_rem_s
        : Op.i64_rem_u
      : signed
        ? Op.i64_div_s
        : Op.i64_div_u
    : mod
      ? signed
        ? Op.i32_rem_s
        : Op.i32_rem_u
      : signed
        ? Op.i32_div_s
        : Op.i32_div_u;
  const getDst = (): void => {
    c.get(dst);
    if (!wide) c.op(Op.i32_wrap_i64);
  };
  const getSrc = (): void => {
    c.get(src);
    if (!wide) c.op(Op.i32_wrap_i64);
  };
  const zero = (): void => {
    if (wide) c.i64c(0);
    else c.i32c(0);
  };
  const negDst = (): void => {
    zero();
    getDst();
    c.op(wide ? Op.i64_sub : Op.i32_sub);
  };
  if (src < 0) {
    // Constant divisor: the guards resolve at compile time.
    const k = i.imm;
    if (k === 0) {
      if (mod) getDst();
      else zero();
    } else if (signed && !mod && k === -1) negDst();
    else {
      getDst();
      if (wide) c.i64c(k);
      else c.i32c(k);
      c.op(o);
    }
  } else {
    getSrc();
    c.op(wide ? Op.i64_eqz : Op.i32_eqz);
    c.op(Op.if).u8(T);
    if (mod) getDst();
    else zero();
    c.op(Op.else);
    if (signed && !mod) {
      getSrc();
      if (wide) c.i64c(-1).op(Op.i64_eq);
      else c.i32c(-1).op(Op.i32_eq);
      c.op(Op.if).u8(T);
      negDst();
      c.op(Op.else);
      getDst();
      getSrc();
      c.op(o);
      c.op(Op.end);
    } else {
      getDst();
      getSrc();
      c.op(o);
    }
    c.op(Op.end);
  }
  if (!wide) c.op(Op.i64_extend_i32_u);
  c.set(dst);
}

const CMP64: Record<number, number> = {
  [BPF_JEQ]: Op.i64_eq,
  [BPF_JNE]: Op.i64_ne,
  [BPF_JGT]: Op.i64_gt_u,
  [BPF_JGE]: Op.i64_ge_u,
  [BPF_JLT]: Op.i64_lt_u,
  [BPF_JLE]: Op.i64_le_u,
  [BPF_JSGT]: Op.i64_gt_s,
  [BPF_JSGE]: Op.i64_ge_s,
  [BPF_JSLT]: Op.i64_lt_s,
  [BPF_JSLE]: Op.i64_le_s,
};
const CMP32: Record<number, number> = {
  [BPF_JEQ]: Op.i32_eq,
  [BPF_JNE]: Op.i32_ne,
  [BPF_JGT]: Op.i32_gt_u,
  [BPF_JGE]: Op.i32_ge_u,
  [BPF_JLT]: Op.i32_lt_u,
  [BPF_JLE]: Op.i32_le_u,
  [BPF_JSGT]: Op.i32_gt_s,
  [BPF_JSGE]: Op.i32_ge_s,
  [BPF_JSLT]: Op.i32_lt_s,
  [BPF_JSLE]: Op.i32_le_s,
};

/** Push an i32 that is non-zero when the conditional jump is taken. */
export function lowerCond(c: Code, i: Insn, pc: number): void {
  const wide = (i.opcode & 7) !== BPF_JMP32;
  const code = i.opcode & 0xf0;
  c.get(reg(i.dst, pc));
  if (!wide) c.op(Op.i32_wrap_i64);
  operand(c, i, wide, pc);
  if (code === BPF_JSET) {
    if (wide) c.op(Op.i64_and).i64c(0).op(Op.i64_ne);
    else c.op(Op.i32_and);
    return;
  }
  const cmp = (wide ? CMP64 : CMP32)[code];
  if (cmp === undefined) throw new JitCompileError(pc, `unsupported jump opcode 0x${i.opcode.toString(16)}`);
  c.op(cmp);
}
