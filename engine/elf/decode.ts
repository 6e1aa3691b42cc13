// Decode bytes with a BTF type, for printing ring-buffer records, map keys and values the way
// `bpftool map dump` does with BTF: structs as objects, char arrays as strings, integers as
// numbers (decimal strings beyond 2^53), pointers as hex, enums by name. Bounded: nesting depth
// and element counts are limited, and reads never go past the bytes given.

import { Btf, BtfKind, BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED } from './btf.js';

export type Decoded = number | string | boolean | null | Decoded[] | { [k: string]: Decoded };

const MAX_DEPTH = 16;
const MAX_ELEMS = 4096;
/** Values decoded per call at most: nested zero-size arrays must not multiply into a hang. */
const MAX_NODES = 65536;

interface Budget {
  left: number;
}

export function decodeValue(btf: Btf, typeId: number, bytes: Uint8Array): Decoded {
  return dec(btf, typeId, bytes, 0, 0, { left: MAX_NODES });
}

function readUint(bytes: Uint8Array, off: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(off + i < bytes.length ? bytes[off + i] : 0);
  return v;
}

function num(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function isCharType(btf: Btf, id: number): boolean {
  const t = btf.skipMods(id);
  // clang encodes plain `char` as a signed 1-byte INT named "char"; BTF_INT_CHAR is rare.
  return t.kind === BtfKind.Int && t.sizeOrType === 1 && (((t.intEncoding ?? 0) & BTF_INT_CHAR) !== 0 || t.name === 'char');
}

function cString(bytes: Uint8Array, off: number, len: number): string {
  let end = off;
  const stop = Math.min(off + len, bytes.length);
  while (end < stop && bytes[end] !== 0) end++;
  return Buffer.from(bytes.subarray(off, end)).toString('utf8');
}

function dec(btf: Btf, id: number, bytes: Uint8Array, off: number, depth: number, budget: Budget): Decoded {
  if (depth > MAX_DEPTH || --budget.left < 0) return '...';
  const t = btf.skipMods(id);
  switch (t.kind) {
    case BtfKind.Int: {
      const size = Math.min(t.sizeOrType, 16);
      const enc = t.intEncoding ?? 0;
      let v = readUint(bytes, off, size);
      if ((t.intOffset ?? 0) !== 0 || ((t.intBits ?? size * 8) !== size * 8 && (t.intBits ?? 0) > 0)) {
        v = (v >> BigInt(t.intOffset ?? 0)) & ((1n << BigInt(t.intBits ?? size * 8)) - 1n);
      }
      if ((enc & BTF_INT_BOOL) !== 0) return v !== 0n;
      if ((enc & BTF_INT_SIGNED) !== 0) v = BigInt.asIntN(Math.max(1, t.intBits ?? size * 8), v);
      return num(v);
    }
    case BtfKind.Enum:
    case BtfKind.Enum64: {
      const size = Math.min(t.sizeOrType, 8);
      let v = readUint(bytes, off, size);
      if (t.kindFlag) v = BigInt.asIntN(size * 8, v);
      const hit = (t.enumValues ?? []).find((e) => BigInt.asUintN(size * 8, e.value) === BigInt.asUintN(size * 8, v));
      return hit !== undefined ? hit.name : num(v);
    }
    case BtfKind.Ptr:
      return `0x${readUint(bytes, off, 8).toString(16)}`;
    case BtfKind.Float: {
      const d = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (t.sizeOrType === 4 && off + 4 <= bytes.length) return d.getFloat32(off, true);
      if (t.sizeOrType === 8 && off + 8 <= bytes.length) return d.getFloat64(off, true);
      return null;
    }
    case BtfKind.Array: {
      const n = Math.min(t.nelems ?? 0, MAX_ELEMS);
      const elem = t.elemType ?? 0;
      if (isCharType(btf, elem)) return cString(bytes, off, n);
      const es = btf.sizeOf(elem);
      const out: Decoded[] = [];
      for (let i = 0; i < n && off + i * es < bytes.length && budget.left > 0; i++) out.push(dec(btf, elem, bytes, off + i * es, depth + 1, budget));
      return out;
    }
    case BtfKind.Struct:
    case BtfKind.Union: {
      const out: { [k: string]: Decoded } = {};
      for (const [i, m] of (t.members ?? []).entries()) {
        const mo = off + Math.floor(m.bitOffset / 8);
        let v: Decoded;
        if (m.bitSize > 0) {
          const mt = btf.skipMods(m.type);
          const size = Math.min(mt.sizeOrType || 8, 8);
          const raw = readUint(bytes, mo, size) >> BigInt(m.bitOffset % 8);
          v = num(raw & ((1n << BigInt(m.bitSize)) - 1n));
        } else {
          v = dec(btf, m.type, bytes, mo, depth + 1, budget);
        }
        const name = m.name || `<anon${i}>`;
        // Anonymous struct/union members are flattened, as C lets you name their fields directly.
        if (m.name === '' && v !== null && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, v);
        else out[name] = v;
      }
      return out;
    }
    default:
      return null;
  }
}

/** One line of JSON for a decoded value (what `prog load` prints per record). */
export function formatDecoded(v: Decoded): string {
  return JSON.stringify(v);
}

/** Hex dump in 16-byte rows, like bpftool prints raw records: `00 01 02 ...`. */
export function hexDump(bytes: Uint8Array, indent = ''): string {
  const lines: string[] = [];
  for (let o = 0; o < bytes.length; o += 16) {
    const row = Array.from(bytes.subarray(o, Math.min(o + 16, bytes.length)), (x) => x.toString(16).padStart(2, '0'));
    lines.push(`${indent}${o.toString(16).padStart(4, '0')}: ${row.join(' ')}`);
  }
  return lines.join('\n');
}
