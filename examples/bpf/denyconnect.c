/* denyconnect: enforcement from C. A kprobe on the connect syscall's wrapper reads the user's
 * registers, then the sockaddr, and makes connect() fail with EPERM when the destination port is
 * the blocked one (bpf_override_return, as Tetragon's Override action does). */
#include "kestrel_bpf.h"

#define EPERM 1

/* Patched before load to block another port. */
const volatile u16 blocked_port = 4444;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, u64);
} denied SEC(".maps");

SEC("kprobe/__x64_sys_connect")
int deny_connect(struct pt_regs *ctx)
{
  struct pt_regs *regs = (struct pt_regs *)ctx->di;
  void *uaddr = NULL;
  if (bpf_probe_read_kernel(&uaddr, sizeof(uaddr), &regs->si) < 0)
    return 0;
  struct sockaddr_in sa = {};
  if (bpf_probe_read_user(&sa, sizeof(sa), uaddr) < 0)
    return 0;
  if (sa.sin_family != AF_INET && sa.sin_family != AF_INET6)
    return 0;
  u16 port = kb_ntohs(sa.sin_port);
  if (port != blocked_port)
    return 0;
  u32 key = 0;
  u64 *n = bpf_map_lookup_elem(&denied, &key);
  if (n)
    __sync_fetch_and_add(n, 1);
  bpf_printk("denied connect to port %d", port);
  bpf_override_return(ctx, -EPERM);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
