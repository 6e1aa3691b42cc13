/* portdigits: bpf_loop with a callback (a function address relocated as BPF_PSEUDO_FUNC), two
 * programs in one section, and a string literal passed straight to bpf_trace_printk (which
 * clang places in .rodata.str1.1). */
#include "kestrel_bpf.h"

struct digit_ctx {
  u32 port;
  u32 sum;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __type(key, u32);
  __type(value, u64);
} loop_out SEC(".maps");

static long add_digit(u32 i, void *data)
{
  struct digit_ctx *c = data;
  if (c->port == 0)
    return 1;
  c->sum += c->port % 10;
  c->port /= 10;
  return 0;
}

static __always_inline int read_port(struct sys_enter_connect_args *ctx, u32 *port)
{
  struct sockaddr_in sa = {};
  if (bpf_probe_read_user(&sa, sizeof(sa), ctx->uservaddr) < 0)
    return -1;
  *port = kb_ntohs(sa.sin_port);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int digit_sum(struct sys_enter_connect_args *ctx)
{
  u32 port = 0;
  if (read_port(ctx, &port) < 0)
    return 0;
  struct digit_ctx c = {port, 0};
  long n = bpf_loop(8, add_digit, &c, 0);
  u32 k0 = 0, k1 = 1;
  u64 sum = c.sum, iters = (u64)n;
  bpf_map_update_elem(&loop_out, &k0, &sum, BPF_ANY);
  bpf_map_update_elem(&loop_out, &k1, &iters, BPF_ANY);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int say_port(struct sys_enter_connect_args *ctx)
{
  u32 port = 0;
  if (read_port(ctx, &port) < 0)
    return 0;
  const char *fmt = "connect to port %u";
  bpf_trace_printk(fmt, 19, port);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
