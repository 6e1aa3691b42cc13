# tracepoint/syscalls/sys_enter_connect: decode an IPv4 destination from the user sockaddr_in
# and send {u32 addr (network order), u32 port (host order)} to a ring buffer.
# ctx: struct { u64 common; int __syscall_nr; fd @16; struct sockaddr *uservaddr @24; addrlen @32 }
.map events ringbuf key=0 value=0 entries=4096
  mov r6, r1
  ldxdw r3, [r6+24]        # uservaddr
  mov r1, r10
  add r1, -16
  mov r2, 16
  call 112                 # bpf_probe_read_user(sa, 16, uservaddr)
  jne r0, 0, out
  ldxh r7, [r10-16]        # sin_family
  jne r7, 2, out           # AF_INET only
  ldxh r7, [r10-14]        # sin_port, network order
  be16 r7
  ldxw r8, [r10-12]        # sin_addr, network order
  stxw [r10-24], r8
  stxw [r10-20], r7
  lddw r1, map:events
  mov r2, r10
  add r2, -24
  mov r3, 8
  mov r4, 0
  call 130
out:
  mov r0, 0
  exit
