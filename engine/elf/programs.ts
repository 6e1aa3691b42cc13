// Programs of an object: every FUNC symbol in an executable section other than .text is an
// entry program; .text holds subprograms for bpf-to-bpf calls. Relocations are resolved as
// libbpf does (bpf_program__record_reloc / bpf_object__reloc_code):
//  - lddw against a `.maps` symbol        → src 1 (BPF_PSEUDO_MAP_FD), imm = map index;
//  - lddw against a data-section symbol   → src 2 (BPF_PSEUDO_MAP_VALUE), imm = map index,
//                                           second imm = symbol value + original imm (offset);
//  - call (src 1) against .text           → target insn = sym.value/8 + imm + 1;
//  - call (src 1) with no relocation      → a static function in the same section;
//  - lddw src 4 (BPF_PSEUDO_FUNC) → .text → target insn = (sym.value + imm) / 8.
// Each entry program gets the subprograms it reaches appended after its own code (once each),
// and every call / function-address immediate is rewritten relative to the new layout.

import { ElfError } from './errors.js';
import {
  R_BPF_64_32,
  R_BPF_64_64,
  SHF_EXECINSTR,
  SHN_UNDEF,
  SHT_PROGBITS,
  STB_LOCAL,
  STT_FUNC,
  STT_SECTION,
  type ElfFile,
  type ElfSymbol,
  type Section,
} from './elf-file.js';
import type { ElfMap } from './maps.js';
import { attachInfo, type AttachInfo } from './attach.js';
import type { LineInfo } from './lines.js';
import { BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_COMPLEXITY_LIMIT_INSNS, OP_CALL, OP_LDDW } from '../isa.js';

const INSN = 8;
/** Bound on the instructions all programs of one object expand to after subprogram linking. */
export const MAX_TOTAL_INSNS = 4 * BPF_COMPLEXITY_LIMIT_INSNS;

export interface ElfFunc {
  name: string;
  section: Section;
  /** First instruction index in its section, and instruction count. */
  start: number;
  count: number;
  global: boolean;
}

export interface ElfProgram {
  /** Function name (the FUNC symbol). */
  name: string;
  /** The SEC() name. */
  section: string;
  attach: AttachInfo;
  /** Relocated code: the program followed by the subprograms it calls. */
  insns: Uint8Array;
  /** lddw slot index → index into the object's maps (src 1 and src 2 alike). */
  mapRefs: { insn: number; map: number }[];
  /** Where each appended subprogram starts, for disassembly labels. */
  subprograms: { name: string; insn: number }[];
  /** Source lines by instruction of the linked program (from .BTF.ext), sorted. */
  lines: LineInfo[];
}

type Reloc =
  | { kind: 'map'; map: number }
  | { kind: 'data'; map: number; symOff: number }
  | { kind: 'call'; symOff: number }
  | { kind: 'func'; symOff: number };

interface Ctx {
  elf: ElfFile;
  maps: ElfMap[];
  /** `${section}:${offset}` of a BTF-defined map → its index; data section → its map index. */
  btfMapAt: Map<string, number>;
  dataMapOf: Map<number, number>;
  textIndex: number;
  funcsBySection: Map<number, ElfFunc[]>;
  relocsBySection: Map<number, Map<number, Reloc>>;
  lineInfo: Map<string, LineInfo[]>;
}

function dv(u8: Uint8Array): DataView {
  return new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
}

export function collectFunctions(elf: ElfFile): Map<number, ElfFunc[]> {
  const out = new Map<number, ElfFunc[]>();
  for (const sec of elf.sections) {
    if ((sec.flags & SHF_EXECINSTR) === 0 || sec.size === 0) continue;
    if (sec.type !== SHT_PROGBITS || sec.data.length !== sec.size) throw new ElfError(`code section '${sec.name}' is not PROGBITS (type ${sec.type})`);
    if (sec.size % INSN !== 0) throw new ElfError(`section '${sec.name}': size ${sec.size} is not a multiple of ${INSN}`);
    const funcs: ElfFunc[] = [];
    for (const sym of elf.symbolsBySection.get(sec.index) ?? []) {
      if (sym.type !== STT_FUNC) continue;
      if (sym.value % INSN !== 0 || sym.size % INSN !== 0 || sym.value + sym.size > sec.size) {
        throw new ElfError(`function '${sym.name}' in '${sec.name}': bad value/size 0x${sym.value.toString(16)}/${sym.size} (section has ${sec.size} bytes)`);
      }
      if (sym.size === 0) throw new ElfError(`function '${sym.name}' in '${sec.name}' has size 0`);
      funcs.push({ name: sym.name, section: sec, start: sym.value / INSN, count: sym.size / INSN, global: sym.bind !== STB_LOCAL });
    }
    // A section without FUNC symbols (stripped object) is one program named after it.
    if (funcs.length === 0 && sec.name !== '.text') funcs.push({ name: sec.name, section: sec, start: 0, count: sec.size / INSN, global: true });
    funcs.sort((a, b) => a.start - b.start);
    out.set(sec.index, funcs);
  }
  return out;
}

function resolveRelocs(c: Omit<Ctx, 'relocsBySection' | 'lineInfo'>, sec: Section): Map<number, Reloc> {
  const out = new Map<number, Reloc>();
  const rels = c.elf.relsFor.get(sec.index) ?? [];
  const d = dv(sec.data);
  for (const [n, r] of rels.entries()) {
    const where = `relocation ${n} of '${sec.name}' at offset 0x${r.offset.toString(16)}`;
    if (r.offset % INSN !== 0 || r.offset + INSN > sec.size) throw new ElfError(`${where}: offset outside the section's instructions`);
    if (r.sym >= c.elf.symbols.length) throw new ElfError(`${where}: symbol index ${r.sym} out of range (${c.elf.symbols.length} symbols)`);
    const sym: ElfSymbol = c.elf.symbols[r.sym];
    const idx = r.offset / INSN;
    const op = d.getUint8(r.offset);
    const src = d.getUint8(r.offset + 1) >>> 4;
    const name = sym.name || `#${sym.index}`;
    if (sym.shndx === SHN_UNDEF) throw new ElfError(`${where}: extern symbol '${name}' (kconfig/ksym/extern functions) is not supported`);
    if (sym.shndx >= c.elf.sections.length) throw new ElfError(`${where}: symbol '${name}' is not in a section`);
    const target = c.elf.sections[sym.shndx];
    if (op === OP_CALL) {
      if (r.type !== R_BPF_64_32) throw new ElfError(`${where}: call needs an R_BPF_64_32 relocation, got type ${r.type}`);
      if (src !== BPF_PSEUDO_CALL) throw new ElfError(`${where}: relocated call to '${name}' is not a bpf-to-bpf call (src ${src})`);
      if (sym.shndx !== c.textIndex) throw new ElfError(`${where}: call to '${name}' in section '${target.name}'; subprograms must be in .text`);
      out.set(idx, { kind: 'call', symOff: sym.value });
      continue;
    }
    if (op !== OP_LDDW) throw new ElfError(`${where}: instruction opcode 0x${op.toString(16)} cannot be relocated (want lddw or call)`);
    if (r.offset + 2 * INSN > sec.size) throw new ElfError(`${where}: lddw runs past the end of the section`);
    if (r.type !== R_BPF_64_64) throw new ElfError(`${where}: lddw needs an R_BPF_64_64 relocation, got type ${r.type}`);
    if (sym.shndx === c.textIndex) {
      // clang 14 leaves src 0 here; the loader marks it BPF_PSEUDO_FUNC as the kernel wants.
      if (src !== 0 && src !== BPF_PSEUDO_FUNC) throw new ElfError(`${where}: lddw of function '${name}' has src ${src}`);
      out.set(idx, { kind: 'func', symOff: sym.value });
      continue;
    }
    if (src !== 0) throw new ElfError(`${where}: relocated lddw has src ${src}, want 0`);
    if (target.name === '.maps') {
      const m = c.btfMapAt.get(`${sym.shndx}:${sym.value}`) ?? -1;
      if (m < 0) throw new ElfError(`${where}: symbol '${name}' does not name a map in '.maps'`);
      out.set(idx, { kind: 'map', map: m });
      continue;
    }
    const m = c.dataMapOf.get(sym.shndx) ?? -1;
    if (m >= 0) {
      if (sym.type !== STT_SECTION && sym.value >= c.maps[m].def.valueSize) {
        throw new ElfError(`${where}: variable '${name}' at offset ${sym.value} lies outside '${target.name}'`);
      }
      out.set(idx, { kind: 'data', map: m, symOff: sym.value });
      continue;
    }
    throw new ElfError(`${where}: reference to '${name}' in section '${target.name}', which is neither a map nor global data`);
  }
  return out;
}

/** Function of `sec` that contains instruction `idx`, by binary search. */
function funcAt(c: Ctx, secIndex: number, idx: number): ElfFunc | undefined {
  const list = c.funcsBySection.get(secIndex) ?? [];
  let lo = 0;
  let hi = list.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].start <= idx) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (best < 0) return undefined;
  const f = list[best];
  return idx < f.start + f.count ? f : undefined;
}

function link(c: Ctx, main: ElfFunc, budget: { left: number }): Omit<ElfProgram, 'section' | 'attach'> {
  const pieces: { f: ElfFunc; out: number }[] = [{ f: main, out: 0 }];
  const placed = new Map<ElfFunc, number>([[main, 0]]);
  let total = main.count;
  const mapRefs: { insn: number; map: number }[] = [];
  const place = (f: ElfFunc): number => {
    const at = placed.get(f);
    if (at !== undefined) return at;
    const out = total;
    total += f.count;
    if (total > BPF_COMPLEXITY_LIMIT_INSNS) throw new ElfError(`program '${main.name}': more than ${BPF_COMPLEXITY_LIMIT_INSNS} instructions after linking subprograms`);
    placed.set(f, out);
    pieces.push({ f, out });
    return out;
  };
  // First pass decides the layout (placing reached subprograms); patches need the final size.
  const patches: { at: number; apply: (d: DataView) => void }[] = [];
  for (let p = 0; p < pieces.length; p++) {
    const { f, out } = pieces[p];
    const sd = dv(f.section.data);
    const rel = c.relocsBySection.get(f.section.index) ?? new Map<number, Reloc>();
    for (let i = 0; i < f.count; i++) {
      const si = f.start + i;
      const o = si * INSN;
      const op = sd.getUint8(o);
      const src = sd.getUint8(o + 1) >>> 4;
      const imm = sd.getInt32(o + 4, true);
      const r = rel.get(si);
      const at = out + i;
      const where = `program '${main.name}': ${f === main ? '' : `subprogram '${f.name}' `}insn ${i}`;
      if (op === OP_LDDW) {
        if (i + 1 >= f.count) throw new ElfError(`${where}: lddw is the last instruction of '${f.name}'`);
        if (r !== undefined && (r.kind === 'map' || r.kind === 'data')) {
          mapRefs.push({ insn: at, map: r.map });
          const mapIdx = r.map;
          if (r.kind === 'map') {
            patches.push({ at, apply: (d) => setLddw(d, at, BPF_PSEUDO_MAP_FD, mapIdx, 0) });
          } else {
            const off = imm + r.symOff;
            const size = c.maps[mapIdx].def.valueSize;
            if (off < 0 || off >= size) throw new ElfError(`${where}: offset ${off} outside '${c.maps[mapIdx].sectionName}' (${size} bytes)`);
            patches.push({ at, apply: (d) => setLddw(d, at, BPF_PSEUDO_MAP_VALUE, mapIdx, off) });
          }
        } else if (r !== undefined && r.kind === 'func') {
          if ((r.symOff + imm) % INSN !== 0) throw new ElfError(`${where}: function address offset ${r.symOff + imm} is not instruction-aligned`);
          const target = (r.symOff + imm) / INSN;
          const tf = funcAt(c, c.textIndex, target);
          if (tf === undefined) throw new ElfError(`${where}: function address points at .text insn ${target}, which is in no function`);
          const tOut = place(tf) + (target - tf.start);
          patches.push({
            at,
            apply: (d) => {
              d.setUint8(at * INSN + 1, (d.getUint8(at * INSN + 1) & 0x0f) | (BPF_PSEUDO_FUNC << 4));
              d.setInt32(at * INSN + 4, tOut - at - 1, true);
              d.setInt32(at * INSN + INSN + 4, 0, true);
            },
          });
        } else if (src !== 0) {
          throw new ElfError(`${where}: lddw with src ${src} has no relocation`);
        }
        i++;
        continue;
      }
      if (op !== OP_CALL || src !== BPF_PSEUDO_CALL) {
        if (r !== undefined) throw new ElfError(`${where}: relocation on an instruction that takes none`);
        continue;
      }
      let secIndex: number;
      let target: number;
      if (r !== undefined && r.kind === 'call') {
        secIndex = c.textIndex;
        target = r.symOff / INSN + imm + 1;
      } else {
        secIndex = f.section.index;
        target = si + imm + 1;
      }
      if (r === undefined && target >= f.start && target < f.start + f.count) continue; // a jump-like call inside this function
      const tf = funcAt(c, secIndex, target);
      if (tf === undefined) throw new ElfError(`${where}: call target insn ${target} of '${c.elf.sections[secIndex]?.name ?? secIndex}' is in no function`);
      if (secIndex !== c.textIndex) throw new ElfError(`${where}: call to '${tf.name}' in '${tf.section.name}'; subprograms must be in .text`);
      const tOut = place(tf) + (target - tf.start);
      patches.push({ at, apply: (d) => d.setInt32(at * INSN + 4, tOut - at - 1, true) });
    }
  }
  budget.left -= total;
  if (budget.left < 0) throw new ElfError(`object expands to more than ${MAX_TOTAL_INSNS} instructions after linking`);
  const insns = new Uint8Array(total * INSN);
  for (const { f, out } of pieces) insns.set(f.section.data.subarray(f.start * INSN, (f.start + f.count) * INSN), out * INSN);
  const d = dv(insns);
  for (const p of patches) p.apply(d);
  const lines: LineInfo[] = [];
  for (const { f, out } of pieces) {
    const list = c.lineInfo.get(f.section.name) ?? [];
    // The list is sorted: find the function's first record, then walk only its own records.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].insn < f.start) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < list.length && list[k].insn < f.start + f.count; k++) lines.push({ ...list[k], insn: out + list[k].insn - f.start });
  }
  lines.sort((x, y) => x.insn - y.insn);
  return {
    name: main.name,
    insns,
    mapRefs,
    subprograms: pieces.slice(1).map((p) => ({ name: p.f.name, insn: p.out })),
    lines,
  };
}

function setLddw(d: DataView, at: number, src: number, imm: number, imm2: number): void {
  const o = at * INSN;
  d.setUint8(o + 1, (d.getUint8(o + 1) & 0x0f) | (src << 4));
  d.setInt32(o + 4, imm, true);
  d.setInt32(o + INSN + 4, imm2, true);
}

export function collectPrograms(elf: ElfFile, maps: ElfMap[], lineInfo: Map<string, LineInfo[]> = new Map()): ElfProgram[] {
  const text = elf.sections.find((s) => s.name === '.text');
  const btfMapAt = new Map<string, number>();
  const dataMapOf = new Map<number, number>();
  maps.forEach((m, i) => {
    if (m.kind === 'btf' && !btfMapAt.has(`${m.sectionIndex}:${m.offset}`)) btfMapAt.set(`${m.sectionIndex}:${m.offset}`, i);
    if (m.kind === 'data' && !dataMapOf.has(m.sectionIndex)) dataMapOf.set(m.sectionIndex, i);
  });
  const base = { elf, maps, btfMapAt, dataMapOf, textIndex: text?.index ?? -1, funcsBySection: collectFunctions(elf) };
  const relocsBySection = new Map<number, Map<number, Reloc>>();
  for (const secIndex of base.funcsBySection.keys()) relocsBySection.set(secIndex, resolveRelocs(base, elf.sections[secIndex]));
  // Relocations aimed at non-code sections must not patch code we never look at.
  for (const [target, rels] of elf.relsFor) {
    const s = elf.sections[target];
    if (rels.length > 0 && (s.flags & SHF_EXECINSTR) !== 0 && !base.funcsBySection.has(target) && s.size > 0) {
      throw new ElfError(`relocations for code section '${s.name}' that holds no functions`);
    }
  }
  const c: Ctx = { ...base, relocsBySection, lineInfo };
  const budget = { left: MAX_TOTAL_INSNS };
  const out: ElfProgram[] = [];
  for (const [secIndex, funcs] of c.funcsBySection) {
    const sec = elf.sections[secIndex];
    if (secIndex === c.textIndex) continue;
    for (const f of funcs) {
      if (!f.global) throw new ElfError(`section '${sec.name}': program '${f.name}' is static; entry programs must be global functions`);
      out.push({ ...link(c, f, budget), section: sec.name, attach: attachInfo(sec.name) });
    }
  }
  return out;
}
