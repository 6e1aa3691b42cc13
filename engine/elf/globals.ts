// Setting global variables before load, as a libbpf skeleton does with `skel->rodata->x = ...`:
// `kestrel prog load denyconnect.o --set blocked_port=8080`. The value is written into the data
// map's initial bytes (so `const volatile` settings in .rodata work, the verifier then sees them).

import { BtfKind, BTF_INT_SIGNED } from './btf.js';
import { ElfError } from './errors.js';
import type { ElfObject } from './index.js';

function isCharArray(obj: ElfObject, typeId: number | undefined): boolean {
  if (obj.btf === undefined || typeId === undefined) return false;
  const t = obj.btf.skipMods(typeId);
  if (t.kind !== BtfKind.Array) return false;
  const e = obj.btf.skipMods(t.elemType ?? 0);
  return e.kind === BtfKind.Int && e.sizeOrType === 1;
}

function isSigned(obj: ElfObject, typeId: number | undefined): boolean {
  if (obj.btf === undefined || typeId === undefined) return false;
  const t = obj.btf.skipMods(typeId);
  return (t.kind === BtfKind.Int && ((t.intEncoding ?? 0) & BTF_INT_SIGNED) !== 0) || ((t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) && t.kindFlag);
}

/** Set global `name` to `value` (an integer, decimal or 0x-hex, or a string for char arrays). */
export function setGlobal(obj: ElfObject, name: string, value: string): void {
  const g = obj.globals.find((x) => x.name === name);
  if (g === undefined) {
    const known = obj.globals.map((x) => x.name).join(', ');
    throw new ElfError(`no global variable '${name}' in the object's data sections${known !== '' ? ` (have: ${known})` : ''}`);
  }
  const m = obj.maps[g.map];
  const init = m.initial ?? new Uint8Array(m.def.valueSize);
  m.initial = init;
  const dst = init.subarray(g.offset, g.offset + g.size);
  if (isCharArray(obj, g.type)) {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length >= g.size) throw new ElfError(`'${name}' holds at most ${g.size - 1} bytes, '${value}' has ${bytes.length}`);
    dst.fill(0);
    dst.set(bytes);
    return;
  }
  if (![1, 2, 4, 8].includes(g.size)) throw new ElfError(`'${name}' (${g.size} bytes) is not an integer or a char array`);
  let v: bigint;
  try {
    if (!/^-?(0x[0-9a-f]+|\d+)$/i.test(value.trim())) throw new Error('bad');
    const neg = value.trim().startsWith('-');
    const abs = BigInt(value.trim().replace(/^-/, ''));
    v = neg ? -abs : abs;
  } catch {
    throw new ElfError(`'${name}': '${value}' is not an integer`);
  }
  const bits = BigInt(g.size * 8);
  const signed = isSigned(obj, g.type);
  const min = signed ? -(1n << (bits - 1n)) : v < 0n ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (v < min || v > max) throw new ElfError(`'${name}': ${value} does not fit in ${g.size} byte(s)`);
  let u = BigInt.asUintN(g.size * 8, v);
  for (let i = 0; i < g.size; i++) {
    dst[i] = Number(u & 0xffn);
    u >>= 8n;
  }
}
