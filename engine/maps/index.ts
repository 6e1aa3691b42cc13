// Map creation with Linux's checks (BPF_MAP_CREATE: the *_map_alloc_check functions), and the
// public names of the maps package.
//
//   createMap(mem, def, {cpus})   → BpfMap (program side, by address) & MapUserApi (libbpf-style)
//   hash.ts        hash, percpu_hash, lru_hash, lru_percpu_hash (hash-table.ts: the key index)
//   array.ts       array, percpu_array (+ valueAddr for `lddw mapval:`)
//   lpm-trie.ts    lpm_trie          prog-array.ts  prog_array (setProg/getProg for tail calls)
//   perf-event-array.ts  perf_event_array + PerfEventReader
//   ringbuf.ts     ringbuf (kernel layout) + RingBufConsumer (libbpf's ringbuf_process_ring)
//   ring-buffer-poll.ts  RingBuffer: several rings, consume(), async poll() woken by producers
// Every map value is its own MapValue region at a fixed address for the map's lifetime.

import type { VmMemory } from '../memory.js';
import { OutOfVmMemory } from '../memory.js';
import type { BpfMap } from '../runtime.js';
import {
  BPF_F_NO_COMMON_LRU,
  BPF_F_NO_PREALLOC,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_LPM_TRIE,
  BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_PROG_ARRAY,
  BPF_MAP_TYPE_RINGBUF,
  MAP_TYPE_NAMES,
  type MapDef,
} from './types.js';
import type { MapUserApi, MapOptions } from './api.js';
import { MapError } from './errors.js';
import { HashMap } from './hash.js';
import { ArrayMap } from './array.js';
import { LpmTrieMap } from './lpm-trie.js';
import { ProgArrayMap } from './prog-array.js';
import { PerfEventArrayMap } from './perf-event-array.js';
import { RingBufMap } from './ringbuf.js';
import { roundUp8 } from './slab.js';

export { MapError, MAP_ERRNO, type MapErrorCode } from './errors.js';
export { MapBase, type MapUserApi, type MapOptions, type BatchResult } from './api.js';
export { HashMap } from './hash.js';
export { ArrayMap } from './array.js';
export { LpmTrieMap } from './lpm-trie.js';
export { ProgArrayMap } from './prog-array.js';
export { PerfEventArrayMap, PerfEventReader, PerfBuffer, BPF_F_CURRENT_CPU } from './perf-event-array.js';
export {
  RingBufMap,
  RingBufConsumer,
  type RingBufSampleCb,
  type RingBufRawCb,
  BPF_RB_NO_WAKEUP,
  BPF_RB_FORCE_WAKEUP,
  BPF_RB_AVAIL_DATA,
  BPF_RB_RING_SIZE,
  BPF_RB_CONS_POS,
  BPF_RB_PROD_POS,
  BPF_RINGBUF_BUSY_BIT,
  BPF_RINGBUF_DISCARD_BIT,
  BPF_RINGBUF_HDR_SZ,
} from './ringbuf.js';

/** Largest key Linux allows in a hash map (MAX_BPF_STACK). */
const MAX_HASH_KEY = 512;
/** KMALLOC_MAX_SIZE on x86-64 (4 MiB): the largest single value. */
const MAX_VALUE = 4 * 1024 * 1024;
/** PCPU_MIN_UNIT_SIZE: the largest per-CPU value. */
const MAX_PERCPU_VALUE = 32 * 1024;
/** LPM_DATA_SIZE_MAX. */
const LPM_DATA_MAX = 256;
/**
 * Kestrel's own limits, so a hostile object file cannot make map creation take minutes or
 * exhaust the process: at most this many elements, and this many preallocated values (each a region).
 */
const MAX_ENTRIES = 1 << 24;
const MAX_PREALLOC_VALUES = 1 << 22;
const MAX_KEY_BYTES = 1 << 28;

function fail(code: 'EINVAL' | 'E2BIG' | 'ENOTSUPP' | 'ENOMEM', def: MapDef, why: string): never {
  throw new MapError(code, `cannot create ${MAP_TYPE_NAMES[def.type] ?? `type ${def.type}`} map ${def.name}: ${why}`);
}

function checkDef(def: MapDef): void {
  for (const f of ['keySize', 'valueSize', 'maxEntries', 'flags'] as const) {
    const v = def[f];
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) fail('EINVAL', def, `${f} ${v} is not a u32`);
  }
  const hashLike = [BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH];
  const percpu = [BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY].includes(def.type);
  if (hashLike.includes(def.type)) {
    const lru = def.type === BPF_MAP_TYPE_LRU_HASH || def.type === BPF_MAP_TYPE_LRU_PERCPU_HASH;
    if (def.keySize === 0 || def.valueSize === 0 || def.maxEntries === 0) fail('EINVAL', def, 'key size, value size and max entries must be > 0');
    if (!lru && (def.flags & BPF_F_NO_COMMON_LRU) !== 0) fail('EINVAL', def, 'BPF_F_NO_COMMON_LRU on a non-LRU map');
    if (lru && (def.flags & BPF_F_NO_PREALLOC) !== 0) fail('ENOTSUPP', def, 'LRU maps are always preallocated');
    if (def.keySize > MAX_HASH_KEY) fail('E2BIG', def, `key size ${def.keySize} > ${MAX_HASH_KEY}`);
  } else if (def.type === BPF_MAP_TYPE_ARRAY || def.type === BPF_MAP_TYPE_PERCPU_ARRAY) {
    if (def.keySize !== 4 || def.valueSize === 0 || def.maxEntries === 0) fail('EINVAL', def, 'key size must be 4, value size and max entries > 0');
    if ((def.flags & BPF_F_NO_PREALLOC) !== 0) fail('EINVAL', def, 'arrays are always preallocated');
  } else if (def.type === BPF_MAP_TYPE_PROG_ARRAY || def.type === BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
    if (def.keySize !== 4 || def.valueSize !== 4 || def.maxEntries === 0) fail('EINVAL', def, 'key and value size must be 4, max entries > 0');
  } else if (def.type === BPF_MAP_TYPE_LPM_TRIE) {
    if ((def.flags & BPF_F_NO_PREALLOC) === 0) fail('EINVAL', def, 'lpm_trie needs BPF_F_NO_PREALLOC');
    if (def.keySize < 5 || def.keySize > 4 + LPM_DATA_MAX) fail('EINVAL', def, `key size ${def.keySize} outside 5..${4 + LPM_DATA_MAX}`);
    if (def.valueSize === 0 || def.maxEntries === 0) fail('EINVAL', def, 'value size and max entries must be > 0');
  } else if (def.type === BPF_MAP_TYPE_RINGBUF) {
    if (def.maxEntries > 1 << 28) fail('ENOMEM', def, `ring of ${def.maxEntries} bytes is larger than Kestrel allows (${1 << 28})`);
    try {
      RingBufMap.validate(def);
    } catch (e) {
      if (e instanceof MapError) fail('EINVAL', def, e.message.replace(/^EINVAL: /, ''));
      throw e;
    }
    return;
  } else {
    fail('EINVAL', def, `unsupported map type ${def.type}`);
  }
  if (def.valueSize > MAX_VALUE) fail('E2BIG', def, `value size ${def.valueSize} > ${MAX_VALUE}`);
  if (def.maxEntries > MAX_ENTRIES) fail('ENOMEM', def, `${def.maxEntries} entries is more than Kestrel allows (${MAX_ENTRIES})`);
  // Keys of hash and LPM maps are kept outside the VM memory, sized for max_entries up front.
  if (def.maxEntries * def.keySize > MAX_KEY_BYTES) fail('ENOMEM', def, `${def.maxEntries} keys of ${def.keySize} bytes exceed ${MAX_KEY_BYTES} bytes`);
  if (percpu && roundUp8(def.valueSize) > MAX_PERCPU_VALUE) fail('E2BIG', def, `per-CPU value size ${def.valueSize} > ${MAX_PERCPU_VALUE}`);
}

/**
 * Create a map in the shared memory. Throws MapError with Linux's errno for a definition Linux
 * would refuse, and ENOMEM when the memory cannot hold it.
 */
export function createMap(mem: VmMemory, def: MapDef, opts: MapOptions = {}): BpfMap & MapUserApi {
  checkDef(def);
  const cpus = opts.cpus ?? 1;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 1024) throw new MapError('EINVAL', `bad CPU count ${cpus}`);
  const preallocated =
    def.type === BPF_MAP_TYPE_ARRAY ||
    def.type === BPF_MAP_TYPE_PERCPU_ARRAY ||
    ((def.type === BPF_MAP_TYPE_HASH || def.type === BPF_MAP_TYPE_PERCPU_HASH || def.type === BPF_MAP_TYPE_LRU_HASH || def.type === BPF_MAP_TYPE_LRU_PERCPU_HASH) &&
      (def.flags & BPF_F_NO_PREALLOC) === 0);
  const percpu = def.type === BPF_MAP_TYPE_PERCPU_ARRAY || def.type === BPF_MAP_TYPE_PERCPU_HASH || def.type === BPF_MAP_TYPE_LRU_PERCPU_HASH;
  if (preallocated && def.maxEntries * (percpu ? cpus : 1) > MAX_PREALLOC_VALUES) {
    fail('ENOMEM', def, `${def.maxEntries * (percpu ? cpus : 1)} preallocated values is more than Kestrel allows (${MAX_PREALLOC_VALUES}); use BPF_F_NO_PREALLOC for a hash map`);
  }
  const o: MapOptions = { ...opts, cpus };
  try {
    switch (def.type) {
      case BPF_MAP_TYPE_HASH:
        return new HashMap(mem, def, { percpu: false, lru: false }, o);
      case BPF_MAP_TYPE_PERCPU_HASH:
        return new HashMap(mem, def, { percpu: true, lru: false }, o);
      case BPF_MAP_TYPE_LRU_HASH:
        return new HashMap(mem, def, { percpu: false, lru: true }, o);
      case BPF_MAP_TYPE_LRU_PERCPU_HASH:
        return new HashMap(mem, def, { percpu: true, lru: true }, o);
      case BPF_MAP_TYPE_ARRAY:
        return new ArrayMap(mem, def, false, o);
      case BPF_MAP_TYPE_PERCPU_ARRAY:
        return new ArrayMap(mem, def, true, o);
      case BPF_MAP_TYPE_LPM_TRIE:
        return new LpmTrieMap(mem, def, o);
      case BPF_MAP_TYPE_PROG_ARRAY:
        return new ProgArrayMap<unknown>(mem, def, o);
      case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
        return new PerfEventArrayMap(mem, def, o);
      case BPF_MAP_TYPE_RINGBUF:
        return new RingBufMap(mem, def, o);
      default:
        return fail('EINVAL', def, `unsupported map type ${def.type}`);
    }
  } catch (e) {
    if (e instanceof OutOfVmMemory || e instanceof RangeError) throw new MapError('ENOMEM', `cannot create map ${def.name}: ${e.message}`);
    throw e;
  }
}
export { RingBuffer } from './ring-buffer-poll.js';
