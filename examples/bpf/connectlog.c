/* connectlog: log every connect() with the destination decoded from the user's sockaddr
 * (IPv4 and IPv6), like libbpf-tools' tcpconnect but on the syscall tracepoint. */
#include "kestrel_bpf.h"

struct conn_event {
  u32 pid;
  u32 uid;
  u16 family;
  u16 dport;
  u32 daddr4;
  u8 daddr6[16];
  char comm[16];
};

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 64 * 1024);
} conns SEC(".maps");

KESTREL_RECORD(conns, struct conn_event);

SEC("tracepoint/syscalls/sys_enter_connect")
int log_connect(struct sys_enter_connect_args *ctx)
{
  u16 family = 0;
  if (bpf_probe_read_user(&family, sizeof(family), ctx->uservaddr) < 0)
    return 0;
  if (family != AF_INET && family != AF_INET6)
    return 0;

  struct conn_event *e = bpf_ringbuf_reserve(&conns, sizeof(*e), 0);
  if (!e)
    return 0;
  __builtin_memset(e, 0, sizeof(*e));
  e->pid = bpf_get_current_pid_tgid() >> 32;
  e->uid = (u32)bpf_get_current_uid_gid();
  e->family = family;
  bpf_get_current_comm(e->comm, sizeof(e->comm));
  if (family == AF_INET) {
    struct sockaddr_in sa = {};
    bpf_probe_read_user(&sa, sizeof(sa), ctx->uservaddr);
    e->dport = kb_ntohs(sa.sin_port);
    e->daddr4 = sa.sin_addr;
  } else {
    struct sockaddr_in6 sa6 = {};
    bpf_probe_read_user(&sa6, sizeof(sa6), ctx->uservaddr);
    e->dport = kb_ntohs(sa6.sin6_port);
    __builtin_memcpy(e->daddr6, sa6.sin6_addr, 16);
  }
  bpf_ringbuf_submit(e, 0);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
