// The ELF loader's entry point: bytes of a clang-built BPF object in, programs ready for the
// engine out (maps described, relocations applied, subprograms linked), like libbpf's
// bpf_object__open + the relocation half of bpf_object__load. Map creation and attaching are the
// caller's job (cli/commands/prog-elf.ts; engine/elf/instantiate.ts).

import { basename } from 'node:path';
import { parseBtf, Btf, BtfKind } from './btf.js';
import { ElfError } from './errors.js';
import { parseElf, STB_LOCAL, STT_OBJECT, type ElfFile } from './elf-file.js';
import { assignRecordTypes, collectBtfMaps, collectDataMaps, type ElfMap } from './maps.js';
import { collectPrograms, type ElfProgram } from './programs.js';
import { parseLineInfo, type LineInfo } from './lines.js';
import type { MapDef } from '../maps/types.js';

export { ElfError } from './errors.js';
export type { ElfMap } from './maps.js';
export type { ElfProgram } from './programs.js';
export type { AttachInfo } from './attach.js';
export { lineAt, formatLine, type LineInfo } from './lines.js';
export { KNOWN_HOOKS, attachInfo } from './attach.js';
export { Btf, BtfKind } from './btf.js';
export { setGlobal } from './globals.js';

/** The shape engine/program.ts loads (kept structurally identical; see ProgramSpec there). */
export interface ElfProgramSpec {
  name: string;
  insns: Uint8Array;
  maps: MapDef[];
  mapRefs: { insn: number; map: number }[];
  progType: string;
  license?: string;
}

/** A global variable of a data section (.data, .rodata, .bss, ...), settable before load. */
export interface ElfGlobal {
  name: string;
  /** Index of its data map in `maps`, and its place in the map's value. */
  map: number;
  offset: number;
  size: number;
  /** BTF type of the variable, when the object has BTF. */
  type?: number;
}

export interface ElfObject {
  /** Object name: the file's base name without `.o` (libbpf's obj->name). */
  name: string;
  license: string;
  /** Whether the license lets programs call GPL-only helpers (Linux's license_is_gpl_compatible). */
  gpl: boolean;
  maps: ElfMap[];
  programs: ElfProgram[];
  /** Global variables in data sections, like libbpf's skeleton exposes them. */
  globals: ElfGlobal[];
  btf: Btf | undefined;
  /** Things that did not stop loading but a user should know. */
  warnings: string[];
  /** Size of the object file in bytes. */
  size: number;
}

export interface LoadElfOptions {
  /** File name for messages and for naming internal maps (`execsnoop.o` → `execsnoo.rodata`). */
  fileName?: string;
}

const GPL_COMPATIBLE = new Set(['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL']);

export function licenseIsGpl(license: string): boolean {
  return GPL_COMPATIBLE.has(license);
}

/** Parse and relocate a BPF object. Throws ElfError (only) for anything malformed or unsupported. */
export function loadElf(bytes: Uint8Array, opts: LoadElfOptions = {}): ElfObject {
  try {
    return loadInner(bytes, opts);
  } catch (e) {
    if (e instanceof ElfError) {
      if (opts.fileName !== undefined && e.file === undefined) throw new ElfError(e.message, opts.fileName);
      throw e;
    }
    // Anything else is a loader bug; still report it as an ElfError so callers have one type.
    const msg = e instanceof Error ? e.message : String(e);
    throw new ElfError(`internal error while loading: ${msg}`, opts.fileName);
  }
}

function loadInner(bytes: Uint8Array, opts: LoadElfOptions): ElfObject {
  const elf: ElfFile = parseElf(bytes);
  const name = objectName(opts.fileName);
  const warnings: string[] = [];
  if (elf.sections.some((s) => s.name === 'maps')) {
    throw new ElfError("legacy 'maps' section (struct bpf_map_def) is not supported; declare maps with BTF in SEC(\".maps\")");
  }
  const btfSec = elf.sections.find((s) => s.name === '.BTF');
  const btf = btfSec !== undefined ? parseBtf(btfSec.data) : undefined;
  if (btf === undefined) warnings.push('no .BTF section: records cannot be decoded (compile with -g)');
  const ext = elf.sections.find((s) => s.name === '.BTF.ext');
  if (ext !== undefined) checkBtfExt(ext.data);
  const lineInfo = ext !== undefined && btf !== undefined ? parseLineInfo(ext.data, btf) : new Map<string, LineInfo[]>();

  const maps = [...collectBtfMaps(elf, btf), ...collectDataMaps(elf, name)];
  assignRecordTypes(btf, maps);
  const programs = collectPrograms(elf, maps, lineInfo);
  if (programs.length === 0) throw new ElfError('no programs: the object has no code outside .text (use SEC("tracepoint/...") on a function)');
  const licSec = elf.sections.find((s) => s.name === 'license');
  let license = '';
  if (licSec !== undefined) {
    const end = licSec.data.indexOf(0);
    license = new TextDecoder('latin1').decode(licSec.data.subarray(0, end < 0 ? Math.min(licSec.data.length, 128) : Math.min(end, 128)));
  } else {
    warnings.push("no 'license' section: GPL-only helpers (probe_read*, trace_printk, ...) will be rejected");
  }
  const globals: ElfGlobal[] = [];
  maps.forEach((m, i) => {
    if (m.kind !== 'data') return;
    for (const sym of elf.symbolsBySection.get(m.sectionIndex) ?? []) {
      // Global symbols only: function-scoped statics (`prog.____fmt`) are not the user's settings.
      if (sym.shndx !== m.sectionIndex || sym.type !== STT_OBJECT || sym.name === '' || sym.bind === STB_LOCAL) continue;
      if (sym.value + sym.size > m.def.valueSize) continue;
      const v = btf?.find(sym.name, BtfKind.Var);
      globals.push({ name: sym.name, map: i, offset: sym.value, size: sym.size, type: v?.sizeOrType });
    }
  });
  return { name, license, gpl: licenseIsGpl(license), maps, programs, globals, btf, warnings, size: bytes.length };
}

function objectName(fileName: string | undefined): string {
  if (fileName === undefined) return 'obj';
  const b = basename(fileName);
  return b.endsWith('.o') ? b.slice(0, -2) : b;
}

/** .BTF.ext: only its header is checked, and CO-RE relocations (which we do not apply) refused. */
function checkBtfExt(data: Uint8Array): void {
  if (data.length < 8) throw new ElfError('.BTF.ext: truncated header');
  const d = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (d.getUint16(0, true) !== 0xeb9f) throw new ElfError('.BTF.ext: bad magic');
  const hdrLen = d.getUint32(4, true);
  if (hdrLen >= 32 && data.length >= 32) {
    const coreLen = d.getUint32(28, true);
    if (coreLen > 4) throw new ElfError('CO-RE relocations (preserve_access_index / BPF_CORE_READ) are not supported');
  }
}

/** The ProgramSpec of one program: the object's maps (shared by all its programs) and its code. */
export function programSpec(obj: ElfObject, prog: ElfProgram): ElfProgramSpec {
  return {
    name: prog.name,
    insns: prog.insns,
    maps: obj.maps.map((m) => m.def),
    mapRefs: prog.mapRefs,
    progType: prog.attach.progType,
    license: obj.license,
  };
}
