// The contract between the execution engines (interpreter, JIT), the helpers, the maps and the
// simulated kernel. Kept in one place so each side can be built and tested on its own.
//
// Helper-call ABI (the same for interpreter and JIT): before `call N` the engine stores r1..r5 as
// five little-endian u64 at HELPER_ARGS in the shared memory, calls `helpers[N](rt)`, then loads
// r0 from HELPER_RET. Helpers never see engine registers directly. `tail_call` (12) and `loop`
// (181) change control flow, so the engines implement those two themselves.

import { HELPER_ARGS, HELPER_RET, type VmMemory } from './memory.js';
import type { MapDef } from './maps/types.js';

/** What helpers may ask about "the current task" (the process the hook fired for). */
export interface TaskInfo {
  pid: number; // thread id
  tgid: number; // process id
  uid: number;
  gid: number;
  comm: string; // at most 15 bytes are visible, as in the kernel
  cgroupId: bigint;
  /** Opaque task_struct address for get_current_task (a scalar; never dereferenceable). */
  taskAddr: bigint;
}

/** The world a program runs in: the simulated kernel supplies one; tests use a double. */
export interface ExecEnv {
  /** The task the current hook firing belongs to, or undefined (helpers then return 0). */
  currentTask(): TaskInfo | undefined;
  /**
   * Read `len` bytes of the current task's user memory at `addr` (a 64-bit address as BigInt-free
   * pair: low and high 32 bits). Returns undefined when any byte is unmapped (→ -EFAULT).
   */
  readUser(addrLo: number, addrHi: number, len: number): Uint8Array | undefined;
  /**
   * Optional allocation-free readUser: copy `len` bytes to dst[dstOff..]; false (dst untouched)
   * when any byte is unmapped. The helpers use it when the environment has it.
   */
  readUserInto?(dst: Uint8Array, dstOff: number, addrLo: number, addrHi: number, len: number): boolean;
  /** Like readUser but stops after the first NUL (inclusive); at most `max` bytes. */
  readUserStr(addrLo: number, addrHi: number, max: number): Uint8Array | undefined;
  ktimeNs(): bigint;
  bootNs(): bigint;
  /** A line for trace_pipe (already formatted text, without the task/pid/time prefix). */
  tracePrintk(text: string): void;
  /** bpf_send_signal on the current task; returns 0 or a negative errno. */
  sendSignal(sig: number): number;
  /** bpf_override_return from a kprobe program; returns 0 or a negative errno. */
  overrideReturn(rc: bigint): number;
  /** Random u32 (deterministic under a seeded env). */
  prandomU32(): number;
}

/** A map as the engines and helpers see it. Implementations live in ./maps. */
export interface BpfMap {
  readonly def: MapDef;
  /** The value a `lddw rX, map` loads: an address in the shared memory with no region behind it. */
  readonly handle: number;
  /** Program-side lookup: address of the value for the key bytes at `keyAddr`, or 0 (NULL). */
  lookupAddr(keyAddr: number, cpu: number): number;
  /** Program-side update from memory; returns 0 or a negative errno. */
  updateAddr(keyAddr: number, valueAddr: number, flags: number, cpu: number): number;
  /** Program-side delete; returns 0 or a negative errno. */
  deleteAddr(keyAddr: number, cpu: number): number;
}

export type HelperImpl = (rt: Runtime) => void;

/** Everything one program run needs besides its own code. */
export interface Runtime {
  mem: VmMemory;
  /** Map by handle address (what lddw src=1 resolved to). */
  mapByHandle(handle: number): BpfMap | undefined;
  env: ExecEnv;
  /** Simulated CPU this run is on (percpu maps, get_smp_processor_id). */
  cpu: number;
  /** Indexed by helper id. */
  helpers: readonly (HelperImpl | undefined)[];
  /** Program type name of the running program ("tracepoint", "kprobe", "socket_filter", ...). */
  progType: string;
  /** Context address and size of the current run (for perf_event_output and tail calls). */
  ctxAddr: number;
  ctxSize: number;
}

/** Low 32 bits of argument i (1..5) as an unsigned number. */
export function argLo(mem: VmMemory, i: number): number {
  return mem.u32[(HELPER_ARGS + (i - 1) * 8) >>> 2];
}

/** High 32 bits of argument i (1..5) as an unsigned number. */
export function argHi(mem: VmMemory, i: number): number {
  return mem.u32[(HELPER_ARGS + (i - 1) * 8 + 4) >>> 2];
}

/** Argument i as a signed 64-bit BigInt (cold paths only). */
export function argBig(mem: VmMemory, i: number): bigint {
  return mem.dv.getBigInt64(HELPER_ARGS + (i - 1) * 8, true);
}

/**
 * Argument i as an address usable with the memory views, or -1 if its high half is non-zero
 * (no valid address in the shared memory has one).
 */
export function argAddr(mem: VmMemory, i: number): number {
  return argHi(mem, i) === 0 ? argLo(mem, i) : -1;
}

/** Set r0 from 32-bit halves. */
export function setRet(mem: VmMemory, lo: number, hi: number): void {
  mem.u32[HELPER_RET >>> 2] = lo >>> 0;
  mem.u32[(HELPER_RET + 4) >>> 2] = hi >>> 0;
}

/** Set r0 from a safe integer (negative values are sign-extended: -EFAULT works). */
export function setRetNum(mem: VmMemory, n: number): void {
  const lo = n >>> 0;
  const hi = n < 0 ? Math.floor(n / 4294967296) >>> 0 : Math.floor(n / 4294967296);
  setRet(mem, lo, hi);
}

/** Set r0 from a BigInt (cold paths only). */
export function setRetBig(mem: VmMemory, v: bigint): void {
  mem.dv.setBigUint64(HELPER_RET, BigInt.asUintN(64, v), true);
}

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const E2BIG = 7;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENOSPC = 28;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EOPNOTSUPP = 95;
export const ENOTSUPP = 524;
