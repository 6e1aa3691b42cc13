/* pathstat: a bounded loop and a local (non-inlined) function. For each execve it copies the
 * filename, hashes it with FNV-1a in a subprogram, counts its '/' separators in a bounded loop,
 * and keeps the totals in an array map. */
#include "kestrel_bpf.h"

#define MAX_PATH 64

struct path_stats {
  u64 execs;
  u64 slashes;
  u64 last_hash;
  u32 last_depth;
  u32 max_depth;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, struct path_stats);
} stats SEC(".maps");

/* FNV-1a over at most MAX_PATH bytes, stopping at the NUL: a real bpf-to-bpf call. */
static __noinline u64 fnv1a(const char *s, u32 len)
{
  u64 h = 14695981039346656037ULL;
  for (u32 i = 0; i < MAX_PATH; i++) {
    if (i >= len || s[i] == 0)
      break;
    h ^= (u8)s[i];
    h *= 1099511628211ULL;
  }
  return h;
}

/* Counts '/' without a branch per byte (x - 1 underflows only when c == '/'), so a verifier
 * sees one path per iteration instead of two. */
static __noinline u32 depth(const char *s)
{
  u32 n = 0;
  for (int i = 0; i < MAX_PATH; i++) {
    u32 c = (u8)s[i];
    if (c == 0)
      break;
    u32 x = c ^ '/';
    n += (x - 1) >> 31;
  }
  return n;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int path_stats(struct sys_enter_execve_args *ctx)
{
  char buf[MAX_PATH] = {};
  long n = bpf_probe_read_user_str(buf, sizeof(buf), ctx->filename);
  if (n <= 0)
    return 0;
  u32 key = 0;
  struct path_stats *st = bpf_map_lookup_elem(&stats, &key);
  if (!st)
    return 0;
  u32 d = depth(buf);
  st->execs++;
  st->slashes += d;
  st->last_depth = d;
  if (d > st->max_depth)
    st->max_depth = d;
  st->last_hash = fnv1a(buf, (u32)n);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
