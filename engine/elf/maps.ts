// Maps an object declares, collected as libbpf does before any relocation:
//  - BTF-defined maps: each variable of the `.maps` DATASEC is a struct whose members encode
//    the definition (`__uint(type, N)` is `int (*type)[N]`, `__type(key, T)` is `T *key`);
//  - global data: `.data`, `.rodata`, `.bss` and their `.data.*` / `.rodata.*` variants (also
//    `.rodata.str1.1` string literals) each become a one-element array map whose value is the
//    section, referenced by `lddw src=2` (BPF_PSEUDO_MAP_VALUE) + offset.

import { Btf, BtfKind, type BtfType } from './btf.js';
import { ElfError } from './errors.js';
import { SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS, type ElfFile, type Section } from './elf-file.js';
import {
  BPF_F_RDONLY_PROG,
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_RINGBUF,
  MAP_TYPE_NAMES,
  type MapDef,
} from '../maps/types.js';

export interface ElfMap {
  def: MapDef;
  /** 'btf': declared in .maps; 'data': a global-data section. */
  kind: 'btf' | 'data';
  /** ELF section index and offset of the definition (BTF maps) or the data section. */
  sectionIndex: number;
  sectionName: string;
  offset: number;
  /** Initial contents of a data map's single value (the section bytes; zeros for .bss). */
  initial?: Uint8Array;
  /** BTF type ids of the key and value when the object gave types (for printing). */
  keyType?: number;
  valueType?: number;
  /** BTF type of records a ring buffer / perf buffer carries, when the object names it. */
  recordType?: number;
}

/** libbpf's name for an internal map: up to 8 characters of the object name, then the section. */
export function internalMapName(objName: string, secName: string): string {
  const pfxLen = Math.max(0, Math.min(16 - secName.length - 1, objName.length));
  const pfx = objName.slice(0, pfxLen).replace(/[^A-Za-z0-9_]/g, '_');
  return `${pfx}${secName}`;
}

export function isDataSection(s: Section): boolean {
  if ((s.flags & SHF_ALLOC) === 0 || (s.flags & SHF_EXECINSTR) !== 0) return false;
  if (s.type !== SHT_PROGBITS && s.type !== SHT_NOBITS) return false;
  const n = s.name;
  return n === '.data' || n === '.rodata' || n === '.bss' || n.startsWith('.data.') || n.startsWith('.rodata.') || n.startsWith('.bss.');
}

export function collectDataMaps(elf: ElfFile, objName: string): ElfMap[] {
  const out: ElfMap[] = [];
  for (const s of elf.sections) {
    if (!isDataSection(s) || s.size === 0) continue;
    if (s.size > 0x7fffffff) throw new ElfError(`data section '${s.name}': ${s.size} bytes is too large`);
    const readonly = s.name === '.rodata' || s.name.startsWith('.rodata.');
    const initial = s.type === SHT_NOBITS ? new Uint8Array(s.size) : s.data.slice();
    out.push({
      def: {
        name: internalMapName(objName, s.name),
        type: BPF_MAP_TYPE_ARRAY,
        keySize: 4,
        valueSize: s.size,
        maxEntries: 1,
        flags: readonly ? BPF_F_RDONLY_PROG : 0,
      },
      kind: 'data',
      sectionIndex: s.index,
      sectionName: s.name,
      offset: 0,
      initial,
    });
  }
  return out;
}

/** Read the integer an `__uint(name, N)` member encodes: pointer to an array of N. */
function uintMember(btf: Btf, mapName: string, member: string, typeId: number): number {
  const ptr = btf.skipMods(typeId);
  if (ptr.kind !== BtfKind.Ptr) throw new ElfError(`map '${mapName}': attribute '${member}' is not __uint() (expected a pointer to an array, got ${btf.describe(typeId)})`);
  const arr = btf.skipMods(ptr.sizeOrType);
  if (arr.kind !== BtfKind.Array) throw new ElfError(`map '${mapName}': attribute '${member}' is not __uint() (pointer to ${btf.describe(ptr.sizeOrType)})`);
  return arr.nelems ?? 0;
}

/** The type an `__type(name, T)` member names: a pointer to T. */
function typeMember(btf: Btf, mapName: string, member: string, typeId: number): number {
  const ptr = btf.skipMods(typeId);
  if (ptr.kind !== BtfKind.Ptr) throw new ElfError(`map '${mapName}': attribute '${member}' is not __type() (got ${btf.describe(typeId)})`);
  return ptr.sizeOrType;
}

export function collectBtfMaps(elf: ElfFile, btf: Btf | undefined): ElfMap[] {
  const sec = elf.sections.find((s) => s.name === '.maps');
  if (sec === undefined) return [];
  if (btf === undefined) throw new ElfError("section '.maps' holds BTF-defined maps but the object has no .BTF section (compile with -g)");
  const ds = btf.find('.maps', BtfKind.Datasec);
  if (ds === undefined) throw new ElfError("BTF has no DATASEC '.maps' describing the maps section");
  const out: ElfMap[] = [];
  const seen = new Set<string>();
  const symByName = new Map<string, number>();
  for (const sym of elf.symbolsBySection.get(sec.index) ?? []) if (!symByName.has(sym.name)) symByName.set(sym.name, sym.value);
  for (const vi of ds.secinfos ?? []) {
    const v = btf.get(vi.type);
    if (v.kind !== BtfKind.Var) throw new ElfError(`.maps: entry type ${vi.type} is not a variable`);
    const name = v.name;
    if (seen.has(name)) throw new ElfError(`.maps: map '${name}' declared twice`);
    seen.add(name);
    // clang leaves DATASEC offsets for the loader to fill from the symbol table, as libbpf does.
    const symValue = symByName.get(name);
    if (symValue === undefined) throw new ElfError(`map '${name}': no symbol in section '.maps'`);
    const st = btf.skipMods(v.sizeOrType);
    if (st.kind !== BtfKind.Struct) throw new ElfError(`map '${name}': definition is ${btf.describe(v.sizeOrType)}, not a struct`);
    out.push(parseMapDef(btf, name, st, sec, symValue));
  }
  return out;
}

function parseMapDef(btf: Btf, name: string, st: BtfType, sec: Section, offset: number): ElfMap {
  let type = -1;
  let maxEntries = 0;
  let flags = 0;
  let keySize = -1;
  let valueSize = -1;
  let keyType: number | undefined;
  let valueType: number | undefined;
  const setSize = (which: 'key' | 'value', n: number): void => {
    const cur = which === 'key' ? keySize : valueSize;
    if (cur !== -1 && cur !== n) throw new ElfError(`map '${name}': conflicting ${which} size ${cur} != ${n}`);
    if (which === 'key') keySize = n;
    else valueSize = n;
  };
  for (const m of st.members ?? []) {
    switch (m.name) {
      case 'type':
        type = uintMember(btf, name, m.name, m.type);
        break;
      case 'max_entries':
        maxEntries = uintMember(btf, name, m.name, m.type);
        break;
      case 'map_flags':
        flags = uintMember(btf, name, m.name, m.type);
        break;
      case 'key_size':
        setSize('key', uintMember(btf, name, m.name, m.type));
        break;
      case 'value_size':
        setSize('value', uintMember(btf, name, m.name, m.type));
        break;
      case 'key':
        keyType = typeMember(btf, name, m.name, m.type);
        setSize('key', btf.sizeOf(keyType));
        break;
      case 'value':
        valueType = typeMember(btf, name, m.name, m.type);
        setSize('value', btf.sizeOf(valueType));
        break;
      case 'pinning':
      case 'numa_node':
      case 'map_extra':
        // Accepted and ignored: Kestrel has no bpffs or NUMA nodes.
        uintMember(btf, name, m.name, m.type);
        break;
      case 'values':
        throw new ElfError(`map '${name}': initial 'values' (map-in-map or prog_array slots) are not supported`);
      default:
        throw new ElfError(`map '${name}': unknown attribute '${m.name}'`);
    }
  }
  if (type === -1) throw new ElfError(`map '${name}': no type given (__uint(type, BPF_MAP_TYPE_...))`);
  if (MAP_TYPE_NAMES[type] === undefined) throw new ElfError(`map '${name}': map type ${type} is not supported`);
  if (type === BPF_MAP_TYPE_RINGBUF || type === BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
    // Ring buffers carry no key or value; perf arrays default to u32 cpu slots, as libbpf sets.
    if (type === BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
      if (keySize === -1) keySize = 4;
      if (valueSize === -1) valueSize = 4;
      // max_entries 0 means one slot per CPU; instantiate() fills it in (libbpf does the same).
    }
  }
  return {
    def: {
      name,
      type,
      keySize: keySize === -1 ? 0 : keySize,
      valueSize: valueSize === -1 ? 0 : valueSize,
      maxEntries,
      flags,
    },
    kind: 'btf',
    sectionIndex: sec.index,
    sectionName: sec.name,
    offset,
    keyType,
    valueType,
  };
}

/**
 * Record types named with KESTREL_RECORD(map, type): a variable `__kestrel_record__<map>` whose
 * BTF type is a pointer to the record struct. Falls back to a struct named `event` for the
 * object's only ring buffer or perf buffer, the libbpf-tools convention.
 */
export function assignRecordTypes(btf: Btf | undefined, maps: ElfMap[]): void {
  if (btf === undefined) return;
  const buffers = maps.filter((m) => m.def.type === BPF_MAP_TYPE_RINGBUF || m.def.type === BPF_MAP_TYPE_PERF_EVENT_ARRAY);
  for (const t of btf.types) {
    if (t.kind !== BtfKind.Var || !t.name.startsWith('__kestrel_record__')) continue;
    const mapName = t.name.slice('__kestrel_record__'.length);
    const m = buffers.find((x) => x.def.name === mapName);
    if (m === undefined) continue;
    const ptr = btf.skipMods(t.sizeOrType);
    if (ptr.kind === BtfKind.Ptr) m.recordType = ptr.sizeOrType;
  }
  const fallback = btf.find('event', BtfKind.Struct);
  if (fallback !== undefined && buffers.length === 1 && buffers[0].recordType === undefined) buffers[0].recordType = fallback.id;
}
