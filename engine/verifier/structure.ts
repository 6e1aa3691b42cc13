// Static checks done before any path is simulated, in Linux's order: opcodes and lddw pairs
// (resolve_pseudo_ldimm64), subprogram boundaries and jump ranges (check_subprogs), then a DFS
// over the control-flow graph for unreachable code (check_cfg). Field-level checks of each
// opcode ("BPF_ALU uses reserved fields") are here too, but reported by do_check when the
// instruction is first reached, as Linux does.

import {
  BPF_ALU,
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_CALL,
  BPF_DW,
  BPF_END,
  BPF_EXIT,
  BPF_IMM,
  BPF_JA,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LDX,
  BPF_MEM,
  BPF_MEMSX,
  BPF_NEG,
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  BPF_ST,
  BPF_STX,
  BPF_X,
  type Insn,
} from '../isa.js';

export interface VerifierError {
  insn: number;
  message: string;
}

export interface Structure {
  /** Sorted subprogram start indexes; [0] is 0. */
  subprogs: number[];
  /** subprogOf[i] = index into subprogs of the function containing insn i. */
  subprogOf: Int32Array;
  /** Instructions where states are compared and stored. */
  prunePoint: Uint8Array;
}

const ATOMIC_OPS = new Set([0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1, 0x100, 0x110]);

/** Whether an opcode byte is one Linux knows (bpf_opcode_in_insntable). */
export function opcodeKnown(op: number): boolean {
  const cls = op & 7;
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64: {
      const code = op & 0xf0;
      if (code > BPF_END) return false;
      if (code === BPF_NEG) return (op & BPF_X) === 0;
      if (code === BPF_END) return cls === BPF_ALU || (op & BPF_X) === 0;
      return true;
    }
    case BPF_JMP:
    case BPF_JMP32: {
      const code = op & 0xf0;
      if (code === 0xe0 || code === 0xf0) return false;
      if (code === BPF_JA) return (op & BPF_X) === 0;
      if (code === BPF_CALL || code === BPF_EXIT) return cls === BPF_JMP && (op & BPF_X) === 0;
      return true;
    }
    case BPF_LD:
      // lddw, and the legacy packet loads LD_ABS/LD_IND of W/H/B.
      if (op === (BPF_LD | BPF_IMM | BPF_DW)) return true;
      return ((op & 0xe0) === 0x20 || (op & 0xe0) === 0x40) && (op & 0x18) !== BPF_DW;
    case BPF_LDX: {
      const mode = op & 0xe0;
      if (mode === BPF_MEM) return true;
      return mode === BPF_MEMSX && (op & 0x18) !== BPF_DW;
    }
    case BPF_ST:
      return (op & 0xe0) === BPF_MEM;
    case BPF_STX: {
      const mode = op & 0xe0;
      return mode === BPF_MEM || mode === BPF_ATOMIC;
    }
  }
  return false;
}

/** Linux's reserved-field checks, done when do_check first meets the instruction. */
export function checkFields(insns: readonly Insn[], i: number): string | undefined {
  const x = insns[i];
  const op = x.opcode;
  const cls = op & 7;
  if (x.dst > 10) return `R${x.dst} is invalid`;
  if (x.src > 10 && !(cls === BPF_LD || (cls === BPF_JMP && (op & 0xf0) === BPF_CALL))) return `R${x.src} is invalid`;
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    const code = op & 0xf0;
    const isX = (op & BPF_X) !== 0;
    if (code === BPF_NEG) {
      if (x.src !== 0 || x.off !== 0 || x.imm !== 0) return 'BPF_NEG uses reserved fields';
      return undefined;
    }
    if (code === BPF_END) {
      if (x.src !== 0 || x.off !== 0 || (x.imm !== 16 && x.imm !== 32 && x.imm !== 64)) return 'BPF_END uses reserved fields';
      return undefined;
    }
    const name = code === 0xb0 ? 'BPF_MOV' : 'BPF_ALU';
    const divmod = code === 0x30 || code === 0x90;
    const okOff = (o: number): boolean => {
      if (o === 0) return true;
      if (divmod) return o === 1;
      if (code === 0xb0 && isX) return cls === BPF_ALU64 ? o === 8 || o === 16 || o === 32 : o === 8 || o === 16;
      return false;
    };
    if (isX) {
      if (x.imm !== 0 || !okOff(x.off)) return `${name} uses reserved fields`;
    } else {
      if (x.src !== 0 || !okOff(x.off) || (code === 0xb0 && x.off !== 0)) return `${name} uses reserved fields`;
    }
    return undefined;
  }
  if (cls === BPF_LDX) {
    if (x.imm !== 0) return 'BPF_LDX uses reserved fields';
    return undefined;
  }
  if (cls === BPF_ST) {
    if (x.src !== 0) return 'BPF_ST uses reserved fields';
    return undefined;
  }
  if (cls === BPF_STX) {
    if ((op & 0xe0) === BPF_MEM) {
      if (x.imm !== 0) return 'BPF_STX uses reserved fields';
      return undefined;
    }
    const size = op & 0x18;
    if (!ATOMIC_OPS.has(x.imm)) return `BPF_ATOMIC uses invalid atomic opcode ${(x.imm >>> 0).toString(16).padStart(2, '0')}`;
    if (x.imm !== 0x100 && x.imm !== 0x110 && size !== BPF_DW && size !== 0) return 'invalid atomic operand size';
    return undefined;
  }
  if (cls === BPF_JMP || cls === BPF_JMP32) {
    const code = op & 0xf0;
    if (code === BPF_CALL) {
      if (x.off !== 0 || x.dst !== 0 || (x.src !== 0 && x.src !== BPF_PSEUDO_CALL)) return 'BPF_CALL uses reserved fields';
      return undefined;
    }
    if (code === BPF_EXIT) {
      if (x.src !== 0 || x.dst !== 0 || x.off !== 0 || x.imm !== 0) return 'BPF_EXIT uses reserved fields';
      return undefined;
    }
    if (code === BPF_JA) {
      if (cls === BPF_JMP ? x.src !== 0 || x.dst !== 0 || x.imm !== 0 : x.src !== 0 || x.dst !== 0 || x.off !== 0) {
        return 'BPF_JA uses reserved fields';
      }
      return undefined;
    }
    const name = cls === BPF_JMP ? 'BPF_JMP' : 'BPF_JMP32';
    if ((op & BPF_X) !== 0 ? x.imm !== 0 : x.src !== 0) return `${name}/JMP32 uses reserved fields`.replace('BPF_JMP32/JMP32', 'BPF_JMP/JMP32');
    return undefined;
  }
  return undefined;
}

/** Jump target of a jump instruction (ja, gotol, conditional). */
export function jumpTarget(x: Insn, i: number): number {
  if (x.opcode === (BPF_JMP32 | BPF_JA)) return i + 1 + x.imm;
  return i + 1 + x.off;
}

function isCondJump(x: Insn): boolean {
  const cls = x.opcode & 7;
  if (cls !== BPF_JMP && cls !== BPF_JMP32) return false;
  const code = x.opcode & 0xf0;
  return code !== BPF_JA && code !== BPF_CALL && code !== BPF_EXIT;
}

function isJa(x: Insn): boolean {
  return (x.opcode === (BPF_JMP | BPF_JA)) || x.opcode === (BPF_JMP32 | BPF_JA);
}

export function isLocalCall(x: Insn): boolean {
  return x.opcode === (BPF_JMP | BPF_CALL) && x.src === BPF_PSEUDO_CALL;
}

export function isPseudoFunc(x: Insn): boolean {
  return x.opcode === (BPF_LD | BPF_IMM | BPF_DW) && x.src === BPF_PSEUDO_FUNC;
}

/** All static checks; returns the structure or the first error. */
export function checkStructure(insns: readonly Insn[], nMaps: number): Structure | VerifierError {
  const n = insns.length;
  if (n === 0) return { insn: 0, message: 'empty program' };
  if (n > 1_000_000) return { insn: 0, message: `program too large (${n} insns, limit 1000000)` };
  // Pass 1: opcodes and lddw pairs.
  for (let i = 0; i < n; i++) {
    const x = insns[i];
    if (x.opcode === (BPF_LD | BPF_IMM | BPF_DW)) {
      if (i === n - 1 || insns[i + 1].opcode !== 0 || insns[i + 1].dst !== 0 || insns[i + 1].src !== 0 || insns[i + 1].off !== 0 || x.off !== 0) {
        return { insn: i, message: 'invalid bpf_ld_imm64 insn' };
      }
      if (x.src === BPF_PSEUDO_MAP_FD || x.src === BPF_PSEUDO_MAP_VALUE || x.src === 5 || x.src === 6) {
        if (x.imm < 0 || x.imm >= nMaps) return { insn: i, message: `fd ${x.imm} is not pointing to valid bpf_map` };
        if ((x.src === BPF_PSEUDO_MAP_FD || x.src === 5) && insns[i + 1].imm !== 0) return { insn: i, message: 'invalid bpf_ld_imm64 insn' };
      } else if (x.src === BPF_PSEUDO_FUNC) {
        if (insns[i + 1].imm !== 0) return { insn: i, message: 'invalid bpf_ld_imm64 insn' };
      } else if (x.src !== 0) {
        return { insn: i, message: 'invalid bpf_ld_imm64 insn' };
      }
      i++;
      continue;
    }
    if (!opcodeKnown(x.opcode)) return { insn: i, message: `unknown opcode ${x.opcode.toString(16).padStart(2, '0')}` };
  }
  // Pass 2: subprograms, jump ranges, last instruction of each subprogram.
  const starts = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const x = insns[i];
    if (isLocalCall(x) || isPseudoFunc(x)) {
      const t = i + 1 + x.imm;
      if (t < 0 || t >= n) return { insn: i, message: `function call to invalid destination ${t}` };
      starts.add(t);
    }
    if (x.opcode === (BPF_LD | BPF_IMM | BPF_DW)) i++;
  }
  const subprogs = [...starts].sort((a, b) => a - b);
  const subprogOf = new Int32Array(n);
  for (let s = 0; s < subprogs.length; s++) {
    const end = s + 1 < subprogs.length ? subprogs[s + 1] : n;
    subprogOf.fill(s, subprogs[s], end);
  }
  const isSecondHalf = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (insns[i].opcode === (BPF_LD | BPF_IMM | BPF_DW)) isSecondHalf[++i] = 1;
  for (let s = 0; s < subprogs.length; s++) {
    const start = subprogs[s];
    const end = s + 1 < subprogs.length ? subprogs[s + 1] : n;
    for (let i = start; i < end; i++) {
      const x = insns[i];
      if (isSecondHalf[i]) continue;
      const cls = x.opcode & 7;
      if ((cls === BPF_JMP || cls === BPF_JMP32) && (isJa(x) || isCondJump(x))) {
        const t = jumpTarget(x, i);
        if (t < start || t >= end) return { insn: i, message: `jump out of range from insn ${i} to ${t}` };
      }
    }
    const last = end - 1;
    const lx = insns[last];
    if (isSecondHalf[last] || !(lx.opcode === (BPF_JMP | BPF_EXIT) || isJa(lx))) {
      return { insn: last, message: 'last insn is not an exit or jmp' };
    }
  }
  // Pass 3: DFS over the CFG from insn 0 (calls and pseudo-func loads reach their targets).
  const prunePoint = new Uint8Array(n);
  const seen = new Uint8Array(n);
  const stack: number[] = [0];
  seen[0] = 1;
  const visit = (t: number, from: number): VerifierError | undefined => {
    if (t < 0 || t >= n) return { insn: from, message: `jump out of range from insn ${from} to ${t}` };
    if (isSecondHalf[t]) return { insn: from, message: `jump into the middle of ldimm64 insn ${t - 1}` };
    if (!seen[t]) {
      seen[t] = 1;
      stack.push(t);
    }
    return undefined;
  };
  while (stack.length > 0) {
    const i = stack.pop() as number;
    const x = insns[i];
    const cls = x.opcode & 7;
    let err: VerifierError | undefined;
    if (x.opcode === (BPF_LD | BPF_IMM | BPF_DW)) {
      if (x.src === BPF_PSEUDO_FUNC) err = visit(i + 1 + x.imm, i);
      err = err ?? visit(i + 2, i);
    } else if (cls === BPF_JMP || cls === BPF_JMP32) {
      const code = x.opcode & 0xf0;
      if (code === BPF_EXIT) continue;
      if (code === BPF_CALL) {
        if (x.src === BPF_PSEUDO_CALL) {
          err = visit(i + 1 + x.imm, i);
          prunePoint[i + 1 + x.imm] = 1;
        }
        prunePoint[i] = 1;
        err = err ?? visit(i + 1, i);
      } else if (isJa(x)) {
        const t = jumpTarget(x, i);
        prunePoint[t] = 1;
        err = visit(t, i);
      } else {
        const t = jumpTarget(x, i);
        prunePoint[t] = 1;
        prunePoint[i + 1] = 1;
        err = visit(t, i) ?? visit(i + 1, i);
      }
    } else {
      err = visit(i + 1, i);
    }
    if (err) return err;
  }
  for (let i = 0; i < n; i++) {
    if (!seen[i] && !isSecondHalf[i]) return { insn: i, message: `unreachable insn ${i}` };
  }
  // Recursion among local calls (a cycle in the call graph).
  const callees: number[][] = subprogs.map(() => []);
  for (let i = 0; i < n; i++) {
    const x = insns[i];
    if (isSecondHalf[i]) continue;
    if (isLocalCall(x) || isPseudoFunc(x)) callees[subprogOf[i]].push(subprogOf[i + 1 + x.imm]);
  }
  const color = new Uint8Array(subprogs.length);
  const dfs = (s: number): VerifierError | undefined => {
    color[s] = 1;
    for (const c of callees[s]) {
      // Linux's static call-depth walk follows a recursion until it is 9 frames deep.
      if (color[c] === 1) return { insn: subprogs[s], message: 'the call stack of 9 frames is too deep' };
      if (color[c] === 0) {
        const e = dfs(c);
        if (e) return e;
      }
    }
    color[s] = 2;
    return undefined;
  };
  for (let s = 0; s < subprogs.length; s++) {
    if (color[s] === 0) {
      const e = dfs(s);
      if (e) return e;
    }
  }
  return { subprogs, subprogOf, prunePoint };
}

export function isError(x: Structure | VerifierError): x is VerifierError {
  return (x as VerifierError).message !== undefined;
}
