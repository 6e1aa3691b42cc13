/* execsnoop: report every execve with pid, ppid-free process info, comm and filename through a
 * ring buffer, like bcc/libbpf-tools' execsnoop. Global data: a read-only uid filter in .rodata
 * and a counter in .bss. */
#include "kestrel_bpf.h"

#define FILENAME_LEN 128

struct event {
  u32 pid;
  u32 tid;
  u32 uid;
  s32 ret;
  char comm[16];
  char filename[FILENAME_LEN];
};

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} events SEC(".maps");

KESTREL_RECORD(events, struct event);

/* Set before load to report only one user; (u32)-1 reports everyone. */
const volatile u32 target_uid = (u32)-1;
/* Executions seen, readable from userspace as the .bss map. */
u64 exec_count = 0;

SEC("tracepoint/syscalls/sys_enter_execve")
int handle_execve(struct sys_enter_execve_args *ctx)
{
  u64 uid_gid = bpf_get_current_uid_gid();
  u32 uid = (u32)uid_gid;
  if (target_uid != (u32)-1 && uid != target_uid)
    return 0;
  __sync_fetch_and_add(&exec_count, 1);

  struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e)
    return 0;
  u64 pid_tgid = bpf_get_current_pid_tgid();
  e->pid = pid_tgid >> 32;
  e->tid = (u32)pid_tgid;
  e->uid = uid;
  e->ret = 0;
  bpf_get_current_comm(e->comm, sizeof(e->comm));
  bpf_probe_read_user_str(e->filename, sizeof(e->filename), ctx->filename);
  bpf_ringbuf_submit(e, 0);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
