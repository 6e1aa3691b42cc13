// The second half of libbpf's bpf_object__load: create the object's maps in a VM (global data
// maps get their initial section bytes, as libbpf's mmap + freeze does), verify every program
// for its hook's context, and load the accepted ones into the engine. Attaching them to hooks is
// the caller's job (the simulated kernel lives in collectors/).

import type { Vm } from '../vm.js';
import type { BpfMap } from '../runtime.js';
import type { MapUserApi } from '../maps/index.js';
import { loadProgram, hasValueAddr, type LoadedProgram } from '../program.js';
import { verify, HOOK_CONTEXTS, type VerifyResult } from '../verifier/index.js';
import { ElfError } from './errors.js';
import {
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_PROG_ARRAY,
  BPF_MAP_TYPE_RINGBUF,
  type MapDef,
} from '../maps/types.js';
import { programSpec, type ElfObject, type ElfProgram } from './index.js';
import { formatLine, lineAt } from './lines.js';

export interface InstantiatedProgram {
  prog: ElfProgram;
  /** Present when the program verified and loaded. */
  loaded?: LoadedProgram;
  verdict?: VerifyResult;
  /** Why the program cannot run (unsupported attach point, verifier rejection, load error). */
  error?: string;
  /** Context size the program was verified for. */
  ctxSize: number;
}

export interface InstantiatedObject {
  obj: ElfObject;
  /** Created maps, parallel to obj.maps. */
  maps: (BpfMap & MapUserApi)[];
  programs: InstantiatedProgram[];
}

export interface InstantiateOptions {
  /** Verify programs before loading (default true). Unverified programs only run when false. */
  verify?: boolean;
  /** Verifier log level for rejections. */
  logLevel?: 0 | 1 | 2;
  /** Verifier budget of processed instructions (default Linux's 1,000,000). */
  maxInsns?: number;
}

/** Array maps expose their value address as `valueAddress(index)`; lddw src 2 wants `valueAddr(offset)`. */
function withValueAddr(m: BpfMap & MapUserApi): BpfMap {
  if (hasValueAddr(m)) return m;
  const va = (m as unknown as { valueAddress?: (index: number, cpu?: number) => number }).valueAddress;
  if (typeof va !== 'function') return m;
  return {
    def: m.def,
    handle: m.handle,
    lookupAddr: (k, c) => m.lookupAddr(k, c),
    updateAddr: (k, v, f, c) => m.updateAddr(k, v, f, c),
    deleteAddr: (k, c) => m.deleteAddr(k, c),
    valueAddr: (off: number): number => (off >= 0 && off < m.def.valueSize ? va.call(m, 0) + off : 0),
  } as BpfMap & { valueAddr(off: number): number };
}

/** Memory one object's maps may claim in the VM: a hostile max_entries must not exhaust the host. */
export const MAX_OBJECT_MAP_BYTES = 64 * 1024 * 1024;

const r8 = (n: number): number => Math.ceil(n / 8) * 8;

/** A generous estimate of the bytes a map needs at its full size (tables, elements, buffers). */
export function estimateMapBytes(def: MapDef, cpus: number): number {
  const n = def.maxEntries;
  switch (def.type) {
    case BPF_MAP_TYPE_ARRAY:
      return n * r8(def.valueSize);
    case BPF_MAP_TYPE_PERCPU_ARRAY:
      return n * r8(def.valueSize) * cpus;
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
      return n * (r8(def.keySize) + r8(def.valueSize) * cpus + 48);
    case BPF_MAP_TYPE_RINGBUF:
      return 2 * n + 4096;
    case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
      return n * 64 + cpus * 32 * 1024;
    case BPF_MAP_TYPE_PROG_ARRAY:
      return n * 16;
    default:
      // hash, lru_hash, lpm_trie: element, key, value and table slots.
      return n * (r8(def.keySize) + r8(def.valueSize) + 48);
  }
}

export function createObjectMaps(obj: ElfObject, vm: Vm): (BpfMap & MapUserApi)[] {
  const out: (BpfMap & MapUserApi)[] = [];
  let budget = MAX_OBJECT_MAP_BYTES;
  for (const m of obj.maps) {
    const need = estimateMapBytes(m.def, vm.cpus);
    budget -= need;
    if (!(budget >= 0)) {
      throw new ElfError(
        `map '${m.def.name}': max_entries ${m.def.maxEntries} (key ${m.def.keySize}, value ${m.def.valueSize}) needs about ${Math.ceil(need / 1048576)} MiB; ` +
          `an object's maps may use at most ${MAX_OBJECT_MAP_BYTES / 1048576} MiB`,
      );
    }
  }
  try {
    for (const m of obj.maps) {
      let map: BpfMap & MapUserApi;
      try {
        const def = m.def.type === BPF_MAP_TYPE_PERF_EVENT_ARRAY && m.def.maxEntries === 0 ? { ...m.def, maxEntries: vm.cpus } : m.def;
        map = vm.createMap(def);
      } catch (e) {
        throw new ElfError(`map '${m.def.name}': cannot create: ${e instanceof Error ? e.message : String(e)}`);
      }
      out.push(map);
      if (m.initial !== undefined) map.update(new Uint8Array(4), m.initial, 0);
    }
  } catch (e) {
    for (const m of out) m.close();
    throw e;
  }
  return out;
}

/** Create maps, verify and load every program of `obj` in `vm`. */
export function instantiate(obj: ElfObject, vm: Vm, opts: InstantiateOptions = {}): InstantiatedObject {
  const maps = createObjectMaps(obj, vm);
  const bound = maps.map(withValueAddr);
  const programs = obj.programs.map((prog): InstantiatedProgram => {
    const hookCtx = prog.attach.hook !== undefined ? HOOK_CONTEXTS[prog.attach.hook] : HOOK_CONTEXTS[prog.attach.progType];
    const ctxSize = hookCtx?.ctxSize ?? 0;
    const ip: InstantiatedProgram = { prog, ctxSize };
    if (prog.attach.progType === 'unknown' || hookCtx === undefined) {
      ip.error = prog.attach.unsupported ?? `no context known for '${prog.section}'`;
      return ip;
    }
    const spec = programSpec(obj, prog);
    if (opts.verify !== false) {
      ip.verdict = verify(spec.insns, {
        progType: hookCtx.progType,
        ctxSize,
        maps: spec.maps,
        gpl: obj.gpl,
        logLevel: opts.logLevel ?? 1,
        maxInsns: opts.maxInsns,
      });
      if (!ip.verdict.ok) {
        const e = ip.verdict.error;
        const where = e !== undefined ? lineAt(prog.lines, e.insn) : undefined;
        ip.error = `verifier rejected '${prog.name}'${e !== undefined ? ` at insn ${e.insn}: ${e.message}` : ''}${
          where !== undefined ? ` (${formatLine(where)})` : ''
        }`;
        return ip;
      }
    }
    try {
      ip.loaded = loadProgram(spec, (_def, i) => bound[i]);
    } catch (e) {
      ip.error = `cannot load '${prog.name}': ${e instanceof Error ? e.message : String(e)}`;
      return ip;
    }
    if (prog.attach.unsupported !== undefined) ip.error = prog.attach.unsupported;
    return ip;
  });
  return { obj, maps, programs };
}

/** Free the maps of an instantiated object. */
export function closeObject(io: InstantiatedObject): void {
  for (const m of io.maps) if (!m.closed) m.close();
}
