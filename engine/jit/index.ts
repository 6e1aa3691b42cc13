// The JIT's public surface: compile a verified LoadedProgram to a WebAssembly module, run it with
// the interpreter's RunResult, and pick an executor for callers (`--exec interp|jit`).
//
// Only verified programs are compiled: compileProgram either runs the verifier itself (given
// VerifyOptions) or takes the VerifyResult the caller got for these same bytes. Anything else
// stays on the interpreter.

import { MAX_BPF_STACK } from '../isa.js';
import type { LoadedProgram } from '../program.js';
import type { Runtime } from '../runtime.js';
import { runProgram, type RunOptions, type RunResult } from '../interpreter.js';
import { verify, type ProgType, type VerifyOptions, type VerifyResult } from '../verifier/index.js';
import { FAST_RET_HI, compileModule } from './compile.js';
import { jitOf, runJit, type JitProgram } from './run.js';

export { runJit, type JitProgram } from './run.js';
export { JitCompileError } from './lower.js';

/** The interpreter's frame layout: 512-byte frames with a 64-byte guard, growing down. */
export const FRAME_STEP = -(MAX_BPF_STACK + 64);

export interface JitOptions {
  /** Verify with these options before compiling (the usual path). */
  verify?: VerifyOptions;
  /** Or: the result of verify() on exactly these bytes, already obtained by the caller. */
  verified?: VerifyResult;
  /** Use the dispatch-loop scheme for every function (tests of the fallback). */
  forceDispatch?: boolean;
  /** Compile every helper call through the generic trampoline, no direct imports (tests, bench). */
  noFastHelpers?: boolean;
}

const PROG_TYPES: readonly string[] = ['tracepoint', 'kprobe', 'socket_filter', 'xdp', 'raw'];

/** Compile `prog`, or say why not. Never throws. */
export function compileProgram(prog: LoadedProgram, opts: JitOptions = {}): JitProgram | { error: string } {
  const t0 = performance.now();
  try {
    let vr = opts.verified;
    if (vr === undefined) {
      if (opts.verify === undefined) return { error: 'not compiled: no verification (pass verify options or a verify result)' };
      vr = verify(prog.spec.insns, opts.verify);
    }
    if (!vr.ok) {
      return { error: `not compiled: the verifier rejected it${vr.error ? ` (insn ${vr.error.insn}: ${vr.error.message})` : ''}` };
    }
    const t1 = performance.now();
    const loopBounds = new Map((vr.loopBounds ?? []).map((b) => [b.insn, b.maxIterations] as const));
    const info = compileModule(prog.insns, { frameStep: FRAME_STEP, forceDispatch: opts.forceDispatch, noFastHelpers: opts.noFastHelpers, loopBounds });
    const module = new WebAssembly.Module(info.bytes);
    const base = opts.verify;
    const jp: JitProgram = {
      kind: 'jit',
      prog,
      module,
      info,
      compileMs: performance.now() - t1,
      verifyMs: t1 - t0,
      wasmBytes: info.bytes.length,
      maxCtxOffset: vr.maxCtxOffset ?? 0,
      compileTarget: (p) =>
        base === undefined
          ? { error: 'no verify options to check the tail-call target with' }
          : compileProgram(p, {
              verify: {
                ...base,
                progType: (PROG_TYPES.includes(p.spec.progType) ? p.spec.progType : base.progType) as ProgType,
                maps: p.spec.maps,
              },
            }),
      instances: new WeakMap(),
      last: undefined,
      usesTask: info.fastHelpers.some((h) => FAST_RET_HI.includes(h)),
    };
    jitOf.set(prog, jp);
    return jp;
  } catch (e) {
    return { error: `JIT compilation failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

export type ExecMode = 'interp' | 'jit';

export interface Executor {
  mode: ExecMode;
  /** Why a requested JIT fell back to the interpreter. */
  fallbackReason?: string;
  jit?: JitProgram;
  compileMs: number;
  run(rt: Runtime, r1lo: number, r1hi: number, r2lo: number, r2hi: number, opts?: RunOptions): RunResult;
}

/**
 * The executor callers should use for `mode`. A JIT request whose compilation fails falls back
 * to the interpreter and logs the reason (never silently).
 */
export function selectExecutor(
  prog: LoadedProgram,
  mode: ExecMode,
  opts: JitOptions & { log?: (msg: string) => void } = {},
): Executor {
  const interp = (reason?: string): Executor => ({
    mode: 'interp',
    fallbackReason: reason,
    compileMs: 0,
    run: (rt, a, b, c, d, o) => runProgram(prog, rt, a, b, c, d, o),
  });
  if (mode === 'interp') return interp();
  const jp = compileProgram(prog, opts);
  if ('error' in jp) {
    const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
    log(`kestrel: ${prog.spec.name}: JIT unavailable, using the interpreter: ${jp.error}`);
    return interp(jp.error);
  }
  return {
    mode: 'jit',
    jit: jp,
    compileMs: jp.compileMs,
    run: (rt, a, b, c, d, o) => runJit(jp, rt, a, b, c, d, o),
  };
}

/**
 * A runner for the simulated kernel (collectors/kernel/engine.ts `ProgramRunner`): compiles each
 * program once on its first firing, verifying it for the runtime's program type and context
 * size, and runs it on the JIT; a program that cannot be compiled stays on the interpreter
 * (logged once).
 */
export function jitRunner(
  opts: {
    log?: (msg: string) => void;
    /** The VerifyResult the caller already has for a program (skips verifying it again). */
    verifiedFor?: (prog: LoadedProgram) => VerifyResult | undefined;
  } = {},
): (prog: LoadedProgram, rt: Runtime, ctxAddr: number) => RunResult {
  const cache = new WeakMap<LoadedProgram, Executor>();
  return (prog, rt, ctxAddr) => {
    let ex = cache.get(prog);
    if (ex === undefined) {
      const progType = (PROG_TYPES.includes(rt.progType) ? rt.progType : 'raw') as ProgType;
      const verified = opts.verifiedFor?.(prog);
      ex = selectExecutor(prog, 'jit', {
        ...(verified !== undefined ? { verified } : { verify: { progType, ctxSize: rt.ctxSize, maps: prog.spec.maps } }),
        log: opts.log,
      });
      cache.set(prog, ex);
    }
    return ex.run(rt, ctxAddr, 0, 0, 0);
  };
}
