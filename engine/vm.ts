// One VM: the shared memory, the maps living in it (by handle, what `lddw rX, map` loads), and
// runtimes that bind a program run to an ExecEnv, a CPU and the helper table.

import { VmMemory } from './memory.js';
import type { BpfMap, ExecEnv, HelperImpl, Runtime } from './runtime.js';
import type { MapDef } from './maps/types.js';
import { createMap, RingBufMap, type MapUserApi } from './maps/index.js';
import { HELPER_IMPLS } from './helpers/impl.js';

export interface RuntimeOptions {
  /** Simulated CPU of this run (0..cpus-1). Default 0. */
  cpu?: number;
  /** Program type name ("tracepoint", "kprobe", ...). Default "tracepoint". */
  progType?: string;
  /** Replace or add helpers by id (tests). */
  helpers?: Readonly<Record<number, HelperImpl>>;
}

export interface Vm {
  readonly mem: VmMemory;
  /** Live maps by handle. */
  readonly maps: Map<number, BpfMap & MapUserApi>;
  readonly cpus: number;
  /** Create a map in this VM's memory (throws MapError as Linux's BPF_MAP_CREATE would). */
  createMap(def: MapDef): BpfMap & MapUserApi;
  /** A live map by its declared name (the first, if several share it). */
  mapByName(name: string): (BpfMap & MapUserApi) | undefined;
  /** A Runtime for one or more runs in `env`. */
  runtime(env: ExecEnv, opts?: RuntimeOptions): Runtime;
  /** Discard ring-buffer reservations left by a faulted run; returns how many. */
  abortReservations(): number;
}

export function createVm(opts: { memoryBytes?: number; maxMemoryBytes?: number; cpus?: number } = {}): Vm {
  const cpus = opts.cpus ?? 1;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 1024) throw new RangeError(`bad CPU count ${cpus}`);
  const mem = new VmMemory({ initialBytes: opts.memoryBytes, maximumBytes: opts.maxMemoryBytes });
  const maps = new Map<number, BpfMap & MapUserApi>();
  const mapByHandle = (h: number): BpfMap | undefined => maps.get(h);
  return {
    mem,
    maps,
    cpus,
    createMap(def: MapDef): BpfMap & MapUserApi {
      const m = createMap(mem, def, { cpus, onClose: (closed) => maps.delete(closed.handle) });
      maps.set(m.handle, m);
      return m;
    },
    mapByName(name: string) {
      for (const m of maps.values()) if (m.def.name === name) return m;
      return undefined;
    },
    runtime(env: ExecEnv, ro: RuntimeOptions = {}): Runtime {
      const cpu = ro.cpu ?? 0;
      if (!Number.isInteger(cpu) || cpu < 0 || cpu >= cpus) throw new RangeError(`CPU ${cpu} outside 0..${cpus - 1}`);
      let helpers: readonly (HelperImpl | undefined)[] = HELPER_IMPLS;
      if (ro.helpers !== undefined) {
        const h = HELPER_IMPLS.slice();
        for (const [id, impl] of Object.entries(ro.helpers)) h[Number(id)] = impl;
        helpers = h;
      }
      return { mem, mapByHandle, env, cpu, helpers, progType: ro.progType ?? 'tracepoint', ctxAddr: 0, ctxSize: 0 };
    },
    abortReservations(): number {
      let n = 0;
      for (const m of maps.values()) if (m instanceof RingBufMap) n += m.abortReservations();
      return n;
    },
  };
}
