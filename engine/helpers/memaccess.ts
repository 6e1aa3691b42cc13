// Memory access rules shared by the helpers: what "kernel memory" a helper may read (the shared
// memory, only where program regions allow it, possibly spanning adjacent regions) and bounded
// string copies from kernel or user memory.

import { RESERVED_LOW, GRANULE_SHIFT, type VmMemory } from '../memory.js';
import type { ExecEnv } from '../runtime.js';

/** Whether [addr, addr+len) is covered by live regions (any kind, readable). */
export function kernelReadable(mem: VmMemory, addr: number, len: number): boolean {
  if (len === 0) return true;
  if (addr < RESERVED_LOW || addr + len > mem.byteLength) return false;
  const end = addr + len;
  let pos = addr;
  while (pos < end) {
    const id = mem.owner[pos >>> GRANULE_SHIFT];
    if (id === 0) return false;
    const rEnd = mem.regionEnd[id];
    if (pos >= rEnd || pos < mem.regionStart[id]) return false;
    pos = rEnd;
  }
  return true;
}

/**
 * strncpy_from_kernel_nofault semantics without the copy: bytes of a NUL-terminated string at
 * addr, at most `max` bytes including the NUL. Returns the string bytes WITHOUT the NUL and
 * whether a NUL was found within max, or undefined if a byte before the end was unreadable.
 */
export function kernelString(mem: VmMemory, addr: number, max: number): { bytes: Uint8Array; terminated: boolean } | undefined {
  const u8 = mem.u8;
  let i = 0;
  while (i < max) {
    if (!kernelReadable(mem, addr + i, 1)) return undefined;
    if (u8[addr + i] === 0) return { bytes: u8.slice(addr, addr + i), terminated: true };
    i++;
  }
  return { bytes: u8.slice(addr, addr + max), terminated: false };
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
