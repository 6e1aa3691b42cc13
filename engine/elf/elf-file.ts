// ELF64 little-endian relocatable objects (what `clang -target bpf -c` writes): the file header,
// section headers, section names, the symbol table and REL relocation entries. Everything read
// from the file is bounds-checked against the file; counts are bounded by the bytes that would
// hold them, so a hostile header cannot make us allocate more than the file's own size.

import { Bytes, hex } from './bytes.js';
import { ElfError } from './errors.js';

export const EM_BPF = 247;
export const ET_REL = 1;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

// BPF relocation types (llvm/BinaryFormat/ELFRelocs/BPF.def).
export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_NODYLD32 = 4;
export const R_BPF_64_32 = 10;

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;

export interface Section {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  align: number;
  entsize: number;
  /** The section's bytes (a view into the file); empty for SHT_NOBITS. */
  data: Uint8Array;
}

export interface ElfSymbol {
  index: number;
  name: string;
  type: number;
  bind: number;
  shndx: number;
  value: number;
  size: number;
}

export interface Relocation {
  offset: number;
  type: number;
  sym: number;
}

export interface ElfFile {
  sections: Section[];
  symbols: ElfSymbol[];
  /** Symbols grouped by section index (so lookups stay linear in the file size). */
  symbolsBySection: Map<number, ElfSymbol[]>;
  /** REL sections by the index of the section they patch. */
  relsFor: Map<number, Relocation[]>;
}

export function parseElf(u8: Uint8Array): ElfFile {
  const b = new Bytes(u8);
  if (u8.length < EHDR_SIZE) throw new ElfError(`file too short for an ELF header (${u8.length} bytes, need ${EHDR_SIZE})`);
  if (u8[0] !== 0x7f || u8[1] !== 0x45 || u8[2] !== 0x4c || u8[3] !== 0x46) throw new ElfError('not an ELF file (bad magic)');
  if (u8[4] !== 2) throw new ElfError(`not ELF64 (EI_CLASS ${u8[4]})`);
  if (u8[5] !== 1) throw new ElfError(`not little-endian (EI_DATA ${u8[5]}); big-endian BPF objects are not supported`);
  const type = b.u16(16, 'e_type');
  if (type !== ET_REL) throw new ElfError(`not a relocatable object (e_type ${type}); build with clang -c`);
  const machine = b.u16(18, 'e_machine');
  if (machine !== EM_BPF) throw new ElfError(`not a BPF object (e_machine ${machine}, want ${EM_BPF}); build with clang -target bpf`);
  const shoff = b.u64(40, 'e_shoff');
  const shentsize = b.u16(58, 'e_shentsize');
  let shnum = b.u16(60, 'e_shnum');
  let shstrndx = b.u16(62, 'e_shstrndx');
  if (shoff === 0) throw new ElfError('no section header table (e_shoff 0)');
  if (shentsize !== SHDR_SIZE) throw new ElfError(`bad e_shentsize ${shentsize} (want ${SHDR_SIZE})`);
  // Extended numbering: the real counts live in section header 0.
  if (shnum === 0) shnum = b.u64(shoff + 32, 'section header 0 (extended e_shnum)');
  if (shstrndx === SHN_XINDEX) shstrndx = b.u32(shoff + 40, 'section header 0 (extended e_shstrndx)');
  const maxSections = Math.floor((u8.length - Math.min(shoff, u8.length)) / SHDR_SIZE);
  if (shnum > maxSections) {
    throw new ElfError(`section header table: ${shnum} headers at 0x${hex(shoff)} do not fit in the file (room for ${maxSections})`);
  }
  if (shstrndx >= shnum) throw new ElfError(`e_shstrndx ${shstrndx} out of range (${shnum} sections)`);

  const raw: (Omit<Section, 'name'> & { nameOff: number })[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * SHDR_SIZE;
    const what = `section header ${i}`;
    const s = {
      index: i,
      nameOff: b.u32(o, what),
      type: b.u32(o + 4, what),
      flags: b.u64parts(o + 8, what)[0],
      offset: b.u64(o + 24, `${what} sh_offset`),
      size: b.u64(o + 32, `${what} sh_size`),
      link: b.u32(o + 40, what),
      info: b.u32(o + 44, what),
      align: b.u64parts(o + 48, what)[0],
      entsize: b.u64parts(o + 56, what)[0],
    };
    let data: Uint8Array = new Uint8Array(0);
    if (s.type !== SHT_NOBITS && s.type !== SHT_NULL) {
      if (s.offset + s.size > u8.length) {
        throw new ElfError(`section ${i}: data [0x${hex(s.offset)}, +0x${hex(s.size)}) past end of file (0x${hex(u8.length)} bytes)`);
      }
      data = u8.subarray(s.offset, s.offset + s.size);
    }
    raw.push({ ...s, data });
  }
  const shstr = raw[shstrndx];
  if (shstr.type !== SHT_STRTAB) throw new ElfError(`section name table (section ${shstrndx}) is not a string table`);
  const sections: Section[] = raw.map((s, i) => ({
    index: s.index,
    name: i === 0 ? '' : b.cstr(shstr.offset + s.nameOff, shstr.offset + shstr.size, `section ${i} name`, 1024),
    type: s.type,
    flags: s.flags,
    offset: s.offset,
    size: s.size,
    link: s.link,
    info: s.info,
    align: s.align,
    entsize: s.entsize,
    data: s.data,
  }));

  const symbols = readSymbols(b, sections);
  const relsFor = new Map<number, Relocation[]>();
  for (const s of sections) {
    if (s.type === SHT_RELA) throw new ElfError(`section ${s.index} '${s.name}': RELA relocations are not used by BPF objects`);
    if (s.type !== SHT_REL) continue;
    if (s.info === 0 || s.info >= sections.length) throw new ElfError(`relocation section '${s.name}': target section ${s.info} out of range`);
    if (s.size % REL_SIZE !== 0) throw new ElfError(`relocation section '${s.name}': size ${s.size} not a multiple of ${REL_SIZE}`);
    const rels: Relocation[] = [];
    for (let o = 0; o < s.size; o += REL_SIZE) {
      const what = `relocation section '${s.name}' entry ${o / REL_SIZE}`;
      const offset = b.u64(s.offset + o, what);
      const [typ, sym] = b.u64parts(s.offset + o + 8, what);
      rels.push({ offset, type: typ, sym });
    }
    const list = relsFor.get(s.info) ?? [];
    list.push(...rels);
    relsFor.set(s.info, list);
  }
  const symbolsBySection = new Map<number, ElfSymbol[]>();
  for (const sym of symbols) {
    const l = symbolsBySection.get(sym.shndx);
    if (l === undefined) symbolsBySection.set(sym.shndx, [sym]);
    else l.push(sym);
  }
  return { sections, symbols, symbolsBySection, relsFor };
}

function readSymbols(b: Bytes, sections: Section[]): ElfSymbol[] {
  const symtabs = sections.filter((s) => s.type === SHT_SYMTAB);
  if (symtabs.length === 0) return [];
  if (symtabs.length > 1) throw new ElfError('more than one symbol table');
  const st = symtabs[0];
  if (st.entsize !== SYM_SIZE) throw new ElfError(`symbol table: entry size ${st.entsize} (want ${SYM_SIZE})`);
  if (st.size % SYM_SIZE !== 0) throw new ElfError(`symbol table: size ${st.size} not a multiple of ${SYM_SIZE}`);
  if (st.link >= sections.length || sections[st.link].type !== SHT_STRTAB) {
    throw new ElfError(`symbol table: string table section ${st.link} is not a string table`);
  }
  const str = sections[st.link];
  const out: ElfSymbol[] = [];
  for (let i = 0, o = st.offset; o < st.offset + st.size; i++, o += SYM_SIZE) {
    const what = `symbol ${i}`;
    const nameOff = b.u32(o, what);
    const info = b.u8at(o + 4, what);
    const shndx = b.u16(o + 6, what);
    const value = b.u64(o + 8, `${what} st_value`);
    const size = b.u64(o + 16, `${what} st_size`);
    const typ = info & 0xf;
    let name = nameOff === 0 ? '' : b.cstr(str.offset + nameOff, str.offset + str.size, `${what} name`, 1024);
    // Section symbols are unnamed in the string table; name them after their section.
    if (typ === STT_SECTION && name === '' && shndx < sections.length) name = sections[shndx].name;
    if (shndx !== SHN_UNDEF && shndx < SHN_LORESERVE && shndx >= sections.length) {
      throw new ElfError(`symbol ${i} '${name}': section index ${shndx} out of range`);
    }
    out.push({ index: i, name, type: typ, bind: info >> 4, shndx, value, size });
  }
  return out;
}
