// The match record: the bytes a compiled rule program writes into a ring buffer when its
// condition holds, and the decoder that turns them back into typed values. Documented in
// docs/alerts.md. Everything is little-endian, every field sits at a fixed offset and every
// value starts 8-byte aligned, so a program writes a record with plain `stx`/`st` stores at
// constant offsets from the pointer `bpf_ringbuf_reserve` returned.
//
// Layout (version 1):
//
//   header, RECORD_HEADER_SIZE = 48 bytes
//     0  u32 magic_version   RECORD_MAGIC_VERSION (magic 0x4b53 "KS" << 16 | version)
//     4  u32 rule_id         index into RuleTable.rules
//     8  u64 ktime_ns        bpf_ktime_get_ns()
//    16  u32 pid             low half of bpf_get_current_pid_tgid() (thread id)
//    20  u32 tgid            high half (process id)
//    24  u64 cgroup_id       bpf_get_current_cgroup_id()
//    32  u32 n_values        number of value entries that follow
//    36  u32 flags           RECORD_F_*
//    40  u32 used_len        bytes of the record in use (header + entries); 0 = all of it
//    44  u32 evt_type        EVT_* (the hook's event type)
//
//   value entry, VALUE_HEADER_SIZE = 8 bytes + payload slot
//     0  u16 field_id        index into RuleTable.fields
//     2  u8  kind            KIND_*
//     3  u8  vflags          VALUE_F_*
//     4  u16 len             payload bytes in use
//     6  u16 cap             payload slot size (0: slot = len); lets a program reserve a fixed
//                            slot for a string whose length it only learns at run time
//     8  payload, slot padded to a multiple of 8
//
// A record is at most MAX_RECORD_SIZE bytes. The decoder bounds-checks everything and reports
// a malformed record as an error value; it never throws on bad bytes.

import { formatIPv4, formatIPv6 } from '../collectors/kernel/inet.js';

export const RECORD_MAGIC = 0x4b53;
export const RECORD_VERSION = 1;
export const RECORD_MAGIC_VERSION = ((RECORD_MAGIC << 16) | RECORD_VERSION) >>> 0;

export const RECORD_HEADER_SIZE = 48;
export const MAX_RECORD_SIZE = 8192;
export const MAX_VALUES = 64;

// Header offsets (the compiler emits stores at these).
export const HDR_MAGIC_VERSION = 0;
export const HDR_RULE_ID = 4;
export const HDR_KTIME_NS = 8;
export const HDR_PID = 16;
export const HDR_TGID = 20;
export const HDR_CGROUP_ID = 24;
export const HDR_N_VALUES = 32;
export const HDR_FLAGS = 36;
export const HDR_USED_LEN = 40;
export const HDR_EVT_TYPE = 44;

// Record flags.
/** Some value did not fit its slot and was cut (its VALUE_F_TRUNCATED is set too). */
export const RECORD_F_TRUNCATED = 1 << 0;
/** The program sent SIGKILL to the task (rule action `kill`). */
export const RECORD_F_KILLED = 1 << 1;
/** The program made the syscall fail with bpf_override_return (rule action `deny`). */
export const RECORD_F_DENIED = 1 << 2;

// Value entry layout.
export const VALUE_HEADER_SIZE = 8;
export const VAL_FIELD_ID = 0;
export const VAL_KIND = 2;
export const VAL_FLAGS = 3;
export const VAL_LEN = 4;
export const VAL_CAP = 6;
/** Largest payload slot (len and cap are u16). */
export const MAX_VALUE_PAYLOAD = 0xffff;

// Value kinds.
/** No payload: the field has no value (Falco prints `<NA>`, JSON gets null). */
export const KIND_NONE = 0;
/** 8-byte unsigned integer. */
export const KIND_U64 = 1;
/** 8-byte signed integer. */
export const KIND_I64 = 2;
/** String; ends at the first NUL or at len, whichever comes first (probe_read_*_str output). */
export const KIND_STR = 3;
/** Raw bytes, shown as hex. */
export const KIND_BYTES = 4;
/** IPv4 address, 4 bytes in network order. */
export const KIND_IPV4 = 5;
/** IPv6 address, 16 bytes in network order. */
export const KIND_IPV6 = 6;
/** Boolean as an 8-byte integer (0 false, anything else true). */
export const KIND_BOOL = 7;
/** NUL-separated strings (an argv block); shown joined with single spaces. */
export const KIND_STRLIST = 8;
/** 8-byte nanoseconds since the epoch; shown as an integer like Falco's evt.time. */
export const KIND_TIME_NS = 9;
/** 4-byte signed integer (fits a u32 slot; widened when decoded). */
export const KIND_I32 = 10;
/** 4-byte unsigned integer. */
export const KIND_U32 = 11;

export const KIND_NAMES: Readonly<Record<number, string>> = {
  [KIND_NONE]: 'none',
  [KIND_U64]: 'u64',
  [KIND_I64]: 'i64',
  [KIND_STR]: 'str',
  [KIND_BYTES]: 'bytes',
  [KIND_IPV4]: 'ipv4',
  [KIND_IPV6]: 'ipv6',
  [KIND_BOOL]: 'bool',
  [KIND_STRLIST]: 'strlist',
  [KIND_TIME_NS]: 'time_ns',
  [KIND_I32]: 'i32',
  [KIND_U32]: 'u32',
};

/** Fixed payload size per kind, or -1 when the length varies. */
const FIXED_LEN: Readonly<Record<number, number>> = {
  [KIND_NONE]: 0,
  [KIND_U64]: 8,
  [KIND_I64]: 8,
  [KIND_IPV4]: 4,
  [KIND_IPV6]: 16,
  [KIND_BOOL]: 8,
  [KIND_TIME_NS]: 8,
  [KIND_I32]: 4,
  [KIND_U32]: 4,
};

// Value flags.
/** The value was cut to its slot. */
export const VALUE_F_TRUNCATED = 1 << 0;
/** The program could not read the value (e.g. probe_read failed): treat as missing. */
export const VALUE_F_NA = 1 << 1;

// Event types in the header (what hook produced the record).
export const EVT_UNKNOWN = 0;
export const EVT_EXECVE = 1;
export const EVT_EXECVEAT = 2;
export const EVT_CONNECT = 3;
export const EVT_FORK = 4;
export const EVT_EXIT = 5;
export const EVT_TYPE_NAMES: Readonly<Record<number, string>> = {
  [EVT_EXECVE]: 'execve',
  [EVT_EXECVEAT]: 'execveat',
  [EVT_CONNECT]: 'connect',
  [EVT_FORK]: 'clone',
  [EVT_EXIT]: 'procexit',
};

/**
 * The drop counter each compiled program bumps when `bpf_ringbuf_reserve`/`output` fails:
 * a single-slot array (key u32 0, value u64 count) the drain reads and reports.
 */
export const DROP_COUNTER_MAP = {
  name: 'kestrel_drops',
  type: 6, // BPF_MAP_TYPE_PERCPU_ARRAY
  keySize: 4,
  valueSize: 8,
  maxEntries: 1,
  flags: 0,
} as const;

// ---------------------------------------------------------------------------------------------
// The rule table: what ids in a record mean.

export interface RuleInfo {
  name: string;
  /** Falco priority name, any case (`WARNING`, `Notice`, `info`, ...). */
  priority: string;
  tags: readonly string[];
  /** The rule's output format with `%field` references. */
  output: string;
  /** Falco's event source; `syscall` for Kestrel's compiled rules. */
  source: string;
}

export interface RuleTable {
  /** rule id → rule. */
  rules: readonly (RuleInfo | undefined)[];
  /** field id → field name as written in rules (`proc.name`, `proc.aname[2]`, `fd.sip`). */
  fields: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Layout helper for the compiler: fixed slots, known offsets.

export interface SlotSpec {
  fieldId: number;
  kind: number;
  /** Payload slot bytes; for fixed-size kinds the kind's size is used. */
  cap?: number;
}

export interface SlotLayout {
  fieldId: number;
  kind: number;
  /** Offset of the entry header from the record start. */
  entryOffset: number;
  /** Offset of the payload (entryOffset + VALUE_HEADER_SIZE). */
  payloadOffset: number;
  cap: number;
}

export interface RecordLayout {
  slots: SlotLayout[];
  /** Bytes to reserve: header plus every slot. */
  size: number;
}

export function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * Offsets of a record with fixed slots, in the given order. The program fills the header, and
 * for each slot writes field_id/kind/cap once and len (and vflags) after reading the value.
 */
export function layoutRecord(specs: readonly SlotSpec[]): RecordLayout {
  if (specs.length > MAX_VALUES) throw new RangeError(`a record holds at most ${MAX_VALUES} values, got ${specs.length}`);
  let off = RECORD_HEADER_SIZE;
  const slots: SlotLayout[] = [];
  for (const s of specs) {
    const fixed = FIXED_LEN[s.kind];
    if (KIND_NAMES[s.kind] === undefined) throw new RangeError(`unknown value kind ${s.kind}`);
    const cap = fixed !== undefined ? fixed : (s.cap ?? 0);
    if (!Number.isInteger(cap) || cap < 0 || cap > MAX_VALUE_PAYLOAD) throw new RangeError(`bad slot size ${cap}`);
    slots.push({ fieldId: s.fieldId, kind: s.kind, entryOffset: off, payloadOffset: off + VALUE_HEADER_SIZE, cap });
    off += VALUE_HEADER_SIZE + align8(cap);
  }
  if (off > MAX_RECORD_SIZE) throw new RangeError(`record of ${off} bytes exceeds ${MAX_RECORD_SIZE}`);
  return { slots, size: off };
}

// ---------------------------------------------------------------------------------------------
// Encoding (tests, the reference evaluator path, and Kestrel's own drop/internal records).

/** A value as TS code hands it to the encoder. `undefined`/`null` encode as KIND_NONE. */
export type EncodableValue =
  | { kind: typeof KIND_U64 | typeof KIND_I64 | typeof KIND_BOOL | typeof KIND_TIME_NS; value: bigint | number | boolean }
  | { kind: typeof KIND_I32 | typeof KIND_U32; value: number }
  | { kind: typeof KIND_STR; value: string }
  | { kind: typeof KIND_STRLIST; value: readonly string[] }
  | { kind: typeof KIND_BYTES; value: Uint8Array }
  | { kind: typeof KIND_IPV4 | typeof KIND_IPV6; value: string }
  | { kind: typeof KIND_NONE };

export interface RecordInput {
  ruleId: number;
  ktimeNs: bigint;
  pid: number;
  tgid: number;
  cgroupId: bigint;
  flags?: number;
  evtType?: number;
  values: readonly { fieldId: number; value: EncodableValue; cap?: number; vflags?: number }[];
}

const utf8 = new TextEncoder();

function ipv4Bytes(s: string): Uint8Array {
  const parts = s.split('.');
  if (parts.length !== 4) throw new RangeError(`bad IPv4 address '${s}'`);
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = Number(parts[i]);
    if (!/^\d{1,3}$/.test(parts[i]) || n > 255) throw new RangeError(`bad IPv4 address '${s}'`);
    out[i] = n;
  }
  return out;
}

function ipv6Bytes(s: string): Uint8Array {
  let text = s;
  const out = new Uint8Array(16);
  // An embedded IPv4 tail (::ffff:1.2.3.4).
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: Uint8Array | undefined;
  if (v4 !== null) {
    tail = ipv4Bytes(v4[1]);
    text = text.slice(0, text.length - v4[1].length) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new RangeError(`bad IPv6 address '${s}'`);
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const rest = halves.length === 2 ? (halves[1] === '' ? [] : halves[1].split(':')) : [];
  const groups = halves.length === 2 ? [...head, ...new Array<string>(8 - head.length - rest.length).fill('0'), ...rest] : head;
  if (groups.length !== 8) throw new RangeError(`bad IPv6 address '${s}'`);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(groups[i])) throw new RangeError(`bad IPv6 address '${s}'`);
    const g = parseInt(groups[i], 16);
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  }
  if (tail !== undefined) out.set(tail, 12);
  return out;
}

function payloadOf(v: EncodableValue): Uint8Array {
  switch (v.kind) {
    case KIND_NONE:
      return new Uint8Array(0);
    case KIND_U64:
    case KIND_I64:
    case KIND_BOOL:
    case KIND_TIME_NS: {
      const b = new Uint8Array(8);
      const n = typeof v.value === 'boolean' ? (v.value ? 1n : 0n) : BigInt(v.value);
      new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, n), true);
      return b;
    }
    case KIND_I32:
    case KIND_U32: {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, v.value >>> 0, true);
      return b;
    }
    case KIND_STR:
      return utf8.encode(v.value);
    case KIND_STRLIST: {
      const parts = v.value.map((s) => utf8.encode(s));
      const total = parts.reduce((n, p) => n + p.length + 1, 0);
      const b = new Uint8Array(total);
      let o = 0;
      for (const p of parts) {
        b.set(p, o);
        o += p.length + 1;
      }
      return b;
    }
    case KIND_BYTES:
      return v.value;
    case KIND_IPV4:
      return ipv4Bytes(v.value);
    case KIND_IPV6:
      return ipv6Bytes(v.value);
  }
}

/** Encode a record the way a compiled program would write it (compact slots unless cap is given). */
export function encodeRecord(r: RecordInput): Uint8Array {
  if (r.values.length > MAX_VALUES) throw new RangeError(`a record holds at most ${MAX_VALUES} values`);
  const payloads = r.values.map((v) => payloadOf(v.value));
  const origLens = payloads.map((p) => p.length);
  let size = RECORD_HEADER_SIZE;
  const caps: number[] = [];
  let flags = r.flags ?? 0;
  for (let i = 0; i < payloads.length; i++) {
    let p = payloads[i];
    const cap = r.values[i].cap ?? p.length;
    if (p.length > cap) {
      // Cut like a bounded probe_read_str would, and say so.
      payloads[i] = p = p.subarray(0, cap);
      flags |= RECORD_F_TRUNCATED;
    }
    if (cap > MAX_VALUE_PAYLOAD) throw new RangeError(`value of ${cap} bytes exceeds ${MAX_VALUE_PAYLOAD}`);
    caps.push(cap);
    size += VALUE_HEADER_SIZE + align8(cap);
  }
  if (size > MAX_RECORD_SIZE) throw new RangeError(`record of ${size} bytes exceeds ${MAX_RECORD_SIZE}`);
  const buf = new Uint8Array(size);
  const dv = new DataView(buf.buffer);
  dv.setUint32(HDR_MAGIC_VERSION, RECORD_MAGIC_VERSION, true);
  dv.setUint32(HDR_RULE_ID, r.ruleId >>> 0, true);
  dv.setBigUint64(HDR_KTIME_NS, BigInt.asUintN(64, r.ktimeNs), true);
  dv.setUint32(HDR_PID, r.pid >>> 0, true);
  dv.setUint32(HDR_TGID, r.tgid >>> 0, true);
  dv.setBigUint64(HDR_CGROUP_ID, BigInt.asUintN(64, r.cgroupId), true);
  dv.setUint32(HDR_N_VALUES, r.values.length, true);
  dv.setUint32(HDR_FLAGS, flags >>> 0, true);
  dv.setUint32(HDR_USED_LEN, size, true);
  dv.setUint32(HDR_EVT_TYPE, r.evtType ?? EVT_UNKNOWN, true);
  let off = RECORD_HEADER_SIZE;
  for (let i = 0; i < payloads.length; i++) {
    const v = r.values[i];
    const p = payloads[i];
    const origLen = origLens[i];
    let vflags = v.vflags ?? 0;
    if (origLen > p.length) vflags |= VALUE_F_TRUNCATED;
    dv.setUint16(off + VAL_FIELD_ID, v.fieldId, true);
    buf[off + VAL_KIND] = v.value.kind;
    buf[off + VAL_FLAGS] = vflags;
    dv.setUint16(off + VAL_LEN, p.length, true);
    dv.setUint16(off + VAL_CAP, v.cap === undefined ? 0 : caps[i], true);
    buf.set(p, off + VALUE_HEADER_SIZE);
    off += VALUE_HEADER_SIZE + align8(caps[i]);
  }
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/** A decoded value: what output_fields carries (numbers as numbers when safe, else strings). */
export type FieldValue = string | number | boolean | null;

export interface DecodedValue {
  fieldId: number;
  field: string;
  kind: number;
  /** null when missing (KIND_NONE or VALUE_F_NA). */
  value: FieldValue;
  truncated: boolean;
}

export interface DecodedRecord {
  ruleId: number;
  rule: RuleInfo;
  ktimeNs: bigint;
  pid: number;
  tgid: number;
  cgroupId: bigint;
  flags: number;
  evtType: number;
  values: DecodedValue[];
}

export type DecodeResult = { ok: true; record: DecodedRecord } | { ok: false; error: string };

const utf8d = new TextDecoder('utf-8', { fatal: false });

function u64ToField(lo: number, hi: number, signed: boolean): number | string {
  if (signed && hi & 0x80000000) {
    // Negative: two's complement of the 64-bit value.
    const big = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
    return big >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(big) : big.toString();
  }
  if (hi < 0x200000) return hi * 4294967296 + lo;
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}


function decodePayload(kind: number, b: Uint8Array, dv: DataView, off: number, len: number): FieldValue | undefined {
  const fixed = FIXED_LEN[kind];
  if (fixed !== undefined && fixed !== len) return undefined;
  switch (kind) {
    case KIND_NONE:
      return null;
    case KIND_U64:
    case KIND_TIME_NS:
      return u64ToField(dv.getUint32(off, true), dv.getUint32(off + 4, true), false);
    case KIND_I64:
      return u64ToField(dv.getUint32(off, true), dv.getUint32(off + 4, true), true);
    case KIND_I32:
      return dv.getInt32(off, true);
    case KIND_U32:
      return dv.getUint32(off, true);
    case KIND_BOOL:
      return (dv.getUint32(off, true) | dv.getUint32(off + 4, true)) !== 0;
    case KIND_STR: {
      let end = off;
      const lim = off + len;
      while (end < lim && b[end] !== 0) end++;
      return utf8d.decode(b.subarray(off, end));
    }
    case KIND_STRLIST: {
      let end = off + len;
      while (end > off && b[end - 1] === 0) end--;
      return utf8d
        .decode(b.subarray(off, end))
        .split('\0')
        .join(' ');
    }
    case KIND_BYTES: {
      let s = '';
      for (let i = off; i < off + len; i++) s += b[i].toString(16).padStart(2, '0');
      return s;
    }
    case KIND_IPV4:
      return formatIPv4(b, off);
    case KIND_IPV6:
      return formatIPv6(b, off);
    default:
      return undefined;
  }
}

/**
 * Decode one ring-buffer sample. `bytes` is the sample without the ring buffer's 8-byte header.
 * Every offset is checked against the sample length; unknown rule ids, field ids and kinds and
 * inconsistent lengths are errors.
 */
export function decodeRecord(bytes: Uint8Array, table: RuleTable): DecodeResult {
  if (bytes.length < RECORD_HEADER_SIZE) return { ok: false, error: `record of ${bytes.length} bytes is shorter than the ${RECORD_HEADER_SIZE}-byte header` };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const mv = dv.getUint32(HDR_MAGIC_VERSION, true);
  if (mv >>> 16 !== RECORD_MAGIC) return { ok: false, error: `bad magic 0x${(mv >>> 16).toString(16)}` };
  if ((mv & 0xffff) !== RECORD_VERSION) return { ok: false, error: `unsupported record version ${mv & 0xffff}` };
  const ruleId = dv.getUint32(HDR_RULE_ID, true);
  const rule = ruleId < table.rules.length ? table.rules[ruleId] : undefined;
  if (rule === undefined) return { ok: false, error: `unknown rule id ${ruleId}` };
  const nValues = dv.getUint32(HDR_N_VALUES, true);
  if (nValues > MAX_VALUES) return { ok: false, error: `${nValues} values exceed the maximum of ${MAX_VALUES}` };
  const usedLen = dv.getUint32(HDR_USED_LEN, true);
  if (usedLen !== 0 && (usedLen < RECORD_HEADER_SIZE || usedLen > bytes.length)) {
    return { ok: false, error: `used length ${usedLen} outside the ${bytes.length}-byte record` };
  }
  const limit = Math.min(usedLen === 0 ? bytes.length : usedLen, MAX_RECORD_SIZE);
  const values: DecodedValue[] = [];
  let off = RECORD_HEADER_SIZE;
  for (let i = 0; i < nValues; i++) {
    if (off + VALUE_HEADER_SIZE > limit) return { ok: false, error: `value ${i} header at offset ${off} beyond the record end ${limit}` };
    const fieldId = dv.getUint16(off + VAL_FIELD_ID, true);
    const kind = bytes[off + VAL_KIND];
    const vflags = bytes[off + VAL_FLAGS];
    const len = dv.getUint16(off + VAL_LEN, true);
    const cap = dv.getUint16(off + VAL_CAP, true);
    const slot = cap === 0 ? len : cap;
    if (len > slot) return { ok: false, error: `value ${i} (offset ${off}): length ${len} exceeds its slot of ${cap}` };
    const payload = off + VALUE_HEADER_SIZE;
    if (payload + len > limit) return { ok: false, error: `value ${i} (offset ${off}): ${len} bytes run past the record end ${limit}` };
    const field = table.fields[fieldId];
    if (field === undefined) return { ok: false, error: `value ${i} (offset ${off}): unknown field id ${fieldId}` };
    if (KIND_NAMES[kind] === undefined) return { ok: false, error: `value ${i} (offset ${off}): unknown kind ${kind}` };
    let value: FieldValue;
    if ((vflags & VALUE_F_NA) !== 0) value = null;
    else {
      const v = decodePayload(kind, bytes, dv, payload, len);
      if (v === undefined) return { ok: false, error: `value ${i} (offset ${off}): ${KIND_NAMES[kind]} with length ${len}` };
      value = v;
    }
    values.push({ fieldId, field, kind, value, truncated: (vflags & VALUE_F_TRUNCATED) !== 0 });
    // The last slot may end exactly at the record end without its padding.
    off = payload + align8(slot);
  }
  return {
    ok: true,
    record: {
      ruleId,
      rule,
      ktimeNs: dv.getBigUint64(HDR_KTIME_NS, true),
      pid: dv.getUint32(HDR_PID, true),
      tgid: dv.getUint32(HDR_TGID, true),
      cgroupId: dv.getBigUint64(HDR_CGROUP_ID, true),
      flags: dv.getUint32(HDR_FLAGS, true),
      evtType: dv.getUint32(HDR_EVT_TYPE, true),
      values,
    },
  };
}
