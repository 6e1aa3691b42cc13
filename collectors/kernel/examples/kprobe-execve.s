# kprobe/__x64_sys_execve: the syscall arguments live in the user pt_regs whose address is the
# probe's own regs->di (ARCH_HAS_SYSCALL_WRAPPER); read filename = user_regs->di, then the string.
.map events ringbuf key=0 value=0 entries=4096
  ldxdw r3, [r1+112]       # ctx->di = struct pt_regs *regs
  add r3, 112              # &regs->di
  mov r1, r10
  add r1, -8
  mov r2, 8
  call 113                 # bpf_probe_read_kernel(&filename, 8, &regs->di)
  jne r0, 0, out
  ldxdw r3, [r10-8]
  mov r1, r10
  add r1, -72
  mov r2, 64
  call 114                 # bpf_probe_read_user_str
  jsle r0, 0, out
  lddw r1, map:events
  mov r2, r10
  add r2, -72
  mov r3, 16
  mov r4, 0
  call 130
out:
  mov r0, 0
  exit
