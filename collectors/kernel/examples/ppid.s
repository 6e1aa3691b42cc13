# tracepoint/syscalls/sys_exit_execve: look the current process up in the kernel's process cache
# (kestrel_procs, struct kestrel_proc, docs/collectors.md) and send its ppid.
.map kestrel_procs hash key=4 value=1632 entries=16384
.map events ringbuf key=0 value=0 entries=4096
  call 14                  # bpf_get_current_pid_tgid
  rsh r0, 32               # tgid
  stxw [r10-4], r0
  lddw r1, map:kestrel_procs
  mov r2, r10
  add r2, -4
  call 1                   # bpf_map_lookup_elem
  jeq r0, 0, out
  ldxw r7, [r0+8]          # ppid
  stxw [r10-8], r7
  lddw r1, map:events
  mov r2, r10
  add r2, -8
  mov r3, 4
  mov r4, 0
  call 130
out:
  mov r0, 0
  exit
