// SEC() names → program type and attach point, following libbpf's section conventions. The
// simulated kernel has the syscall/sched tracepoints of SPEC §3 and two syscall kprobes; any
// other attach point is reported as unsupported (the program still parses and can be verified).

export interface AttachInfo {
  /** Program type as the verifier and runtime name it. */
  progType: 'tracepoint' | 'kprobe' | 'socket_filter' | 'xdp' | 'unknown';
  /** Hook name in the simulated kernel (`tracepoint/syscalls/sys_enter_execve`), if any. */
  hook?: string;
  /** Why the program cannot be attached here, when it cannot. */
  unsupported?: string;
}

/** Hooks the simulated kernel offers (SPEC §3) with their context sizes. */
export const KNOWN_HOOKS: Readonly<Record<string, { progType: 'tracepoint' | 'kprobe'; ctxSize: number }>> = {
  'tracepoint/syscalls/sys_enter_execve': { progType: 'tracepoint', ctxSize: 40 },
  'tracepoint/syscalls/sys_exit_execve': { progType: 'tracepoint', ctxSize: 24 },
  'tracepoint/syscalls/sys_enter_execveat': { progType: 'tracepoint', ctxSize: 56 },
  'tracepoint/syscalls/sys_enter_connect': { progType: 'tracepoint', ctxSize: 40 },
  'tracepoint/syscalls/sys_exit_connect': { progType: 'tracepoint', ctxSize: 24 },
  'tracepoint/sched/sched_process_exec': { progType: 'tracepoint', ctxSize: 20 },
  'tracepoint/sched/sched_process_fork': { progType: 'tracepoint', ctxSize: 24 },
  'tracepoint/sched/sched_process_exit': { progType: 'tracepoint', ctxSize: 33 },
  'kprobe/__x64_sys_execve': { progType: 'kprobe', ctxSize: 168 },
  'kprobe/__x64_sys_connect': { progType: 'kprobe', ctxSize: 168 },
};

const UNSUPPORTED_PREFIXES: readonly [string, string][] = [
  ['kretprobe/', 'kretprobe'],
  ['uprobe', 'uprobe'],
  ['uretprobe', 'uretprobe'],
  ['usdt', 'USDT probe'],
  ['raw_tracepoint', 'raw tracepoint'],
  ['raw_tp', 'raw tracepoint'],
  ['tp_btf/', 'BTF tracepoint'],
  ['fentry/', 'fentry'],
  ['fexit/', 'fexit'],
  ['fmod_ret/', 'fmod_ret'],
  ['lsm/', 'LSM'],
  ['iter/', 'iterator'],
  ['struct_ops', 'struct_ops'],
  ['cgroup', 'cgroup'],
  ['sockops', 'sock_ops'],
  ['sk_', 'socket'],
  ['tc', 'traffic control'],
  ['classifier', 'traffic control'],
  ['action', 'traffic control'],
  ['perf_event', 'perf event'],
  ['ksyscall/', 'ksyscall'],
  ['kretsyscall/', 'kretsyscall'],
  ['syscall', 'BPF syscall program'],
  ['lwt_', 'lightweight tunnel'],
  ['flow_dissector', 'flow dissector'],
  ['netfilter', 'netfilter'],
];

export function attachInfo(sec: string): AttachInfo {
  const tp = /^(?:tracepoint|tp)\/([^/]+)\/([^/]+)$/.exec(sec);
  if (tp !== null) {
    const hook = `tracepoint/${tp[1]}/${tp[2]}`;
    if (KNOWN_HOOKS[hook] !== undefined) return { progType: 'tracepoint', hook };
    return { progType: 'tracepoint', hook, unsupported: `tracepoint ${tp[1]}:${tp[2]} is not a hook of the simulated kernel` };
  }
  const kp = /^kprobe\/(.+)$/.exec(sec);
  if (kp !== null) {
    const hook = `kprobe/${kp[1]}`;
    if (KNOWN_HOOKS[hook] !== undefined) return { progType: 'kprobe', hook };
    return { progType: 'kprobe', hook, unsupported: `kprobe on '${kp[1]}' is not supported (only __x64_sys_execve and __x64_sys_connect)` };
  }
  if (sec === 'socket' || sec.startsWith('socket/')) {
    return { progType: 'socket_filter', unsupported: 'socket filters cannot be attached to the simulated kernel (run them with kestrel prog run)' };
  }
  if (sec === 'xdp' || sec.startsWith('xdp/') || sec.startsWith('xdp.')) {
    return { progType: 'xdp', unsupported: 'XDP programs cannot be attached to the simulated kernel' };
  }
  for (const [pfx, what] of UNSUPPORTED_PREFIXES) {
    if (sec.startsWith(pfx)) return { progType: 'unknown', unsupported: `${what} programs ('${sec}') are not supported` };
  }
  return { progType: 'unknown', unsupported: `unknown section '${sec}': cannot tell the program type` };
}
