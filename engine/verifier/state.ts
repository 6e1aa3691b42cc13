// Abstract machine state: registers, stack frames, acquired references. Registers and stack slots
// are immutable values, so cloning a state copies arrays of references only.

import type { MapDef } from '../maps/types.js';
import { SC_UNKNOWN, SC_ZERO, scConst, scEqual, scIsConst, scStr, scBoundsStr, scWithin, type Sc } from './scalar.js';

export enum T {
  NotInit = 0,
  Scalar,
  Ctx,
  Stack,
  MapPtr,
  MapValue,
  MapValueOrNull,
  RbMem,
  RbMemOrNull,
  Func,
}

export interface Reg {
  readonly type: T;
  /** Scalar value, or the variable part of a pointer's offset. */
  readonly s: Sc;
  /** Fixed offset of a pointer. */
  readonly off: number;
  /** Null-check id (or-null pointers) or link id of copied scalars. */
  readonly id: number;
  /** Reference id of a ring-buffer record. */
  readonly ref: number;
  /** Map index (map pointers and values). */
  readonly map: number;
  /** Ring-buffer record size; for Func the subprogram's first insn. */
  readonly size: number;
  /** Stack pointers: frame number they point into. */
  readonly frame: number;
}

export const NOT_INIT: Reg = { type: T.NotInit, s: SC_UNKNOWN, off: 0, id: 0, ref: 0, map: -1, size: 0, frame: 0 };
export const UNKNOWN: Reg = { ...NOT_INIT, type: T.Scalar };

export function scalarReg(s: Sc): Reg {
  return { ...UNKNOWN, s };
}

export function constReg(v: bigint): Reg {
  return { ...UNKNOWN, s: scConst(v) };
}

export const ZERO_REG: Reg = { ...UNKNOWN, s: SC_ZERO };

export function ptrReg(type: T, extra: Partial<Reg> = {}): Reg {
  return { ...NOT_INIT, type, s: SC_ZERO, ...extra };
}

export function isPtr(r: Reg): boolean {
  return r.type !== T.NotInit && r.type !== T.Scalar;
}

export function typeName(t: T): string {
  switch (t) {
    case T.NotInit:
      return '?';
    case T.Scalar:
      return 'scalar';
    case T.Ctx:
      return 'ctx';
    case T.Stack:
      return 'fp';
    case T.MapPtr:
      return 'map_ptr';
    case T.MapValue:
      return 'map_value';
    case T.MapValueOrNull:
      return 'map_value_or_null';
    case T.RbMem:
      return 'ringbuf_mem';
    case T.RbMemOrNull:
      return 'ringbuf_mem_or_null';
    case T.Func:
      return 'func';
  }
}

// Stack byte kinds, as Linux's slot_type.
export const S_INVALID = 0;
export const S_MISC = 1;
export const S_ZERO = 2;
export const S_SPILL = 3;

export interface Slot {
  /** kinds[b] for the byte at slotBase + b (b = 0 is the lowest address). */
  readonly kinds: readonly number[];
  /** The spilled register when any byte is S_SPILL (spills start at the slot's lowest byte). */
  readonly spill: Reg | null;
}

export const EMPTY_SLOT: Slot = { kinds: [0, 0, 0, 0, 0, 0, 0, 0], spill: null };
export const SLOTS = 64;

export interface Frame {
  readonly regs: Reg[];
  readonly slots: Slot[];
  /** Instruction after the call that created this frame (-1 for main). */
  readonly retTo: number;
  readonly subprog: number;
  /** Frame of a bpf_loop callback: its exit ends the path. */
  readonly callback: boolean;
  /** Ref ids held when a callback frame started. */
  readonly cbRefs: readonly number[];
}

export interface RefRec {
  readonly id: number;
  readonly insn: number;
}

export interface State {
  frames: Frame[];
  refs: RefRec[];
}

export function cloneFrame(f: Frame): Frame {
  return { regs: f.regs.slice(), slots: f.slots.slice(), retTo: f.retTo, subprog: f.subprog, callback: f.callback, cbRefs: f.cbRefs };
}

export function cloneState(s: State): State {
  return { frames: s.frames.map(cloneFrame), refs: s.refs.slice() };
}

export function cur(s: State): Frame {
  return s.frames[s.frames.length - 1];
}

// ---- comparison for pruning

class IdMap {
  private m: Map<number, number> | null = null;
  private used: Map<number, number> | null = null;
  private fresh = -1;
  /** Old id `a` must always correspond to the same new id, and no two old ids to one new id. */
  check(a: number, b: number): boolean {
    if (a === 0) return true;
    if (this.m === null || this.used === null) {
      this.m = new Map();
      this.used = new Map();
    }
    const nb = b === 0 ? this.fresh-- : b;
    const seen = this.m.get(a);
    if (seen !== undefined) return seen === nb;
    const back = this.used.get(nb);
    if (back !== undefined && back !== a) return false;
    this.m.set(a, nb);
    this.used.set(nb, a);
    return true;
  }
}

function regSafe(old: Reg, cur: Reg, ids: IdMap, exact: boolean): boolean {
  if (exact) return regExact(old, cur);
  if (old.type === T.NotInit) return true;
  if (old.type !== cur.type) return false;
  switch (old.type) {
    case T.Scalar:
      return scWithin(old.s, cur.s) && ids.check(old.id, cur.id);
    case T.MapPtr:
      return old.map === cur.map;
    case T.Func:
      return old.size === cur.size;
    default:
      return (
        old.off === cur.off &&
        old.map === cur.map &&
        old.size === cur.size &&
        old.frame === cur.frame &&
        scWithin(old.s, cur.s) &&
        ids.check(old.id, cur.id) &&
        ids.check(old.ref, cur.ref)
      );
  }
}

function regExact(a: Reg, b: Reg): boolean {
  if (a.type !== b.type) return false;
  if (a.type === T.NotInit) return true;
  return a.off === b.off && a.map === b.map && a.size === b.size && a.frame === b.frame && scEqual(a.s, b.s) && (a.id === 0) === (b.id === 0) && (a.ref === 0) === (b.ref === 0);
}

function slotSafe(old: Slot, cur: Slot, ids: IdMap, exact: boolean): boolean {
  if (old === cur) return true;
  for (let b = 0; b < 8; b++) {
    const o = old.kinds[b];
    const c = cur.kinds[b];
    if (exact) {
      if (o !== c) return false;
      continue;
    }
    if (o === S_INVALID) continue;
    if (o === S_MISC) {
      if (c === S_MISC || c === S_ZERO) continue;
      if (c === S_SPILL && cur.spill !== null && cur.spill.type === T.Scalar) continue;
      return false;
    }
    if (o === S_ZERO) {
      if (c === S_ZERO) continue;
      if (c === S_SPILL && cur.spill !== null && cur.spill.type === T.Scalar && scIsConst(cur.spill.s) && cur.spill.s.t.v === 0n) continue;
      return false;
    }
    if (c !== S_SPILL) return false;
  }
  if (old.kinds.includes(S_SPILL) && old.spill !== null) {
    if (cur.spill === null) return false;
    return exact ? regExact(old.spill, cur.spill) : regSafe(old.spill, cur.spill, ids, false);
  }
  return true;
}

/** Whether every concrete state described by `cur` is described by `old` (or, exact: identical). */
export function statesCover(old: State, curS: State, exact: boolean, liveMask: (frame: number) => number = () => 0x7ff): boolean {
  if (old.frames.length !== curS.frames.length || old.refs.length !== curS.refs.length) return false;
  // Quick reject on the innermost frame's live registers before any allocation.
  const top = old.frames.length - 1;
  const topLive = liveMask(top);
  for (let r = 0; r < 11; r++) {
    if ((topLive & (1 << r)) === 0) continue;
    const a = old.frames[top].regs[r];
    const b = curS.frames[top].regs[r];
    if (a === b) continue;
    if (exact ? !regExact(a, b) : a.type !== T.NotInit && (a.type !== b.type || (a.type === T.Scalar && !scWithin(a.s, b.s)))) return false;
  }
  const ids = new IdMap();
  for (let f = 0; f < old.frames.length; f++) {
    const a = old.frames[f];
    const b = curS.frames[f];
    if (a.retTo !== b.retTo || a.callback !== b.callback || a.cbRefs.length !== b.cbRefs.length) return false;
    const live = liveMask(f);
    for (let r = 0; r < 11; r++) {
      if ((live & (1 << r)) === 0) continue;
      if (a.regs[r] !== b.regs[r] && !regSafe(a.regs[r], b.regs[r], ids, exact)) return false;
    }
    for (let k = 0; k < SLOTS; k++) {
      const sa = a.slots[k] ?? EMPTY_SLOT;
      const sb = b.slots[k] ?? EMPTY_SLOT;
      if (!slotSafe(sa, sb, ids, exact)) return false;
    }
  }
  for (let i = 0; i < old.refs.length; i++) if (!exact && !ids.check(old.refs[i].id, curS.refs[i].id)) return false;
  return true;
}

// ---- rendering

export function regStr(r: Reg, maps: readonly MapDef[]): string {
  const m = maps[r.map];
  const mapPart = m ? `ks=${m.keySize},vs=${m.valueSize}` : '';
  const parts = (xs: string[]): string => xs.filter((x) => x !== '').join(',');
  const varPart = scIsConst(r.s) ? '' : scBoundsStr(r.s);
  switch (r.type) {
    case T.NotInit:
      return '?';
    case T.Scalar:
      return r.id !== 0 && !scIsConst(r.s) ? `scalar(${parts([`id=${r.id}`, scBoundsStr(r.s)])})` : scStr(r.s);
    case T.Ctx:
      return `ctx(${parts([r.off !== 0 ? `off=${r.off}` : '', varPart])})`;
    case T.Stack:
      return varPart === '' ? `fp${r.off + Number(BigInt.asIntN(64, r.s.t.v))}` : `fp(${parts([`off=${r.off}`, varPart])})`;
    case T.MapPtr:
      return `map_ptr(${mapPart})`;
    case T.MapValue:
    case T.MapValueOrNull:
      return `${typeName(r.type)}(${parts([r.id !== 0 && r.type === T.MapValueOrNull ? `id=${r.id}` : '', r.off !== 0 ? `off=${r.off}` : '', mapPart, varPart])})`;
    case T.RbMem:
    case T.RbMemOrNull:
      return `${typeName(r.type)}(${parts([r.type === T.RbMemOrNull ? `id=${r.id}` : '', `ref_obj_id=${r.ref}`, r.off !== 0 ? `off=${r.off}` : '', `sz=${r.size}`, varPart])})`;
    case T.Func:
      return `func(subprog=${r.size})`;
  }
}

const KIND_CH = ['?', 'm', '0', 'r'];

export function frameStr(f: Frame, maps: readonly MapDef[]): string {
  const out: string[] = [];
  for (let r = 0; r < 11; r++) {
    const reg = f.regs[r];
    if (reg.type === T.NotInit) continue;
    out.push(`R${r}=${regStr(reg, maps)}`);
  }
  for (let k = 0; k < SLOTS; k++) {
    const s = f.slots[k];
    if (s === undefined || s.kinds.every((x) => x === S_INVALID)) continue;
    const off = -(k + 1) * 8;
    if (s.spill !== null && s.kinds.every((x) => x === S_SPILL)) out.push(`fp${off}=${regStr(s.spill, maps)}`);
    else {
      let str = '';
      for (let b = 7; b >= 0; b--) str += KIND_CH[s.kinds[b]];
      out.push(`fp${off}=${str}`);
    }
  }
  return out.join(' ');
}

export function stateStr(s: State, maps: readonly MapDef[]): string {
  if (s.frames.length === 1) return frameStr(s.frames[0], maps);
  return s.frames.map((f, i) => `frame${i}: ${frameStr(f, maps)}`).join('\n');
}
