// The descriptor a hash map keeps at its handle so JIT-compiled programs can look keys up inside
// WebAssembly instead of crossing into JavaScript (as Linux's JITs inline lookups of some map
// types). Only hash and LRU hash maps with word-sized keys publish one; the JIT falls back to the
// helper when the magic is absent. The index it describes is a mirror, in the shared memory, of
// the map's own JavaScript index (hash-table.ts), written through on every change.

/** Bytes reserved at every map handle (the descriptor; zero when a map publishes none). */
export const HANDLE_BYTES = 40;

export const INLINE_HASH_MAGIC = 0x4b484d31;
/**
 * An LRU hash map (not per-CPU): the same descriptor plus `lru`, the address of its recency
 * list, which lives in the shared memory ({i32 head; i32 tail; {i32 prev; i32 next}[max]}, -1
 * for none): compiled code moves a hit to the front itself, exactly as the helper does.
 */
export const INLINE_LRU_MAGIC = 0x4b4c5231;

/** Descriptor fields (u32 each) at the handle. */
export const DESC = {
  magic: 0,
  /** key size in bytes (a multiple of 4) */
  keySize: 4,
  /** slots - 1 (the slot count is a power of two) */
  mask: 8,
  /** Int32 slot → element (-1: empty) */
  slots: 12,
  /** Int32 element → murmur3 hash of its key */
  hashes: 16,
  /** Int32 element → its key as little-endian words */
  keyWords: 20,
  /** Uint32 element → its value's address */
  values: 24,
  /** LRU maps: address of the recency list */
  lru: 28,
  /** value size in bytes (in-place updates: map_update_elem of a key that is present) */
  valueSize: 32,
} as const;
