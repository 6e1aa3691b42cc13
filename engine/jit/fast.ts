// Direct-argument imports for the hottest helpers, chosen per call site at compile time
// (compile.ts): map_lookup_elem on a map known at the call site (one import per map handle),
// get_current_pid_tgid / uid_gid, ktime_get_ns, get_current_cgroup_id and probe_read_kernel/user.
// They take their arguments as wasm parameters and return r0 directly, instead of the generic
// trampoline's HELPER_ARGS → rt.helpers[id](rt) → HELPER_RET round trip.
//
// Each one gives exactly the result of the built-in implementation in engine/helpers/impl.ts
// (which it mirrors: keep the two in step; engine/jit/fast.test.ts compares them). Whenever that
// is not the plain case — the runtime replaced the helper, an argument the helper would fault on
// or treat specially, a map handle with no live map — it calls the runtime's helper through the
// ABI instead (the compiled code stores r1..r5 at HELPER_ARGS before every call, so the
// arguments are there), which gives the same r0 and the same HelperFault message.

import { HELPER_RET, type VmMemory } from '../memory.js';
import { EFAULT, EINVAL, type BpfMap, type Runtime } from '../runtime.js';
import { HELPER_IMPLS } from '../helpers/impl.js';
import { copyFromUser, kernelReadable } from '../helpers/memaccess.js';

const RET = HELPER_RET >>> 2;
const RET_HI = RET + 1;

/** A helper failed (or is unknown): becomes the interpreter's `helper` fault at the call's pc. */
export class HelperError extends Error {}

function failed(id: number, e: unknown): HelperError {
  return new HelperError(`helper ${id} failed: ${e instanceof Error ? e.message : String(e)}`);
}

/** Call the runtime's helper `id` through the ABI (arguments already at HELPER_ARGS). */
export function callGeneric(rt: Runtime, id: number): void {
  const h = rt.helpers[id];
  if (h === undefined) throw new HelperError(`unknown helper ${id}`);
  try {
    h(rt);
  } catch (e) {
    throw failed(id, e);
  }
}

/** The generic path for an import that returns r0's low half (the high half stays at HELPER_RET+4). */
function genericLo(rt: Runtime, id: number): number {
  callGeneric(rt, id);
  return rt.mem.u32[RET] | 0;
}

/** The generic path for an import that returns r0 as an i64. */
function genericI64(rt: Runtime, id: number): bigint {
  callGeneric(rt, id);
  return rt.mem.dv.getBigUint64(HELPER_RET, true);
}

/** Where the imports find the runtime of the current run. */
export interface RunHolder {
  chain: { rt: Runtime } | undefined;
}

function runtimeOf(h: RunHolder): Runtime {
  const c = h.chain;
  if (c === undefined) throw new Error('JIT helper called outside a run');
  return c.rt;
}

const impl = HELPER_IMPLS;

/** `f<id>` for a helper id in compile.ts FAST_RET_HI / FAST_RET_I64 / FAST_PROBE_READ. */
export function fastImport(id: number, holder: RunHolder): (...args: number[]) => number | bigint {
  const builtin = impl[id];
  switch (id) {
    case 14:
    case 15: {
      const uid = id === 15;
      return (): number => {
        const rt = runtimeOf(holder);
        if (rt.helpers[id] !== builtin) return genericLo(rt, id);
        try {
          const t = rt.env.currentTask();
          if (t === undefined) {
            rt.mem.u32[RET_HI] = -1;
            return -EINVAL;
          }
          // The built-in stores lo >>> 0 and hi >>> 0: the same bits (and the same TypeError).
          rt.mem.u32[RET_HI] = (uid ? t.gid : t.tgid) >>> 0;
          return (uid ? t.uid : t.pid) >>> 0 | 0;
        } catch (e) {
          throw failed(id, e);
        }
      };
    }
    case 5:
    case 80: {
      const time = id === 5;
      return (): bigint => {
        const rt = runtimeOf(holder);
        if (rt.helpers[id] !== builtin) return genericI64(rt, id);
        try {
          const v = time ? rt.env.ktimeNs() : (rt.env.currentTask()?.cgroupId ?? 0n);
          // The built-in stores BigInt.asUintN(64, v); V8 wraps an i64 result the same way.
          return typeof v === 'bigint' ? v : BigInt.asUintN(64, v);
        } catch (e) {
          throw failed(id, e);
        }
      };
    }
    case 112:
    case 113: {
      const kernel = id === 113;
      const done = (mem: VmMemory, lo: number, hi: number): number => {
        mem.u32[RET] = lo;
        mem.u32[RET_HI] = hi;
        return 0;
      };
      // (dst, size, src) as i32 halves (JavaScript sees them signed). Returns 1 when the compiled
      // code is to copy [src, src+size) to dst itself (memory.copy, r0 = 0); otherwise 0 with
      // r0 at HELPER_RET.
      return (dstLo: number, dstHi: number, size: number, sizeHi: number, srcLo: number, srcHi: number): number => {
        const rt = runtimeOf(holder);
        const mem = rt.mem;
        const dst = dstLo >>> 0;
        // size 0, sizes the helper rejects and unwritable destinations: the built-in decides.
        if (rt.helpers[id] !== builtin || dstHi !== 0 || sizeHi !== 0 || size <= 0 || !mem.canAccess(dst, size, true)) {
          callGeneric(rt, id);
          return 0;
        }
        try {
          const src = srcLo >>> 0;
          if (kernel) {
            if (srcHi === 0 && kernelReadable(mem, src, size)) return 1;
          } else {
            if (copyFromUser(rt.env, mem.u8, dst, src, srcHi >>> 0, size)) return done(mem, 0, 0);
          }
          rt.mem.u8.fill(0, dst, dst + size);
          return done(rt.mem, -EFAULT, -1);
        } catch (e) {
          throw failed(id, e);
        }
      };
    }
    default:
      throw new Error(`no direct import for helper ${id}`);
  }
}

/**
 * `m<handle>`: map_lookup_elem(handle, key) → r0's low half (the high half, 0, at HELPER_RET+4).
 * The map is looked up once per mapByHandle (a VM's runtimes share one) and kept until it is
 * closed (a handle names one map for as long as that map is open; the VM forgets it on close and
 * a new map may reuse the address).
 */
export function lookupImport(handle: number, holder: RunHolder): (keyLo: number, keyHi: number, stackBytes: number) => number {
  const builtin = impl[1];
  // Runtimes of one VM share its mapByHandle: the cache survives switching between them.
  let resolvedBy: Runtime['mapByHandle'] | undefined;
  let map: (BpfMap & { closed?: boolean }) | undefined;
  let keySize = 0;
  // stackBytes: N when the compiled code knows the key is at r10-N (1 ≤ N ≤ 512, inside the
  // frame's stack region), else 0. The key is then readable iff it ends inside the frame.
  return (keyLo: number, keyHi: number, stackBytes: number): number => {
    const rt = runtimeOf(holder);
    if (rt.mapByHandle !== resolvedBy || map === undefined || map.closed === true) {
      resolvedBy = rt.mapByHandle;
      map = rt.mapByHandle(handle);
      keySize = map === undefined ? 0 : map.def.keySize;
    }
    const key = keyLo >>> 0;
    if (rt.helpers[1] !== builtin || map === undefined || keyHi !== 0 || (stackBytes < keySize && !rt.mem.canAccess(key, keySize, false))) {
      return genericLo(rt, 1);
    }
    try {
      const a = map.lookupAddr(key, rt.cpu) >>> 0;
      rt.mem.u32[RET_HI] = 0;
      return a | 0;
    } catch (e) {
      throw failed(1, e);
    }
  };
}
