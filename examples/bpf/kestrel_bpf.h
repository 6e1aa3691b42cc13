/* kestrel_bpf.h: the few declarations a C eBPF program needs to build for Kestrel with
 * `clang -O2 -g -target bpf -mcpu=v3 -c prog.c`. Written for Kestrel (no libbpf headers needed);
 * the macros follow the conventions libbpf's loaders understand (SEC() names, BTF-defined maps
 * in ".maps", the "license" section), and helper ids are Linux's UAPI numbers.
 */
#ifndef KESTREL_BPF_H
#define KESTREL_BPF_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;

#ifndef NULL
#define NULL ((void *)0)
#endif

/* Place a function or variable in a named ELF section; the loader reads the attach point from it. */
#define SEC(name) __attribute__((section(name), used))
#define __always_inline inline __attribute__((always_inline))
#define __noinline __attribute__((noinline))

/* BTF-defined map members: the value is encoded in the type (an array's element count), the
 * types by pointer, so the compiler records them in BTF without allocating anything. */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) __typeof__(val) *name

/* Map types and flags (include/uapi/linux/bpf.h numbers). */
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PROG_ARRAY 3
#define BPF_MAP_TYPE_PERF_EVENT_ARRAY 4
#define BPF_MAP_TYPE_PERCPU_HASH 5
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_LRU_HASH 9
#define BPF_MAP_TYPE_LPM_TRIE 11
#define BPF_MAP_TYPE_RINGBUF 27

#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_EXIST 2
#define BPF_F_NO_PREALLOC 1
#define BPF_F_CURRENT_CPU 0xffffffffULL

/* Helpers: a pointer to a function whose "address" is the helper id, as the kernel ABI wants. */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static long (*bpf_trace_printk)(const char *fmt, u32 fmt_size, ...) = (void *)6;
static u32 (*bpf_get_prandom_u32)(void) = (void *)7;
static u32 (*bpf_get_smp_processor_id)(void) = (void *)8;
static u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static u64 (*bpf_get_current_uid_gid)(void) = (void *)15;
static long (*bpf_get_current_comm)(void *buf, u32 size_of_buf) = (void *)16;
static long (*bpf_perf_event_output)(void *ctx, void *map, u64 flags, void *data, u64 size) = (void *)25;
static long (*bpf_override_return)(void *regs, u64 rc) = (void *)58;
static u64 (*bpf_get_current_cgroup_id)(void) = (void *)80;
static long (*bpf_send_signal)(u32 sig) = (void *)109;
static long (*bpf_probe_read_user)(void *dst, u32 size, const void *unsafe_ptr) = (void *)112;
static long (*bpf_probe_read_kernel)(void *dst, u32 size, const void *unsafe_ptr) = (void *)113;
static long (*bpf_probe_read_user_str)(void *dst, u32 size, const void *unsafe_ptr) = (void *)114;
static long (*bpf_probe_read_kernel_str)(void *dst, u32 size, const void *unsafe_ptr) = (void *)115;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, u64 size, u64 flags) = (void *)130;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, u64 size, u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, u64 flags) = (void *)132;
static void (*bpf_ringbuf_discard)(void *data, u64 flags) = (void *)133;
static long (*bpf_trace_vprintk)(const char *fmt, u32 fmt_size, const void *data, u32 data_len) = (void *)177;
static long (*bpf_loop)(u32 nr_loops, void *callback_fn, void *callback_ctx, u64 flags) = (void *)181;

/* bpf_printk(fmt, args...): up to three arguments go through bpf_trace_printk; more are packed
 * into a u64 array for bpf_trace_vprintk, the way Linux's own macro does it. The format string
 * lives in .rodata (a read-only global), which the loader turns into a one-element array map. */
#define ___kb_nth(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, N, ...) N
#define ___kb_kind(...) ___kb_nth(__VA_ARGS__, v, v, v, v, v, v, s, s, s, s, s)
#define ___kb_cat(a, b) a##b
#define ___kb_pick(kind) ___kb_cat(___kb_printk_, kind)
#define ___kb_printk_s(fmt, ...)                                        \
  ({                                                                    \
    static const char ____fmt[] = fmt;                                  \
    bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__);          \
  })
#define ___kb_printk_v(fmt, ...)                                        \
  ({                                                                    \
    static const char ____fmt[] = fmt;                                  \
    u64 ____args[] = {__VA_ARGS__};                                     \
    bpf_trace_vprintk(____fmt, sizeof(____fmt), ____args, sizeof(____args)); \
  })
#define bpf_printk(fmt, ...) ___kb_pick(___kb_kind(fmt, ##__VA_ARGS__))(fmt, ##__VA_ARGS__)

/* Name the record type a ring buffer or perf buffer carries, so `kestrel prog load` can decode
 * its records with BTF: KESTREL_RECORD(events, struct event). It emits an unused, zero-sized
 * pointer variable whose BTF type names the struct; nothing is allocated at run time. */
#define KESTREL_RECORD(map, type) \
  type *__kestrel_record__##map __attribute__((section(".kestrel.records"), used)) = NULL

/* Tracepoint contexts (Linux's layouts: 8-byte common header, then 8-byte argument slots). */
struct trace_entry {
  u16 type;
  u8 flags;
  u8 preempt_count;
  s32 pid;
};

struct sys_enter_execve_args {
  struct trace_entry ent;
  s32 __syscall_nr;
  u32 __pad;
  const char *filename;
  const char *const *argv;
  const char *const *envp;
};

struct sys_enter_connect_args {
  struct trace_entry ent;
  s32 __syscall_nr;
  u32 __pad;
  u64 fd;
  void *uservaddr;
  u64 addrlen;
};

struct sys_exit_args {
  struct trace_entry ent;
  s32 __syscall_nr;
  u32 __pad;
  s64 ret;
};

struct sched_process_exit_args {
  struct trace_entry ent;
  char comm[16];
  s32 pid;
  s32 prio;
};

/* x86-64 registers (kprobe context). On the __x64_sys_* wrappers, di points at the user's
 * registers, whose di, si, dx, r10, r8, r9 hold the syscall arguments. */
struct pt_regs {
  u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

/* Socket addresses (x86-64 layouts; ports and addresses in network byte order). */
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10

struct sockaddr_in {
  u16 sin_family;
  u16 sin_port;
  u32 sin_addr;
  u8 sin_zero[8];
};

struct sockaddr_in6 {
  u16 sin6_family;
  u16 sin6_port;
  u32 sin6_flowinfo;
  u8 sin6_addr[16];
  u32 sin6_scope_id;
};

static __always_inline u16 kb_ntohs(u16 v) { return (u16)((v >> 8) | (v << 8)); }

#endif /* KESTREL_BPF_H */
