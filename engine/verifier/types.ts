// The verifier's public shapes (re-exported by ./index.ts).

import type { MapDef } from '../maps/types.js';

export type ProgType = 'tracepoint' | 'kprobe' | 'socket_filter' | 'xdp' | 'raw';

export interface VerifyOptions {
  /** raw: conformance-style, r1 = ctx of ctxSize bytes read/write, r2 = its length. */
  progType: ProgType;
  /**
   * Readable context bytes. For tracepoints this is the record size; like Linux, the verifier
   * only bounds tracepoint context reads by 8192 at load time and reports the highest byte read
   * in `VerifyResult.maxCtxOffset`, so the attach step can compare it with the record size.
   */
  ctxSize: number;
  /** `lddw src=1 imm=k` refers to maps[k]. */
  maps: readonly MapDef[];
  /** License is GPL-compatible; gpl-only helpers are rejected without it. Default true. */
  gpl?: boolean;
  /** Processed-instruction budget, default 1_000_000. */
  maxInsns?: number;
  /**
   * Allow reads of never-written stack bytes, as Linux does for privileged (CAP_BPF+CAP_PERFMON)
   * loaders. Default false: Kestrel, like an unprivileged Linux loader, requires written bytes.
   */
  allowUninitStack?: boolean;
  /** 0: only the error, 1: the failing path's state (default), 2: every processed insn. */
  logLevel?: 0 | 1 | 2;
}

export interface VerifyStats {
  insnsProcessed: number;
  /** Checkpoints stored for pruning. */
  states: number;
  /** Most checkpoints alive at once. */
  peakStates: number;
  /** Stack bytes used per subprogram (index = subprogram, 0 = main), rounded up to 8. */
  stackDepth: number[];
}

export interface VerifyResult {
  ok: boolean;
  /** The one-line reason, Linux's wording where one is known. */
  error?: { insn: number; message: string };
  /** Linux-like log: failing insn, its disassembly, register state, reason. */
  log: string;
  stats: VerifyStats;
  /** Highest context byte offset (exclusive end) any accepted path reads; 0 when none. */
  maxCtxOffset?: number;
  /**
   * Per bpf_loop call (instruction index): the most iterations any accepted path can ask for
   * (the count register's upper bound, capped at BPF_MAX_LOOPS). The JIT uses it to bound a
   * run's length (engine/jit/worst-case.ts).
   */
  loopBounds?: { insn: number; maxIterations: number }[];
}
