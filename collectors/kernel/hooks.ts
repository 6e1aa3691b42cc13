// The hooks the simulated kernel offers, with their program types and context sizes.

export const HOOK_NAMES = [
  'tracepoint/syscalls/sys_enter_execve',
  'tracepoint/syscalls/sys_exit_execve',
  'tracepoint/syscalls/sys_enter_execveat',
  'tracepoint/syscalls/sys_enter_connect',
  'tracepoint/syscalls/sys_exit_connect',
  'tracepoint/sched/sched_process_exec',
  'tracepoint/sched/sched_process_fork',
  'tracepoint/sched/sched_process_exit',
  'kprobe/__x64_sys_execve',
  'kprobe/__x64_sys_connect',
] as const;

export type HookName = (typeof HOOK_NAMES)[number];

export interface HookInfo {
  progType: 'tracepoint' | 'kprobe';
  /** Fixed record size, or the fixed part for records with __data_loc strings. */
  ctxSize: number;
  /** Whether the record's size varies (sched_process_exec/fork carry strings). */
  variable: boolean;
  /** Fires before the syscall does its work: a SIGKILL here stops the syscall. */
  enter: boolean;
}

export const HOOKS: Readonly<Record<HookName, HookInfo>> = {
  'tracepoint/syscalls/sys_enter_execve': { progType: 'tracepoint', ctxSize: 40, variable: false, enter: true },
  'tracepoint/syscalls/sys_exit_execve': { progType: 'tracepoint', ctxSize: 24, variable: false, enter: false },
  'tracepoint/syscalls/sys_enter_execveat': { progType: 'tracepoint', ctxSize: 56, variable: false, enter: true },
  'tracepoint/syscalls/sys_enter_connect': { progType: 'tracepoint', ctxSize: 40, variable: false, enter: true },
  'tracepoint/syscalls/sys_exit_connect': { progType: 'tracepoint', ctxSize: 24, variable: false, enter: false },
  'tracepoint/sched/sched_process_exec': { progType: 'tracepoint', ctxSize: 20, variable: true, enter: false },
  'tracepoint/sched/sched_process_fork': { progType: 'tracepoint', ctxSize: 24, variable: true, enter: false },
  'tracepoint/sched/sched_process_exit': { progType: 'tracepoint', ctxSize: 33, variable: false, enter: false },
  'kprobe/__x64_sys_execve': { progType: 'kprobe', ctxSize: 168, variable: false, enter: true },
  'kprobe/__x64_sys_connect': { progType: 'kprobe', ctxSize: 168, variable: false, enter: true },
};

/** Accepts `tracepoint/…`, `tp/…`, `kprobe/…` and the bare `syscalls/sys_enter_execve` form. */
export function hookByName(name: string): HookName | undefined {
  let n = name.trim();
  if (n.startsWith('tp/')) n = `tracepoint/${n.slice(3)}`;
  if (/^(syscalls|sched)\//.test(n)) n = `tracepoint/${n}`;
  return (HOOK_NAMES as readonly string[]).includes(n) ? (n as HookName) : undefined;
}
