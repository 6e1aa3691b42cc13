// The eBPF interpreter: a tight switch over pre-decoded typed arrays (engine/program.ts).
// Registers are [lo, hi] int32 pairs in one Int32Array, so 64-bit semantics are exact without
// BigInt on the hot path. Every load, store and atomic is checked with VmMemory.canAccess; a bad
// access, an unknown opcode, a runaway loop or a failing helper ends the run with a VmFault that
// names the instruction index and registers — never a thrown exception.

import { GRANULE_SHIFT, HELPER_ARGS, HELPER_RET, RegionKind, type Allocation, type VmMemory } from './memory.js';
import { MAX_BPF_STACK, MAX_CALL_FRAMES, MAX_TAIL_CALL_CNT, BPF_COMPLEXITY_LIMIT_INSNS, decode } from './isa.js';
import { BPF_MAP_TYPE_PROG_ARRAY } from './maps/types.js';
import type { BpfMap, Runtime } from './runtime.js';
import type { LoadedProgram } from './program.js';
import { disasmOne } from './asm/disassembler.js';
import {
  OUT,
  bswap16,
  bswap32,
  geS,
  geU,
  gtS,
  gtU,
  mul64,
  sar64,
  sdivmod64,
  shl64,
  shr64,
  udivmod64,
} from './interp/alu64.js';

export type VmFaultKind = 'memory' | 'budget' | 'call-depth' | 'bad-insn' | 'helper' | 'internal';

/** Why a run stopped early. A plain data object, returned in RunResult (never thrown). */
export class VmFault {
  constructor(
    readonly kind: VmFaultKind,
    readonly pc: number,
    readonly message: string,
    /** Register values at the fault, as 0x-hex strings r0..r10. */
    readonly regs: readonly string[] = [],
  ) {}
  toString(): string {
    return `${this.kind} fault at insn ${this.pc}: ${this.message}`;
  }
}

export interface RunResult {
  /** Low and high 32 bits of r0 (unsigned). */
  r0lo: number;
  r0hi: number;
  instructions: number;
  fault?: VmFault;
}

export interface RunOptions {
  /** Maximum instructions per run (default 1,000,000); exceeding it is a 'budget' fault. */
  budget?: number;
}

/** A prog_array map as the interpreter needs it for bpf_tail_call. */
export interface ProgArrayMap extends BpfMap {
  getProg(index: number): LoadedProgram | undefined;
}

export function isProgArray(m: BpfMap | undefined): m is ProgArrayMap {
  return m !== undefined && m.def.type === BPF_MAP_TYPE_PROG_ARRAY && typeof (m as Partial<ProgArrayMap>).getProg === 'function';
}

function isLoadedProgram(p: unknown): p is LoadedProgram {
  return typeof p === 'object' && p !== null && 'code' in p && 'spec' in p && 'stats' in p;
}

export const HELPER_TAIL_CALL = 12;
export const HELPER_LOOP = 181;
const BPF_MAX_LOOPS = 1 << 23;
const EINVAL = 22;
const E2BIG = 7;

// ---- per-run state, pooled so that a run allocates nothing -----------------------------------

const STACK_GUARD = 64;
const FRAME_STRIDE = MAX_BPF_STACK + STACK_GUARD;

/** Stack frames of one run context: 8 regions of 512 bytes with unaddressable gaps between. */
interface StackArea {
  alloc: Allocation;
  regions: number[];
  /** r10 of frame k. */
  tops: Int32Array;
}

interface RunState {
  regs: Int32Array;
  /** Caller's r6..r10 (10 int32) per frame depth. */
  saved: Int32Array;
  retPc: Int32Array;
  progs: (LoadedProgram | undefined)[];
  /** Frame is a bpf_loop callback (1) or a plain local call (0). */
  isLoop: Uint8Array;
  loopI: Float64Array;
  loopN: Float64Array;
  loopFn: Int32Array;
  loopCtxLo: Int32Array;
  loopCtxHi: Int32Array;
  stack: StackArea;
  busy: boolean;
}

const statePools = new WeakMap<VmMemory, RunState[]>();

function newState(mem: VmMemory): RunState {
  const alloc = mem.alloc(MAX_CALL_FRAMES * FRAME_STRIDE + STACK_GUARD, 64);
  const regions: number[] = [];
  const tops = new Int32Array(MAX_CALL_FRAMES);
  for (let k = 0; k < MAX_CALL_FRAMES; k++) {
    // Frame 0 at the highest address, deeper frames below, like a real stack.
    const start = alloc.addr + STACK_GUARD + (MAX_CALL_FRAMES - 1 - k) * FRAME_STRIDE;
    regions.push(mem.addRegion(start, MAX_BPF_STACK, RegionKind.Stack, true));
    tops[k] = start + MAX_BPF_STACK;
  }
  return {
    regs: new Int32Array(32), // r0..r10 as pairs; slack so a bad register field cannot index out
    saved: new Int32Array(MAX_CALL_FRAMES * 10),
    retPc: new Int32Array(MAX_CALL_FRAMES),
    progs: new Array<LoadedProgram | undefined>(MAX_CALL_FRAMES).fill(undefined),
    isLoop: new Uint8Array(MAX_CALL_FRAMES),
    loopI: new Float64Array(MAX_CALL_FRAMES),
    loopN: new Float64Array(MAX_CALL_FRAMES),
    loopFn: new Int32Array(MAX_CALL_FRAMES),
    loopCtxLo: new Int32Array(MAX_CALL_FRAMES),
    loopCtxHi: new Int32Array(MAX_CALL_FRAMES),
    stack: { alloc, regions, tops },
    busy: false,
  };
}

// The last memory's pool, so the common case (one VM) skips the WeakMap lookup.
let lastMem: VmMemory | undefined;
let lastPool: RunState[] = [];

function acquireState(mem: VmMemory): RunState {
  if (mem === lastMem) {
    const s0 = lastPool[0] as RunState | undefined;
    if (s0 !== undefined && !s0.busy) {
      s0.busy = true;
      return s0;
    }
  }
  let pool = statePools.get(mem);
  if (pool === undefined) {
    pool = [];
    statePools.set(mem, pool);
  }
  lastMem = mem;
  lastPool = pool;
  for (const s of pool) {
    if (!s.busy) {
      s.busy = true;
      return s;
    }
  }
  const s = newState(mem);
  s.busy = true;
  pool.push(s);
  return s;
}

/** The stack frame regions the interpreter uses on `mem` (for tests and diagnostics). */
export function stackTops(mem: VmMemory): number[] {
  const s = acquireState(mem);
  s.busy = false;
  return Array.from(s.stack.tops);
}

// ---- helpers ---------------------------------------------------------------------------------

function hex32pair(lo: number, hi: number): string {
  if (hi === 0) return `0x${(lo >>> 0).toString(16)}`;
  return `0x${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}

function regDump(R: Int32Array): string[] {
  const out: string[] = [];
  for (let r = 0; r <= 10; r++) out.push(hex32pair(R[2 * r], R[2 * r + 1]));
  return out;
}

/** The instruction at `pc` as fault messages show it. */
export function describeFaultInsn(prog: LoadedProgram, pc: number): string {
  if (pc < 0 || pc >= prog.insns.length) return '<outside program>';
  try {
    // The unlinked slots, so map references print by name (cold path: faults only).
    return disasmOne(decode(prog.spec.insns), pc, prog.spec.maps);
  } catch {
    return '<undecodable>';
  }
}

function makeFault(kind: VmFaultKind, prog: LoadedProgram, pc: number, what: string, R: Int32Array): VmFault {
  const regs = regDump(R);
  return new VmFault(kind, pc, `${prog.spec.name}: insn ${pc} (${describeFaultInsn(prog, pc)}): ${what}`, regs);
}

function memFault(
  prog: LoadedProgram,
  pc: number,
  mem: VmMemory,
  R: Int32Array,
  base: number,
  off: number,
  size: number,
  write: boolean,
): VmFault {
  const lo = R[base] >>> 0;
  const hi = R[base + 1] >>> 0;
  const reg = base >>> 1;
  const ptr = hex32pair(lo, hi);
  let where: string;
  if (hi !== 0) where = `pointer r${reg}=${ptr} is not an engine address`;
  else if (lo === 0) where = `NULL pointer r${reg}`;
  else where = `address ${mem.describe((lo + off) >>> 0)} (r${reg}=${ptr}${off >= 0 ? '+' : ''}${off})`;
  return makeFault('memory', prog, pc, `invalid ${write ? 'write' : 'read'} of ${size} byte${size === 1 ? '' : 's'}: ${where}`, R);
}

/** Call helper `id` through the ABI; returns an error text if it failed. */
function callHelper(rt: Runtime, id: number, R: Int32Array): string | undefined {
  const h = rt.helpers[id];
  if (h === undefined) return `unknown helper ${id}`;
  const mem = rt.mem;
  const i32 = mem.i32;
  const base = HELPER_ARGS >>> 2;
  for (let k = 0; k < 10; k++) i32[base + k] = R[2 + k];
  try {
    h(rt);
  } catch (e) {
    return `helper ${id} failed: ${e instanceof Error ? e.message : String(e)}`;
  }
  const ret = HELPER_RET >>> 2;
  R[0] = mem.i32[ret];
  R[1] = mem.i32[ret + 1];
  return undefined;
}

// ---- the interpreter -------------------------------------------------------------------------

let timeRuns = true;

/**
 * Whether runs are timed into ProgStats.timeNs (default on). Reading the clock twice costs more
 * than running a short program, so hot paths may turn it off — as Linux only keeps run_time_ns
 * while the kernel.bpf_stats_enabled sysctl is set. Runs and instructions are always counted.
 */
export function setRunTiming(enabled: boolean): void {
  timeRuns = enabled;
}

/** Whether runs are timed (setRunTiming); the JIT's runJit follows the same switch. */
export function runTimingEnabled(): boolean {
  return timeRuns;
}

/**
 * Run `prog` with r1 = (r1lo, r1hi) and r2 = (r2lo, r2hi). Updates prog.stats.
 * The result's r0 halves are unsigned.
 */
export function runProgram(
  prog: LoadedProgram,
  rt: Runtime,
  r1lo: number,
  r1hi: number,
  r2lo: number,
  r2hi: number,
  opts?: RunOptions,
): RunResult {
  const t0 = timeRuns ? performance.now() : 0;
  const st = acquireState(rt.mem);
  const R = st.regs;
  R.fill(0);
  R[2] = r1lo;
  R[3] = r1hi;
  R[4] = r2lo;
  R[5] = r2hi;
  const res = execGuarded(prog, rt, st, opts?.budget ?? BPF_COMPLEXITY_LIMIT_INSNS, 0, 0);
  const s = prog.stats;
  s.runs++;
  s.instructions += res.instructions;
  if (timeRuns) s.timeNs += Math.round((performance.now() - t0) * 1e6);
  return res;
}

/**
 * Continue a run of `prog` in its main function at instruction `pc`, with r0..r10 as given
 * (lo/hi halves) and `count` instructions already executed: the JIT hands over here when the
 * rest of a run might reach the budget (engine/jit/compile.ts, runFast). r10 must be frame 0's
 * top (the interpreter's own stack area). Statistics are left to the caller.
 */
export function resumeProgram(prog: LoadedProgram, rt: Runtime, pc: number, regs: Uint32Array, count: number, budget: number): RunResult {
  const st = acquireState(rt.mem);
  st.regs.fill(0);
  st.regs.set(regs.subarray(0, 22));
  return execGuarded(prog, rt, st, budget, pc, count);
}

/** exec on an acquired state, released after; anything it throws becomes an internal fault. */
function execGuarded(prog: LoadedProgram, rt: Runtime, st: RunState, budget: number, pc: number, count: number): RunResult {
  try {
    return exec(prog, rt, st, budget, pc, count);
  } catch (e) {
    // Defensive: nothing in exec should throw, but a bug must not escape as an exception.
    return {
      r0lo: 0,
      r0hi: 0,
      instructions: count,
      fault: new VmFault('internal', -1, `${prog.spec.name}: internal error: ${e instanceof Error ? e.message : String(e)}`),
    };
  } finally {
    st.busy = false;
  }
}

function exec(entry: LoadedProgram, rt: Runtime, st: RunState, budget: number, startPc = 0, startCount = 0): RunResult {
  const R = st.regs;
  const mem = rt.mem;
  let dv = mem.dv;
  let u8 = mem.u8;
  let gen = mem.generation;
  const tops = st.stack.tops;

  let prog = entry;
  // P: packed slots (see DecodedCode.packed); N: slot count.
  let P = prog.code.packed;
  let IMMHI = prog.code.immHi;
  let N = prog.code.length;

  let depth = 0;
  let tailCalls = 0;
  let count = startCount;
  let pc = startPc;
  let fault: VmFault | undefined;
  // Bounds of the last region a load (r) or store (w) was checked against with canAccess.
  // Regions change only inside helpers, so both caches are dropped after every helper call.
  let rLo = 1;
  let rHi = 0;
  let wLo = 1;
  let wHi = 0;
  R[20] = tops[0];
  R[21] = 0;

  run: for (;;) {
    if (++count > budget) {
      fault = makeFault('budget', prog, pc, `instruction budget of ${budget} exhausted`, R);
      count = budget;
      break;
    }
    const i = pc++;
    const k = i << 1;
    const w = P[k];
    const d = (w >>> 7) & 0x1e;
    switch (w & 0xff) {
      // ---------------- ALU64, immediate ----------------
      case 0x07: {
        // Int32 add of the low halves; the carry is "the unsigned sum is below an operand".
        const b = P[k + 1];
        const a = R[d];
        const lo = (a + b) | 0;
        R[d + 1] = (R[d + 1] + (b >> 31) + (lo >>> 0 < a >>> 0 ? 1 : 0)) | 0;
        R[d] = lo;
        continue;
      }
      case 0x17: {
        const b = P[k + 1];
        const a = R[d];
        R[d + 1] = (R[d + 1] - (b >> 31) - (a >>> 0 < b >>> 0 ? 1 : 0)) | 0;
        R[d] = (a - b) | 0;
        continue;
      }
      case 0x27: {
        const b = P[k + 1];
        mul64(R[d], R[d + 1], b, b >> 31);
        R[d] = OUT[0];
        R[d + 1] = OUT[1];
        continue;
      }
      case 0x37: {
        const b = P[k + 1];
        if (b === 0) {
          R[d] = 0;
          R[d + 1] = 0;
        } else {
          if ((w >> 16) === 1) sdivmod64(R[d], R[d + 1], b, b >> 31, false);
          else udivmod64(R[d], R[d + 1], b, b >> 31, false);
          R[d] = OUT[0];
          R[d + 1] = OUT[1];
        }
        continue;
      }
      case 0x47: {
        const b = P[k + 1];
        R[d] |= b;
        R[d + 1] |= b >> 31;
        continue;
      }
      case 0x57: {
        const b = P[k + 1];
        R[d] &= b;
        R[d + 1] &= b >> 31;
        continue;
      }
      case 0x67: {
        const n = P[k + 1] & 63;
        if (n === 0) continue;
        const lo = R[d];
        if (n < 32) {
          R[d + 1] = (R[d + 1] << n) | (lo >>> (32 - n));
          R[d] = lo << n;
        } else {
          R[d + 1] = lo << (n - 32);
          R[d] = 0;
        }
        continue;
      }
      case 0x77: {
        const n = P[k + 1] & 63;
        if (n === 0) continue;
        const hi = R[d + 1];
        if (n < 32) {
          R[d] = (R[d] >>> n) | (hi << (32 - n));
          R[d + 1] = hi >>> n;
        } else {
          R[d] = hi >>> (n - 32);
          R[d + 1] = 0;
        }
        continue;
      }
      case 0x87: {
        const l = R[d] >>> 0;
        R[d] = -l;
        R[d + 1] = ~R[d + 1] + (l === 0 ? 1 : 0);
        continue;
      }
      case 0x97: {
        const b = P[k + 1];
        if (b !== 0) {
          if ((w >> 16) === 1) sdivmod64(R[d], R[d + 1], b, b >> 31, true);
          else udivmod64(R[d], R[d + 1], b, b >> 31, true);
          R[d] = OUT[0];
          R[d + 1] = OUT[1];
        }
        continue;
      }
      case 0xa7: {
        const b = P[k + 1];
        R[d] ^= b;
        R[d + 1] ^= b >> 31;
        continue;
      }
      case 0xb7: {
        const b = P[k + 1];
        R[d] = b;
        R[d + 1] = b >> 31;
        continue;
      }
      case 0xc7:
        sar64(R[d], R[d + 1], P[k + 1] & 63);
        R[d] = OUT[0];
        R[d + 1] = OUT[1];
        continue;

      // ---------------- ALU64, register ----------------
      case 0x0f: {
        const s = (w >>> 11) & 0x1e;
        const a = R[d];
        const lo = (a + R[s]) | 0;
        R[d + 1] = (R[d + 1] + R[s + 1] + (lo >>> 0 < a >>> 0 ? 1 : 0)) | 0;
        R[d] = lo;
        continue;
      }
      case 0x1f: {
        const s = (w >>> 11) & 0x1e;
        const a = R[d];
        const b = R[s];
        R[d + 1] = (R[d + 1] - R[s + 1] - (a >>> 0 < b >>> 0 ? 1 : 0)) | 0;
        R[d] = (a - b) | 0;
        continue;
      }
      case 0x2f: {
        const s = ((w >>> 11) & 0x1e);
        mul64(R[d], R[d + 1], R[s], R[s + 1]);
        R[d] = OUT[0];
        R[d + 1] = OUT[1];
        continue;
      }
      case 0x3f: {
        const s = ((w >>> 11) & 0x1e);
        if (R[s] === 0 && R[s + 1] === 0) {
          R[d] = 0;
          R[d + 1] = 0;
        } else {
          if ((w >> 16) === 1) sdivmod64(R[d], R[d + 1], R[s], R[s + 1], false);
          else udivmod64(R[d], R[d + 1], R[s], R[s + 1], false);
          R[d] = OUT[0];
          R[d + 1] = OUT[1];
        }
        continue;
      }
      case 0x4f: {
        const s = ((w >>> 11) & 0x1e);
        R[d] |= R[s];
        R[d + 1] |= R[s + 1];
        continue;
      }
      case 0x5f: {
        const s = ((w >>> 11) & 0x1e);
        R[d] &= R[s];
        R[d + 1] &= R[s + 1];
        continue;
      }
      case 0x6f:
        shl64(R[d], R[d + 1], R[((w >>> 11) & 0x1e)] & 63);
        R[d] = OUT[0];
        R[d + 1] = OUT[1];
        continue;
      case 0x7f:
        shr64(R[d], R[d + 1], R[((w >>> 11) & 0x1e)] & 63);
        R[d] = OUT[0];
        R[d + 1] = OUT[1];
        continue;
      case 0x9f: {
        const s = ((w >>> 11) & 0x1e);
        if (R[s] !== 0 || R[s + 1] !== 0) {
          if ((w >> 16) === 1) sdivmod64(R[d], R[d + 1], R[s], R[s + 1], true);
          else udivmod64(R[d], R[d + 1], R[s], R[s + 1], true);
          R[d] = OUT[0];
          R[d + 1] = OUT[1];
        }
        continue;
      }
      case 0xaf: {
        const s = ((w >>> 11) & 0x1e);
        R[d] ^= R[s];
        R[d + 1] ^= R[s + 1];
        continue;
      }
      case 0xbf: {
        const s = ((w >>> 11) & 0x1e);
        const off = (w >> 16);
        if (off === 0) {
          R[d] = R[s];
          R[d + 1] = R[s + 1];
        } else if (off === 8) {
          const v = (R[s] << 24) >> 24;
          R[d] = v;
          R[d + 1] = v >> 31;
        } else if (off === 16) {
          const v = (R[s] << 16) >> 16;
          R[d] = v;
          R[d + 1] = v >> 31;
        } else if (off === 32) {
          const v = R[s];
          R[d] = v;
          R[d + 1] = v >> 31;
        } else {
          fault = makeFault('bad-insn', prog, i, `invalid movsx offset ${off}`, R);
          break run;
        }
        continue;
      }
      case 0xcf:
        sar64(R[d], R[d + 1], R[((w >>> 11) & 0x1e)] & 63);
        R[d] = OUT[0];
        R[d + 1] = OUT[1];
        continue;
      case 0xd7: {
        const w = P[k + 1];
        if (w === 16) {
          R[d] = bswap16(R[d]);
          R[d + 1] = 0;
        } else if (w === 32) {
          R[d] = bswap32(R[d]);
          R[d + 1] = 0;
        } else if (w === 64) {
          const lo = R[d];
          R[d] = bswap32(R[d + 1]);
          R[d + 1] = bswap32(lo);
        } else {
          fault = makeFault('bad-insn', prog, i, `invalid bswap width ${w}`, R);
          break run;
        }
        continue;
      }

      // ---------------- ALU (32-bit), immediate ----------------
      case 0x04:
        R[d] = R[d] + P[k + 1];
        R[d + 1] = 0;
        continue;
      case 0x14:
        R[d] = R[d] - P[k + 1];
        R[d + 1] = 0;
        continue;
      case 0x24:
        R[d] = Math.imul(R[d], P[k + 1]);
        R[d + 1] = 0;
        continue;
      case 0x34:
        R[d] = div32(R[d], P[k + 1], (w >> 16));
        R[d + 1] = 0;
        continue;
      case 0x44:
        R[d] |= P[k + 1];
        R[d + 1] = 0;
        continue;
      case 0x54:
        R[d] &= P[k + 1];
        R[d + 1] = 0;
        continue;
      case 0x64:
        R[d] <<= P[k + 1] & 31;
        R[d + 1] = 0;
        continue;
      case 0x74:
        R[d] = R[d] >>> (P[k + 1] & 31);
        R[d + 1] = 0;
        continue;
      case 0x84:
        R[d] = -R[d];
        R[d + 1] = 0;
        continue;
      case 0x94:
        R[d] = mod32(R[d], P[k + 1], (w >> 16));
        R[d + 1] = 0;
        continue;
      case 0xa4:
        R[d] ^= P[k + 1];
        R[d + 1] = 0;
        continue;
      case 0xb4:
        R[d] = P[k + 1];
        R[d + 1] = 0;
        continue;
      case 0xc4:
        R[d] >>= P[k + 1] & 31;
        R[d + 1] = 0;
        continue;
      case 0xd4: {
        const w = P[k + 1];
        if (w === 16) {
          R[d] &= 0xffff;
          R[d + 1] = 0;
        } else if (w === 32) {
          R[d + 1] = 0;
        } else if (w !== 64) {
          fault = makeFault('bad-insn', prog, i, `invalid le width ${w}`, R);
          break run;
        }
        continue;
      }
      case 0xdc: {
        const w = P[k + 1];
        if (w === 16) {
          R[d] = bswap16(R[d]);
          R[d + 1] = 0;
        } else if (w === 32) {
          R[d] = bswap32(R[d]);
          R[d + 1] = 0;
        } else if (w === 64) {
          const lo = R[d];
          R[d] = bswap32(R[d + 1]);
          R[d + 1] = bswap32(lo);
        } else {
          fault = makeFault('bad-insn', prog, i, `invalid be width ${w}`, R);
          break run;
        }
        continue;
      }

      // ---------------- ALU (32-bit), register ----------------
      case 0x0c:
        R[d] = R[d] + R[((w >>> 11) & 0x1e)];
        R[d + 1] = 0;
        continue;
      case 0x1c:
        R[d] = R[d] - R[((w >>> 11) & 0x1e)];
        R[d + 1] = 0;
        continue;
      case 0x2c:
        R[d] = Math.imul(R[d], R[((w >>> 11) & 0x1e)]);
        R[d + 1] = 0;
        continue;
      case 0x3c:
        R[d] = div32(R[d], R[((w >>> 11) & 0x1e)], (w >> 16));
        R[d + 1] = 0;
        continue;
      case 0x4c:
        R[d] |= R[((w >>> 11) & 0x1e)];
        R[d + 1] = 0;
        continue;
      case 0x5c:
        R[d] &= R[((w >>> 11) & 0x1e)];
        R[d + 1] = 0;
        continue;
      case 0x6c:
        R[d] <<= R[((w >>> 11) & 0x1e)] & 31;
        R[d + 1] = 0;
        continue;
      case 0x7c:
        R[d] = R[d] >>> (R[((w >>> 11) & 0x1e)] & 31);
        R[d + 1] = 0;
        continue;
      case 0x9c:
        R[d] = mod32(R[d], R[((w >>> 11) & 0x1e)], (w >> 16));
        R[d + 1] = 0;
        continue;
      case 0xac:
        R[d] ^= R[((w >>> 11) & 0x1e)];
        R[d + 1] = 0;
        continue;
      case 0xbc: {
        const v = R[((w >>> 11) & 0x1e)];
        const off = (w >> 16);
        if (off === 0) R[d] = v;
        else if (off === 8) R[d] = (v << 24) >> 24;
        else if (off === 16) R[d] = (v << 16) >> 16;
        else {
          fault = makeFault('bad-insn', prog, i, `invalid movsx offset ${off}`, R);
          break run;
        }
        R[d + 1] = 0;
        continue;
      }
      case 0xcc:
        R[d] >>= R[((w >>> 11) & 0x1e)] & 31;
        R[d + 1] = 0;
        continue;

      // ---------------- 64-bit immediate load ----------------
      case 0x18:
        if (((w >>> 12) & 0xf) === 3) {
          fault = makeFault('bad-insn', prog, i, 'lddw BTF variable addresses (src 3) are not supported', R);
          break run;
        }
        R[d] = P[k + 1];
        R[d + 1] = IMMHI[i];
        pc++;
        continue;

      // ---------------- loads ----------------
      case 0x61: {
        const s = ((w >>> 11) & 0x1e);
        const a = (R[s] >>> 0) + (w >> 16);
        if (R[s + 1] !== 0 || a < rLo || a + 4 > rHi) {
          if (R[s + 1] !== 0 || !mem.canAccess(a, 4, false)) {
            fault = memFault(prog, i, mem, R, s, (w >> 16), 4, false);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          rLo = mem.regionStart[id];
          rHi = mem.regionEnd[id];
        }
        R[d] = dv.getInt32(a, true);
        R[d + 1] = 0;
        continue;
      }
      case 0x69: {
        const s = ((w >>> 11) & 0x1e);
        const a = (R[s] >>> 0) + (w >> 16);
        if (R[s + 1] !== 0 || a < rLo || a + 2 > rHi) {
          if (R[s + 1] !== 0 || !mem.canAccess(a, 2, false)) {
            fault = memFault(prog, i, mem, R, s, (w >> 16), 2, false);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          rLo = mem.regionStart[id];
          rHi = mem.regionEnd[id];
        }
        R[d] = dv.getUint16(a, true);
        R[d + 1] = 0;
        continue;
      }
      case 0x71: {
        const s = ((w >>> 11) & 0x1e);
        const a = (R[s] >>> 0) + (w >> 16);
        if (R[s + 1] !== 0 || a < rLo || a + 1 > rHi) {
          if (R[s + 1] !== 0 || !mem.canAccess(a, 1, false)) {
            fault = memFault(prog, i, mem, R, s, (w >> 16), 1, false);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          rLo = mem.regionStart[id];
          rHi = mem.regionEnd[id];
        }
        R[d] = u8[a];
        R[d + 1] = 0;
        continue;
      }
      case 0x79: {
        const s = ((w >>> 11) & 0x1e);
        const a = (R[s] >>> 0) + (w >> 16);
        if (R[s + 1] !== 0 || a < rLo || a + 8 > rHi) {
          if (R[s + 1] !== 0 || !mem.canAccess(a, 8, false)) {
            fault = memFault(prog, i, mem, R, s, (w >> 16), 8, false);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          rLo = mem.regionStart[id];
          rHi = mem.regionEnd[id];
        }
        R[d] = dv.getInt32(a, true);
        R[d + 1] = dv.getInt32(a + 4, true);
        continue;
      }
      case 0x81: {
        const s = ((w >>> 11) & 0x1e);
        const a = (R[s] >>> 0) + (w >> 16);
        if (R[s + 1] !== 0 || a < rLo || a + 4 > rHi) {
          if (R[s + 1] !== 0 || !mem.canAccess(a, 4, false)) {
            fault = memFault(prog, i, mem, R, s, (w >> 16), 4, false);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          rLo = mem.regionStart[id];
          rHi = mem.regionEnd[id];
        }
        const v = dv.getInt32(a, true);
        R[d] = v;
        R[d + 1] = v >> 31;
        continue;
      }
      case 0x89: {
        const s = ((w >>> 11) & 0x1e);
        const a = (R[s] >>> 0) + (w >> 16);
        if (R[s + 1] !== 0 || a < rLo || a + 2 > rHi) {
          if (R[s + 1] !== 0 || !mem.canAccess(a, 2, false)) {
            fault = memFault(prog, i, mem, R, s, (w >> 16), 2, false);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          rLo = mem.regionStart[id];
          rHi = mem.regionEnd[id];
        }
        const v = dv.getInt16(a, true);
        R[d] = v;
        R[d + 1] = v >> 31;
        continue;
      }
      case 0x91: {
        const s = ((w >>> 11) & 0x1e);
        const a = (R[s] >>> 0) + (w >> 16);
        if (R[s + 1] !== 0 || a < rLo || a + 1 > rHi) {
          if (R[s + 1] !== 0 || !mem.canAccess(a, 1, false)) {
            fault = memFault(prog, i, mem, R, s, (w >> 16), 1, false);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          rLo = mem.regionStart[id];
          rHi = mem.regionEnd[id];
        }
        const v = (u8[a] << 24) >> 24;
        R[d] = v;
        R[d + 1] = v >> 31;
        continue;
      }

      // ---------------- stores (immediate) ----------------
      case 0x62: {
        const a = (R[d] >>> 0) + (w >> 16);
        if (R[d + 1] !== 0 || a < wLo || a + 4 > wHi) {
          if (R[d + 1] !== 0 || !mem.canAccess(a, 4, true)) {
            fault = memFault(prog, i, mem, R, d, (w >> 16), 4, true);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          wLo = mem.regionStart[id];
          wHi = mem.regionEnd[id];
        }
        dv.setInt32(a, P[k + 1], true);
        continue;
      }
      case 0x6a: {
        const a = (R[d] >>> 0) + (w >> 16);
        if (R[d + 1] !== 0 || a < wLo || a + 2 > wHi) {
          if (R[d + 1] !== 0 || !mem.canAccess(a, 2, true)) {
            fault = memFault(prog, i, mem, R, d, (w >> 16), 2, true);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          wLo = mem.regionStart[id];
          wHi = mem.regionEnd[id];
        }
        dv.setInt16(a, P[k + 1], true);
        continue;
      }
      case 0x72: {
        const a = (R[d] >>> 0) + (w >> 16);
        if (R[d + 1] !== 0 || a < wLo || a + 1 > wHi) {
          if (R[d + 1] !== 0 || !mem.canAccess(a, 1, true)) {
            fault = memFault(prog, i, mem, R, d, (w >> 16), 1, true);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          wLo = mem.regionStart[id];
          wHi = mem.regionEnd[id];
        }
        u8[a] = P[k + 1];
        continue;
      }
      case 0x7a: {
        const a = (R[d] >>> 0) + (w >> 16);
        if (R[d + 1] !== 0 || a < wLo || a + 8 > wHi) {
          if (R[d + 1] !== 0 || !mem.canAccess(a, 8, true)) {
            fault = memFault(prog, i, mem, R, d, (w >> 16), 8, true);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          wLo = mem.regionStart[id];
          wHi = mem.regionEnd[id];
        }
        const b = P[k + 1];
        dv.setInt32(a, b, true);
        dv.setInt32(a + 4, b >> 31, true);
        continue;
      }

      // ---------------- stores (register) ----------------
      case 0x63: {
        const a = (R[d] >>> 0) + (w >> 16);
        if (R[d + 1] !== 0 || a < wLo || a + 4 > wHi) {
          if (R[d + 1] !== 0 || !mem.canAccess(a, 4, true)) {
            fault = memFault(prog, i, mem, R, d, (w >> 16), 4, true);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          wLo = mem.regionStart[id];
          wHi = mem.regionEnd[id];
        }
        dv.setInt32(a, R[((w >>> 11) & 0x1e)], true);
        continue;
      }
      case 0x6b: {
        const a = (R[d] >>> 0) + (w >> 16);
        if (R[d + 1] !== 0 || a < wLo || a + 2 > wHi) {
          if (R[d + 1] !== 0 || !mem.canAccess(a, 2, true)) {
            fault = memFault(prog, i, mem, R, d, (w >> 16), 2, true);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          wLo = mem.regionStart[id];
          wHi = mem.regionEnd[id];
        }
        dv.setInt16(a, R[((w >>> 11) & 0x1e)], true);
        continue;
      }
      case 0x73: {
        const a = (R[d] >>> 0) + (w >> 16);
        if (R[d + 1] !== 0 || a < wLo || a + 1 > wHi) {
          if (R[d + 1] !== 0 || !mem.canAccess(a, 1, true)) {
            fault = memFault(prog, i, mem, R, d, (w >> 16), 1, true);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          wLo = mem.regionStart[id];
          wHi = mem.regionEnd[id];
        }
        u8[a] = R[((w >>> 11) & 0x1e)];
        continue;
      }
      case 0x7b: {
        const a = (R[d] >>> 0) + (w >> 16);
        if (R[d + 1] !== 0 || a < wLo || a + 8 > wHi) {
          if (R[d + 1] !== 0 || !mem.canAccess(a, 8, true)) {
            fault = memFault(prog, i, mem, R, d, (w >> 16), 8, true);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          wLo = mem.regionStart[id];
          wHi = mem.regionEnd[id];
        }
        const s = ((w >>> 11) & 0x1e);
        dv.setInt32(a, R[s], true);
        dv.setInt32(a + 4, R[s + 1], true);
        continue;
      }

      // ---------------- atomics ----------------
      case 0xc3: {
        const a = (R[d] >>> 0) + (w >> 16);
        if (R[d + 1] !== 0 || a < wLo || a + 4 > wHi) {
          if (R[d + 1] !== 0 || !mem.canAccess(a, 4, true)) {
            fault = memFault(prog, i, mem, R, d, (w >> 16), 4, true);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          wLo = mem.regionStart[id];
          wHi = mem.regionEnd[id];
        }
        const s = ((w >>> 11) & 0x1e);
        const old = dv.getInt32(a, true);
        const v = R[s];
        const op = P[k + 1];
        switch (op) {
          case 0x00:
          case 0x01:
            dv.setInt32(a, old + v, true);
            break;
          case 0x40:
          case 0x41:
            dv.setInt32(a, old | v, true);
            break;
          case 0x50:
          case 0x51:
            dv.setInt32(a, old & v, true);
            break;
          case 0xa0:
          case 0xa1:
            dv.setInt32(a, old ^ v, true);
            break;
          case 0xe1:
            dv.setInt32(a, v, true);
            break;
          case 0xf1:
            if (old === R[0]) dv.setInt32(a, v, true);
            R[0] = old;
            R[1] = 0;
            continue;
          default:
            fault = makeFault('bad-insn', prog, i, `unknown atomic operation 0x${op.toString(16)}`, R);
            break run;
        }
        if ((op & 1) === 1) {
          R[s] = old;
          R[s + 1] = 0;
        }
        continue;
      }
      case 0xdb: {
        const a = (R[d] >>> 0) + (w >> 16);
        if (R[d + 1] !== 0 || a < wLo || a + 8 > wHi) {
          if (R[d + 1] !== 0 || !mem.canAccess(a, 8, true)) {
            fault = memFault(prog, i, mem, R, d, (w >> 16), 8, true);
            break run;
          }
          // Cache the region's bounds: later accesses inside it need no lookup.
          const id = mem.owner[a >>> GRANULE_SHIFT];
          wLo = mem.regionStart[id];
          wHi = mem.regionEnd[id];
        }
        const s = ((w >>> 11) & 0x1e);
        const oldLo = dv.getInt32(a, true);
        const oldHi = dv.getInt32(a + 4, true);
        const vLo = R[s];
        const vHi = R[s + 1];
        const op = P[k + 1];
        let nLo: number;
        let nHi: number;
        switch (op) {
          case 0x00:
          case 0x01: {
            const lo = (oldLo >>> 0) + (vLo >>> 0);
            nHi = (oldHi + vHi + (lo > 0xffffffff ? 1 : 0)) | 0;
            nLo = lo | 0;
            break;
          }
          case 0x40:
          case 0x41:
            nLo = oldLo | vLo;
            nHi = oldHi | vHi;
            break;
          case 0x50:
          case 0x51:
            nLo = oldLo & vLo;
            nHi = oldHi & vHi;
            break;
          case 0xa0:
          case 0xa1:
            nLo = oldLo ^ vLo;
            nHi = oldHi ^ vHi;
            break;
          case 0xe1:
            nLo = vLo;
            nHi = vHi;
            break;
          case 0xf1:
            if (oldLo === R[0] && oldHi === R[1]) {
              dv.setInt32(a, vLo, true);
              dv.setInt32(a + 4, vHi, true);
            }
            R[0] = oldLo;
            R[1] = oldHi;
            continue;
          default:
            fault = makeFault('bad-insn', prog, i, `unknown atomic operation 0x${op.toString(16)}`, R);
            break run;
        }
        dv.setInt32(a, nLo, true);
        dv.setInt32(a + 4, nHi, true);
        if ((op & 1) === 1) {
          R[s] = oldLo;
          R[s + 1] = oldHi;
        }
        continue;
      }

      // ---------------- jumps (64-bit compare) ----------------
      case 0x05:
        pc += (w >> 16);
        continue;
      case 0x06:
        pc += P[k + 1];
        continue;
      case 0x15:
        if (R[d] === P[k + 1] && R[d + 1] === P[k + 1] >> 31) pc += (w >> 16);
        continue;
      case 0x1d: {
        const s = ((w >>> 11) & 0x1e);
        if (R[d] === R[s] && R[d + 1] === R[s + 1]) pc += (w >> 16);
        continue;
      }
      case 0x55:
        if (R[d] !== P[k + 1] || R[d + 1] !== P[k + 1] >> 31) pc += (w >> 16);
        continue;
      case 0x5d: {
        const s = ((w >>> 11) & 0x1e);
        if (R[d] !== R[s] || R[d + 1] !== R[s + 1]) pc += (w >> 16);
        continue;
      }
      case 0x45: {
        const b = P[k + 1];
        if ((R[d] & b) !== 0 || (R[d + 1] & (b >> 31)) !== 0) pc += (w >> 16);
        continue;
      }
      case 0x4d: {
        const s = ((w >>> 11) & 0x1e);
        if ((R[d] & R[s]) !== 0 || (R[d + 1] & R[s + 1]) !== 0) pc += (w >> 16);
        continue;
      }
      case 0x25:
        if (gtU(R[d + 1], R[d], P[k + 1] >> 31, P[k + 1])) pc += (w >> 16);
        continue;
      case 0x2d: {
        const s = ((w >>> 11) & 0x1e);
        if (gtU(R[d + 1], R[d], R[s + 1], R[s])) pc += (w >> 16);
        continue;
      }
      case 0x35:
        if (geU(R[d + 1], R[d], P[k + 1] >> 31, P[k + 1])) pc += (w >> 16);
        continue;
      case 0x3d: {
        const s = ((w >>> 11) & 0x1e);
        if (geU(R[d + 1], R[d], R[s + 1], R[s])) pc += (w >> 16);
        continue;
      }
      case 0xa5:
        if (gtU(P[k + 1] >> 31, P[k + 1], R[d + 1], R[d])) pc += (w >> 16);
        continue;
      case 0xad: {
        const s = ((w >>> 11) & 0x1e);
        if (gtU(R[s + 1], R[s], R[d + 1], R[d])) pc += (w >> 16);
        continue;
      }
      case 0xb5:
        if (geU(P[k + 1] >> 31, P[k + 1], R[d + 1], R[d])) pc += (w >> 16);
        continue;
      case 0xbd: {
        const s = ((w >>> 11) & 0x1e);
        if (geU(R[s + 1], R[s], R[d + 1], R[d])) pc += (w >> 16);
        continue;
      }
      case 0x65:
        if (gtS(R[d + 1], R[d], P[k + 1] >> 31, P[k + 1])) pc += (w >> 16);
        continue;
      case 0x6d: {
        const s = ((w >>> 11) & 0x1e);
        if (gtS(R[d + 1], R[d], R[s + 1], R[s])) pc += (w >> 16);
        continue;
      }
      case 0x75:
        if (geS(R[d + 1], R[d], P[k + 1] >> 31, P[k + 1])) pc += (w >> 16);
        continue;
      case 0x7d: {
        const s = ((w >>> 11) & 0x1e);
        if (geS(R[d + 1], R[d], R[s + 1], R[s])) pc += (w >> 16);
        continue;
      }
      case 0xc5:
        if (gtS(P[k + 1] >> 31, P[k + 1], R[d + 1], R[d])) pc += (w >> 16);
        continue;
      case 0xcd: {
        const s = ((w >>> 11) & 0x1e);
        if (gtS(R[s + 1], R[s], R[d + 1], R[d])) pc += (w >> 16);
        continue;
      }
      case 0xd5:
        if (geS(P[k + 1] >> 31, P[k + 1], R[d + 1], R[d])) pc += (w >> 16);
        continue;
      case 0xdd: {
        const s = ((w >>> 11) & 0x1e);
        if (geS(R[s + 1], R[s], R[d + 1], R[d])) pc += (w >> 16);
        continue;
      }

      // ---------------- jumps (32-bit compare) ----------------
      case 0x16:
        if (R[d] === P[k + 1]) pc += (w >> 16);
        continue;
      case 0x1e:
        if (R[d] === R[((w >>> 11) & 0x1e)]) pc += (w >> 16);
        continue;
      case 0x56:
        if (R[d] !== P[k + 1]) pc += (w >> 16);
        continue;
      case 0x5e:
        if (R[d] !== R[((w >>> 11) & 0x1e)]) pc += (w >> 16);
        continue;
      case 0x46:
        if ((R[d] & P[k + 1]) !== 0) pc += (w >> 16);
        continue;
      case 0x4e:
        if ((R[d] & R[((w >>> 11) & 0x1e)]) !== 0) pc += (w >> 16);
        continue;
      case 0x26:
        if (R[d] >>> 0 > P[k + 1] >>> 0) pc += (w >> 16);
        continue;
      case 0x2e:
        if (R[d] >>> 0 > R[((w >>> 11) & 0x1e)] >>> 0) pc += (w >> 16);
        continue;
      case 0x36:
        if (R[d] >>> 0 >= P[k + 1] >>> 0) pc += (w >> 16);
        continue;
      case 0x3e:
        if (R[d] >>> 0 >= R[((w >>> 11) & 0x1e)] >>> 0) pc += (w >> 16);
        continue;
      case 0xa6:
        if (R[d] >>> 0 < P[k + 1] >>> 0) pc += (w >> 16);
        continue;
      case 0xae:
        if (R[d] >>> 0 < R[((w >>> 11) & 0x1e)] >>> 0) pc += (w >> 16);
        continue;
      case 0xb6:
        if (R[d] >>> 0 <= P[k + 1] >>> 0) pc += (w >> 16);
        continue;
      case 0xbe:
        if (R[d] >>> 0 <= R[((w >>> 11) & 0x1e)] >>> 0) pc += (w >> 16);
        continue;
      case 0x66:
        if (R[d] > P[k + 1]) pc += (w >> 16);
        continue;
      case 0x6e:
        if (R[d] > R[((w >>> 11) & 0x1e)]) pc += (w >> 16);
        continue;
      case 0x76:
        if (R[d] >= P[k + 1]) pc += (w >> 16);
        continue;
      case 0x7e:
        if (R[d] >= R[((w >>> 11) & 0x1e)]) pc += (w >> 16);
        continue;
      case 0xc6:
        if (R[d] < P[k + 1]) pc += (w >> 16);
        continue;
      case 0xce:
        if (R[d] < R[((w >>> 11) & 0x1e)]) pc += (w >> 16);
        continue;
      case 0xd6:
        if (R[d] <= P[k + 1]) pc += (w >> 16);
        continue;
      case 0xde:
        if (R[d] <= R[((w >>> 11) & 0x1e)]) pc += (w >> 16);
        continue;

      // ---------------- calls and exit ----------------
      case 0x85:
      case 0x8d: {
        let id: number;
        if ((w & 0xff) === 0x8d) {
          if (R[d + 1] !== 0) {
            fault = makeFault('helper', prog, i, `callx: r${d >>> 1} holds no helper id`, R);
            break run;
          }
          id = R[d] >>> 0;
        } else {
          const src = ((w >>> 12) & 0xf);
          if (src === 1) {
            // bpf-to-bpf call: new frame, r6..r10 saved.
            if (depth + 1 >= MAX_CALL_FRAMES) {
              fault = makeFault('call-depth', prog, i, `call depth exceeds ${MAX_CALL_FRAMES} frames`, R);
              break run;
            }
            const sv = depth * 10;
            for (let k = 0; k < 10; k++) st.saved[sv + k] = R[12 + k];
            st.retPc[depth] = pc;
            st.progs[depth] = prog;
            depth++;
            st.isLoop[depth] = 0;
            R[20] = tops[depth];
            R[21] = 0;
            pc = i + 1 + P[k + 1];
            continue;
          }
          if (src !== 0) {
            fault = makeFault('bad-insn', prog, i, `call with src ${src} (kfunc/runtime calls) is not supported`, R);
            break run;
          }
          id = P[k + 1];
        }
        if (id === HELPER_TAIL_CALL) {
          const map = R[5] === 0 ? rt.mapByHandle(R[4] >>> 0) : undefined;
          const index = R[6] >>> 0;
          if (!isProgArray(map) || R[7] !== 0 || index >= map.def.maxEntries || tailCalls >= MAX_TAIL_CALL_CNT) continue;
          const next: unknown = map.getProg(index);
          if (!isLoadedProgram(next)) continue;
          tailCalls++;
          prog = next;
          P = prog.code.packed;
          IMMHI = prog.code.immHi;
          N = prog.code.length;
          pc = 0;
          continue;
        }
        if (id === HELPER_LOOP) {
          const nLo = R[2] >>> 0;
          if (R[9] !== 0 || R[8] !== 0) {
            R[0] = -EINVAL;
            R[1] = -1;
            continue;
          }
          if (R[3] !== 0 || nLo > BPF_MAX_LOOPS) {
            R[0] = -E2BIG;
            R[1] = -1;
            continue;
          }
          if (nLo === 0) {
            R[0] = 0;
            R[1] = 0;
            continue;
          }
          const fn = R[4];
          if (R[5] !== 0 || fn < 0 || fn >= N) {
            fault = makeFault('helper', prog, i, `bpf_loop: r2 is not a callback address`, R);
            break run;
          }
          if (depth + 1 >= MAX_CALL_FRAMES) {
            fault = makeFault('call-depth', prog, i, `call depth exceeds ${MAX_CALL_FRAMES} frames`, R);
            break run;
          }
          const sv = depth * 10;
          for (let k = 0; k < 10; k++) st.saved[sv + k] = R[12 + k];
          st.retPc[depth] = pc;
          st.progs[depth] = prog;
          depth++;
          st.isLoop[depth] = 1;
          st.loopI[depth] = 0;
          st.loopN[depth] = nLo;
          st.loopFn[depth] = fn;
          st.loopCtxLo[depth] = R[6];
          st.loopCtxHi[depth] = R[7];
          R[2] = 0;
          R[3] = 0;
          R[4] = st.loopCtxLo[depth];
          R[5] = st.loopCtxHi[depth];
          R[20] = tops[depth];
          R[21] = 0;
          pc = fn;
          continue;
        }
        const err = callHelper(rt, id, R);
        if (err !== undefined) {
          fault = makeFault('helper', prog, i, err, R);
          break run;
        }
        rLo = wLo = 1;
        rHi = wHi = 0;
        if (mem.generation !== gen) {
          gen = mem.generation;
          dv = mem.dv;
          u8 = mem.u8;
        }
        continue;
      }
      case 0x95: {
        if (depth === 0) break run;
        if (st.isLoop[depth] === 1) {
          const n = st.loopI[depth] + 1;
          if ((R[0] === 0 && R[1] === 0) && n < st.loopN[depth]) {
            // Next iteration: same frame, fresh arguments.
            st.loopI[depth] = n;
            R[2] = n;
            R[3] = 0;
            R[4] = st.loopCtxLo[depth];
            R[5] = st.loopCtxHi[depth];
            R[20] = tops[depth];
            R[21] = 0;
            pc = st.loopFn[depth];
            continue;
          }
          R[0] = n;
          R[1] = 0;
        }
        depth--;
        const sv = depth * 10;
        for (let k = 0; k < 10; k++) R[12 + k] = st.saved[sv + k];
        pc = st.retPc[depth];
        const back = st.progs[depth];
        if (back !== undefined && back !== prog) {
          prog = back;
          P = prog.code.packed;
          IMMHI = prog.code.immHi;
          N = prog.code.length;
        }
        continue;
      }
      default: {
        // loadProgram rejects jumps out of range, so only falling off the end gets here.
        if (i >= N) {
          fault = makeFault('bad-insn', prog, N - 1, 'execution falls through the end of the program', R);
          break run;
        }
        fault = makeFault('bad-insn', prog, i, `unknown opcode 0x${(w & 0xff).toString(16).padStart(2, '0')}`, R);
        break run;
      }
    }
  }
  // r0 means nothing after a fault; report 0 as the JIT does (registers are in fault.regs).
  if (fault !== undefined) return { r0lo: 0, r0hi: 0, instructions: count, fault };
  return { r0lo: R[0] >>> 0, r0hi: R[1] >>> 0, instructions: count };
}

function div32(a: number, b: number, off: number): number {
  if (b === 0) return 0;
  if (off === 1) {
    if (a === -2147483648 && b === -1) return a;
    return (a / b) | 0;
  }
  return ((a >>> 0) / (b >>> 0)) >>> 0;
}

function mod32(a: number, b: number, off: number): number {
  if (b === 0) return a;
  if (off === 1) {
    if (b === -1) return 0;
    return a % b | 0;
  }
  return (a >>> 0) % (b >>> 0);
}
