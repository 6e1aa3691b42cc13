// Running a compiled program: one wasm instance per (program, engine memory), helper
// trampolines that follow the ABI in engine/runtime.ts, tail calls run in the caller's frame,
// and wasm traps turned into the interpreter's VmFaults (never an exception to the caller).

import { HELPER_ARGS, HELPER_RET, RegionKind, type VmMemory } from '../memory.js';
import { MAX_BPF_STACK, MAX_CALL_FRAMES, MAX_TAIL_CALL_CNT, BPF_COMPLEXITY_LIMIT_INSNS } from '../isa.js';
import type { Runtime } from '../runtime.js';
import type { LoadedProgram } from '../program.js';
import { VmFault, isProgArray, resumeProgram, runProgram, runTimingEnabled, stackTops, type RunOptions, type RunResult } from '../interpreter.js';
import { FAST_RET_HI, HELPER_TAIL_CALL, JIT_INLINE_OK, JIT_OUT, JIT_RESUME, JIT_TASK, JIT_TASK_OK, JitFault, type CompiledModule } from './compile.js';
import { HELPER_IMPLS } from '../helpers/impl.js';
import { HelperError, callGeneric, fastImport, lookupImport } from './fast.js';

const OUT = JIT_OUT >>> 2;
const INLINE_OK = JIT_INLINE_OK >>> 2;
const BUILTIN_LOOKUP = HELPER_IMPLS[1];
const BUILTIN_UPDATE = HELPER_IMPLS[2];
const TASK_OK = JIT_TASK_OK >>> 2;
const TASK = JIT_TASK >>> 2;
const BUILTIN_PID_TGID = HELPER_IMPLS[14];
const BUILTIN_UID_GID = HELPER_IMPLS[15];

/**
 * Leave the current task's ids where the compiled get_current_pid_tgid/uid_gid read them, when
 * the built-ins would return exactly those (a task, numeric ids); else flag the import path.
 */
function publishTask(rt: Runtime, u32: Uint32Array): void {
  let t: ReturnType<Runtime['env']['currentTask']>;
  try {
    t = rt.helpers[14] === BUILTIN_PID_TGID && rt.helpers[15] === BUILTIN_UID_GID ? rt.env.currentTask() : undefined;
  } catch {
    // The call site's import meets the same error and reports it as the helper's fault.
    t = undefined;
  }
  if (t === undefined || typeof t.pid !== 'number' || typeof t.tgid !== 'number' || typeof t.uid !== 'number' || typeof t.gid !== 'number') {
    u32[TASK_OK] = 0;
    return;
  }
  u32[TASK] = t.pid;
  u32[TASK + 1] = t.tgid;
  u32[TASK + 2] = t.uid;
  u32[TASK + 3] = t.gid;
  u32[TASK_OK] = 1;
}

export interface JitProgram {
  readonly kind: 'jit';
  readonly prog: LoadedProgram;
  readonly module: WebAssembly.Module;
  readonly info: CompiledModule;
  /** Wall time of code generation and wasm compilation (verification excluded). */
  readonly compileMs: number;
  /** Wall time of the verification compileProgram ran (0 when given a VerifyResult). */
  readonly verifyMs: number;
  readonly wasmBytes: number;
  /**
   * Highest context byte the verifier saw read (exclusive). A run whose context is smaller (a
   * short tracepoint record) goes to the interpreter, which bounds-checks every access.
   */
  readonly maxCtxOffset: number;
  /** How to compile tail-call targets found at run time (same program type and context). */
  readonly compileTarget: (p: LoadedProgram) => JitProgram | { error: string };
  readonly instances: WeakMap<WebAssembly.Memory, JitInstance>;
  /** The instance of the last run (most programs only ever run on one memory). */
  last?: JitInstance;
  /** Reads the current task's ids inside WebAssembly (runOn publishes them). */
  readonly usesTask: boolean;
}

/** Shared by every program of one tail-call chain. */
interface Chain {
  rt: Runtime;
  budget: number;
  tailCalls: number;
  /** r10 of each frame of the stack area this run uses (frame 0 first). */
  tops: readonly number[];
}

type EntryFn = (r1lo: number, r1hi: number, r2lo: number, r2hi: number, fp: number, minFp: number, bLo: number, bHi: number) => number;

interface JitInstance {
  run: EntryFn;
  /** The copy without per-block budget tests, for budgets ≥ the program's worst case. */
  runFast: EntryFn | undefined;
  cnt: WebAssembly.Global;
  fault: WebAssembly.Global;
  faultPc: WebAssembly.Global;
  chain: Chain | undefined;
  /** The memory this instance imports, and its stack areas. */
  memory: WebAssembly.Memory;
  use: StackUse;
}

/**
 * Stack areas per memory. The outermost JIT run uses the interpreter's own frames
 * (`stackTops`), so both engines leave identical memory; a JIT run nested inside another on
 * the same memory (a helper that fires a hook synchronously) gets a private area with the same
 * layout instead of overwriting the outer run's frames.
 */
interface StackUse {
  depth: number;
  /** The interpreter's frames (looked up once: stackTops allocates). */
  interp: number[];
  spare: number[][];
  /** One Chain per nesting depth, reused run after run (no allocation per run). */
  chains: Chain[];
}
const stackUse = new WeakMap<VmMemory, StackUse>();

function privateStack(mem: VmMemory): number[] {
  const frames = MAX_CALL_FRAMES;
  const stride = MAX_BPF_STACK + 64;
  const a = mem.alloc(frames * stride + 64, 64);
  const tops: number[] = [];
  for (let k = 0; k < frames; k++) {
    const start = a.addr + 64 + (frames - 1 - k) * stride;
    mem.addRegion(start, MAX_BPF_STACK, RegionKind.Stack, true);
    tops.push(start + MAX_BPF_STACK);
  }
  return tops;
}

/** A fault raised inside a trampoline; unwinds the wasm frames to runJit. */
class FaultSignal extends Error {
  constructor(
    readonly fault: VmFault,
    readonly instructions: number,
  ) {
    super(fault.message);
  }
}

function stackUseOf(mem: VmMemory): StackUse {
  let use = stackUse.get(mem);
  if (use === undefined) {
    use = { depth: 0, interp: stackTops(mem), spare: [], chains: [] };
    stackUse.set(mem, use);
  }
  return use;
}

function instanceFor(jp: JitProgram, mem: VmMemory): JitInstance {
  const last = jp.last;
  if (last !== undefined && last.memory === mem.memory) return last;
  const have = jp.instances.get(mem.memory);
  if (have !== undefined) {
    jp.last = have;
    return have;
  }
  const env: Record<string, WebAssembly.ImportValue> = { memory: mem.memory };
  // Filled in once the module is instantiated; the imports only read `chain`.
  const self: JitInstance = {
    run: undefined as unknown as JitInstance['run'],
    runFast: undefined,
    cnt: undefined as unknown as WebAssembly.Global,
    fault: undefined as unknown as WebAssembly.Global,
    faultPc: undefined as unknown as WebAssembly.Global,
    chain: undefined,
    memory: mem.memory,
    use: stackUseOf(mem),
  };
  const chainOf = (): Chain => {
    const c = self.chain;
    if (c === undefined) throw new Error('JIT helper called outside a run');
    return c;
  };
  for (const id of jp.info.helpers) {
    if (id === HELPER_TAIL_CALL) {
      env[`h${id}`] = (fp: number, cnt: number): number => tailCall(jp, chainOf(), self, fp, cnt);
      continue;
    }
    env[`h${id}`] = (): void => callGeneric(chainOf().rt, id);
  }
  for (const id of jp.info.fastHelpers) env[`f${id}`] = fastImport(id, self);
  for (const handle of jp.info.lookupMaps) env[`m${handle}`] = lookupImport(handle, self);
  const inst = new WebAssembly.Instance(jp.module, { env });
  const x = inst.exports;
  self.run = x.run as JitInstance['run'];
  self.runFast = x.runFast as EntryFn | undefined;
  self.cnt = x.cnt as WebAssembly.Global;
  self.fault = x.fault as WebAssembly.Global;
  self.faultPc = x.faultPc as WebAssembly.Global;
  const tops = stackTops(mem);
  const step = tops[1] - tops[0];
  if (step !== jp.info.frameStep) {
    throw new Error(`interpreter stack layout changed (frame step ${step}, JIT compiled for ${jp.info.frameStep})`);
  }
  jp.instances.set(mem.memory, self);
  jp.last = self;
  return self;
}

function describe(jp: JitProgram, pc: number, what: string): string {
  return `${jp.prog.spec.name}: insn ${pc}: ${what}`;
}

/** bpf_tail_call: run the target in the caller's frame; returns the new count or -1 (no call). */
function tailCall(jp: JitProgram, chain: Chain, inst: JitInstance, fp: number, cnt: number): number {
  const rt = chain.rt;
  const u32 = rt.mem.u32;
  const a = HELPER_ARGS >>> 2;
  const map = u32[a + 3] === 0 ? rt.mapByHandle(u32[a + 2]) : undefined;
  const index = u32[a + 4];
  if (!isProgArray(map) || u32[a + 5] !== 0 || index >= map.def.maxEntries || chain.tailCalls >= MAX_TAIL_CALL_CNT) return -1;
  const next = map.getProg(index);
  if (next === undefined) return -1;
  chain.tailCalls++;
  const pc = inst.faultPc.value as number;
  const target = jitOf.get(next) ?? jp.compileTarget(next);
  let res: RunResult;
  if ('error' in target) {
    if (fp !== chain.tops[0]) {
      throw new FaultSignal(new VmFault('internal', pc, describe(jp, pc, `tail call target ${next.spec.name} cannot run in a JIT frame: ${target.error}`)), cnt);
    }
    // At depth 0 the interpreter's own frame 0 is this frame: run the target there.
    res = runProgram(next, rt, u32[a], u32[a + 1], u32[a + 2], u32[a + 3], { budget: chain.budget - cnt });
  } else {
    res = runOn(target, instanceFor(target, chain.rt.mem), chain, u32[a], u32[a + 1], u32[a + 2], u32[a + 3], fp, chain.budget - cnt, false);
  }
  if (res.fault !== undefined) throw new FaultSignal(res.fault, res.fault.kind === 'budget' ? chain.budget : cnt + res.instructions);
  rt.mem.u32[HELPER_RET >>> 2] = res.r0lo;
  rt.mem.u32[(HELPER_RET >>> 2) + 1] = res.r0hi;
  return cnt + res.instructions;
}

function runOn(
  jp: JitProgram,
  inst: JitInstance,
  chain: Chain,
  r1lo: number,
  r1hi: number,
  r2lo: number,
  r2hi: number,
  fp: number,
  budget: number,
  /** Frame 0 is the interpreter's own (runFast may hand the run over to it). */
  outermost: boolean,
): RunResult {
  const prev = inst.chain;
  inst.chain = chain;
  // Inline map lookups stand in for map_lookup_elem only while the runtime's is the built-in.
  const u32 = chain.rt.mem.u32;
  const okBefore = u32[INLINE_OK];
  u32[INLINE_OK] = (chain.rt.helpers[1] === BUILTIN_LOOKUP ? 1 : 0) | (chain.rt.helpers[2] === BUILTIN_UPDATE ? 2 : 0);
  if (jp.usesTask) publishTask(chain.rt, u32);
  // try/catch without finally: a finally block costs several ns per run in V8.
  let lo: number;
  try {
    const entry = outermost && inst.runFast !== undefined && budget >= jp.info.fastEntry ? inst.runFast : inst.run;
    lo = entry(r1lo, r1hi, r2lo, r2hi, fp, chain.tops[chain.tops.length - 1], budget >>> 0, Math.floor(budget / 4294967296));
  } catch (e) {
    inst.chain = prev;
    chain.rt.mem.u32[INLINE_OK] = okBefore;
    chain.rt.mem.u32[TASK_OK] = 0;
    if (e instanceof WebAssembly.RuntimeError && inst.fault.value === JitFault.Resume) return handOver(jp, inst, chain.rt, budget);
    return faultResult(jp, inst, e, budget);
  }
  inst.chain = prev;
  chain.rt.mem.u32[INLINE_OK] = okBefore;
  // A run this one was nested in may have a different current task now: it takes the imports.
  chain.rt.mem.u32[TASK_OK] = 0;
  return { r0lo: lo >>> 0, r0hi: u32[OUT], instructions: u32[OUT + 1] + u32[OUT + 2] * 4294967296 };
}

/** runFast stopped at a bpf_loop call whose loop might reach the budget: the interpreter goes on. */
function handOver(jp: JitProgram, inst: JitInstance, rt: Runtime, budget: number): RunResult {
  const regs = rt.mem.u32.slice(JIT_RESUME >>> 2, (JIT_RESUME >>> 2) + 22);
  return resumeProgram(jp.prog, rt, inst.faultPc.value as number, regs, Number(inst.cnt.value as bigint), budget);
}

function faultResult(jp: JitProgram, inst: JitInstance, e: unknown, budget: number): RunResult {
  if (e instanceof FaultSignal) return { r0lo: 0, r0hi: 0, instructions: e.instructions, fault: e.fault };
  const pc = inst.faultPc.value as number;
  const count = Number(inst.cnt.value as bigint);
  if (e instanceof HelperError) {
    return { r0lo: 0, r0hi: 0, instructions: count, fault: new VmFault('helper', pc, describe(jp, pc, e.message)) };
  }
  if (e instanceof WebAssembly.RuntimeError) {
    const code = inst.fault.value as number;
    if (code === JitFault.Budget) {
      return {
        r0lo: 0,
        r0hi: 0,
        instructions: budget,
        fault: new VmFault('budget', pc, describe(jp, pc, `instruction budget of ${budget} exhausted`)),
      };
    }
    if (code === JitFault.LoopBound) {
      return { r0lo: 0, r0hi: 0, instructions: count, fault: new VmFault('internal', pc, describe(jp, pc, "bpf_loop count above the verifier's bound")) };
    }
    if (code === JitFault.CallDepth) {
      return { r0lo: 0, r0hi: 0, instructions: count, fault: new VmFault('call-depth', pc, describe(jp, pc, 'call depth exceeds 8 frames')) };
    }
    // Only reachable if a verified program still misbehaves: a clean fault, memory untouched outside.
    return { r0lo: 0, r0hi: 0, instructions: count, fault: new VmFault('memory', -1, `${jp.prog.spec.name}: wasm trap: ${e.message}`) };
  }
  const msg = e instanceof Error ? e.message : String(e);
  return { r0lo: 0, r0hi: 0, instructions: count, fault: new VmFault('internal', -1, `${jp.prog.spec.name}: internal error: ${msg}`) };
}

function internalFault(jp: JitProgram, msg: string): RunResult {
  return { r0lo: 0, r0hi: 0, instructions: 0, fault: new VmFault('internal', -1, `${jp.prog.spec.name}: ${msg}`) };
}

/** The instance for this memory, or why it cannot be made. */
function instanceOrError(jp: JitProgram, mem: VmMemory): JitInstance | string {
  try {
    return instanceFor(jp, mem);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** The private stack area of nesting depth d ≥ 2 (allocated on first use), or undefined. */
function nestedStack(mem: VmMemory, use: StackUse, d: number): number[] | undefined {
  try {
    return (use.spare[d - 2] ??= privateStack(mem));
  } catch {
    return undefined;
  }
}

/** Run a compiled program: same arguments, result and statistics as the interpreter's runProgram. */
export function runJit(
  jp: JitProgram,
  rt: Runtime,
  r1lo: number,
  r1hi: number,
  r2lo: number,
  r2hi: number,
  opts?: RunOptions,
): RunResult {
  const timed = runTimingEnabled();
  const t0 = timed ? performance.now() : 0;
  const budget = opts?.budget ?? BPF_COMPLEXITY_LIMIT_INSNS;
  if (jp.maxCtxOffset > rt.ctxSize) return runProgram(jp.prog, rt, r1lo, r1hi, r2lo, r2hi, opts);
  // No try/finally here (it costs several ns per run): runOn turns everything the run throws
  // into a fault result, and only the cold paths (instantiation, a nested run's private stack)
  // can throw otherwise.
  let res: RunResult;
  const last = jp.last;
  const inst = last !== undefined && last.memory === rt.mem.memory ? last : instanceOrError(jp, rt.mem);
  if (typeof inst === 'string') {
    res = internalFault(jp, inst);
  } else {
    const use = inst.use;
    const d = ++use.depth;
    const tops = d === 1 ? use.interp : nestedStack(rt.mem, use, d);
    if (tops === undefined) {
      res = internalFault(jp, 'no stack area for a nested run');
    } else {
      let chain = use.chains[d - 1];
      if (chain === undefined) {
        chain = { rt, budget, tailCalls: 0, tops };
        use.chains[d - 1] = chain;
      } else {
        chain.rt = rt;
        chain.budget = budget;
        chain.tailCalls = 0;
        chain.tops = tops;
      }
      res = runOn(jp, inst, chain, r1lo, r1hi, r2lo, r2hi, tops[0], budget, d === 1);
    }
    use.depth--;
  }
  const s = jp.prog.stats;
  s.runs++;
  s.instructions += res.instructions;
  if (timed) s.timeNs += Math.round((performance.now() - t0) * 1e6);
  return res;
}

/** Compiled programs by their loaded program (tail-call targets reuse them). */
export const jitOf = new WeakMap<LoadedProgram, JitProgram>();
