// The helper implementations, indexed by Linux helper id, all written against the ABI in
// engine/runtime.ts (r1..r5 at HELPER_ARGS, r0 at HELPER_RET) so the interpreter and the JIT share
// them. tail_call (12) and loop (181) change control flow and live in the engines.
//
// Errors a program can cause at run time come back as negative errnos, as in Linux. Things the
// verifier rules out (a non-map r1, an unwritable destination, releasing memory that was not
// reserved) throw HelperFault, which the engines turn into a VmFault.
//
// Where there is no current task, get_current_pid_tgid, get_current_uid_gid and get_current_comm
// return -EINVAL (comm also zeroes the buffer), as Linux does; get_current_task and
// get_current_cgroup_id return 0.

import { HELPER_ARGS, HELPER_RET, type VmMemory } from '../memory.js';
import {
  argAddr,
  argBig,
  argHi,
  argLo,
  setRet,
  setRetBig,
  setRetNum,
  EFAULT,
  EINVAL,
  type BpfMap,
  type HelperImpl,
  type Runtime,
} from '../runtime.js';
import { RingBufMap, BPF_RB_NO_WAKEUP, BPF_RB_FORCE_WAKEUP } from '../maps/ringbuf.js';
import { PerfEventArrayMap } from '../maps/perf-event-array.js';
import { HelperFault } from './fault.js';
import { copyFromUser, kernelReadable, kernelString, userString, isKernelAddr } from './memaccess.js';
import { bprintf, BPF_TRACE_PRINTK_SIZE, MAX_BPRINTF_VARARGS, MAX_TRACE_PRINTK_VARARGS } from './printk.js';

export { HelperFault } from './fault.js';
export { formatTracePipeLine, bprintf } from './printk.js';

const A1 = HELPER_ARGS >>> 2;
const A2 = A1 + 2;
const RET = HELPER_RET >>> 2;
const dec = new TextDecoder();

function mapArg(rt: Runtime, i: number): BpfMap {
  const mem = rt.mem;
  const lo = argLo(mem, i);
  const m = argHi(mem, i) === 0 ? rt.mapByHandle(lo) : undefined;
  if (m === undefined) throw new HelperFault(`r${i} (0x${lo.toString(16)}) is not a map`, lo);
  return m;
}

/** A pointer argument the helper reads `len` bytes from (verified memory). */
function readPtr(mem: VmMemory, i: number, len: number, what: string): number {
  const a = argAddr(mem, i);
  if (len === 0) return a < 0 ? 0 : a;
  if (a < 0 || !mem.canAccess(a, len, false)) {
    throw new HelperFault(`${what}: r${i} does not point to ${len} readable bytes (${a < 0 ? 'not an engine address' : mem.describe(a)})`, a);
  }
  return a;
}

/** A destination argument the helper writes `len` bytes to. */
function writePtr(mem: VmMemory, i: number, len: number, what: string): number {
  const a = argAddr(mem, i);
  if (len === 0) return a < 0 ? 0 : a;
  if (a < 0 || !mem.canAccess(a, len, true)) {
    throw new HelperFault(`${what}: r${i} does not point to ${len} writable bytes (${a < 0 ? 'not an engine address' : mem.describe(a)})`, a);
  }
  return a;
}

/** A size argument (u32 range; the verifier bounds it). */
function sizeArg(mem: VmMemory, i: number, what: string): number {
  if (argHi(mem, i) !== 0 || argLo(mem, i) > 0x7fffffff) throw new HelperFault(`${what}: size r${i} out of range`);
  return argLo(mem, i);
}

function ret0(mem: VmMemory): void {
  mem.u32[RET] = 0;
  mem.u32[RET + 1] = 0;
}

// ---- maps -------------------------------------------------------------------------------------

function mapLookup(rt: Runtime): void {
  const mem = rt.mem;
  const u32 = mem.u32;
  const h = u32[A1];
  const map = u32[A1 + 1] === 0 ? rt.mapByHandle(h) : undefined;
  if (map === undefined) throw new HelperFault(`map_lookup_elem: r1 (0x${h.toString(16)}) is not a map`, h);
  const key = u32[A2];
  if (u32[A2 + 1] !== 0 || !mem.canAccess(key, map.def.keySize, false)) {
    throw new HelperFault(`map_lookup_elem: r2 does not point to a ${map.def.keySize}-byte key (${mem.describe(key)})`, key);
  }
  u32[RET] = map.lookupAddr(key, rt.cpu);
  u32[RET + 1] = 0;
}

function mapUpdate(rt: Runtime): void {
  const mem = rt.mem;
  const map = mapArg(rt, 1);
  const key = readPtr(mem, 2, map.def.keySize, 'map_update_elem key');
  const value = readPtr(mem, 3, map.def.valueSize, 'map_update_elem value');
  if (argHi(mem, 4) !== 0) return setRetNum(mem, -EINVAL);
  setRetNum(mem, map.updateAddr(key, value, argLo(mem, 4), rt.cpu));
}

function mapDelete(rt: Runtime): void {
  const mem = rt.mem;
  const map = mapArg(rt, 1);
  const key = readPtr(mem, 2, map.def.keySize, 'map_delete_elem key');
  setRetNum(mem, map.deleteAddr(key, rt.cpu));
}

// ---- probe_read family --------------------------------------------------------------------------

type Space = 'user' | 'kernel' | 'compat';

function probeRead(space: Space): HelperImpl {
  return (rt) => {
    const mem = rt.mem;
    const size = sizeArg(mem, 2, 'probe_read');
    const dst = writePtr(mem, 1, size, 'probe_read destination');
    if (size === 0) return ret0(mem);
    const lo = argLo(mem, 3);
    const hi = argHi(mem, 3);
    const kernel = space === 'kernel' || (space === 'compat' && isKernelAddr(mem, lo, hi));
    if (kernel) {
      if (hi === 0 && kernelReadable(mem, lo, size)) {
        mem.u8.copyWithin(dst, lo, lo + size);
        return ret0(mem);
      }
    } else {
      if (copyFromUser(rt.env, mem.u8, dst, lo, hi, size)) return ret0(mem);
    }
    mem.u8.fill(0, dst, dst + size);
    setRetNum(mem, -EFAULT);
  };
}

function probeReadStr(space: Space): HelperImpl {
  return (rt) => {
    const mem = rt.mem;
    const size = sizeArg(mem, 2, 'probe_read_str');
    const dst = writePtr(mem, 1, size, 'probe_read_str destination');
    if (size === 0) return ret0(mem);
    const lo = argLo(mem, 3);
    const hi = argHi(mem, 3);
    const kernel = space === 'kernel' || (space === 'compat' && isKernelAddr(mem, lo, hi));
    const s = kernel ? (hi === 0 ? kernelString(mem, lo, size) : undefined) : userString(rt.env, lo, hi, size);
    if (s === undefined) {
      mem.u8.fill(0, dst, dst + size);
      return setRetNum(mem, -EFAULT);
    }
    // strncpy_from_*_nofault: at most size-1 bytes then a NUL; returns the length with the NUL.
    const n = Math.min(s.bytes.length, size - 1);
    mem.u8.set(s.bytes.subarray(0, n), dst);
    mem.u8[dst + n] = 0;
    setRetNum(mem, n + 1);
  };
}

// ---- printing ---------------------------------------------------------------------------------

/** The format bytes up to the NUL that must lie within [addr, addr+size), or undefined. */
function fmtAt(mem: VmMemory, addr: number, size: number): Uint8Array | undefined {
  const u8 = mem.u8;
  for (let i = 0; i < size; i++) if (u8[addr + i] === 0) return u8.slice(addr, addr + i);
  return undefined;
}

function emit(rt: Runtime, bytes: Uint8Array): void {
  rt.env.tracePrintk(dec.decode(bytes.subarray(0, Math.min(bytes.length, BPF_TRACE_PRINTK_SIZE - 1))));
}

function tracePrintk(rt: Runtime): void {
  const mem = rt.mem;
  const size = sizeArg(mem, 2, 'trace_printk');
  const fmtAddr = readPtr(mem, 1, size, 'trace_printk format');
  const fmt = fmtAt(mem, fmtAddr, size);
  if (fmt === undefined) return setRetNum(mem, -EINVAL);
  const r = bprintf(rt, fmt, [argBig(mem, 3), argBig(mem, 4), argBig(mem, 5)], MAX_TRACE_PRINTK_VARARGS);
  if (typeof r === 'number') return setRetNum(mem, r);
  emit(rt, r);
  setRetNum(mem, r.length);
}

/** u64 arguments from memory for vprintk/snprintf, or a negative errno. */
function dataArgs(mem: VmMemory, i: number, what: string): bigint[] | number {
  const len = sizeArg(mem, i + 1, what);
  if (len % 8 !== 0 || len > MAX_BPRINTF_VARARGS * 8) return -EINVAL;
  const lo = argLo(mem, i);
  if (len > 0 && lo === 0 && argHi(mem, i) === 0) return -EINVAL;
  const addr = readPtr(mem, i, len, what);
  const out: bigint[] = [];
  for (let k = 0; k < len; k += 8) out.push(mem.dv.getBigUint64(addr + k, true));
  return out;
}

function traceVprintk(rt: Runtime): void {
  const mem = rt.mem;
  const size = sizeArg(mem, 2, 'trace_vprintk');
  const fmtAddr = readPtr(mem, 1, size, 'trace_vprintk format');
  const args = dataArgs(mem, 3, 'trace_vprintk data');
  if (typeof args === 'number') return setRetNum(mem, args);
  const fmt = fmtAt(mem, fmtAddr, size);
  if (fmt === undefined) return setRetNum(mem, -EINVAL);
  const r = bprintf(rt, fmt, args, args.length);
  if (typeof r === 'number') return setRetNum(mem, r);
  emit(rt, r);
  setRetNum(mem, r.length);
}

function snprintf(rt: Runtime): void {
  const mem = rt.mem;
  const size = sizeArg(mem, 2, 'snprintf');
  const dst = writePtr(mem, 1, size, 'snprintf destination');
  const args = dataArgs(mem, 4, 'snprintf data');
  if (typeof args === 'number') return setRetNum(mem, args);
  // The format is a constant string in a read-only map value: read to its NUL inside the region.
  const fa = argAddr(mem, 3);
  const id = fa < 0 ? 0 : mem.regionAt(fa);
  if (id === 0) throw new HelperFault(`snprintf: r3 is not a readable constant string`, fa);
  const fmt = fmtAt(mem, fa, mem.regionEnd[id] - fa);
  if (fmt === undefined) return setRetNum(mem, -EINVAL);
  const r = bprintf(rt, fmt, args, args.length);
  if (typeof r === 'number') return setRetNum(mem, r);
  if (size > 0) {
    const n = Math.min(r.length, size - 1);
    mem.u8.set(r.subarray(0, n), dst);
    mem.u8[dst + n] = 0;
  }
  setRetNum(mem, r.length + 1);
}

// ---- current task and time --------------------------------------------------------------------

function pidTgid(rt: Runtime): void {
  const t = rt.env.currentTask();
  if (t === undefined) return setRetNum(rt.mem, -EINVAL);
  setRet(rt.mem, t.pid, t.tgid);
}

function uidGid(rt: Runtime): void {
  const t = rt.env.currentTask();
  if (t === undefined) return setRetNum(rt.mem, -EINVAL);
  setRet(rt.mem, t.uid, t.gid);
}

const enc = new TextEncoder();
// get_current_comm runs on every event of most rules: keep the last task name's bytes.
let lastComm = '';
let lastCommBytes = new Uint8Array(0);

function currentComm(rt: Runtime): void {
  const mem = rt.mem;
  const size = sizeArg(mem, 2, 'get_current_comm');
  const dst = writePtr(mem, 1, size, 'get_current_comm buffer');
  mem.u8.fill(0, dst, dst + size);
  const t = rt.env.currentTask();
  if (t === undefined) return setRetNum(mem, -EINVAL);
  // strscpy_pad from the 16-byte task->comm: at most 15 bytes of name, NUL, zero padding.
  if (t.comm !== lastComm) {
    lastComm = t.comm;
    lastCommBytes = enc.encode(t.comm).subarray(0, 15);
  }
  const name = lastCommBytes;
  const nul = name.indexOf(0);
  const n = Math.min(nul >= 0 ? nul : name.length, Math.max(size - 1, 0));
  if (size > 0) mem.u8.set(name.subarray(0, n), dst);
  ret0(mem);
}

// ---- ring buffer and perf events --------------------------------------------------------------

function ringArg(rt: Runtime, what: string): RingBufMap {
  const m = mapArg(rt, 1);
  if (!(m instanceof RingBufMap)) throw new HelperFault(`${what}: r1 is not a ring buffer (${m.def.name})`);
  return m;
}

function ringbufOutput(rt: Runtime): void {
  const mem = rt.mem;
  const ring = ringArg(rt, 'ringbuf_output');
  const size = sizeArg(mem, 3, 'ringbuf_output');
  const src = readPtr(mem, 2, size, 'ringbuf_output data');
  if (argHi(mem, 4) !== 0) return setRetNum(mem, -EINVAL);
  const flags = argLo(mem, 4);
  if ((flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) !== 0) return setRetNum(mem, -EINVAL);
  const rc = ring.output(src, size, flags);
  setRetNum(mem, rc); // 0, or -EAGAIN when full
}

function ringbufReserve(rt: Runtime): void {
  const mem = rt.mem;
  const ring = ringArg(rt, 'ringbuf_reserve');
  // Non-zero flags or an absurd size give NULL, as in Linux.
  if (argLo(mem, 3) !== 0 || argHi(mem, 3) !== 0 || argHi(mem, 2) !== 0) {
    ring.drops++;
    return ret0(mem);
  }
  setRet(mem, ring.reserve(argLo(mem, 2)), 0);
}

function ringbufCommit(discard: boolean): HelperImpl {
  return (rt) => {
    const mem = rt.mem;
    const what = discard ? 'ringbuf_discard' : 'ringbuf_submit';
    const sample = argAddr(mem, 1);
    const ring = sample > 0 ? RingBufMap.fromSample(mem, sample) : undefined;
    if (ring === undefined) throw new HelperFault(`${what}: r1 is not a reserved ring-buffer record`, sample);
    const flags = argLo(mem, 2);
    if (discard) ring.discard(sample, flags);
    else ring.submit(sample, flags);
    ret0(mem);
  };
}

function ringbufQuery(rt: Runtime): void {
  const ring = ringArg(rt, 'ringbuf_query');
  const mem = rt.mem;
  setRetBig(mem, argHi(mem, 2) !== 0 ? 0n : ring.query(argLo(mem, 2)));
}

function perfEventOutput(rt: Runtime): void {
  const mem = rt.mem;
  const m = mapArg(rt, 2);
  if (!(m instanceof PerfEventArrayMap)) throw new HelperFault(`perf_event_output: r2 is not a perf_event_array (${m.def.name})`);
  const size = sizeArg(mem, 5, 'perf_event_output');
  const src = readPtr(mem, 4, size, 'perf_event_output data');
  setRetNum(mem, m.output(argLo(mem, 3), argHi(mem, 3), rt.cpu, mem.u8.subarray(src, src + size)));
}

// ---- misc -------------------------------------------------------------------------------------

function strncmp(rt: Runtime): void {
  const mem = rt.mem;
  const n = sizeArg(mem, 2, 'strncmp');
  const s1 = readPtr(mem, 1, n, 'strncmp s1');
  const s2 = argAddr(mem, 3);
  const id = s2 < 0 ? 0 : mem.regionAt(s2);
  if (id === 0) throw new HelperFault('strncmp: s2 is not a readable constant string', s2);
  const s2End = mem.regionEnd[id];
  const u8 = mem.u8;
  for (let i = 0; i < n; i++) {
    if (s2 + i >= s2End) throw new HelperFault('strncmp: s2 runs past its region without a NUL', s2);
    const a = u8[s1 + i];
    const b = u8[s2 + i];
    if (a !== b) return setRetNum(mem, a < b ? -1 : 1);
    if (a === 0) break;
  }
  ret0(mem);
}

function sendSignal(rt: Runtime): void {
  const mem = rt.mem;
  // valid_signal(): 0..64.
  if (argHi(mem, 1) !== 0 || argLo(mem, 1) > 64) return setRetNum(mem, -EINVAL);
  // No task, or init (pid 1): Linux refuses with -EPERM to avoid killing init.
  const t = rt.env.currentTask();
  if (t === undefined || t.tgid === 1) return setRetNum(mem, -1);
  setRetNum(mem, rt.env.sendSignal(argLo(mem, 1)));
}

function overrideReturn(rt: Runtime): void {
  setRetNum(rt.mem, rt.env.overrideReturn(argBig(rt.mem, 2)));
}

// ---- the table --------------------------------------------------------------------------------

const table: (HelperImpl | undefined)[] = [];
table[1] = mapLookup;
table[2] = mapUpdate;
table[3] = mapDelete;
table[4] = probeRead('compat');
table[5] = (rt) => setRetBig(rt.mem, rt.env.ktimeNs());
table[6] = tracePrintk;
table[7] = (rt) => setRet(rt.mem, rt.env.prandomU32() >>> 0, 0);
table[8] = (rt) => setRet(rt.mem, rt.cpu, 0);
table[14] = pidTgid;
table[15] = uidGid;
table[16] = currentComm;
table[25] = perfEventOutput;
table[35] = (rt) => setRetBig(rt.mem, rt.env.currentTask()?.taskAddr ?? 0n);
table[58] = overrideReturn;
table[80] = (rt) => setRetBig(rt.mem, rt.env.currentTask()?.cgroupId ?? 0n);
table[109] = sendSignal;
table[112] = probeRead('user');
table[113] = probeRead('kernel');
table[114] = probeReadStr('user');
table[115] = probeReadStr('kernel');
table[125] = (rt) => setRetBig(rt.mem, rt.env.bootNs());
table[130] = ringbufOutput;
table[131] = ringbufReserve;
table[132] = ringbufCommit(false);
table[133] = ringbufCommit(true);
table[134] = ringbufQuery;
table[165] = snprintf;
table[177] = traceVprintk;
table[182] = strncmp;

/** Helper implementations by Linux id (every id in protos.ts except 12 tail_call and 181 loop). */
export const HELPER_IMPLS: readonly (HelperImpl | undefined)[] = table;
