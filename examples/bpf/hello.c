/* hello: bpf_printk on every execve and connect, as trace_pipe shows it. */
#include "kestrel_bpf.h"

SEC("tracepoint/syscalls/sys_enter_execve")
int hello_exec(struct sys_enter_execve_args *ctx)
{
  u64 pid_tgid = bpf_get_current_pid_tgid();
  char comm[16];
  bpf_get_current_comm(comm, sizeof(comm));
  bpf_printk("exec pid=%d comm=%s", (u32)(pid_tgid >> 32), comm);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int hello_connect(struct sys_enter_connect_args *ctx)
{
  u64 uid_gid = bpf_get_current_uid_gid();
  bpf_printk("connect fd=%d uid=%u gid=%u len=%d", (int)ctx->fd, (u32)uid_gid, (u32)(uid_gid >> 32),
             (int)ctx->addrlen);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
