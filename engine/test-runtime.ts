// A small, deterministic Runtime for tests, benches and `kestrel prog run`: a fixed clock, a
// seeded PRNG, a fake current task, and a handful of helpers written directly against the ABI in
// engine/runtime.ts. Other engineers may reuse it; pass `helpers` to replace or add helpers.

import { VmMemory, RegionKind, type Allocation } from './memory.js';
import {
  argAddr,
  argLo,
  setRetNum,
  setRetBig,
  EINVAL,
  type BpfMap,
  type ExecEnv,
  type HelperImpl,
  type Runtime,
  type TaskInfo,
} from './runtime.js';

export interface TestRuntimeOptions {
  mem?: VmMemory;
  /** Extra or replacement helpers by id. */
  helpers?: Record<number, HelperImpl>;
  maps?: BpfMap[];
  progType?: string;
  cpu?: number;
  /** Starting value of the fake monotonic clock (advances 1000 ns per read). */
  ktimeNs?: bigint;
  task?: TaskInfo;
}

export interface TestRuntime extends Runtime {
  /** Lines that trace_printk produced. */
  readonly trace: string[];
  /** Register a map so mapByHandle finds it. */
  addMap(m: BpfMap): void;
  /** Copy bytes into a new Context region; sets ctxAddr/ctxSize. Returns the address (0 if empty). */
  setContext(bytes: Uint8Array, writable?: boolean): number;
  /** Remove the region made by setContext and free its memory. */
  clearContext(): void;
}

export const TEST_TASK: TaskInfo = {
  pid: 4242,
  tgid: 4240,
  uid: 1000,
  gid: 1000,
  comm: 'kestrel-test',
  cgroupId: 77n,
  taskAddr: 0xffff888000001000n,
};

export function createTestEnv(opts: { ktimeNs?: bigint; task?: TaskInfo; trace?: string[] } = {}): ExecEnv {
  let clock = opts.ktimeNs ?? 1_000_000_000n;
  let seed = 0x2545f491;
  const trace = opts.trace ?? [];
  const task = opts.task ?? TEST_TASK;
  return {
    currentTask: () => task,
    readUser: () => undefined,
    readUserStr: () => undefined,
    ktimeNs: () => (clock += 1000n),
    bootNs: () => clock + 5_000_000_000n,
    tracePrintk: (text) => {
      trace.push(text);
    },
    sendSignal: () => 0,
    overrideReturn: () => 0,
    prandomU32: () => {
      // xorshift32: deterministic across runs.
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    },
  };
}

/** Default helpers: maps 1-3, ktime 5, prandom 7, cpu 8, pid_tgid 14, uid_gid 15, boot ns 125. */
function defaultHelpers(rt: TestRuntime): HelperImpl[] {
  const h: HelperImpl[] = [];
  const mapArg = (r: Runtime): BpfMap | undefined => r.mapByHandle(argLo(r.mem, 1));
  h[1] = (r) => {
    const m = mapArg(r);
    setRetNum(r.mem, m === undefined ? 0 : m.lookupAddr(argAddr(r.mem, 2), r.cpu));
  };
  h[2] = (r) => {
    const m = mapArg(r);
    setRetNum(r.mem, m === undefined ? -EINVAL : m.updateAddr(argAddr(r.mem, 2), argAddr(r.mem, 3), argLo(r.mem, 4), r.cpu));
  };
  h[3] = (r) => {
    const m = mapArg(r);
    setRetNum(r.mem, m === undefined ? -EINVAL : m.deleteAddr(argAddr(r.mem, 2), r.cpu));
  };
  h[5] = (r) => setRetBig(r.mem, r.env.ktimeNs());
  h[7] = (r) => setRetNum(r.mem, r.env.prandomU32());
  h[8] = (r) => setRetNum(r.mem, r.cpu);
  h[14] = (r) => {
    const t = r.env.currentTask();
    setRetBig(r.mem, t === undefined ? 0n : (BigInt(t.tgid) << 32n) | BigInt(t.pid));
  };
  h[15] = (r) => {
    const t = r.env.currentTask();
    setRetBig(r.mem, t === undefined ? 0n : (BigInt(t.gid) << 32n) | BigInt(t.uid));
  };
  h[125] = (r) => setRetBig(r.mem, r.env.bootNs());
  void rt;
  return h;
}

export function createTestRuntime(opts: TestRuntimeOptions = {}): TestRuntime {
  const mem = opts.mem ?? new VmMemory({ initialBytes: 1 << 20 });
  const maps = new Map<number, BpfMap>();
  const trace: string[] = [];
  let ctxAlloc: Allocation | undefined;
  let ctxRegion = 0;
  const helpers: (HelperImpl | undefined)[] = [];
  const rt: TestRuntime = {
    mem,
    env: createTestEnv({ ktimeNs: opts.ktimeNs, task: opts.task, trace }),
    cpu: opts.cpu ?? 0,
    helpers,
    progType: opts.progType ?? 'socket_filter',
    ctxAddr: 0,
    ctxSize: 0,
    trace,
    mapByHandle: (h) => maps.get(h),
    addMap(m) {
      maps.set(m.handle, m);
    },
    setContext(bytes, writable = true) {
      rt.clearContext();
      if (bytes.length === 0) return 0;
      ctxAlloc = mem.alloc(bytes.length);
      mem.u8.set(bytes, ctxAlloc.addr);
      ctxRegion = mem.addRegion(ctxAlloc.addr, bytes.length, RegionKind.Context, writable);
      rt.ctxAddr = ctxAlloc.addr;
      rt.ctxSize = bytes.length;
      return ctxAlloc.addr;
    },
    clearContext() {
      if (ctxAlloc === undefined) return;
      mem.removeRegion(ctxRegion);
      mem.free(ctxAlloc);
      ctxAlloc = undefined;
      rt.ctxAddr = 0;
      rt.ctxSize = 0;
    },
  };
  const defaults = defaultHelpers(rt);
  defaults.forEach((h, id) => {
    helpers[id] = h;
  });
  for (const [id, h] of Object.entries(opts.helpers ?? {})) helpers[Number(id)] = h;
  for (const m of opts.maps ?? []) rt.addMap(m);
  return rt;
}
