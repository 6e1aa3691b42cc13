// Helper ids and prototypes, as Linux declares them (___BPF_FUNC_MAPPER and the bpf_func_proto
// structs). The verifier checks calls against these; the runtime implements them in ./impl.

export enum ArgType {
  /** Any scalar value. */
  Anything = 1,
  /** A map pointer loaded with lddw (CONST_MAP_PTR). */
  ConstMapPtr,
  /** Initialised memory of the map's key size (PTR_TO_MAP_KEY). */
  MapKey,
  /** Initialised memory of the map's value size (PTR_TO_MAP_VALUE). */
  MapValue,
  /** Memory the helper writes; size in the next argument (PTR_TO_UNINIT_MEM). */
  UninitMem,
  /** Initialised readable memory; size in the next argument (PTR_TO_MEM | MEM_RDONLY). */
  ReadOnlyMem,
  /** A constant or bounded size, > 0 (CONST_SIZE). */
  ConstSize,
  /** A constant or bounded size, ≥ 0 (CONST_SIZE_OR_ZERO). */
  ConstSizeOrZero,
  /** A known constant allocation size (CONST_ALLOC_SIZE_OR_ZERO). */
  ConstAllocSizeOrZero,
  /** The program's context pointer (PTR_TO_CTX). */
  Ctx,
  /** A ring-buffer record to release (PTR_TO_RINGBUF_MEM | OBJ_RELEASE). */
  RingbufMemRelease,
  /** A callback function (PTR_TO_FUNC) from `lddw rX, func` (src 4). */
  Func,
  /** Pointer to stack or NULL (PTR_TO_STACK_OR_NULL). */
  StackOrNull,
  /** A NUL-terminated string in a read-only map value (PTR_TO_CONST_STR). */
  ConstStr,
}

export enum RetType {
  Integer = 1,
  Void,
  MapValueOrNull,
  RingbufMemOrNull,
}

export interface HelperProto {
  id: number;
  name: string;
  ret: RetType;
  args: readonly ArgType[];
  /** Needs a GPL-compatible license. */
  gpl: boolean;
  /** Allowed only on kprobe programs (override_return). */
  kprobeOnly?: boolean;
  /** Takes a variable number of unchecked trailing scalar arguments (trace_printk). */
  varargs?: boolean;
}

const A = ArgType;
const R = RetType;

function p(id: number, name: string, ret: RetType, args: ArgType[], gpl = false, extra: Partial<HelperProto> = {}): HelperProto {
  return { id, name, ret, args, gpl, ...extra };
}

export const HELPERS: readonly HelperProto[] = [
  p(1, 'map_lookup_elem', R.MapValueOrNull, [A.ConstMapPtr, A.MapKey]),
  p(2, 'map_update_elem', R.Integer, [A.ConstMapPtr, A.MapKey, A.MapValue, A.Anything]),
  p(3, 'map_delete_elem', R.Integer, [A.ConstMapPtr, A.MapKey]),
  p(4, 'probe_read', R.Integer, [A.UninitMem, A.ConstSizeOrZero, A.Anything], true),
  p(5, 'ktime_get_ns', R.Integer, []),
  p(6, 'trace_printk', R.Integer, [A.ReadOnlyMem, A.ConstSize], true, { varargs: true }),
  p(7, 'get_prandom_u32', R.Integer, []),
  p(8, 'get_smp_processor_id', R.Integer, []),
  p(12, 'tail_call', R.Void, [A.Ctx, A.ConstMapPtr, A.Anything]),
  p(14, 'get_current_pid_tgid', R.Integer, []),
  p(15, 'get_current_uid_gid', R.Integer, []),
  p(16, 'get_current_comm', R.Integer, [A.UninitMem, A.ConstSize]),
  p(25, 'perf_event_output', R.Integer, [A.Ctx, A.ConstMapPtr, A.Anything, A.ReadOnlyMem, A.ConstSizeOrZero], true),
  p(35, 'get_current_task', R.Integer, [], true),
  p(58, 'override_return', R.Integer, [A.Ctx, A.Anything], true, { kprobeOnly: true }),
  p(80, 'get_current_cgroup_id', R.Integer, []),
  p(109, 'send_signal', R.Integer, [A.Anything]),
  p(112, 'probe_read_user', R.Integer, [A.UninitMem, A.ConstSizeOrZero, A.Anything], true),
  p(113, 'probe_read_kernel', R.Integer, [A.UninitMem, A.ConstSizeOrZero, A.Anything], true),
  p(114, 'probe_read_user_str', R.Integer, [A.UninitMem, A.ConstSizeOrZero, A.Anything], true),
  p(115, 'probe_read_kernel_str', R.Integer, [A.UninitMem, A.ConstSizeOrZero, A.Anything], true),
  p(125, 'ktime_get_boot_ns', R.Integer, []),
  p(130, 'ringbuf_output', R.Integer, [A.ConstMapPtr, A.ReadOnlyMem, A.ConstSizeOrZero, A.Anything]),
  p(131, 'ringbuf_reserve', R.RingbufMemOrNull, [A.ConstMapPtr, A.ConstAllocSizeOrZero, A.Anything]),
  p(132, 'ringbuf_submit', R.Void, [A.RingbufMemRelease, A.Anything]),
  p(133, 'ringbuf_discard', R.Void, [A.RingbufMemRelease, A.Anything]),
  p(134, 'ringbuf_query', R.Integer, [A.ConstMapPtr, A.Anything]),
  p(165, 'snprintf', R.Integer, [A.UninitMem, A.ConstSizeOrZero, A.ConstStr, A.ReadOnlyMem, A.ConstSizeOrZero]),
  p(177, 'trace_vprintk', R.Integer, [A.ReadOnlyMem, A.ConstSize, A.ReadOnlyMem, A.ConstSizeOrZero], true),
  p(181, 'loop', R.Integer, [A.Anything, A.Func, A.StackOrNull, A.Anything]),
  p(182, 'strncmp', R.Integer, [A.ReadOnlyMem, A.ConstSize, A.ConstStr]),
];

export const HELPER_BY_ID: ReadonlyMap<number, HelperProto> = new Map(HELPERS.map((h) => [h.id, h]));

export function helperName(id: number): string {
  return HELPER_BY_ID.get(id)?.name ?? `unknown#${id}`;
}
