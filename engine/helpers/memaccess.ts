// Memory access rules shared by the helpers: what "kernel memory" a helper may read (the shared
// memory, only where program regions allow it, possibly spanning adjacent regions) and bounded
// string copies from kernel or user memory.

import type { VmMemory } from '../memory.js';
import type { ExecEnv } from '../runtime.js';

/**
 * Whether a helper may read [addr, addr+len) as kernel memory: it must lie inside one live region
 * (any kind), exactly as a program load would have to, so what a read returns never depends on
 * how the allocator happened to place neighbouring regions.
 */
export function kernelReadable(mem: VmMemory, addr: number, len: number): boolean {
  if (len === 0) return true;
  return mem.canAccess(addr, len, false);
}

/**
 * strncpy_from_kernel_nofault semantics without the copy: the bytes of a NUL-terminated string at
 * addr, at most `max` bytes including the NUL, within addr's region. Returns the bytes WITHOUT the
 * NUL and whether a NUL was found, or undefined if the region ended first (or there is none).
 */
export function kernelString(mem: VmMemory, addr: number, max: number): { bytes: Uint8Array; terminated: boolean } | undefined {
  if (!mem.canAccess(addr, 1, false)) return undefined;
  const end = Math.min(mem.regionEnd[mem.regionAt(addr)], addr + max);
  const u8 = mem.u8;
  for (let i = addr; i < end; i++) if (u8[i] === 0) return { bytes: u8.slice(addr, i), terminated: true };
  if (end - addr < max) return undefined;
  return { bytes: u8.slice(addr, addr + max), terminated: false };
}

/** Copy `len` bytes of the current task's user memory to u8[dst..]; false when any is unmapped. */
export function copyFromUser(env: ExecEnv, u8: Uint8Array, dst: number, lo: number, hi: number, len: number): boolean {
  if (env.readUserInto !== undefined) return env.readUserInto(u8, dst, lo, hi, len);
  const got = env.readUser(lo, hi, len);
  if (got === undefined || got.length < len) return false;
  u8.set(got.length === len ? got : got.subarray(0, len), dst);
  return true;
}

/** The same for user memory through the ExecEnv. */
export function userString(env: ExecEnv, lo: number, hi: number, max: number): { bytes: Uint8Array; terminated: boolean } | undefined {
  if (max <= 0) return { bytes: new Uint8Array(0), terminated: false };
  const got = env.readUserStr(lo, hi, max);
  if (got === undefined) return undefined;
  const nul = got.indexOf(0);
  if (nul >= 0) return { bytes: got.slice(0, nul), terminated: true };
  return { bytes: got.slice(0, Math.min(got.length, max)), terminated: false };
}

/**
 * Where an "unsafe" pointer of the compat helpers (probe_read, %s) points: the shared memory when a
 * region covers it, otherwise the current task's user memory (on x86 Linux decides by
 * TASK_SIZE; here kernel memory is exactly the regions of the shared memory).
 */
export function isKernelAddr(mem: VmMemory, lo: number, hi: number): boolean {
  return hi === 0 && kernelReadable(mem, lo, 1);
}
