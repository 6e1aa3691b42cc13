// How long a run can be, in executed instructions, so that the JIT can give runs that cannot
// reach their budget code without a budget test per block (compile.ts: `runFast`).
//
// A function's worst case is the longest path through its control-flow graph, local calls
// adding their callee's worst case and bpf_loop calls the verifier's bound on iterations times
// the callback's. In the main function a bpf_loop call is a cut instead: the fast code checks
// there, with the actual count, that the loop and everything up to the next cut still fit
// (and hands the run to the interpreter, which counts exactly, when they may not). So the run
// needs `entry` to fit at its start, and at each cut `perIteration` times the count plus
// `afterCut`. Infinity anywhere means no fast code: a loop inside a function, a tail call (its
// target is only known at run time), a bpf_loop call the verifier did not bound.

import { BPF_PSEUDO_CALL, OP_CALL, OP_LDDW, type Insn } from '../isa.js';
import type { FuncCfg } from './cfg.js';

const HELPER_TAIL_CALL = 12;
const HELPER_LOOP = 181;

export interface WorstCaseInput {
  insns: readonly Insn[];
  /** Function entry → its control-flow graph. */
  cfgOf: ReadonlyMap<number, FuncCfg>;
  /** bpf_loop call site → most iterations (VerifyResult.loopBounds). */
  loopBounds: ReadonlyMap<number, number>;
  /** The callbacks a bpf_loop call at `pc` may run. */
  callbacksAt(pc: number): readonly number[];
}

export interface FastPlan {
  /** Most instructions from the start of a run to the first cut or exit. */
  entry: number;
  /** Per bpf_loop call in the main function: most instructions after it, to the next cut or exit. */
  afterCut: Map<number, number>;
  /** Per bpf_loop call in the main function: most instructions one callback run can take. */
  perIteration: Map<number, number>;
}

/** The plan for fast runs of the program, or undefined when some part has no bound. */
export function fastPlan(inp: WorstCaseInput): FastPlan | undefined {
  const memo = new Map<number, number>();
  const active = new Set<number>();
  const afterCut = new Map<number, number>();
  const perIteration = new Map<number, number>();

  /** Longest path from each block's start; with `cuts`, main's bpf_loop calls end a stretch. */
  const walk = (s: number, cuts: boolean): number => {
    const cfg = inp.cfgOf.get(s);
    if (cfg === undefined || cfg.blocks.some((b) => b.loopHeader)) return Infinity;
    const fromStart = new Map<number, number>();
    for (let k = cfg.order.length - 1; k >= 0; k--) {
      const b = cfg.blocks[cfg.order[k]];
      let acc = 0;
      for (const t of b.succ) acc = Math.max(acc, fromStart.get(t) ?? 0);
      const pcs: number[] = [];
      for (let pc = b.start; pc <= b.last; pc++) {
        pcs.push(pc);
        if (inp.insns[pc].opcode === OP_LDDW) pc++;
      }
      for (let q = pcs.length - 1; q >= 0; q--) {
        const pc = pcs[q];
        const i = inp.insns[pc];
        if (i.opcode === OP_CALL && i.src === 0 && i.imm === HELPER_LOOP) {
          const n = inp.loopBounds.get(pc);
          const cbs = inp.callbacksAt(pc);
          const each = cbs.length === 0 ? Infinity : Math.max(...cbs.map(fn));
          if (cuts) {
            afterCut.set(pc, acc);
            perIteration.set(pc, each);
            acc = 0;
            continue;
          }
          acc += 1 + (n === undefined ? Infinity : n === 0 ? 0 : n * each);
          continue;
        }
        acc += 1;
        if (i.opcode !== OP_CALL) continue;
        if (i.src === BPF_PSEUDO_CALL) acc += fn(pc + i.imm + 1);
        else if (i.src === 0 && i.imm === HELPER_TAIL_CALL) acc = Infinity;
      }
      fromStart.set(b.id, acc);
    }
    return fromStart.get(cfg.order[0]) ?? 0;
  };

  /** Worst case of one call of a callee (loops counted in full). */
  const fn = (s: number): number => {
    const have = memo.get(s);
    if (have !== undefined) return have;
    // Recursion is rejected by the verifier; never assume a bound for it here either.
    if (active.has(s)) return Infinity;
    active.add(s);
    const w = walk(s, false);
    active.delete(s);
    memo.set(s, w);
    return w;
  };

  const entry = walk(0, true);
  if (!Number.isFinite(entry)) return undefined;
  for (const [pc, w] of afterCut) if (!Number.isFinite(w) || !Number.isFinite(perIteration.get(pc) ?? Infinity)) return undefined;
  return { entry, afterCut, perIteration };
}
