// Shared by the JIT's tests and bench: assemble, load, and run a program on both engines over
// identical fresh memories, then compare r0, faults and memory.

import { assemble } from '../asm/assembler.js';
import { loadProgram, type LoadedProgram } from '../program.js';
import { runProgram, type RunResult } from '../interpreter.js';
import { createTestRuntime, type TestRuntime } from '../test-runtime.js';
import { VmMemory, RESERVED_LOW } from '../memory.js';
import type { VerifyResult } from '../verifier/index.js';
import { compileProgram, runJit, type JitOptions, type JitProgram } from './index.js';

/**
 * A stand-in VerifyResult for code-generation unit tests of hand-written programs whose
 * safety is evident; the differential tests run the real verifier.
 */
export const TRUSTED: VerifyResult = { ok: true, log: '', stats: { insnsProcessed: 0, states: 0, peakStates: 0, stackDepth: [] } };

export function load(text: string, name = 't'): LoadedProgram {
  const a = assemble(text, name);
  return loadProgram({ name, insns: a.insns, maps: a.maps, mapRefs: a.mapRefs, progType: 'socket_filter' });
}

export function mustCompile(p: LoadedProgram, opts: JitOptions = { verified: TRUSTED }): JitProgram {
  const jp = compileProgram(p, opts);
  if ('error' in jp) throw new Error(jp.error);
  return jp;
}

export interface Side {
  res: RunResult;
  rt: TestRuntime;
}

export function r0(res: RunResult): bigint {
  return (BigInt(res.r0hi) << 32n) | BigInt(res.r0lo);
}

/** Run on a fresh runtime whose context holds `ctx`. */
export function runOn(
  p: LoadedProgram,
  exec: 'interp' | JitProgram,
  ctx: Uint8Array = new Uint8Array(0),
  setup?: (rt: TestRuntime) => void,
  budget = 10_000_000,
): Side {
  const rt = createTestRuntime({ mem: new VmMemory({ initialBytes: 1 << 20 }) });
  setup?.(rt);
  const addr = rt.setContext(ctx, true);
  const res =
    exec === 'interp'
      ? runProgram(p, rt, addr, 0, ctx.length, 0, { budget })
      : runJit(exec, rt, addr, 0, ctx.length, 0, { budget });
  return { res, rt };
}

/** First differing byte of the program-addressable memory (from 64 KiB up), or -1. */
export function memDiff(a: VmMemory, b: VmMemory): number {
  const n = Math.max(a.byteLength, b.byteLength);
  const x = a.u8;
  const y = b.u8;
  for (let i = RESERVED_LOW; i < n; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return i;
  return -1;
}
