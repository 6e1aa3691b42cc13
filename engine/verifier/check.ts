// Path exploration (Linux's do_check): simulate every path from insn 0 on abstract states, check
// each instruction's safety, refine registers on both arms of conditional jumps, and prune paths
// whose state is covered by one already proved safe. Errors are thrown as VerifierFailure and
// turned into a VerifyResult by doCheck.

import {
  BPF_ALU64,
  BPF_ATOMIC,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LDX,
  BPF_MEMSX,
  BPF_PSEUDO_CALL,
  BPF_ST,
  BPF_STX,
  type Insn,
} from '../isa.js';
import {
  BPF_F_RDONLY_PROG,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_PROG_ARRAY,
  BPF_MAP_TYPE_RINGBUF,
  type MapDef,
} from '../maps/types.js';
import { ArgType, HELPER_BY_ID, RetType, type HelperProto } from '../helpers/protos.js';
import type { VerifyOptions, VerifyResult } from './types.js';
import { checkFields, jumpTarget, type Structure } from './structure.js';
import { logLine } from './disasm.js';
import { liveRegs } from './liveness.js';
import { MAX_VAR_OFF, MemoryChecker, VerifierFailure, s64n, varStr } from './memory-checks.js';
import {
  S64_MIN,
  SC_UNKNOWN,
  scAlu,
  scBswap,
  scConst,
  scFeasible,
  scIsConst,
  scOfSize,
  scSext,
  scZext32,
  sync,
  branchTaken,
  negate,
  refine,
  type AluOp,
  type Rel,
  type Sc,
} from './scalar.js';
import { tAdd, tConst, tIsAligned } from './tnum.js';
import {
  EMPTY_SLOT,
  NOT_INIT,
  S_MISC,
  S_ZERO,
  T,
  UNKNOWN,
  ZERO_REG,
  cloneState,
  constReg,
  cur,
  isPtr,
  ptrReg,
  regStr,
  scalarReg,
  stateStr,
  statesCover,
  typeName,
  type Frame,
  type Reg,
  type State,
} from './state.js';

const MAX_STATES_PER_INSN = 64;
/** bpf_loop runs at most this many iterations (larger counts fail with -E2BIG). */
const BPF_MAX_LOOPS = 8n * 1024n * 1024n;
const MAX_PENDING = 8192;
const MAX_LOG_LINES = 20000;

interface Checkpoint {
  st: State;
  branches: number;
  parent: Checkpoint | null;
}

interface Path {
  st: State;
  pc: number;
  cp: Checkpoint | null;
  from: number;
}

const ALU_NAMES: Record<number, AluOp> = {
  0x00: 'add',
  0x10: 'sub',
  0x20: 'mul',
  0x30: 'div',
  0x40: 'or',
  0x50: 'and',
  0x60: 'lsh',
  0x70: 'rsh',
  0x90: 'mod',
  0xa0: 'xor',
  0xc0: 'arsh',
};
const OP_STR: Record<number, string> = {
  0x00: '+=',
  0x10: '-=',
  0x20: '*=',
  0x30: '/=',
  0x40: '|=',
  0x50: '&=',
  0x60: '<<=',
  0x70: '>>=',
  0x80: 'neg',
  0x90: '%=',
  0xa0: '^=',
  0xc0: 's>>=',
};
const JMP_REL: Record<number, Rel> = {
  0x10: 'eq',
  0x20: 'gt',
  0x30: 'ge',
  0x40: 'set',
  0x50: 'ne',
  0x60: 'sgt',
  0x70: 'sge',
  0xa0: 'lt',
  0xb0: 'le',
  0xc0: 'slt',
  0xd0: 'sle',
};
const SIZES = [4, 2, 1, 8];

/** Helpers of the tracing set that socket filters and XDP may not call (measured on Linux 6.18). */
const NET_FORBIDDEN = new Set([4, 58]);

export function doCheck(insns: readonly Insn[], structure: Structure, opts: VerifyOptions): VerifyResult {
  const c = new Checker(insns, structure, opts);
  return c.run();
}

class Checker extends MemoryChecker {
  private readonly logLevel: number;
  private readonly maxInsns: number;
  private readonly lines: string[] = [];
  private processed = 0;
  /** bpf_loop call → most iterations any path asks for (VerifyResult.loopBounds). */
  private readonly loopBounds = new Map<number, number>();
  private readonly cps: (Checkpoint[] | undefined)[];
  private totalStates = 0;
  private liveStates = 0;
  private peakStates = 0;
  private maxPerInsn = 0;
  private readonly fieldsOk: Uint8Array;
  /** Registers live before each insn (./liveness.ts). */
  private readonly live: Uint16Array;
  private jumps = 0;
  private lastCpJumps = -2;
  private lastCpInsns = -8;
  /** State of the path at the instruction being executed, for the error log. */
  private errState: State | null = null;

  constructor(insns: readonly Insn[], structure: Structure, opts: VerifyOptions) {
    super(insns, structure, opts);
    this.logLevel = opts.logLevel ?? 1;
    this.maxInsns = opts.maxInsns ?? 1_000_000;
    this.cps = new Array(insns.length);
    this.fieldsOk = new Uint8Array(insns.length);
    this.live = liveRegs(insns);
  }

  private log(line: string): void {
    if (this.lines.length < MAX_LOG_LINES) this.lines.push(line);
    else if (this.lines.length === MAX_LOG_LINES) this.lines.push('... (log truncated)');
  }

  private summary(): string {
    return `processed ${this.processed} insns (limit ${this.maxInsns}) max_states_per_insn ${this.maxPerInsn} total_states ${this.totalStates} peak_states ${this.peakStates} mark_read 0`;
  }

  private stats(): VerifyResult['stats'] {
    return {
      insnsProcessed: this.processed,
      states: this.totalStates,
      peakStates: this.peakStates,
      stackDepth: this.depth.map((d) => (d + 7) & ~7),
    };
  }

  run(): VerifyResult {
    try {
      this.explore();
      if (this.logLevel >= 1) this.log(this.summary());
      const loopBounds = [...this.loopBounds].map(([insn, maxIterations]) => ({ insn, maxIterations }));
      return { ok: true, log: this.lines.join('\n') + '\n', stats: this.stats(), maxCtxOffset: this.maxCtx, loopBounds };
    } catch (e) {
      if (!(e instanceof VerifierFailure)) throw e;
      if (this.logLevel >= 1 && this.errState !== null) {
        this.log(`${e.insn}: ${stateStr(this.errState, this.maps).replace(/\n/g, ' ')}`);
        if (e.insn >= 0 && e.insn < this.insns.length) this.log(logLine(this.insns, e.insn));
      }
      for (const l of e.lines) this.log(l);
      if (this.logLevel >= 1) this.log(this.summary());
      return { ok: false, error: { insn: e.insn, message: e.lines[e.main] }, log: this.lines.join('\n') + '\n', stats: this.stats() };
    }
  }

  private initialState(): State {
    const regs: Reg[] = new Array(11).fill(NOT_INIT);
    regs[1] = ptrReg(T.Ctx);
    regs[10] = ptrReg(T.Stack, { frame: 0 });
    if (this.opts.progType === 'raw') regs[2] = constReg(BigInt(this.opts.ctxSize));
    const f: Frame = { regs, slots: new Array(64).fill(EMPTY_SLOT), retTo: -1, subprog: 0, callback: false, cbRefs: [] };
    return { frames: [f], refs: [] };
  }

  private explore(): void {
    const stack: Path[] = [{ st: this.initialState(), pc: 0, cp: null, from: -1 }];
    while (stack.length > 0) {
      const p = stack.pop() as Path;
      if (this.logLevel >= 2 && p.from >= 0) this.log(`from ${p.from} to ${p.pc}: ${stateStr(p.st, this.maps).replace(/\n/g, ' ')}`);
      for (;;) {
        const i = p.pc;
        this.errState = p.st;
        if (++this.processed > this.maxInsns) this.fail(i, `BPF program is too large. Processed ${this.processed} insn`);
        if (this.structure.prunePoint[i] && this.visited(p, i)) {
          if (this.logLevel >= 2) this.log(`${i}: safe`);
          this.finish(p.cp);
          break;
        }
        if (!this.fieldsOk[i]) {
          const bad = checkFields(this.insns, i);
          if (bad !== undefined) this.fail(i, bad);
          this.fieldsOk[i] = 1;
        }
        if (this.logLevel >= 2) this.log(logLine(this.insns, i));
        const next = this.step(p, i, stack);
        if (stack.length > MAX_PENDING) this.fail(i, `The sequence of ${stack.length} jumps is too complex.`);
        if (next < 0) {
          this.finish(p.cp);
          break;
        }
        p.pc = next;
      }
    }
  }

  /** A path ended: its checkpoints may become complete (usable for pruning). */
  private finish(cp: Checkpoint | null): void {
    let c = cp;
    while (c !== null) {
      c.branches--;
      if (c.branches > 0) break;
      c = c.parent;
    }
  }

  /** is_state_visited: true when the path can be pruned here. */
  private visited(p: Path, i: number): boolean {
    let list = this.cps[i];
    if (list === undefined) {
      list = [];
      this.cps[i] = list;
    }
    const frames = p.st.frames;
    const mask = (f: number): number => (f === frames.length - 1 ? this.live[i] : this.live[frames[f + 1].retTo] ?? 0x7ff) | (1 << 10);
    for (const cp of list) {
      if (cp.branches > 0) {
        if (statesCover(cp.st, p.st, true, mask)) this.fail(i, `infinite loop detected at insn ${i}`);
      } else if (statesCover(cp.st, p.st, false, mask)) {
        return true;
      }
    }
    // Like Linux, store a new checkpoint only every few jumps and instructions.
    if (this.jumps - this.lastCpJumps < 2 || this.processed - this.lastCpInsns < 8) return false;
    this.lastCpJumps = this.jumps;
    this.lastCpInsns = this.processed;
    const cp: Checkpoint = { st: cloneState(p.st), branches: 1, parent: p.cp };
    p.cp = cp;
    list.push(cp);
    this.totalStates++;
    this.liveStates++;
    if (list.length > MAX_STATES_PER_INSN) {
      // Drop the oldest complete checkpoint (keep in-progress ones for loop detection when possible).
      const k = list.findIndex((x) => x.branches === 0);
      list.splice(k >= 0 ? k : 0, 1);
      this.liveStates--;
    }
    this.maxPerInsn = Math.max(this.maxPerInsn, list.length);
    this.peakStates = Math.max(this.peakStates, this.liveStates);
    return false;
  }

  // ---- registers

  // ---- one instruction; returns the next pc or -1 when the path ends

  private step(p: Path, i: number, stack: Path[]): number {
    const x = this.insns[i];
    const cls = x.opcode & 7;
    const f = cur(p.st);
    switch (cls) {
      case 0x04:
      case BPF_ALU64:
        this.alu(f, x, i);
        return i + 1;
      case BPF_LDX:
        this.ldx(p.st, f, x, i);
        return i + 1;
      case BPF_ST:
      case BPF_STX:
        if ((x.opcode & 0xe0) === BPF_ATOMIC) this.atomic(p.st, f, x, i);
        else this.store(p.st, f, x, i);
        return i + 1;
      case BPF_LD:
        return this.ld(f, x, i);
      case BPF_JMP:
      case BPF_JMP32:
        this.jumps++;
        return this.jmp(p, f, x, i, stack);
    }
    return this.fail(i, `unknown opcode ${x.opcode.toString(16)}`);
  }

  private ld(f: Frame, x: Insn, i: number): number {
    if (x.opcode !== 0x18) this.fail(i, 'BPF_LD_[ABS|IND] instructions are not supported by Kestrel');
    this.checkDst(x.dst, i);
    const hi = this.insns[i + 1].imm;
    switch (x.src) {
      case 0:
        f.regs[x.dst] = constReg((BigInt(hi >>> 0) << 32n) | BigInt(x.imm >>> 0));
        break;
      case 1:
      case 5:
        f.regs[x.dst] = ptrReg(T.MapPtr, { map: x.imm });
        break;
      case 2:
      case 6: {
        const m = this.maps[x.imm];
        if (m.type !== BPF_MAP_TYPE_ARRAY || m.maxEntries !== 1) this.fail(i, 'direct value access on this map type is not supported');
        if (hi < 0 || hi >= m.valueSize) this.fail(i, `invalid access to map value pointer, value_size=${m.valueSize} off=${hi}`);
        f.regs[x.dst] = ptrReg(T.MapValue, { map: x.imm, off: hi });
        break;
      }
      case 4:
        f.regs[x.dst] = ptrReg(T.Func, { size: i + 1 + x.imm });
        break;
      default:
        this.fail(i, 'invalid bpf_ld_imm64 insn');
    }
    return i + 2;
  }

  private alu(f: Frame, x: Insn, i: number): void {
    const bits: 32 | 64 = (x.opcode & 7) === BPF_ALU64 ? 64 : 32;
    const code = x.opcode & 0xf0;
    const isX = (x.opcode & 8) !== 0;
    if (code === 0xd0) {
      const d = this.readReg(f, x.dst, i);
      this.checkDst(x.dst, i);
      if (isPtr(d)) this.fail(i, `R${x.dst} pointer arithmetic prohibited`);
      f.regs[x.dst] = scalarReg(scBswap(d.s, x.imm, bits === 64 || isX));
      return;
    }
    if (code === 0xb0) {
      if (isX) {
        const s = this.readReg(f, x.src, i);
        this.checkDst(x.dst, i);
        if (x.off !== 0) {
          if (isPtr(s)) this.fail(i, `R${x.src} sign-extension part of pointer`);
          const v = scSext(s.s, x.off / 8);
          f.regs[x.dst] = scalarReg(bits === 64 ? v : scZext32(v));
        } else if (bits === 64) {
          let v = s;
          if (v.type === T.Scalar && v.id === 0 && !scIsConst(v.s)) {
            v = { ...v, id: this.newId() };
            f.regs[x.src] = v;
          }
          f.regs[x.dst] = v;
        } else {
          f.regs[x.dst] = isPtr(s) ? scalarReg(scOfSize(4, false)) : scalarReg(scZext32(s.s));
        }
      } else {
        this.checkDst(x.dst, i);
        f.regs[x.dst] = constReg(bits === 64 ? BigInt(x.imm) : BigInt(x.imm >>> 0));
      }
      return;
    }
    const src: Reg = isX ? this.readReg(f, x.src, i) : constReg(bits === 64 ? BigInt(x.imm) : BigInt(x.imm >>> 0));
    const d = this.readReg(f, x.dst, i);
    this.checkDst(x.dst, i);
    if (code === 0x80) {
      if (isPtr(d)) this.fail(i, `R${x.dst} pointer arithmetic with neg operator prohibited`);
      f.regs[x.dst] = scalarReg(scAlu('sub', scConst(0n), d.s, bits));
      return;
    }
    if (!isX && (code === 0x30 || code === 0x90) && x.imm === 0) this.fail(i, 'div by zero');
    if (!isX && (code === 0x60 || code === 0x70 || code === 0xc0) && (x.imm < 0 || x.imm >= bits)) this.fail(i, `invalid shift ${x.imm}`);
    if (isPtr(d) || isPtr(src)) {
      f.regs[x.dst] = this.ptrArith(d, src, x, code, bits, i);
      return;
    }
    if (code === 0x30 || code === 0x90) {
      // Linux 6.18 forgets the result of every div/mod (even of constants); so does Kestrel, so
      // that both accept the same programs. scAlu models them precisely (see scalar.test.ts).
      f.regs[x.dst] = bits === 64 ? UNKNOWN : scalarReg(scOfSize(4, false));
      return;
    }
    f.regs[x.dst] = scalarReg(scAlu(ALU_NAMES[code], d.s, src.s, bits));
  }

  private ptrArith(d: Reg, s: Reg, x: Insn, code: number, bits: 32 | 64, i: number): Reg {
    const opStr = OP_STR[code] ?? '?';
    if (bits === 32) this.fail(i, `R${x.dst} 32-bit pointer arithmetic prohibited`);
    if (isPtr(d) && isPtr(s)) {
      if (code === 0x10) return UNKNOWN;
      this.fail(i, `R${x.dst} pointer ${opStr} pointer prohibited`);
    }
    let ptr = d;
    let off = s;
    if (isPtr(d) && d.type === T.Stack && code === 0x10) this.fail(i, `R${x.dst} subtraction from stack pointer prohibited`);
    if (!isPtr(d)) {
      if (code === 0x10) this.fail(i, `R${x.dst} tried to subtract pointer from scalar`);
      if (code !== 0x00) this.fail(i, `R${x.dst} pointer arithmetic with ${opStr} operator prohibited`);
      ptr = s;
      off = d;
    }
    const tn = typeName(ptr.type);
    switch (ptr.type) {
      case T.MapValueOrNull:
      case T.RbMemOrNull:
        this.fail(i, `R${x.dst} pointer arithmetic on ${tn} prohibited, null-check it first`);
        break;
      case T.MapPtr:
        if (code === 0x00 && scIsConst(off.s) && off.s.t.v === 0n) return ptr;
        this.fail(i, `R${x.dst} pointer arithmetic on ${tn} prohibited`);
        break;
      case T.Func:
        this.fail(i, `R${x.dst} pointer arithmetic on ${tn} prohibited`);
        break;
      default:
        break;
    }
    if (code !== 0x00 && code !== 0x10) this.fail(i, `R${x.dst} pointer arithmetic with ${opStr} operator prohibited`);
    const known = scIsConst(off.s);
    const val = s64n(off.s.t.v);
    if (known && (val >= MAX_VAR_OFF || val <= -MAX_VAR_OFF)) this.fail(i, `math between ${tn} pointer and ${val} is not allowed`);
    if (off.s.smin === S64_MIN) this.fail(i, `math between ${tn} pointer and register with unbounded min value is not allowed`);
    if (off.s.smin >= BigInt(MAX_VAR_OFF) || off.s.smin <= -BigInt(MAX_VAR_OFF)) this.fail(i, `value ${off.s.smin} makes ${tn} pointer be out of bounds`);
    let res: Reg;
    if (known) res = { ...ptr, off: code === 0x00 ? ptr.off + val : ptr.off - val };
    else res = { ...ptr, s: scAlu(code === 0x00 ? 'add' : 'sub', ptr.s, off.s, 64) };
    if (res.off >= MAX_VAR_OFF || res.off <= -MAX_VAR_OFF) this.fail(i, `${tn} pointer offset ${res.off} is not allowed`);
    if (res.s.smin === S64_MIN) this.fail(i, `math between ${tn} pointer and register with unbounded min value is not allowed`);
    return res;
  }

  // ---- memory

  private ldx(st: State, f: Frame, x: Insn, i: number): void {
    const ptr = this.readReg(f, x.src, i);
    this.checkDst(x.dst, i);
    const size = SIZES[(x.opcode >> 3) & 3];
    const signed = (x.opcode & 0xe0) === BPF_MEMSX;
    f.regs[x.dst] = this.load(st, ptr, x.src, x.off, size, signed, i);
  }

  private store(st: State, f: Frame, x: Insn, i: number): void {
    const size = SIZES[(x.opcode >> 3) & 3];
    let val: Reg;
    if ((x.opcode & 7) === BPF_STX) {
      val = this.readReg(f, x.src, i);
      this.readReg(f, x.dst, i);
    } else {
      val = constReg(BigInt(x.imm));
    }
    const ptr = this.readReg(f, x.dst, i);
    this.access(st, ptr, x.dst, x.off, size, true, val, i);
  }

  private atomic(st: State, f: Frame, x: Insn, i: number): void {
    const size = SIZES[(x.opcode >> 3) & 3];
    if (x.imm === 0x100) {
      const ptr = this.readReg(f, x.src, i);
      this.checkDst(x.dst, i);
      f.regs[x.dst] = this.load(st, ptr, x.src, x.off, size, false, i);
      return;
    }
    if (x.imm === 0x110) {
      const val = this.readReg(f, x.src, i);
      const ptr = this.readReg(f, x.dst, i);
      this.access(st, ptr, x.dst, x.off, size, true, val, i);
      return;
    }
    const val = this.readReg(f, x.src, i);
    const ptr = this.readReg(f, x.dst, i);
    if (x.imm === 0xf1) this.readReg(f, 0, i);
    if (isPtr(val)) this.fail(i, `R${x.src} leaks addr into mem`);
    if (ptr.type === T.Ctx) this.fail(i, `BPF_ATOMIC stores into R${x.dst} ctx is not allowed`);
    if (ptr.type !== T.Stack && ptr.type !== T.MapValue && ptr.type !== T.RbMem) this.fail(i, `R${x.dst} invalid mem access '${typeName(ptr.type)}'`);
    // Atomics are always strictly aligned (check_ptr_alignment with strict = true).
    if (ptr.type !== T.Stack && !tIsAligned(tAdd(ptr.s.t, tConst(BigInt(ptr.off + x.off))), size)) {
      this.fail(i, `misaligned ${ptr.type === T.MapValue ? 'value ' : ''}access off ${varStr(ptr.s)}+${ptr.off}+${x.off} size ${size}`);
    }
    const old = this.access(st, ptr, x.dst, x.off, size, false, null, i);
    if (old.type !== T.Scalar) this.fail(i, `R${x.dst} atomic operation on a spilled pointer`);
    this.access(st, ptr, x.dst, x.off, size, true, UNKNOWN, i);
    if (x.imm === 0xf1) f.regs[0] = scalarReg(scOfSize(size, false));
    else if ((x.imm & 1) !== 0) {
      this.checkDst(x.src, i);
      f.regs[x.src] = scalarReg(scOfSize(size, false));
    }
  }

  // ---- jumps, calls, exit

  private jmp(p: Path, f: Frame, x: Insn, i: number, stack: Path[]): number {
    const code = x.opcode & 0xf0;
    if (code === 0x00) return jumpTarget(x, i);
    if (code === 0x90) return this.exit(p, f, i);
    if (code === 0x80) return this.call(p, f, x, i, stack);
    const bits: 32 | 64 = (x.opcode & 7) === BPF_JMP ? 64 : 32;
    const isX = (x.opcode & 8) !== 0;
    const d = this.readReg(f, x.dst, i);
    const s: Reg = isX ? this.readReg(f, x.src, i) : constReg(bits === 64 ? BigInt(x.imm) : BigInt(x.imm >>> 0));
    const rel = JMP_REL[code];
    const target = jumpTarget(x, i);
    const isZero = (r: Reg): boolean => r.type === T.Scalar && scIsConst(r.s) && r.s.t.v === 0n;
    const orNull = (r: Reg): boolean => r.type === T.MapValueOrNull || r.type === T.RbMemOrNull;
    if (bits === 64 && (rel === 'eq' || rel === 'ne') && ((orNull(d) && isZero(s)) || (orNull(s) && isZero(d)))) {
      const r = orNull(d) ? d : s;
      const other = cloneState(p.st);
      // Taken arm: eq → null, ne → non-null.
      this.markNull(other, r, rel === 'eq');
      this.markNull(p.st, r, rel !== 'eq');
      this.push(p, stack, other, target, i);
      return i + 1;
    }
    if (isPtr(d) || isPtr(s)) {
      let taken = -1;
      // reg_not_null: only these pointer types are known to be non-NULL.
      const nonNull = (r: Reg): boolean => r.type === T.MapValue || r.type === T.RbMem || r.type === T.MapPtr;
      if (bits === 64 && (rel === 'eq' || rel === 'ne') && ((nonNull(d) && isZero(s)) || (nonNull(s) && isZero(d)))) taken = rel === 'eq' ? 0 : 1;
      if (taken === 1) return target;
      if (taken === 0) return i + 1;
      this.push(p, stack, cloneState(p.st), target, i);
      return i + 1;
    }
    const taken = branchTaken(d.s, s.s, rel, bits);
    if (taken === 1) return target;
    if (taken === 0) return i + 1;
    const other = cloneState(p.st);
    const okT = this.applyCond(other, x, d, s, rel, bits, isX);
    const okF = this.applyCond(p.st, x, d, s, negate(rel), bits, isX);
    if (okT) {
      if (!okF) {
        p.st = other;
        return target;
      }
      this.push(p, stack, other, target, i);
    }
    if (!okF) return -1;
    return i + 1;
  }

  private push(p: Path, stack: Path[], st: State, pc: number, from: number): void {
    if (p.cp !== null) p.cp.branches++;
    stack.push({ st, pc, cp: p.cp, from });
  }

  /** Refine dst/src under `rel`; false when the arm is impossible. */
  private applyCond(st: State, x: Insn, d: Reg, s: Reg, rel: Rel, bits: 32 | 64, isX: boolean): boolean {
    const [a, b] = refine(d.s, s.s, rel, bits);
    if (!scFeasible(a) || !scFeasible(b)) return false;
    const f = cur(st);
    this.setScalar(st, f, x.dst, d, a);
    if (isX) this.setScalar(st, f, x.src, s, b);
    return true;
  }

  /** Give a register new bounds, and every scalar linked to it by id the same (find_equal_scalars). */
  private setScalar(st: State, f: Frame, regno: number, old: Reg, s: Sc): void {
    f.regs[regno] = withS(old, s);
    if (old.id === 0) return;
    for (const fr of st.frames) {
      for (let r = 0; r < 11; r++) {
        const v = fr.regs[r];
        if (v.type === T.Scalar && v.id === old.id) fr.regs[r] = withS(v, s);
      }
      for (let k = 0; k < fr.slots.length; k++) {
        const sl = fr.slots[k];
        if (sl.spill !== null && sl.spill.type === T.Scalar && sl.spill.id === old.id) fr.slots[k] = { kinds: sl.kinds, spill: { ...sl.spill, s } };
      }
    }
  }

  /** Null check result for every register sharing `r`'s id. */
  private markNull(st: State, r: Reg, isNull: boolean): void {
    const conv = (v: Reg): Reg => {
      if (v.id !== r.id || (v.type !== T.MapValueOrNull && v.type !== T.RbMemOrNull)) return v;
      if (isNull) return ZERO_REG;
      return { ...v, type: v.type === T.MapValueOrNull ? T.MapValue : T.RbMem, id: 0 };
    };
    for (const fr of st.frames) {
      for (let k = 0; k < 11; k++) fr.regs[k] = conv(fr.regs[k]);
      for (let k = 0; k < fr.slots.length; k++) {
        const sl = fr.slots[k];
        if (sl.spill !== null) {
          const n = conv(sl.spill);
          if (n !== sl.spill) fr.slots[k] = { kinds: sl.kinds, spill: n };
        }
      }
    }
    if (isNull && r.ref !== 0) st.refs = st.refs.filter((x) => x.id !== r.ref);
  }

  private exit(p: Path, f: Frame, i: number): number {
    const r0 = f.regs[0];
    if (r0.type === T.NotInit) this.fail(i, 'R0 !read_ok');
    const st = p.st;
    if (st.frames.length > 1) {
      if (f.callback) {
        if (r0.type !== T.Scalar || r0.s.smin < 0n || r0.s.smax > 1n) {
          if (r0.type !== T.Scalar) this.fail(i, `At callback return the register R0 is not a known value (${regStr(r0, this.maps)})`);
          this.fail(i, `At callback return the register R0 has smin=${r0.s.smin} smax=${r0.s.smax} should have been in [0, 1]`);
        }
        for (const ref of st.refs) if (!f.cbRefs.includes(ref.id)) this.fail(i, `Unreleased reference id=${ref.id} alloc_insn=${ref.insn}`);
        for (const id of f.cbRefs) if (!st.refs.some((x) => x.id === id)) this.fail(i, "bpf_loop callback released a reference of its caller");
        return -1;
      }
      if (r0.type === T.Stack && r0.frame === st.frames.length - 1) this.fail(i, 'cannot return stack pointer to the caller');
      st.frames.pop();
      const caller = cur(st);
      caller.regs[0] = r0;
      for (let r = 1; r <= 5; r++) caller.regs[r] = NOT_INIT;
      return f.retTo;
    }
    if (st.refs.length > 0) {
      const ref = st.refs[0];
      throw new VerifierFailure(i, [`Unreleased reference id=${ref.id} alloc_insn=${ref.insn}`, 'BPF_EXIT instruction in main prog would lead to reference leak'], 1);
    }
    return -1;
  }

  private call(p: Path, f: Frame, x: Insn, i: number, stack: Path[]): number {
    const st = p.st;
    if (x.src === BPF_PSEUDO_CALL) {
      if (st.frames.length >= 8) this.fail(i, `the call stack of ${st.frames.length + 1} frames is too deep`);
      const target = i + 1 + x.imm;
      const regs: Reg[] = new Array(11).fill(NOT_INIT);
      for (let r = 1; r <= 5; r++) regs[r] = f.regs[r];
      regs[10] = ptrReg(T.Stack, { frame: st.frames.length });
      st.frames.push({ regs, slots: new Array(64).fill(EMPTY_SLOT), retTo: i + 1, subprog: this.structure.subprogOf[target], callback: false, cbRefs: [] });
      return target;
    }
    const proto = HELPER_BY_ID.get(x.imm);
    if (proto === undefined) return this.fail(i, `invalid func unknown#${x.imm}`);
    const pt = this.opts.progType;
    if ((proto.kprobeOnly === true && pt !== 'kprobe') || ((pt === 'socket_filter' || pt === 'xdp') && NET_FORBIDDEN.has(proto.id))) {
      this.fail(i, `program of this type cannot use helper bpf_${proto.name}#${proto.id}`);
    }
    if (proto.gpl && this.opts.gpl === false) this.fail(i, 'cannot call GPL-restricted function from non-GPL compatible program');
    const meta = this.checkArgs(st, f, proto, i);
    if (proto.id === 12 && st.refs.length > 0) this.fail(i, 'tail_call would lead to reference leak');
    if (meta.release !== 0) {
      if (!st.refs.some((r) => r.id === meta.release)) this.fail(i, 'reference has not been acquired before');
      st.refs = st.refs.filter((r) => r.id !== meta.release);
      const inval = (v: Reg): Reg => (v.ref === meta.release && isPtr(v) ? UNKNOWN : v);
      for (const fr of st.frames) {
        for (let r = 0; r < 11; r++) fr.regs[r] = inval(fr.regs[r]);
        for (let k = 0; k < fr.slots.length; k++) {
          const sl = fr.slots[k];
          if (sl.spill !== null && sl.spill.ref === meta.release && isPtr(sl.spill)) fr.slots[k] = { kinds: sl.kinds, spill: UNKNOWN };
        }
      }
    }
    if (proto.id === 181) {
      const n = f.regs[1];
      const most = n.type === T.Scalar && n.s.umax < BPF_MAX_LOOPS ? Number(n.s.umax) : Number(BPF_MAX_LOOPS);
      this.loopBounds.set(i, Math.max(this.loopBounds.get(i) ?? 0, most));
      this.loopCallback(p, f, meta.callback, i, stack);
    }
    for (let r = 1; r <= 5; r++) f.regs[r] = NOT_INIT;
    switch (proto.ret) {
      case RetType.Integer:
        f.regs[0] = UNKNOWN;
        // do_refine_retval_range: string reads return at most the buffer size (or -errno),
        // get_smp_processor_id a CPU number (Kestrel VMs have at most 1024 CPUs).
        if (proto.id === 114 || proto.id === 115) f.regs[0] = scalarReg(sync({ ...SC_UNKNOWN, smin: -4095n, smax: meta.sizeMax, s32min: -4095n, s32max: meta.sizeMax }));
        else if (proto.id === 8) f.regs[0] = scalarReg(sync({ ...SC_UNKNOWN, umin: 0n, umax: 1023n }));
        break;
      case RetType.Void:
        f.regs[0] = NOT_INIT;
        break;
      case RetType.MapValueOrNull: {
        const m = this.maps[meta.map];
        const elide = (m.type === BPF_MAP_TYPE_ARRAY || m.type === BPF_MAP_TYPE_PERCPU_ARRAY) && meta.constKey >= 0 && meta.constKey < m.maxEntries;
        f.regs[0] = elide ? ptrReg(T.MapValue, { map: meta.map }) : ptrReg(T.MapValueOrNull, { map: meta.map, id: this.newId() });
        break;
      }
      case RetType.RingbufMemOrNull: {
        const ref = this.newId();
        st.refs = [...st.refs, { id: ref, insn: i }];
        f.regs[0] = ptrReg(T.RbMemOrNull, { id: this.newId(), ref, size: meta.allocSize });
        break;
      }
    }
    return i + 1;
  }

  private checkArgs(st: State, f: Frame, proto: HelperProto, i: number): { map: number; release: number; callback: number; allocSize: number; constKey: number; sizeMax: bigint } {
    const meta = { map: -1, release: 0, callback: -1, allocSize: 0, constKey: -1, sizeMax: 0n };
    const expected = 'fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_';
    for (let k = 0; k < proto.args.length; k++) {
      const regno = k + 1;
      const a = proto.args[k];
      const reg = this.readReg(f, regno, i);
      const typeErr = (exp: string): never => this.fail(i, `R${regno} type=${typeName(reg.type)} expected=${exp}`);
      switch (a) {
        case ArgType.Anything:
          break;
        case ArgType.ConstMapPtr: {
          if (reg.type !== T.MapPtr) typeErr('map_ptr');
          meta.map = reg.map;
          break;
        }
        case ArgType.MapKey:
        case ArgType.MapValue: {
          if (meta.map < 0) this.fail(i, 'invalid map_ptr to access map->key');
          const m = this.maps[meta.map];
          if (!this.isMemPtr(reg)) typeErr(expected);
          const size = a === ArgType.MapKey ? m.keySize : m.valueSize;
          if (size === 0) this.fail(i, 'invalid zero-sized read');
          this.helperMem(st, reg, regno, size, false, i);
          if (a === ArgType.MapKey) meta.constKey = this.constKey(st, reg, size);
          break;
        }
        case ArgType.UninitMem:
        case ArgType.ReadOnlyMem:
          if (!this.isMemPtr(reg)) typeErr(expected);
          break; // checked with the size argument
        case ArgType.ConstSize:
        case ArgType.ConstSizeOrZero: {
          if (reg.type !== T.Scalar) typeErr('scalar');
          const zeroOk = a === ArgType.ConstSizeOrZero;
          const s = reg.s;
          if (s.smin < 0n) this.fail(i, `R${regno} min value is negative, either use unsigned or 'var &= const'`);
          if (s.umin === 0n && !zeroOk) this.fail(i, `R${regno} invalid zero-sized read: u64=[${s.umin},${s.umax}]`);
          if (s.umax >= BigInt(MAX_VAR_OFF)) this.fail(i, `R${regno} unbounded memory access, use 'var &= const' or 'if (var < const)'`);
          meta.sizeMax = s.umax;
          const memReg = f.regs[regno - 1];
          const write = proto.args[k - 1] === ArgType.UninitMem;
          if (s.umax > 0n) this.helperMem(st, memReg, regno - 1, Number(s.umax), write, i);
          break;
        }
        case ArgType.ConstAllocSizeOrZero:
          if (reg.type !== T.Scalar) typeErr('scalar');
          if (!scIsConst(reg.s)) this.fail(i, `R${regno} is not a known constant'`);
          meta.allocSize = Number(reg.s.t.v > 0xffffffffn ? 0xffffffffn : reg.s.t.v);
          break;
        case ArgType.Ctx:
          if (reg.type !== T.Ctx) typeErr('ctx');
          if (reg.off !== 0 || !scIsConst(reg.s) || reg.s.t.v !== 0n) this.fail(i, `dereference of modified ctx ptr R${regno} off=${reg.off} disallowed`);
          break;
        case ArgType.RingbufMemRelease:
          if (reg.type !== T.RbMem) typeErr('ringbuf_mem');
          if (reg.off !== 0 || !scIsConst(reg.s) || reg.s.t.v !== 0n) this.fail(i, `R${regno} must have zero offset when passed to release func or trusted arg to kfunc`);
          meta.release = reg.ref;
          break;
        case ArgType.Func:
          if (reg.type !== T.Func) typeErr('func');
          meta.callback = reg.size;
          break;
        case ArgType.StackOrNull: {
          const isNull = reg.type === T.Scalar && scIsConst(reg.s) && reg.s.t.v === 0n;
          if (!isNull && reg.type !== T.Stack) typeErr('fp');
          break;
        }
        case ArgType.ConstStr: {
          if (reg.type !== T.MapValue) typeErr('map_value');
          const m = this.maps[reg.map];
          if ((m.flags & BPF_F_RDONLY_PROG) === 0) this.fail(i, `R${regno} does not point to a readonly map'`);
          this.region(reg, regno, 0, 1, m.valueSize, (o) => `invalid access to map value, value_size=${m.valueSize} off=${o} size=1`, i);
          break;
        }
      }
    }
    // Like check_map_func_compatibility, after the arguments.
    if (meta.map >= 0) this.mapCompat(proto, this.maps[meta.map], i);
    return meta;
  }

  private isMemPtr(r: Reg): boolean {
    return r.type === T.Stack || r.type === T.MapValue || r.type === T.RbMem;
  }

  private mapCompat(proto: HelperProto, m: MapDef, i: number): void {
    const need: Record<number, number> = { 12: BPF_MAP_TYPE_PROG_ARRAY, 25: BPF_MAP_TYPE_PERF_EVENT_ARRAY, 130: BPF_MAP_TYPE_RINGBUF, 131: BPF_MAP_TYPE_RINGBUF, 134: BPF_MAP_TYPE_RINGBUF };
    const only: Record<number, number[]> = { [BPF_MAP_TYPE_PROG_ARRAY]: [12], [BPF_MAP_TYPE_PERF_EVENT_ARRAY]: [25], [BPF_MAP_TYPE_RINGBUF]: [130, 131, 134] };
    if (proto.id === 12 && m.type !== BPF_MAP_TYPE_PROG_ARRAY) this.fail(i, 'expected prog array map for tail call');
    const bad = (need[proto.id] !== undefined && need[proto.id] !== m.type) || (only[m.type] !== undefined && !only[m.type].includes(proto.id));
    if (bad) this.fail(i, `cannot pass map_type ${m.type} into func bpf_${proto.name}#${proto.id}`);
  }

  /**
   * bpf_loop: the callback may run any number of times. Stacks reachable through its context
   * argument are havocked to "initialised, unknown" before the callback and after the loop, the
   * callback may not store pointers into (or overwrite spilled pointers of) outer frames, so one
   * verification of the callback covers every iteration.
   */
  private loopCallback(p: Path, f: Frame, cbStart: number, i: number, stack: Path[]): void {
    const st = p.st;
    if (st.frames.length >= 8) this.fail(i, `the call stack of ${st.frames.length + 1} frames is too deep`);
    const ctxArg = f.regs[3];
    for (let k = 0; k < st.frames.length; k++) havocStack(st.frames[k]);
    const cb = cloneState(st);
    const regs: Reg[] = new Array(11).fill(NOT_INIT);
    regs[1] = UNKNOWN;
    regs[2] = ctxArg;
    regs[10] = ptrReg(T.Stack, { frame: cb.frames.length });
    cb.frames.push({ regs, slots: new Array(64).fill(EMPTY_SLOT), retTo: i + 1, subprog: this.structure.subprogOf[cbStart], callback: true, cbRefs: cb.refs.map((r) => r.id) });
    this.push(p, stack, cb, cbStart, i);
  }
}

function withS(r: Reg, s: Sc): Reg {
  return { type: r.type, s, off: r.off, id: r.id, ref: r.ref, map: r.map, size: r.size, frame: r.frame };
}

/** Every initialised non-pointer byte of a frame's stack becomes unknown data. */
function havocStack(f: Frame): void {
  for (let k = 0; k < f.slots.length; k++) {
    const sl = f.slots[k];
    if (sl === EMPTY_SLOT) continue;
    if (sl.spill !== null && sl.spill.type !== T.Scalar) continue;
    const kinds = sl.kinds.map((x) => (x === S_ZERO ? S_MISC : x));
    f.slots[k] = { kinds, spill: sl.spill !== null ? { ...UNKNOWN } : null };
  }
}

