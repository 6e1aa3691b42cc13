/* counts: per-command exec counts and per-port connect counts in hash maps; two programs in one
 * object sharing nothing but the license. */
#include "kestrel_bpf.h"

struct comm_key {
  char comm[16];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct comm_key);
  __type(value, u64);
} exec_counts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __uint(key_size, sizeof(u32));
  __uint(value_size, sizeof(u64));
} port_counts SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int count_exec(void *ctx)
{
  struct comm_key key = {};
  bpf_get_current_comm(key.comm, sizeof(key.comm));
  u64 *val = bpf_map_lookup_elem(&exec_counts, &key);
  if (val) {
    __sync_fetch_and_add(val, 1);
  } else {
    u64 one = 1;
    bpf_map_update_elem(&exec_counts, &key, &one, BPF_NOEXIST);
  }
  return 0;
}

/* Count one connect in every `sample_every` (initialised data: .data); set before load. */
u32 sample_every = 1;
u32 connects_seen = 0;

SEC("tracepoint/syscalls/sys_enter_connect")
int count_connect(struct sys_enter_connect_args *ctx)
{
  if (__sync_fetch_and_add(&connects_seen, 1) % sample_every != 0)
    return 0;
  struct sockaddr_in sa = {};
  if (bpf_probe_read_user(&sa, sizeof(sa), ctx->uservaddr) < 0)
    return 0;
  if (sa.sin_family != AF_INET && sa.sin_family != AF_INET6)
    return 0;
  u32 port = kb_ntohs(sa.sin_port);
  u64 *val = bpf_map_lookup_elem(&port_counts, &port);
  if (val) {
    __sync_fetch_and_add(val, 1);
  } else {
    u64 one = 1;
    bpf_map_update_elem(&port_counts, &port, &one, BPF_ANY);
  }
  return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
