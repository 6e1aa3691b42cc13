// Hook context records, written byte for byte as Linux lays them out (see layouts.ts). Each
// writer fills `size` bytes at `base` in the given views (the engine's shared memory in the
// kernel, a plain buffer in tests) and returns the record size.

import {
  DEFAULT_PRIO, KSYM_X64_SYS_CONNECT, KSYM_X64_SYS_EXECVE, PT_REGS, SCHED_PROCESS_EXEC, SCHED_PROCESS_EXIT,
  SCHED_PROCESS_FORK, SC_NR, SYSCALL_ARG_REGS, SYS_ENTER_CONNECT, SYS_ENTER_EXECVE, SYS_ENTER_EXECVEAT, SYS_EXIT,
  TASK_COMM_LEN, TP_COMMON_FLAGS, TP_COMMON_PID, TP_COMMON_PREEMPT_COUNT, TP_COMMON_TYPE, TRACEPOINT_IDS,
  USER_CS, USER_IP, USER_RFLAGS, USER_SS,
} from './layouts.js';
import { USER_STACK_TOP } from './user-memory.js';

export interface Views {
  u8: Uint8Array;
  dv: DataView;
}

const enc = new TextEncoder();

function header(v: Views, base: number, tp: string, pid: number): void {
  v.dv.setUint16(base + TP_COMMON_TYPE, TRACEPOINT_IDS[tp] ?? 0, true);
  v.u8[base + TP_COMMON_FLAGS] = 0;
  v.u8[base + TP_COMMON_PREEMPT_COUNT] = 0;
  v.dv.setInt32(base + TP_COMMON_PID, pid, true);
}

const TWO32 = 4294967296;

/** A user pointer (JS number < 2^53) or a sign-extended long into an 8-byte slot, without BigInt. */
function slot(v: Views, at: number, value: number): void {
  const hi = Math.floor(value / TWO32);
  v.dv.setUint32(at, (value - hi * TWO32) >>> 0, true);
  v.dv.setUint32(at + 4, hi >>> 0, true);
}

/** A 64-bit constant given as its two halves. */
function slot2(v: Views, at: number, lo: number, hi: number): void {
  v.dv.setUint32(at, lo >>> 0, true);
  v.dv.setUint32(at + 4, hi >>> 0, true);
}

function halves(x: bigint): [number, number] {
  const u = BigInt.asUintN(64, x);
  return [Number(u & 0xffffffffn), Number(u >> 32n)];
}
const EXECVE_IP = halves(KSYM_X64_SYS_EXECVE);
const CONNECT_IP = halves(KSYM_X64_SYS_CONNECT);
const USER_IP_H = halves(USER_IP);

export function writeSysEnterExecve(v: Views, base: number, pid: number, filename: number, argv: number, envp: number): number {
  header(v, base, 'syscalls/sys_enter_execve', pid);
  v.dv.setInt32(base + SC_NR, 59, true);
  v.dv.setInt32(base + SC_NR + 4, 0, true); // padding up to the first 8-byte slot
  slot(v, base + SYS_ENTER_EXECVE.filename, filename);
  slot(v, base + SYS_ENTER_EXECVE.argv, argv);
  slot(v, base + SYS_ENTER_EXECVE.envp, envp);
  return SYS_ENTER_EXECVE.size;
}

export function writeSysEnterExecveat(
  v: Views, base: number, pid: number, fd: number, filename: number, argv: number, envp: number, flags: number,
): number {
  header(v, base, 'syscalls/sys_enter_execveat', pid);
  v.dv.setInt32(base + SC_NR, 322, true);
  v.dv.setInt32(base + SC_NR + 4, 0, true);
  slot(v, base + SYS_ENTER_EXECVEAT.fd, fd);
  slot(v, base + SYS_ENTER_EXECVEAT.filename, filename);
  slot(v, base + SYS_ENTER_EXECVEAT.argv, argv);
  slot(v, base + SYS_ENTER_EXECVEAT.envp, envp);
  slot(v, base + SYS_ENTER_EXECVEAT.flags, flags);
  return SYS_ENTER_EXECVEAT.size;
}

export function writeSysEnterConnect(v: Views, base: number, pid: number, fd: number, uservaddr: number, addrlen: number): number {
  header(v, base, 'syscalls/sys_enter_connect', pid);
  v.dv.setInt32(base + SC_NR, 42, true);
  v.dv.setInt32(base + SC_NR + 4, 0, true);
  slot(v, base + SYS_ENTER_CONNECT.fd, fd);
  slot(v, base + SYS_ENTER_CONNECT.uservaddr, uservaddr);
  slot(v, base + SYS_ENTER_CONNECT.addrlen, addrlen);
  return SYS_ENTER_CONNECT.size;
}

/** sys_exit_execve / sys_exit_execveat / sys_exit_connect. */
export function writeSysExit(v: Views, base: number, tp: string, nr: number, pid: number, ret: number): number {
  header(v, base, tp, pid);
  v.dv.setInt32(base + SC_NR, nr, true);
  v.dv.setInt32(base + SC_NR + 4, 0, true);
  slot(v, base + SYS_EXIT.ret, ret);
  return SYS_EXIT.size;
}

/** Put a NUL-terminated string at `at`; returns its __data_loc word (len << 16 | offset). */
function dataLoc(v: Views, base: number, at: number, bytes: Uint8Array): number {
  v.u8.set(bytes, base + at);
  v.u8[base + at + bytes.length] = 0;
  return (((bytes.length + 1) & 0xffff) << 16) | (at & 0xffff);
}

/** Size of a sched_process_exec record for this filename. */
export function sizeSchedProcessExec(filename: string): number {
  return SCHED_PROCESS_EXEC.fixed + pathBytes(filename).length + 1;
}

/** A path as the kernel holds it: at most PATH_MAX (4096) bytes with the NUL. */
function pathBytes(s: string): Uint8Array {
  const b = enc.encode(s);
  return b.length > 4095 ? b.subarray(0, 4095) : b;
}

export function writeSchedProcessExec(v: Views, base: number, pid: number, oldPid: number, filename: string): number {
  header(v, base, 'sched/sched_process_exec', pid);
  const f = pathBytes(filename);
  v.dv.setUint32(base + SCHED_PROCESS_EXEC.filename, dataLoc(v, base, SCHED_PROCESS_EXEC.fixed, f), true);
  v.dv.setInt32(base + SCHED_PROCESS_EXEC.pid, pid, true);
  v.dv.setInt32(base + SCHED_PROCESS_EXEC.oldPid, oldPid, true);
  return SCHED_PROCESS_EXEC.fixed + f.length + 1;
}

/** comm as the kernel holds it: at most 15 bytes. */
function commBytes(comm: string): Uint8Array {
  const b = enc.encode(comm);
  return b.length > TASK_COMM_LEN - 1 ? b.subarray(0, TASK_COMM_LEN - 1) : b;
}

export function sizeSchedProcessFork(parentComm: string, childComm: string): number {
  return SCHED_PROCESS_FORK.fixed + commBytes(parentComm).length + 1 + commBytes(childComm).length + 1;
}

/** Runs in the parent's context (common_pid = parent), as Linux fires it from copy_process. */
export function writeSchedProcessFork(
  v: Views, base: number, parentPid: number, parentComm: string, childPid: number, childComm: string,
): number {
  header(v, base, 'sched/sched_process_fork', parentPid);
  const pc = commBytes(parentComm);
  const cc = commBytes(childComm);
  const at1 = SCHED_PROCESS_FORK.fixed;
  const at2 = at1 + pc.length + 1;
  v.dv.setUint32(base + SCHED_PROCESS_FORK.parentComm, dataLoc(v, base, at1, pc), true);
  v.dv.setInt32(base + SCHED_PROCESS_FORK.parentPid, parentPid, true);
  v.dv.setUint32(base + SCHED_PROCESS_FORK.childComm, dataLoc(v, base, at2, cc), true);
  v.dv.setInt32(base + SCHED_PROCESS_FORK.childPid, childPid, true);
  return at2 + cc.length + 1;
}

export function writeSchedProcessExit(v: Views, base: number, pid: number, comm: string, groupDead = true): number {
  header(v, base, 'sched/sched_process_exit', pid);
  v.u8.fill(0, base + SCHED_PROCESS_EXIT.comm, base + SCHED_PROCESS_EXIT.comm + TASK_COMM_LEN);
  v.u8.set(commBytes(comm), base + SCHED_PROCESS_EXIT.comm);
  v.dv.setInt32(base + SCHED_PROCESS_EXIT.pid, pid, true);
  v.dv.setInt32(base + SCHED_PROCESS_EXIT.prio, DEFAULT_PRIO, true);
  v.u8[base + SCHED_PROCESS_EXIT.groupDead] = groupDead ? 1 : 0;
  return SCHED_PROCESS_EXIT.size;
}

/**
 * The kprobe context for `__x64_sys_<name>(const struct pt_regs *regs)` (ARCH_HAS_SYSCALL_WRAPPER):
 * the probe's own pt_regs (`outer`, the context) has `di` = address of the user pt_regs (`inner`)
 * the syscall entry saved, where the arguments are (rdi rsi rdx r10 r8 r9), as
 * PT_REGS_PARM1_CORE_SYSCALL reads them. Both are written; `inner` sits in kernel memory that
 * programs reach with bpf_probe_read_kernel.
 */
export function writeKprobeSyscall(
  v: Views, outer: number, inner: number, which: 'execve' | 'connect', nr: number, args: readonly number[],
): number {
  v.u8.fill(0, outer, outer + PT_REGS.size);
  v.u8.fill(0, inner, inner + PT_REGS.size);
  // User registers at syscall entry.
  for (let i = 0; i < args.length && i < SYSCALL_ARG_REGS.length; i++) slot(v, inner + SYSCALL_ARG_REGS[i], args[i]);
  slot(v, inner + PT_REGS.orig_ax, nr);
  slot(v, inner + PT_REGS.ax, -38); // -ENOSYS: what entry_SYSCALL_64 leaves in ax before dispatch
  slot2(v, inner + PT_REGS.cx, USER_IP_H[0], USER_IP_H[1]); // syscall stores the return rip in rcx ...
  slot(v, inner + PT_REGS.r11, USER_RFLAGS); // ... and rflags in r11
  slot2(v, inner + PT_REGS.ip, USER_IP_H[0], USER_IP_H[1]);
  slot(v, inner + PT_REGS.cs, USER_CS);
  slot(v, inner + PT_REGS.flags, USER_RFLAGS);
  slot(v, inner + PT_REGS.sp, USER_STACK_TOP - 0x1000);
  slot(v, inner + PT_REGS.ss, USER_SS);
  // The kprobe's registers at the wrapper's first instruction: rdi = regs pointer.
  slot(v, outer + PT_REGS.di, inner);
  const ip = which === 'execve' ? EXECVE_IP : CONNECT_IP;
  slot2(v, outer + PT_REGS.ip, ip[0], ip[1]);
  slot(v, outer + PT_REGS.cs, 0x10);
  slot(v, outer + PT_REGS.flags, 0x46);
  slot(v, outer + PT_REGS.sp, inner + PT_REGS.size + 8);
  slot(v, outer + PT_REGS.ss, 0x18);
  slot(v, outer + PT_REGS.orig_ax, -1);
  return PT_REGS.size;
}
