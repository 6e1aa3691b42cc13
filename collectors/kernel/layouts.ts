// Byte layouts the simulated kernel reproduces, as Linux (x86-64, 6.18) has them. Tracepoint
// formats come from tracefs `events/<cat>/<name>/format` (notes/ebpf.md §5); pt_regs from
// arch/x86/include/asm/ptrace.h; sockaddr layouts from offsetof on x86-64.

// ---- common tracepoint header (8 bytes; hidden from programs: reads below 8 are rejected) ----
export const TP_COMMON_TYPE = 0; // u16
export const TP_COMMON_FLAGS = 2; // u8
export const TP_COMMON_PREEMPT_COUNT = 3; // u8
export const TP_COMMON_PID = 4; // s32

// ---- syscalls (x86-64 numbers) ----
export const NR_CONNECT = 42;
export const NR_EXECVE = 59;
export const NR_EXECVEAT = 322;

/** AT_FDCWD: execveat's fd for "relative to the working directory". */
export const AT_FDCWD = -100;

// sys_enter_* / sys_exit_*: `int __syscall_nr @8`, arguments as 8-byte slots from 16.
export const SC_NR = 8;
export const SC_ARG0 = 16;
/** sys_exit_*: `long ret @16`. */
export const SC_RET = 16;

export const SYS_ENTER_EXECVE = { filename: 16, argv: 24, envp: 32, size: 40 } as const;
export const SYS_ENTER_EXECVEAT = { fd: 16, filename: 24, argv: 32, envp: 40, flags: 48, size: 56 } as const;
export const SYS_ENTER_CONNECT = { fd: 16, uservaddr: 24, addrlen: 32, size: 40 } as const;
export const SYS_EXIT = { ret: 16, size: 24 } as const;

// sched tracepoints.
export const SCHED_PROCESS_EXEC = { filename: 8, pid: 12, oldPid: 16, fixed: 20 } as const; // __data_loc filename
export const SCHED_PROCESS_FORK = { parentComm: 8, parentPid: 12, childComm: 16, childPid: 20, fixed: 24 } as const;
export const SCHED_PROCESS_EXIT = { comm: 8, pid: 24, prio: 28, groupDead: 32, size: 33 } as const;
export const TASK_COMM_LEN = 16;
/** A normal (SCHED_OTHER, nice 0) task's prio as sched_process_exit reports it. */
export const DEFAULT_PRIO = 120;

/**
 * common_type values. Linux assigns these at boot (they differ between kernels); Kestrel fixes
 * them so records are reproducible. Programs rarely read them (the header is hidden from BPF).
 */
export const TRACEPOINT_IDS: Readonly<Record<string, number>> = {
  'syscalls/sys_enter_execve': 737,
  'syscalls/sys_exit_execve': 736,
  'syscalls/sys_enter_execveat': 735,
  'syscalls/sys_exit_execveat': 734,
  'syscalls/sys_enter_connect': 1531,
  'syscalls/sys_exit_connect': 1530,
  'sched/sched_process_exec': 311,
  'sched/sched_process_fork': 312,
  'sched/sched_process_exit': 314,
};

// ---- struct pt_regs (x86-64), 21 × 8 = 168 bytes ----
export const PT_REGS = {
  r15: 0, r14: 8, r13: 16, r12: 24, bp: 32, bx: 40, r11: 48, r10: 56, r9: 64, r8: 72,
  ax: 80, cx: 88, dx: 96, si: 104, di: 112, orig_ax: 120, ip: 128, cs: 136, flags: 144, sp: 152, ss: 160,
  size: 168,
} as const;
/** Syscall arguments in the user pt_regs, in order (the x86-64 syscall ABI: rdi rsi rdx r10 r8 r9). */
export const SYSCALL_ARG_REGS = [PT_REGS.di, PT_REGS.si, PT_REGS.dx, PT_REGS.r10, PT_REGS.r8, PT_REGS.r9] as const;
/** Values a real syscall entry leaves in the user regs. */
export const USER_CS = 0x33;
export const USER_SS = 0x2b;
export const USER_RFLAGS = 0x246;
/** Fake kernel text addresses of the wrapped syscall functions (kprobe ip). */
export const KSYM_X64_SYS_EXECVE = 0xffffffff81a0_0000n;
export const KSYM_X64_SYS_CONNECT = 0xffffffff81b0_0000n;
/** Fake user instruction pointer (libc's syscall instruction). */
export const USER_IP = 0x7f3a_2b4c_5d6en;

// ---- socket addresses (x86-64); ports and addresses in network byte order ----
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCKADDR_IN = { family: 0, port: 2, addr: 4, zero: 8, size: 16 } as const;
export const SOCKADDR_IN6 = { family: 0, port: 2, flowinfo: 4, addr: 8, scopeId: 24, size: 28 } as const;
export const SOCKADDR_UN = { family: 0, path: 2, pathMax: 108, size: 110 } as const;

// ---- signals and errnos the kernel's enforcement uses ----
export const SIGKILL = 9;
export const EINTR = 4;
export const EACCES = 13;
