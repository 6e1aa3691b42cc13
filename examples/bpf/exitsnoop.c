/* exitsnoop: report process exits through a perf event array (the pre-ring-buffer way), on a
 * tracepoint named with libbpf's short "tp/" prefix. */
#include "kestrel_bpf.h"

struct exit_event {
  u32 pid;
  s32 prio;
  u64 ktime_ns;
  char comm[16];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
  __uint(key_size, sizeof(u32));
  __uint(value_size, sizeof(u32));
} exits SEC(".maps");

KESTREL_RECORD(exits, struct exit_event);

SEC("tp/sched/sched_process_exit")
int on_exit(struct sched_process_exit_args *ctx)
{
  struct exit_event e = {};
  e.pid = ctx->pid;
  e.prio = ctx->prio;
  e.ktime_ns = bpf_ktime_get_ns();
  __builtin_memcpy(e.comm, ctx->comm, sizeof(e.comm));
  bpf_perf_event_output(ctx, &exits, BPF_F_CURRENT_CPU, &e, sizeof(e));
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
