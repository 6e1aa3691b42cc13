// Build one WebAssembly module for a program: one wasm function per eBPF function (main program,
// local-call targets, bpf_loop callbacks), an entry wrapper that takes and returns 32-bit halves
// (so JavaScript never builds a BigInt per run), and imports of only the engine's memory and
// one trampoline per helper the program calls.

import {
  BPF_ALU,
  BPF_ALU64,
  BPF_JMP,
  BPF_JMP32,
  BPF_LD,
  BPF_LDX,
  BPF_PSEUDO_CALL,
  BPF_ST,
  BPF_STX,
  OP_CALL,
  OP_CALLX,
  OP_LDDW,
  MAX_BPF_STACK,
  type Insn,
} from '../isa.js';
import { HELPER_ARGS, HELPER_RET, RESERVED_LOW } from '../memory.js';
import { buildCfg, functionStarts, isJump, Term, type Block, type FuncCfg } from './cfg.js';
import { EXTRA_LOCALS, JitCompileError, L, lowerAlu, lowerCond, lowerLdx, lowerStore } from './lower.js';
import { emitDispatch, emitStructured } from './structure.js';
import { BLOCK_VOID, Code, F64, I32, I64, ModuleBuilder, Op, type FuncType, type ValType } from './wasm.js';
import { DESC, INLINE_HASH_MAGIC, INLINE_LRU_MAGIC } from '../maps/inline-lookup.js';
import { fastPlan } from './worst-case.js';

export const HELPER_TAIL_CALL = 12;
export const HELPER_LOOP = 181;
const BPF_MAX_LOOPS = 8 * 1024 * 1024;
/** V8's limit on one function's body (kV8MaxWasmFunctionSize). */
const MAX_WASM_FUNCTION_BYTES = 7_654_321;
const EINVAL = 22;
const E2BIG = 7;

/** Fault codes the module leaves in its `fault` global before trapping. */
export enum JitFault {
  None = 0,
  Budget = 1,
  CallDepth = 2,
  /** runFast: a bpf_loop count above the verifier's bound (never, if the verifier is right). */
  LoopBound = 3,
  /** runFast: the rest of the run may reach the budget; the interpreter continues it (JIT_RESUME). */
  Resume = 4,
}

/** Where runFast leaves r0..r10 (u64 each) when it hands a run over to the interpreter. */
export const JIT_RESUME = 0x440;

export interface CompileOptions {
  /** r10 of a callee frame = caller's r10 + frameStep (the interpreter's stack layout). */
  frameStep: number;
  /** Force the dispatch-loop scheme for every function (tests). */
  forceDispatch?: boolean;
  /** Compile every helper call through the generic trampoline (tests, bench). */
  noFastHelpers?: boolean;
  /** bpf_loop call site → most iterations (the verifier's VerifyResult.loopBounds). */
  loopBounds?: ReadonlyMap<number, number>;
}

/**
 * Helpers with a direct-argument import (`f<id>`), r0 returned in one piece: the low half as
 * the i32 result with the high half left at HELPER_RET+4 (RET_HI), or an i64 (RET_I64: the
 * value is a BigInt already in JavaScript, which V8 converts without our BigInt arithmetic).
 */
export const FAST_RET_HI: readonly number[] = [14, 15];
/** probe_read_user/kernel: (dst, size, src) as i32 halves → 1 = copy in wasm, 0 = r0 at HELPER_RET. */
export const FAST_PROBE_READ: readonly number[] = [112, 113];
export const FAST_RET_I64: readonly number[] = [5, 80];
export const HELPER_MAP_LOOKUP = 1;
const BPF_PSEUDO_MAP_FD = 1;
const BPF_PSEUDO_MAP_IDX = 5;

/** How one helper call site is compiled. */
type CallSite =
  | { kind: 'generic' }
  | { kind: 'fast'; id: number }
  | { kind: 'map'; handle: number; stackBytes: number; inline: boolean }
  /** map_update_elem with the map, the key (r10-keyBytes) and the value (r10-valueBytes) known. */
  | { kind: 'update'; handle: number; keyBytes: number; valueBytes: number };
const HELPER_MAP_UPDATE = 2;

export interface CompiledModule {
  bytes: Uint8Array;
  /** Helper ids with a generic trampoline import, in import order (names `h<id>`). */
  helpers: number[];
  /** Helper ids with a direct-argument import (names `f<id>`, see FAST_RET_HI/FAST_RET_I64/FAST_PROBE_READ). */
  fastHelpers: number[];
  /**
   * Map handles with a map_lookup_elem import of their own (names `m<handle>`: (keyLo, keyHi, N)
   * -> r0lo, N > 0 when the key is known to be at r10-N).
   */
  lookupMaps: number[];
  usesTailCall: boolean;
  frameStep: number;
  functions: { start: number; end: number; blocks: number; reducible: boolean }[];
  /**
   * The smallest budget for which a run may start in `runFast` (worst-case.ts: FastPlan.entry),
   * Infinity when the module has no such export: the same program without a budget test per
   * block, which hands the run to the interpreter at a bpf_loop call of the main function
   * when the rest might reach the budget.
   */
  fastEntry: number;
}

const FN_TYPE: FuncType = { params: [I64, I64, I64, I64, I64, I64], results: [I64] };

/** Globals, in declaration order (see GLOBAL_TYPES). */
export const G = { cnt: 0, budget: 1, minFp: 2, fault: 3, faultPc: 4 } as const;
const GLOBAL_TYPES = [I64, I64, I64, I32, I32] as const;

/**
 * Where the entry leaves r0's high half and the instruction count (three u32) for JavaScript to
 * read through the memory's typed arrays: page 0, beside the helper exchange area, in no region,
 * so programs cannot reach it. (Reading wasm globals from JavaScript costs more than the run of
 * a small program.)
 */
export const JIT_OUT = 0x400;

/**
 * Where runJit leaves bit 0 set when the run's map_lookup_elem is the built-in one (inline
 * lookups may stand in for it) and bit 1 when its map_update_elem is (in-place updates may):
 * page 0, beside JIT_OUT.
 */
export const JIT_INLINE_OK = 0x410;

/**
 * The current task's ids for get_current_pid_tgid / get_current_uid_gid inside WebAssembly:
 * runJit leaves 1 at JIT_TASK_OK when both helpers are the built-in ones and a task is current,
 * with pid | tgid << 32 at JIT_TASK and uid | gid << 32 at JIT_TASK + 8 (page 0, beside
 * JIT_INLINE_OK); 0 otherwise, and the call sites take the import.
 */
export const JIT_TASK_OK = 0x414;
export const JIT_TASK = 0x418;

const BIT_LOCALS = 15;
const INLINE_LOOKUP_LOCALS: ValType[] = new Array<ValType>(BIT_LOCALS).fill(I32);

/**
 * hlookup(handle, key, stackBytes) -> i64: map_lookup_elem inside WebAssembly for a map whose
 * handle holds an inline-lookup descriptor (engine/maps/inline-lookup.ts: a plain hash map with
 * word-sized keys, its index mirrored in the shared memory): the value's address, 0 when the
 * key is absent, -1 when the import must answer — no descriptor, a runtime whose helper is not
 * the built-in, or a key the helper would reject that this code can see (high half set, page 0,
 * a stack key at r10-stackBytes running past the frame). The hash is hash-table.ts's murmur3
 * over the key's words, so both sides probe the same slots.
 */
function inlineLookupBody(): Code {
  const HANDLE = 0;
  const KEY64 = 1;
  const STACK = 2;
  const [KEY, KS, NW, H, W, K, I, E, MASK, SLOTS, HASHES, KW, BASE, MG, LB] = Array.from({ length: BIT_LOCALS }, (_, n) => 3 + n);
  const c = new Code(512);
  const bail = (): void => {
    c.op(Op.if).u8(BLOCK_VOID).i64c(-1).op(Op.return).op(Op.end);
  };
  c.i32c(0).mem(Op.i32_load, 2, JIT_INLINE_OK).i32c(1).op(Op.i32_and).op(Op.i32_eqz);
  bail();
  c.get(HANDLE).mem(Op.i32_load, 2, DESC.magic).tee(MG).i32c(INLINE_HASH_MAGIC | 0).op(Op.i32_ne);
  c.get(MG).i32c(INLINE_LRU_MAGIC | 0).op(Op.i32_ne).op(Op.i32_and);
  bail();
  c.get(KEY64).i64c(32).op(Op.i64_shr_u).op(Op.i64_eqz).op(Op.i32_eqz);
  bail();
  c.get(KEY64).op(Op.i32_wrap_i64).tee(KEY).i32c(RESERVED_LOW).op(Op.i32_lt_u);
  bail();
  c.get(HANDLE).mem(Op.i32_load, 2, DESC.keySize).tee(KS).i32c(2).op(Op.i32_shr_u).set(NW);
  c.get(STACK).op(Op.i32_eqz).op(Op.i32_eqz).get(STACK).get(KS).op(Op.i32_lt_u).op(Op.i32_and);
  bail();
  c.get(KS).i32c(0x9747b28c | 0).op(Op.i32_xor).set(H);
  c.i32c(0).set(W);
  // murmur3 blocks over the key's words
  c.op(Op.block).u8(BLOCK_VOID).op(Op.loop).u8(BLOCK_VOID);
  c.get(W).get(NW).op(Op.i32_ge_u).brIf(1);
  c.get(KEY).get(W).i32c(2).op(Op.i32_shl).op(Op.i32_add).mem(Op.i32_load, 0, 0);
  c.i32c(0xcc9e2d51 | 0).op(Op.i32_mul).i32c(15).op(Op.i32_rotl).i32c(0x1b873593).op(Op.i32_mul).set(K);
  c.get(H).get(K).op(Op.i32_xor).i32c(13).op(Op.i32_rotl).i32c(5).op(Op.i32_mul).i32c(0xe6546b64 | 0).op(Op.i32_add).set(H);
  c.get(W).i32c(1).op(Op.i32_add).set(W).br(0);
  c.op(Op.end).op(Op.end);
  // finaliser
  c.get(H).get(KS).op(Op.i32_xor).set(H);
  c.get(H).get(H).i32c(16).op(Op.i32_shr_u).op(Op.i32_xor).i32c(0x85ebca6b | 0).op(Op.i32_mul).set(H);
  c.get(H).get(H).i32c(13).op(Op.i32_shr_u).op(Op.i32_xor).i32c(0xc2b2ae35 | 0).op(Op.i32_mul).set(H);
  c.get(H).get(H).i32c(16).op(Op.i32_shr_u).op(Op.i32_xor).set(H);
  c.get(HANDLE).mem(Op.i32_load, 2, DESC.mask).set(MASK);
  c.get(HANDLE).mem(Op.i32_load, 2, DESC.slots).set(SLOTS);
  c.get(HANDLE).mem(Op.i32_load, 2, DESC.hashes).set(HASHES);
  c.get(HANDLE).mem(Op.i32_load, 2, DESC.keyWords).set(KW);
  c.get(H).get(MASK).op(Op.i32_and).set(I);
  // linear probing: an empty slot (-1) ends the search
  c.op(Op.loop).u8(BLOCK_VOID);
  c.get(SLOTS).get(I).i32c(2).op(Op.i32_shl).op(Op.i32_add).mem(Op.i32_load, 2, 0).tee(E).i32c(0).op(Op.i32_lt_s);
  c.op(Op.if).u8(BLOCK_VOID).i64c(0).op(Op.return).op(Op.end);
  c.get(HASHES).get(E).i32c(2).op(Op.i32_shl).op(Op.i32_add).mem(Op.i32_load, 2, 0).get(H).op(Op.i32_eq);
  c.op(Op.if).u8(BLOCK_VOID);
  c.get(KW).get(E).get(NW).op(Op.i32_mul).i32c(2).op(Op.i32_shl).op(Op.i32_add).set(BASE);
  c.i32c(0).set(W);
  c.op(Op.block).u8(BLOCK_VOID).op(Op.loop).u8(BLOCK_VOID);
  c.get(W).get(NW).op(Op.i32_ge_u);
  c.op(Op.if).u8(BLOCK_VOID);
  // An LRU hit moves to the front of the recency list (in the shared memory), as the helper
  // does: E is live and not the head, so both its predecessor and the head exist.
  // Words at LB: head, tail, then {prev, next} per element (inline-lookup.ts).
  c.get(MG).i32c(INLINE_LRU_MAGIC | 0).op(Op.i32_eq).op(Op.if).u8(BLOCK_VOID);
  c.get(HANDLE).mem(Op.i32_load, 2, DESC.lru).tee(LB).mem(Op.i32_load, 2, 0).tee(K).get(E).op(Op.i32_ne);
  c.op(Op.if).u8(BLOCK_VOID);
  const slot = (x: number): void => {
    c.get(LB).get(x).i32c(3).op(Op.i32_shl).op(Op.i32_add);
  };
  // W = prev(E), BASE = next(E)
  slot(E);
  c.mem(Op.i32_load, 2, 8).set(W);
  slot(E);
  c.mem(Op.i32_load, 2, 12).set(BASE);
  // next(prev) = next(E)
  slot(W);
  c.get(BASE).mem(Op.i32_store, 2, 12);
  // prev(next) = prev(E), or tail = prev(E)
  c.get(BASE).i32c(0).op(Op.i32_ge_s).op(Op.if).u8(BLOCK_VOID);
  slot(BASE);
  c.get(W).mem(Op.i32_store, 2, 8);
  c.op(Op.else);
  c.get(LB).get(W).mem(Op.i32_store, 2, 4);
  c.op(Op.end);
  // E to the front: prev(E) = -1, next(E) = head, prev(head) = E, head = E
  slot(E);
  c.i32c(-1).mem(Op.i32_store, 2, 8);
  slot(E);
  c.get(K).mem(Op.i32_store, 2, 12);
  slot(K);
  c.get(E).mem(Op.i32_store, 2, 8);
  c.get(LB).get(E).mem(Op.i32_store, 2, 0);
  c.op(Op.end);
  c.op(Op.end);
  c.get(HANDLE).mem(Op.i32_load, 2, DESC.values).get(E).i32c(2).op(Op.i32_shl).op(Op.i32_add).mem(Op.i32_load, 2, 0).op(Op.i64_extend_i32_u).op(Op.return);
  c.op(Op.end);
  c.get(BASE).get(W).i32c(2).op(Op.i32_shl).op(Op.i32_add).mem(Op.i32_load, 2, 0);
  c.get(KEY).get(W).i32c(2).op(Op.i32_shl).op(Op.i32_add).mem(Op.i32_load, 0, 0);
  c.op(Op.i32_ne).brIf(1);
  c.get(W).i32c(1).op(Op.i32_add).set(W).br(0);
  c.op(Op.end).op(Op.end);
  c.op(Op.end);
  c.get(I).i32c(1).op(Op.i32_add).get(MASK).op(Op.i32_and).set(I).br(0);
  c.op(Op.end);
  c.op(Op.unreachable);
  return c;
}

/** Whether `i` may write register `r` (conservative: calls clobber r0..r5). */
function writesReg(i: Insn, r: number): boolean {
  const cls = i.opcode & 7;
  if (cls === BPF_ALU || cls === BPF_ALU64 || cls === BPF_LDX || cls === BPF_LD) return i.dst === r;
  if (i.opcode === OP_CALL) return r <= 5;
  if (cls === BPF_STX && (i.opcode & 0xe0) === 0xc0) return i.src === r || r === 0;
  return false;
}

export function compileModule(insns: readonly Insn[], opts: CompileOptions): CompiledModule {
  const starts = functionStarts(insns);
  const ends = starts.slice(1).concat(insns.length);
  const fnIndexOfStart = new Map<number, number>();

  // Control flow of every function first: the helper imports (which must come first in the
  // module) depend on what each call site knows statically.
  const cfgs: FuncCfg[] = starts.map((start, fi) =>
    buildCfg(insns, start, ends[fi], (pc) => {
      const i = insns[pc];
      return i.opcode === OP_CALL && i.src === 0 && i.imm === HELPER_TAIL_CALL;
    }),
  );
  const blockStart = new Int32Array(insns.length).fill(-1);
  for (const cfg of cfgs) for (const b of cfg.blocks) for (let q = b.start; q <= b.last; q++) blockStart[q] = b.start;
  /** The lddw value register `reg` holds at `pc` if an lddw with one of `srcs` set it earlier in the block. */
  const staticLddw = (pc: number, reg: number, srcs: readonly number[]): number | undefined => {
    let found: number | undefined;
    const from = blockStart[pc];
    if (from < 0) return undefined;
    for (let q = from; q < pc; q++) {
      const i = insns[q];
      if (i.opcode === OP_LDDW) {
        if (i.dst === reg) found = srcs.includes(i.src) && insns[q + 1].imm === 0 ? i.imm >>> 0 : undefined;
        q++;
      } else if (writesReg(i, reg)) found = undefined;
    }
    return found;
  };

  /** Whether the last write to `reg` before `pc` in its block loads a constant (mov imm, lddw). */
  const constantIn = (pc: number, reg: number): boolean => {
    let konst = false;
    const from = blockStart[pc];
    if (from < 0) return false;
    for (let q = from; q < pc; q++) {
      const i = insns[q];
      if (i.opcode === OP_LDDW) {
        if (i.dst === reg) konst = true;
        q++;
      } else if (writesReg(i, reg)) konst = i.opcode === (BPF_ALU64 | 0xb0) || i.opcode === (BPF_ALU | 0xb0);
    }
    return konst;
  };

  /**
   * The constant offset from r10 that `reg` holds at `pc` when `mov reg, r10` and `add reg, K`
   * earlier in the block set it (the usual way a stack key is passed), or undefined.
   */
  const staticFpOffset = (pc: number, reg: number): number | undefined => {
    let off: number | undefined;
    const from = blockStart[pc];
    if (from < 0) return undefined;
    for (let q = from; q < pc; q++) {
      const i = insns[q];
      if (i.dst === reg && i.opcode === (BPF_ALU64 | 0xb0 | 0x08) && i.src === 10 && i.off === 0) off = 0;
      else if (i.dst === reg && i.opcode === (BPF_ALU64 | 0x00) && off !== undefined) off += i.imm;
      else if (writesReg(i, reg)) off = undefined;
      if (i.opcode === OP_LDDW) q++;
    }
    return off;
  };

  /** An in-place update is possible when the map, the key and the value on the stack are known. */
  const updateSite = (pc: number): CallSite | undefined => {
    const handle = staticLddw(pc, 1, [BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX]);
    const k = staticFpOffset(pc, 2);
    const v = staticFpOffset(pc, 3);
    if (handle === undefined || k === undefined || v === undefined || k >= 0 || v >= 0 || k < -MAX_BPF_STACK || v < -MAX_BPF_STACK) return undefined;
    return { kind: 'update', handle, keyBytes: -k, valueBytes: -v };
  };
  let hasUpdateSites = false;

  // Which helpers are called, and how.
  const helpers: number[] = [];
  const fastHelpers: number[] = [];
  const lookupMaps: number[] = [];
  const sites = new Map<number, CallSite>();
  let usesTailCall = false;
  const callbacks: number[] = [];
  for (let pc = 0; pc < insns.length; pc++) {
    const i = insns[pc];
    if (i.opcode === OP_LDDW) {
      if (i.src === 4) callbacks.push(i.imm);
      pc++;
      continue;
    }
    if (i.opcode === OP_CALL && i.src === 0) {
      const id = i.imm;
      if (id === HELPER_TAIL_CALL) usesTailCall = true;
      if (id < 0) throw new JitCompileError(pc, `helper id ${id}`);
      if (id === HELPER_LOOP) continue;
      const handle = id === HELPER_MAP_LOOKUP && !opts.noFastHelpers ? staticLddw(pc, 1, [BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX]) : undefined;
      const update = id === HELPER_MAP_UPDATE && !opts.noFastHelpers ? updateSite(pc) : undefined;
      if (handle !== undefined) {
        // A key at r10-N (1 ≤ N ≤ 512) lies in the frame's stack region: the import then only
        // checks N against the key size instead of asking the memory about the key's region.
        const off = staticFpOffset(pc, 2);
        const stackBytes = off !== undefined && off < 0 && off >= -MAX_BPF_STACK ? -off : 0;
        // Looked up in WebAssembly unless the key is visibly one the helper rejects (a constant,
        // or r10 plus an offset outside the frame); any other pointer the verifier vouched for.
        const inline = off !== undefined ? stackBytes > 0 : !constantIn(pc, 2);
        sites.set(pc, { kind: 'map', handle, stackBytes, inline });
        if (!lookupMaps.includes(handle)) lookupMaps.push(handle);
      } else if (update !== undefined) {
        sites.set(pc, update);
        if (!helpers.includes(id)) helpers.push(id);
        hasUpdateSites = true;
      } else if (!opts.noFastHelpers && (FAST_RET_HI.includes(id) || FAST_RET_I64.includes(id) || FAST_PROBE_READ.includes(id))) {
        sites.set(pc, { kind: 'fast', id });
        if (!fastHelpers.includes(id)) fastHelpers.push(id);
      } else {
        sites.set(pc, { kind: 'generic' });
        if (!helpers.includes(id)) helpers.push(id);
      }
    } else if (i.opcode === OP_CALLX) {
      throw new JitCompileError(pc, 'callx (0x8d) is not in RFC 9669 and Linux rejects it');
    } else if (i.opcode === OP_CALL && i.src !== BPF_PSEUDO_CALL) {
      throw new JitCompileError(pc, `call with src ${i.src} (kfunc) is not supported by the JIT`);
    }
  }
  const m = new ModuleBuilder();
  m.importMemory('env', 'memory', 1);
  const helperFn = new Map<number, number>();
  for (const h of helpers) {
    // The tail-call trampoline gets (r10, count) and returns the new count, or -1 if it failed.
    const t: FuncType = h === HELPER_TAIL_CALL ? { params: [I32, F64], results: [F64] } : { params: [], results: [] };
    helperFn.set(h, m.importFunction('env', `h${h}`, t));
  }
  const fastFn = new Map<number, number>();
  for (const h of fastHelpers) {
    const params: FuncType['params'] = h === 112 || h === 113 ? [I32, I32, I32, I32, I32, I32] : [];
    fastFn.set(h, m.importFunction('env', `f${h}`, { params, results: [FAST_RET_I64.includes(h) ? I64 : I32] }));
  }
  const lookupFn = new Map<number, number>();
  for (const handle of lookupMaps) lookupFn.set(handle, m.importFunction('env', `m${handle}`, { params: [I32, I32, I32], results: [I32] }));
  for (const t of GLOBAL_TYPES) m.addGlobal(t, true, 0);
  const inlineLookup = lookupMaps.length > 0 || hasUpdateSites ? m.declareFunction({ params: [I32, I64, I32], results: [I64] }) : -1;
  const uniqueCallbacks = [...new Set(callbacks)];
  /** The callback r2 holds at the bpf_loop call at `pc`, if an lddw func set it in this block. */
  const staticCallback = (pc: number): number | undefined => staticLddw(pc, 2, [4]);
  const callbacksAt = (pc: number): readonly number[] => {
    const known = staticCallback(pc);
    return known !== undefined ? [known] : uniqueCallbacks;
  };
  const cfgOf = new Map(starts.map((st, fi) => [st, cfgs[fi]] as const));
  const plan = opts.loopBounds === undefined ? undefined : fastPlan({ insns, cfgOf, loopBounds: opts.loopBounds, callbacksAt });
  // Runs whose budget covers the plan get a second copy of every function without the budget
  // test in each block (the count is still kept: statistics and helpers see it).
  const withFast = plan !== undefined;
  const fastIndexOfStart = new Map<number, number>();
  const ENTRY_TYPE: FuncType = { params: [I32, I32, I32, I32, I32, I32, I32, I32], results: [I32] };
  for (const s of starts) fnIndexOfStart.set(s, m.declareFunction(FN_TYPE));
  if (withFast) for (const s of starts) fastIndexOfStart.set(s, m.declareFunction(FN_TYPE));
  const entry = m.declareFunction(ENTRY_TYPE);
  const entryFast = withFast ? m.declareFunction(ENTRY_TYPE) : -1;


  if (inlineLookup >= 0) m.defineFunction(inlineLookup, INLINE_LOOKUP_LOCALS, inlineLookupBody());

  const functions: CompiledModule['functions'] = [];
  const emitFunction = (start: number, fi: number, fast: boolean): void => {
    const end = ends[fi];
    const cfg = cfgs[fi];
    const c = new Code(1024);
    c.gget(G.cnt).set(L.cnt).gget(G.budget).set(L.budget);
    const r0 = L.reg[0];
    // The local counter already includes the whole current block; `rest` is how many of its
    // instructions come after the one being compiled. The global count a call sees is exact
    // (helpers that fail, callees that hit the budget), and the rest is added back after.
    let rest = 0;
    const flush = (): void => {
      c.get(L.cnt);
      if (rest !== 0) c.i64c(rest).op(Op.i64_sub);
      c.gset(G.cnt);
    };
    const reload = (): void => {
      c.gget(G.cnt);
      if (rest !== 0) c.i64c(rest).op(Op.i64_add);
      c.set(L.cnt);
    };
    const callFn = (targetStart: number, pc: number): number => {
      const f = (fast ? fastIndexOfStart : fnIndexOfStart).get(targetStart);
      if (f === undefined) throw new JitCompileError(pc, `call target ${targetStart} is not a function entry`);
      return f;
    };
    const nextFp = (): void => {
      c.get(L.reg[10]).i64c(opts.frameStep).op(Op.i64_add);
    };
    // The interpreter's frames stop at the 8th; a deeper call (tail-call chains can add depth
    // the verifier did not see) is a call-depth fault, never a frame outside the stack area.
    const checkDepth = (pc: number): void => {
      nextFp();
      c.gget(G.minFp).op(Op.i64_lt_s).op(Op.if).u8(0x40).i32c(pc).gset(G.faultPc).i32c(JitFault.CallDepth).gset(G.fault).op(Op.unreachable).op(Op.end);
    };
    const callHelper = (pc: number, id: number): void => {
      const site = sites.get(pc);
      if (site?.kind === 'fast' && FAST_RET_HI.includes(site.id)) {
        // The ids runJit left in page 0; the import when it left none. Both paths leave the
        // exchange area as the interpreter does (arguments, then r0 at HELPER_RET).
        for (let k = 1; k <= 5; k++) c.i32c(0).get(L.reg[k]).mem(Op.i64_store, 3, HELPER_ARGS + (k - 1) * 8);
        c.i32c(0).mem(Op.i32_load, 2, JIT_TASK_OK).op(Op.if).u8(BLOCK_VOID);
        c.i32c(0).i32c(0).mem(Op.i64_load, 3, JIT_TASK + (site.id === 14 ? 0 : 8)).tee(r0).mem(Op.i64_store, 3, HELPER_RET);
        c.op(Op.else);
        callImport(pc, id, site);
        c.op(Op.end);
        return;
      }
      // r1..r5 go to the exchange area on every path: a fast import falls back to the generic
      // helper (replaced helpers, arguments a helper would fault on) with the same arguments.
      for (let k = 1; k <= 5; k++) c.i32c(0).get(L.reg[k]).mem(Op.i64_store, 3, HELPER_ARGS + (k - 1) * 8);
      callImport(pc, id, site);
    };
    const callImport = (pc: number, id: number, site: CallSite | undefined): void => {
      if (site?.kind === 'update') {
        // A key that is present and flags 0 (BPF_ANY): the value is copied in place (memmove, as
        // the helper's copyWithin) after hlookup found it, and an LRU element moved to the front
        // as the helper's update does. Anything else — an insert, other flags, a replaced helper,
        // a value that does not lie inside the frame — is the helper's.
        c.get(L.reg[4]).op(Op.i64_eqz);
        c.i32c(0).mem(Op.i32_load, 2, JIT_INLINE_OK).i32c(1).op(Op.i32_shr_u).op(Op.i32_and);
        c.i32c(site.handle).mem(Op.i32_load, 2, DESC.valueSize).i32c(site.valueBytes).op(Op.i32_le_u).op(Op.i32_and);
        c.op(Op.if).u8(I64);
        c.i32c(site.handle).get(L.reg[2]).i32c(site.keyBytes).call(inlineLookup);
        c.op(Op.else).i64c(-1).op(Op.end).tee(L.t1).i64c(0).op(Op.i64_gt_s);
        c.op(Op.if).u8(BLOCK_VOID);
        c.get(L.t1).op(Op.i32_wrap_i64).get(L.reg[3]).op(Op.i32_wrap_i64).i32c(site.handle).mem(Op.i32_load, 2, DESC.valueSize);
        c.u8(0xfc).u32(10).u8(0).u8(0); // memory.copy
        c.i64c(0).set(r0);
        c.i32c(0).i64c(0).mem(Op.i64_store, 3, HELPER_RET);
        c.op(Op.else);
        callImport(pc, id, { kind: 'generic' });
        c.op(Op.end);
        return;
      }
      if (site !== undefined && site.kind !== 'generic') {
        c.i32c(pc).gset(G.faultPc);
        flush(); // a failing helper reports the count so far
        const lohi = (r: number): void => {
          c.get(L.reg[r]).op(Op.i32_wrap_i64).get(L.reg[r]).i64c(32).op(Op.i64_shr_u).op(Op.i32_wrap_i64);
        };
        if (site.kind === 'map' && !site.inline) {
          lohi(2);
          c.i32c(site.stackBytes).call(lookupFn.get(site.handle) as number);
        } else if (site.kind === 'map') {
          // In WebAssembly when the map publishes a descriptor (a plain hash map); else the import.
          c.i32c(site.handle).get(L.reg[2]).i32c(site.stackBytes).call(inlineLookup).tee(L.t1).i64c(-1).op(Op.i64_ne);
          c.op(Op.if).u8(I64).get(L.t1);
          c.op(Op.else);
          lohi(2);
          c.i32c(site.stackBytes).call(lookupFn.get(site.handle) as number);
          c.op(Op.i64_extend_i32_u).i32c(0).mem(Op.i64_load32_u, 2, HELPER_RET + 4).i64c(32).op(Op.i64_shl).op(Op.i64_or);
          c.op(Op.end).set(r0);
          return;
        } else if (site.id === 112 || site.id === 113) {
          // Returns 1: copy size bytes from src to dst here (memory.copy, memmove semantics, as
          // the helper's copyWithin), r0 = 0; returns 0: done, r0 is at HELPER_RET.
          lohi(1);
          lohi(2);
          lohi(3);
          c.call(fastFn.get(site.id) as number);
          c.op(Op.if).u8(I64);
          c.get(L.reg[1]).op(Op.i32_wrap_i64).get(L.reg[3]).op(Op.i32_wrap_i64).get(L.reg[2]).op(Op.i32_wrap_i64);
          c.u8(0xfc).u32(10).u8(0).u8(0); // memory.copy
          c.i64c(0);
          c.op(Op.else);
          c.i32c(0).mem(Op.i64_load, 3, HELPER_RET);
          c.op(Op.end).set(r0);
          return;
        } else c.call(fastFn.get(site.id) as number);
        if (site.kind === 'fast' && FAST_RET_I64.includes(site.id)) {
          c.set(r0);
          return;
        }
        // r0 = result | (u32 at HELPER_RET+4) << 32
        c.op(Op.i64_extend_i32_u).i32c(0).mem(Op.i64_load32_u, 2, HELPER_RET + 4).i64c(32).op(Op.i64_shl).op(Op.i64_or).set(r0);
        return;
      }
      const f = helperFn.get(id);
      if (f === undefined) throw new JitCompileError(pc, `helper ${id} was not imported`);
      c.i32c(pc).gset(G.faultPc);
      if (id === HELPER_TAIL_CALL) {
        // Success: the target ran in this frame (as in the interpreter and Linux) and its r0 is
        // this function's result; failure: continue with the next instruction.
        c.get(L.reg[10]).op(Op.i32_wrap_i64).get(L.cnt).op(Op.f64_convert_i64_u).call(f).tee(L.tf);
        c.f64c0().op(Op.f64_ge).op(Op.if).u8(0x40);
        c.get(L.tf).op(Op.i64_trunc_f64_u).tee(L.cnt).gset(G.cnt);
        c.i32c(0).mem(Op.i64_load, 3, HELPER_RET).op(Op.return);
        c.op(Op.end);
        return;
      }
      flush(); // a failing helper reports the count so far
      c.call(f);
      c.i32c(0).mem(Op.i64_load, 3, HELPER_RET).set(r0);
    };
    const callLoop = (pc: number): void => {
      if (uniqueCallbacks.length === 0) throw new JitCompileError(pc, 'bpf_loop without any callback in the program');
      const [r1, r2, r3, r4] = [L.reg[1], L.reg[2], L.reg[3], L.reg[4]];
      c.get(r4).op(Op.i64_eqz).op(Op.i32_eqz).op(Op.if).u8(0x40);
      c.i64c(-EINVAL).set(r0);
      c.op(Op.else);
      // As the interpreter: a count with any of its high 32 bits set is also -E2BIG.
      c.get(r1).tee(L.t1).i64c(BPF_MAX_LOOPS).op(Op.i64_gt_u).op(Op.if).u8(0x40);
      c.i64c(-E2BIG).set(r0);
      c.op(Op.else);
      const cut = fast && start === 0 ? plan?.afterCut.get(pc) : undefined;
      if (cut !== undefined) {
        // A cut (worst-case.ts): the loop and the stretch after it must fit the budget with
        // this count, or the interpreter continues from this call with the registers as they
        // are (no instruction of the call has run yet).
        c.get(L.cnt);
        if (rest !== 0) c.i64c(rest).op(Op.i64_sub);
        c.get(L.t1).i64c(plan?.perIteration.get(pc) ?? 0).op(Op.i64_mul).op(Op.i64_add).i64c(cut).op(Op.i64_add);
        c.get(L.budget).op(Op.i64_gt_u).op(Op.if).u8(BLOCK_VOID);
        for (let k = 0; k <= 10; k++) c.i32c(0).get(L.reg[k]).mem(Op.i64_store, 3, JIT_RESUME + 8 * k);
        c.get(L.cnt).i64c(rest + 1).op(Op.i64_sub).gset(G.cnt);
        c.i32c(pc).gset(G.faultPc).i32c(JitFault.Resume).gset(G.fault).op(Op.unreachable).op(Op.end);
      } else if (fast) {
        // The plan assumed at most the verifier's bound: a larger count is a verifier bug.
        c.get(L.t1).i64c(opts.loopBounds?.get(pc) ?? 0).op(Op.i64_gt_u).op(Op.if).u8(BLOCK_VOID);
        c.i32c(pc).gset(G.faultPc).i32c(JitFault.LoopBound).gset(G.fault).op(Op.unreachable).op(Op.end);
      }
      c.i64c(0).set(L.t2);
      c.op(Op.block).u8(0x40).op(Op.loop).u8(0x40);
      c.get(L.t2).get(L.t1).op(Op.i64_ge_u).brIf(1);
      checkDepth(pc);
      flush();
      // callback(i, ctx, 0, 0, 0) in a fresh frame. The callback is usually known statically
      // (an lddw func into r2 earlier in the block); otherwise select on r2's value.
      const cands = callbacksAt(pc);
      const invoke = (k: number): void => {
        const cb = cands[k];
        if (k === cands.length - 1) {
          c.get(L.t2).get(r3).i64c(0).i64c(0).i64c(0);
          nextFp();
          c.call(callFn(cb, pc));
          return;
        }
        c.get(r2).i64c(cb).op(Op.i64_eq).op(Op.if).u8(I64);
        c.get(L.t2).get(r3).i64c(0).i64c(0).i64c(0);
        nextFp();
        c.call(callFn(cb, pc));
        c.op(Op.else);
        invoke(k + 1);
        c.op(Op.end);
      };
      invoke(0);
      reload();
      c.get(L.t2).i64c(1).op(Op.i64_add).set(L.t2);
      c.op(Op.i64_eqz).brIf(0);
      c.op(Op.end).op(Op.end);
      c.get(L.t2).set(r0);
      c.op(Op.end).op(Op.end);
    };
    const lowerOne = (pc: number): void => {
      const i = insns[pc];
      const cls = i.opcode & 7;
      switch (cls) {
        case BPF_ALU:
        case BPF_ALU64:
          lowerAlu(c, i, pc);
          return;
        case BPF_LDX:
          lowerLdx(c, i, pc);
          return;
        case BPF_ST:
        case BPF_STX:
          lowerStore(c, i, pc);
          return;
        case BPF_LD:
          if (i.opcode !== OP_LDDW || pc + 1 >= insns.length) throw new JitCompileError(pc, `unsupported load opcode 0x${i.opcode.toString(16)}`);
          if (i.src === 3) throw new JitCompileError(pc, 'lddw BTF variable addresses (src 3) are not supported');
          c.i64c2(i.imm, insns[pc + 1].imm).set(L.reg[i.dst]);
          return;
        case BPF_JMP:
        case BPF_JMP32:
          if (i.opcode === OP_CALL) {
            if (i.src === BPF_PSEUDO_CALL) {
              checkDepth(pc);
              flush();
              for (let k = 1; k <= 5; k++) c.get(L.reg[k]);
              nextFp();
              c.call(callFn(pc + i.imm + 1, pc)).set(r0);
              reload();
            } else if (i.imm === HELPER_LOOP) callLoop(pc);
            else callHelper(pc, i.imm);
            return;
          }
          throw new JitCompileError(pc, `unexpected control instruction 0x${i.opcode.toString(16)} inside a block`);
        default:
          throw new JitCompileError(pc, `unsupported opcode 0x${i.opcode.toString(16)}`);
      }
    };
    const em = {
      body(b: Block): void {
        // Count and budget once per block (the verifier bounds loops; the budget bounds runs).
        // The fault path records and traps inline (the JS driver turns the trap into a VmFault):
        // a call there, in every block, made V8's code for large programs almost twice as slow.
        // The fast copy only counts: its runs cannot reach the budget.
        if (fast) c.get(L.cnt).i64c(b.count).op(Op.i64_add).set(L.cnt);
        else {
          c.get(L.cnt).i64c(b.count).op(Op.i64_add).tee(L.cnt).get(L.budget).op(Op.i64_gt_u);
          c.op(Op.if).u8(0x40).i32c(b.start).gset(G.faultPc).get(L.cnt).i64c(b.count).op(Op.i64_sub).gset(G.cnt);
          c.i32c(JitFault.Budget).gset(G.fault).op(Op.unreachable).op(Op.end);
        }
        const stop = b.term === Term.Fall ? b.last + 1 : b.last;
        let j = 0;
        for (let pc = b.start; pc < stop; pc++, j++) {
          rest = b.count - j - 1;
          lowerOne(pc);
          if (insns[pc].opcode === OP_LDDW) pc++;
        }
        rest = 0;
        if (b.term !== Term.Fall && !isJump(insns[b.last].opcode) && b.term !== Term.Exit) {
          throw new JitCompileError(b.last, 'block ends in a non-jump');
        }
      },
      cond(b: Block): void {
        lowerCond(c, insns[b.last], b.last);
      },
      exit(): void {
        flush();
        c.get(r0).op(Op.return);
      },
    };
    if (cfg.reducible && !opts.forceDispatch) emitStructured(cfg, c, em);
    else emitDispatch(cfg, c, em, L.label);
    if (c.len > MAX_WASM_FUNCTION_BYTES) {
      throw new JitCompileError(start, `function of ${end - start} instructions needs ${c.len} bytes of wasm, over V8's ${MAX_WASM_FUNCTION_BYTES}`);
    }
    m.defineFunction((fast ? fastIndexOfStart : fnIndexOfStart).get(start) as number, EXTRA_LOCALS, c);
    if (!fast) functions.push({ start, end, blocks: cfg.order.length, reducible: cfg.reducible });
  };
  starts.forEach((start, fi) => {
    emitFunction(start, fi, false);
    if (withFast) emitFunction(start, fi, true);
  });

  // entry(r1lo, r1hi, r2lo, r2hi, fp, minFp, budgetLo, budgetHi) -> r0lo; r0hi and the count
  // in globals, so the JavaScript side never builds a BigInt per run.
  const entryBody = (main: number): Code => {
    const e = new Code(128);
    const wide = (lo: number, hi: number): void => {
      e.get(lo).op(Op.i64_extend_i32_u).get(hi).op(Op.i64_extend_i32_u).i64c(32).op(Op.i64_shl).op(Op.i64_or);
    };
    e.i64c(0).gset(G.cnt).i32c(0).gset(G.fault);
    e.get(5).op(Op.i64_extend_i32_u).gset(G.minFp);
    wide(6, 7);
    e.gset(G.budget);
    wide(0, 1);
    wide(2, 3);
    e.i64c(0).i64c(0).i64c(0).get(4).op(Op.i64_extend_i32_u).call(main);
    e.set(8);
    e.i32c(0).get(8).i64c(32).op(Op.i64_shr_u).mem(Op.i64_store32, 2, JIT_OUT);
    e.i32c(0).gget(G.cnt).mem(Op.i64_store, 2, JIT_OUT + 4);
    e.get(8).op(Op.i32_wrap_i64);
    return e;
  };
  m.defineFunction(entry, [I64], entryBody(fnIndexOfStart.get(0) as number));
  if (withFast) {
    m.defineFunction(entryFast, [I64], entryBody(fastIndexOfStart.get(0) as number));
    m.exportFunction('runFast', entryFast);
  }
  m.exportFunction('run', entry);
  m.exportGlobal('fault', G.fault);
  m.exportGlobal('faultPc', G.faultPc);
  m.exportGlobal('cnt', G.cnt);
  return { bytes: m.build(), helpers, fastHelpers, lookupMaps, usesTailCall, frameStep: opts.frameStep, functions, fastEntry: plan?.entry ?? Infinity };
}
