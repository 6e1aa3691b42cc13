// BTF (the .BTF section): enough of the type format to read BTF-defined maps in `.maps`, the
// variables of data sections, and record structs (`struct event`) for printing. Layout per
// Linux's include/uapi/linux/btf.h. Untrusted input: every type id is range-checked when used,
// modifier chains are followed with a step limit (a cycle is an ElfError, not a hang), and
// sizes are computed without recursion into struct members.

import { Bytes, latin1 } from './bytes.js';
import { ElfError } from './errors.js';

export const BTF_MAGIC = 0xeb9f;

export enum BtfKind {
  Unknown = 0,
  Int = 1,
  Ptr = 2,
  Array = 3,
  Struct = 4,
  Union = 5,
  Enum = 6,
  Fwd = 7,
  Typedef = 8,
  Volatile = 9,
  Const = 10,
  Restrict = 11,
  Func = 12,
  FuncProto = 13,
  Var = 14,
  Datasec = 15,
  Float = 16,
  DeclTag = 17,
  TypeTag = 18,
  Enum64 = 19,
}

export const BTF_KIND_NAMES: Record<number, string> = {
  0: 'void', 1: 'INT', 2: 'PTR', 3: 'ARRAY', 4: 'STRUCT', 5: 'UNION', 6: 'ENUM', 7: 'FWD', 8: 'TYPEDEF',
  9: 'VOLATILE', 10: 'CONST', 11: 'RESTRICT', 12: 'FUNC', 13: 'FUNC_PROTO', 14: 'VAR', 15: 'DATASEC',
  16: 'FLOAT', 17: 'DECL_TAG', 18: 'TYPE_TAG', 19: 'ENUM64',
};

// INT encoding bits.
export const BTF_INT_SIGNED = 1;
export const BTF_INT_CHAR = 2;
export const BTF_INT_BOOL = 4;

export interface BtfMember {
  name: string;
  type: number;
  /** Offset in bits from the start of the struct. */
  bitOffset: number;
  /** Bitfield size in bits, 0 for a plain member. */
  bitSize: number;
}

export interface BtfEnumValue {
  name: string;
  value: bigint;
}

export interface BtfVarSecinfo {
  type: number;
  offset: number;
  size: number;
}

export interface BtfType {
  id: number;
  kind: BtfKind;
  name: string;
  /** `size` for INT/STRUCT/UNION/ENUM/DATASEC/FLOAT; the referenced type id otherwise. */
  sizeOrType: number;
  kindFlag: boolean;
  /** INT: encoding, bit offset and bit count. */
  intEncoding?: number;
  intBits?: number;
  intOffset?: number;
  /** ARRAY */
  elemType?: number;
  indexType?: number;
  nelems?: number;
  members?: BtfMember[];
  enumValues?: BtfEnumValue[];
  params?: { name: string; type: number }[];
  /** VAR linkage, FUNC linkage. */
  linkage?: number;
  secinfos?: BtfVarSecinfo[];
}

const MAX_CHAIN = 64;
const MAX_TYPES = 1 << 20;

export class Btf {
  /** types[0] is void. */
  readonly types: BtfType[];
  private readonly byName = new Map<string, number[]>();
  /** Look up a string of the BTF string section (also used by .BTF.ext); throws ElfError when out of range. */
  readonly str: (off: number, what: string) => string;
  constructor(types: BtfType[], str: (off: number, what: string) => string = () => '') {
    this.types = types;
    this.str = str;
    for (const t of types) {
      if (t.name === '') continue;
      const l = this.byName.get(t.name);
      if (l === undefined) this.byName.set(t.name, [t.id]);
      else l.push(t.id);
    }
  }

  get(id: number): BtfType {
    if (!Number.isInteger(id) || id < 0 || id >= this.types.length) {
      throw new ElfError(`BTF: type id ${id} out of range (${this.types.length} types)`);
    }
    return this.types[id];
  }

  /** First type with this name and kind. */
  find(name: string, kind: BtfKind): BtfType | undefined {
    for (const id of this.byName.get(name) ?? []) {
      const t = this.types[id];
      if (t.kind === kind) return t;
    }
    return undefined;
  }

  /** Follow typedef/const/volatile/restrict/type_tag to the underlying type. */
  skipMods(id: number): BtfType {
    let t = this.get(id);
    for (let steps = 0; ; steps++) {
      if (steps > MAX_CHAIN) throw new ElfError(`BTF: type ${id} is a cycle or too long a chain of typedefs/modifiers`);
      if (
        t.kind === BtfKind.Typedef ||
        t.kind === BtfKind.Const ||
        t.kind === BtfKind.Volatile ||
        t.kind === BtfKind.Restrict ||
        t.kind === BtfKind.TypeTag
      ) {
        t = this.get(t.sizeOrType);
      } else {
        return t;
      }
    }
  }

  /** Size in bytes of a type (as `sizeof`). Arrays multiply by their element size, iteratively. */
  sizeOf(id: number): number {
    let mult = 1;
    let t = this.skipMods(id);
    for (let steps = 0; ; steps++) {
      if (steps > MAX_CHAIN) throw new ElfError(`BTF: type ${id}: array nesting is a cycle or too deep`);
      switch (t.kind) {
        case BtfKind.Int:
        case BtfKind.Struct:
        case BtfKind.Union:
        case BtfKind.Enum:
        case BtfKind.Enum64:
        case BtfKind.Float:
        case BtfKind.Datasec:
          return checkedSize(mult * t.sizeOrType, id);
        case BtfKind.Ptr:
          return checkedSize(mult * 8, id);
        case BtfKind.Array:
          mult *= t.nelems ?? 0;
          checkedSize(mult, id);
          t = this.skipMods(t.elemType ?? 0);
          break;
        default:
          throw new ElfError(`BTF: type ${id} (${BTF_KIND_NAMES[t.kind] ?? t.kind}${t.name ? ` '${t.name}'` : ''}) has no size`);
      }
    }
  }

  /** A C-like name for messages: `struct event`, `u32`, `char[16]`. */
  describe(id: number, depth = 0): string {
    if (id === 0) return 'void';
    const t = this.get(id);
    if (depth > 8) return '...';
    switch (t.kind) {
      case BtfKind.Struct:
        return `struct ${t.name || '<anon>'}`;
      case BtfKind.Union:
        return `union ${t.name || '<anon>'}`;
      case BtfKind.Enum:
      case BtfKind.Enum64:
        return `enum ${t.name || '<anon>'}`;
      case BtfKind.Ptr:
        return `${this.describe(t.sizeOrType, depth + 1)} *`;
      case BtfKind.Array:
        return `${this.describe(t.elemType ?? 0, depth + 1)}[${t.nelems ?? 0}]`;
      case BtfKind.Const:
        return `const ${this.describe(t.sizeOrType, depth + 1)}`;
      case BtfKind.Volatile:
        return `volatile ${this.describe(t.sizeOrType, depth + 1)}`;
      default:
        return t.name || BTF_KIND_NAMES[t.kind] || `kind ${t.kind}`;
    }
  }
}

function checkedSize(n: number, id: number): number {
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new ElfError(`BTF: type ${id}: size ${n} out of range`);
  return n;
}

/** Parse a .BTF section. */
export function parseBtf(data: Uint8Array): Btf {
  const b = new Bytes(data);
  const magic = b.u16(0, 'BTF header');
  if (magic !== BTF_MAGIC) throw new ElfError(`BTF: bad magic 0x${magic.toString(16)} (want 0xeb9f; big-endian BTF is not supported)`);
  const version = b.u8at(2, 'BTF header');
  if (version !== 1) throw new ElfError(`BTF: unsupported version ${version}`);
  const hdrLen = b.u32(4, 'BTF header');
  if (hdrLen < 24 || hdrLen > data.length) throw new ElfError(`BTF: header length ${hdrLen} out of range`);
  const typeOff = b.u32(8, 'BTF header');
  const typeLen = b.u32(12, 'BTF header');
  const strOff = b.u32(16, 'BTF header');
  const strLen = b.u32(20, 'BTF header');
  const tStart = hdrLen + typeOff;
  const sStart = hdrLen + strOff;
  b.need(tStart, typeLen, 'BTF type section');
  b.need(sStart, strLen, 'BTF string section');
  if (strLen === 0 || data[sStart] !== 0) throw new ElfError('BTF: string section must start with an empty string');
  if (data[sStart + strLen - 1] !== 0) throw new ElfError('BTF: string section is not NUL-terminated');
  const tEnd = tStart + typeLen;
  if (tStart < sStart + strLen && sStart < tEnd) throw new ElfError('BTF: type and string sections overlap');

  const str = (off: number, what: string): string => {
    if (off >= strLen) throw new ElfError(`BTF: ${what}: name offset ${off} outside the string section (${strLen} bytes)`);
    let end = sStart + off;
    while (data[end] !== 0) end++;
    return latin1(data, sStart + off, end);
  };

  const types: BtfType[] = [{ id: 0, kind: BtfKind.Unknown, name: '', sizeOrType: 0, kindFlag: false }];
  let o = tStart;
  while (o < tEnd) {
    const id = types.length;
    if (id > MAX_TYPES) throw new ElfError(`BTF: more than ${MAX_TYPES} types`);
    const what = `type ${id}`;
    if (o + 12 > tEnd) throw new ElfError(`BTF: ${what}: truncated header`);
    const nameOff = b.u32(o, what);
    const info = b.u32(o + 4, what);
    const sizeOrType = b.u32(o + 8, what);
    o += 12;
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    const kindFlag = info >>> 31 === 1;
    const t: BtfType = { id, kind, name: str(nameOff, what), sizeOrType, kindFlag };
    const needBytes = (n: number): void => {
      if (o + n > tEnd) throw new ElfError(`BTF: ${what} (${BTF_KIND_NAMES[kind] ?? kind}): ${n} bytes of data run past the type section`);
    };
    switch (kind) {
      case BtfKind.Int: {
        needBytes(4);
        const enc = b.u32(o, what);
        t.intEncoding = (enc >>> 24) & 0x0f;
        t.intOffset = (enc >>> 16) & 0xff;
        t.intBits = enc & 0xff;
        if (t.intBits > 128) throw new ElfError(`BTF: ${what}: int of ${t.intBits} bits`);
        o += 4;
        break;
      }
      case BtfKind.Ptr:
      case BtfKind.Fwd:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.Func:
      case BtfKind.Float:
      case BtfKind.TypeTag:
        break;
      case BtfKind.Array:
        needBytes(12);
        t.elemType = b.u32(o, what);
        t.indexType = b.u32(o + 4, what);
        t.nelems = b.u32(o + 8, what);
        o += 12;
        break;
      case BtfKind.Struct:
      case BtfKind.Union: {
        needBytes(vlen * 12);
        t.members = [];
        for (let i = 0; i < vlen; i++, o += 12) {
          const off = b.u32(o + 8, what);
          t.members.push({
            name: str(b.u32(o, what), `${what} member ${i}`),
            type: b.u32(o + 4, what),
            bitOffset: kindFlag ? off & 0xffffff : off,
            bitSize: kindFlag ? off >>> 24 : 0,
          });
        }
        break;
      }
      case BtfKind.Enum: {
        needBytes(vlen * 8);
        t.enumValues = [];
        for (let i = 0; i < vlen; i++, o += 8) {
          const v = kindFlag ? BigInt(b.i32(o + 4, what)) : BigInt(b.u32(o + 4, what));
          t.enumValues.push({ name: str(b.u32(o, what), `${what} enumerator ${i}`), value: v });
        }
        break;
      }
      case BtfKind.Enum64: {
        needBytes(vlen * 12);
        t.enumValues = [];
        for (let i = 0; i < vlen; i++, o += 12) {
          const lo = BigInt(b.u32(o + 4, what));
          const hi = BigInt(b.u32(o + 8, what));
          let v = (hi << 32n) | lo;
          if (kindFlag) v = BigInt.asIntN(64, v);
          t.enumValues.push({ name: str(b.u32(o, what), `${what} enumerator ${i}`), value: v });
        }
        break;
      }
      case BtfKind.FuncProto: {
        needBytes(vlen * 8);
        t.params = [];
        for (let i = 0; i < vlen; i++, o += 8) {
          t.params.push({ name: str(b.u32(o, what), `${what} param ${i}`), type: b.u32(o + 4, what) });
        }
        break;
      }
      case BtfKind.Var:
        needBytes(4);
        t.linkage = b.u32(o, what);
        o += 4;
        break;
      case BtfKind.Datasec: {
        needBytes(vlen * 12);
        t.secinfos = [];
        for (let i = 0; i < vlen; i++, o += 12) {
          t.secinfos.push({ type: b.u32(o, what), offset: b.u32(o + 4, what), size: b.u32(o + 8, what) });
        }
        break;
      }
      case BtfKind.DeclTag:
        needBytes(4);
        o += 4;
        break;
      default:
        throw new ElfError(`BTF: ${what}: unknown kind ${kind}`);
    }
    if (kind === BtfKind.Func) t.linkage = vlen;
    types.push(t);
  }
  // Every referenced id must exist, so later lookups only fail on logic, not on the input.
  const n = types.length;
  const ref = (t: BtfType, id: number, what: string): void => {
    if (id >= n) throw new ElfError(`BTF: type ${t.id} ('${t.name}'): ${what} refers to type ${id}, out of range (${n} types)`);
  };
  for (const t of types) {
    switch (t.kind) {
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.Func:
      case BtfKind.Var:
      case BtfKind.TypeTag:
      case BtfKind.DeclTag:
      case BtfKind.FuncProto:
        ref(t, t.sizeOrType, 'its type');
        break;
      default:
        break;
    }
    if (t.elemType !== undefined) ref(t, t.elemType, 'element type');
    if (t.indexType !== undefined) ref(t, t.indexType, 'index type');
    for (const m of t.members ?? []) ref(t, m.type, `member '${m.name}'`);
    for (const p of t.params ?? []) ref(t, p.type, `parameter '${p.name}'`);
    for (const s of t.secinfos ?? []) ref(t, s.type, 'variable');
  }
  return new Btf(types, str);
}
