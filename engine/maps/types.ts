// Map types, flags and the definition shared by the assembler, the ELF loader, the verifier
// and the map implementations. Numbers are Linux's (include/uapi/linux/bpf.h).

export const BPF_MAP_TYPE_HASH = 1;
export const BPF_MAP_TYPE_ARRAY = 2;
export const BPF_MAP_TYPE_PROG_ARRAY = 3;
export const BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4;
export const BPF_MAP_TYPE_PERCPU_HASH = 5;
export const BPF_MAP_TYPE_PERCPU_ARRAY = 6;
export const BPF_MAP_TYPE_LRU_HASH = 9;
export const BPF_MAP_TYPE_LRU_PERCPU_HASH = 10;
export const BPF_MAP_TYPE_LPM_TRIE = 11;
export const BPF_MAP_TYPE_RINGBUF = 27;

export const MAP_TYPE_BY_NAME: Readonly<Record<string, number>> = {
  hash: BPF_MAP_TYPE_HASH,
  array: BPF_MAP_TYPE_ARRAY,
  prog_array: BPF_MAP_TYPE_PROG_ARRAY,
  perf_event_array: BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  percpu_hash: BPF_MAP_TYPE_PERCPU_HASH,
  percpu_array: BPF_MAP_TYPE_PERCPU_ARRAY,
  lru_hash: BPF_MAP_TYPE_LRU_HASH,
  lru_percpu_hash: BPF_MAP_TYPE_LRU_PERCPU_HASH,
  lpm_trie: BPF_MAP_TYPE_LPM_TRIE,
  ringbuf: BPF_MAP_TYPE_RINGBUF,
};

export const MAP_TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(MAP_TYPE_BY_NAME).map(([k, v]) => [v, k]),
);

// Update flags.
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;

// Creation flags.
export const BPF_F_NO_PREALLOC = 1;
export const BPF_F_NO_COMMON_LRU = 2;
export const BPF_F_RDONLY_PROG = 1 << 7;

/** What a program or an object declares; everything the verifier needs to type map accesses. */
export interface MapDef {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}
