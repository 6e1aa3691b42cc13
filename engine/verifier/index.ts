// Kestrel's eBPF verifier: Linux's load-time guarantees, proved before any program runs.
// Static structure first (./structure.ts), then path exploration with abstract register and
// stack states (./check.ts), like Linux's do_check. `verify` never throws.

import { INSN_SIZE, decode } from '../isa.js';
import type { ProgType, VerifyOptions, VerifyResult } from './types.js';
import { checkStructure, isError } from './structure.js';
import { doCheck } from './check.js';

export type { ProgType, VerifyOptions, VerifyResult, VerifyStats } from './types.js';

/** Hook names (SPEC §3) → program type and context size (tracepoint record / pt_regs / __sk_buff). */
export const HOOK_CONTEXTS: Record<string, { progType: ProgType; ctxSize: number }> = {
  'tracepoint/syscalls/sys_enter_execve': { progType: 'tracepoint', ctxSize: 40 },
  'tracepoint/syscalls/sys_exit_execve': { progType: 'tracepoint', ctxSize: 24 },
  'tracepoint/syscalls/sys_enter_execveat': { progType: 'tracepoint', ctxSize: 56 },
  'tracepoint/syscalls/sys_exit_execveat': { progType: 'tracepoint', ctxSize: 24 },
  'tracepoint/syscalls/sys_enter_connect': { progType: 'tracepoint', ctxSize: 40 },
  'tracepoint/syscalls/sys_exit_connect': { progType: 'tracepoint', ctxSize: 24 },
  'tracepoint/raw_syscalls/sys_enter': { progType: 'tracepoint', ctxSize: 64 },
  // sched_process_exec/fork records end in their __data_loc strings; 20/24 bytes are the fixed part.
  'tracepoint/sched/sched_process_exec': { progType: 'tracepoint', ctxSize: 20 },
  'tracepoint/sched/sched_process_fork': { progType: 'tracepoint', ctxSize: 24 },
  'tracepoint/sched/sched_process_exit': { progType: 'tracepoint', ctxSize: 33 },
  'kprobe/__x64_sys_execve': { progType: 'kprobe', ctxSize: 168 },
  'kprobe/__x64_sys_connect': { progType: 'kprobe', ctxSize: 168 },
  socket_filter: { progType: 'socket_filter', ctxSize: 192 },
  xdp: { progType: 'xdp', ctxSize: 24 },
};

function emptyStats(): VerifyResult['stats'] {
  return { insnsProcessed: 0, states: 0, peakStates: 0, stackDepth: [] };
}

export function verify(insns: Uint8Array, opts: VerifyOptions): VerifyResult {
  try {
    if (!(insns instanceof Uint8Array)) return reject(0, 'program is not a byte array');
    if (insns.length % INSN_SIZE !== 0) return reject(0, `program length ${insns.length} is not a multiple of ${INSN_SIZE}`);
    if (insns.length === 0) return reject(0, 'empty program');
    const decoded = decode(insns);
    const st = checkStructure(decoded, opts.maps.length);
    if (isError(st)) return reject(st.insn, st.message);
    return doCheck(decoded, st, opts);
  } catch (e) {
    // A bug in the verifier must never accept a program nor escape as an exception.
    const msg = e instanceof Error ? e.message : String(e);
    return reject(0, `internal verifier error: ${msg}`);
  }
}

function reject(insn: number, message: string): VerifyResult {
  return { ok: false, error: { insn, message }, log: `${message}\n`, stats: emptyStats() };
}
