# tracepoint/syscalls/sys_enter_execve: copy the filename execve was given into a ring buffer.
# ctx: struct { u64 common; int __syscall_nr; const char *filename @16; argv @24; envp @32 }
.map events ringbuf key=0 value=0 entries=4096
  mov r6, r1
  ldxdw r3, [r6+16]        # filename (a user pointer)
  mov r1, r10
  add r1, -128
  mov r2, 128
  call 114                 # bpf_probe_read_user_str(buf, 128, filename)
  jsle r0, 0, out
  mov r3, r0               # bytes copied, NUL included
  jgt r3, 128, out
  lddw r1, map:events
  mov r2, r10
  add r2, -128
  mov r4, 0
  call 130                 # bpf_ringbuf_output(&events, buf, len, 0)
out:
  mov r0, 0
  exit
