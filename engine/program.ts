// Program loading: pre-decode the bytecode into typed arrays once, and link map references
// (lddw src 1/2) and callback addresses (lddw src 4) so the engines never look anything up by
// name at run time.

import {
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
  BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE,
  INSN_SIZE,
  OP_LDDW,
  decode,
  type Insn,
} from './isa.js';
import type { MapDef } from './maps/types.js';
import type { BpfMap } from './runtime.js';

export interface ProgramSpec {
  name: string;
  insns: Uint8Array;
  maps: MapDef[];
  /** lddw slot index → index into `maps`. */
  mapRefs: { insn: number; map: number }[];
  progType: string;
  license?: string;
}

/** Like `bpftool prog show`'s run_cnt / run_time_ns, plus instructions executed. */
export interface ProgStats {
  runs: number;
  instructions: number;
  timeNs: number;
}

/**
 * The pre-decoded program. Arrays are indexed by slot (pc). For a linked lddw, `imm[pc]` and
 * `immHi[pc]` hold the final 64-bit value (map handle, map value address, or callback pc).
 */
export interface DecodedCode {
  length: number;
  op: Uint8Array;
  dst: Uint8Array;
  src: Uint8Array;
  off: Int16Array;
  imm: Int32Array;
  /** High 32 bits of an lddw's value (the next slot's imm, or 0 after linking); 0 elsewhere. */
  immHi: Int32Array;
  /**
   * The same slots packed for the interpreter's dispatch, two int32 per slot:
   * [2pc] = opcode | dst << 8 | src << 12 | off << 16, [2pc + 1] = imm (linked).
   */
  packed: Int32Array;
}

export interface LoadedProgram {
  spec: ProgramSpec;
  /** Decoded slots after linking (lddw imm/next imm already hold the resolved values). */
  insns: Insn[];
  code: DecodedCode;
  /** Bound maps, parallel to spec.maps. */
  maps: BpfMap[];
  stats: ProgStats;
}

/** A map that can give the address of its value at an offset (array maps): lddw src 2. */
export interface MapWithValueAddr extends BpfMap {
  valueAddr(offset: number): number;
}

export function hasValueAddr(m: BpfMap): m is MapWithValueAddr {
  return typeof (m as Partial<MapWithValueAddr>).valueAddr === 'function';
}

export class ProgramLoadError extends Error {
  constructor(
    readonly program: string,
    readonly pc: number,
    message: string,
  ) {
    super(`${program}: insn ${pc}: ${message}`);
    this.name = 'ProgramLoadError';
  }
}

/**
 * Decode and link a program. `bindMap` creates or finds the map for each declared definition
 * (called once per map, in order). A program without maps needs no binder.
 */
export function loadProgram(spec: ProgramSpec, bindMap?: (def: MapDef, index: number) => BpfMap): LoadedProgram {
  if (spec.insns.length % INSN_SIZE !== 0) {
    throw new ProgramLoadError(spec.name, spec.insns.length >>> 3, `length ${spec.insns.length} is not a multiple of 8`);
  }
  const insns = decode(spec.insns);
  const n = insns.length;
  if (n === 0) throw new ProgramLoadError(spec.name, 0, 'empty program');
  const maps: BpfMap[] = spec.maps.map((def, i) => {
    if (bindMap === undefined) throw new ProgramLoadError(spec.name, 0, `map '${def.name}' declared but no map binder given`);
    return bindMap(def, i);
  });
  const code: DecodedCode = {
    length: n,
    op: new Uint8Array(n),
    dst: new Uint8Array(n),
    src: new Uint8Array(n),
    off: new Int16Array(n),
    imm: new Int32Array(n),
    immHi: new Int32Array(n),
    packed: new Int32Array(2 * n),
  };
  // mapRefs is authoritative where given (an ELF loader may leave imm as 0); else imm is the index.
  const refAt = new Map<number, number>();
  for (const ref of spec.mapRefs) refAt.set(ref.insn, ref.map);
  for (let pc = 0; pc < n; pc++) {
    const i = insns[pc];
    code.op[pc] = i.opcode;
    code.dst[pc] = i.dst;
    code.src[pc] = i.src;
    code.off[pc] = i.off;
    code.imm[pc] = i.imm;
    if (i.dst > 10 || i.src > 10) {
      throw new ProgramLoadError(spec.name, pc, `register field ${i.dst > 10 ? `dst r${i.dst}` : `src r${i.src}`} does not exist (r0..r10)`);
    }
    if (i.opcode !== OP_LDDW) continue;
    if (pc + 1 >= n) throw new ProgramLoadError(spec.name, pc, 'lddw is missing its second slot');
    const next = insns[pc + 1];
    const mapAt = (): BpfMap => {
      const idx = refAt.get(pc) ?? i.imm;
      const m = maps[idx];
      if (m === undefined) throw new ProgramLoadError(spec.name, pc, `lddw refers to map index ${idx}, but ${maps.length} map(s) are declared`);
      return m;
    };
    if (i.src === BPF_PSEUDO_MAP_FD || i.src === BPF_PSEUDO_MAP_IDX) {
      const m = mapAt();
      i.imm = m.handle | 0;
      next.imm = 0;
    } else if (i.src === BPF_PSEUDO_MAP_VALUE || i.src === BPF_PSEUDO_MAP_IDX_VALUE) {
      const m = mapAt();
      if (!hasValueAddr(m)) {
        throw new ProgramLoadError(spec.name, pc, `map '${m.def.name}' has no direct value address (lddw map value needs an array map)`);
      }
      const addr = m.valueAddr(next.imm >>> 0);
      if (!(addr > 0)) throw new ProgramLoadError(spec.name, pc, `offset ${next.imm >>> 0} is outside map '${m.def.name}' value`);
      i.imm = addr | 0;
      next.imm = 0;
    } else if (i.src === BPF_PSEUDO_FUNC) {
      // A callback's "address" is its absolute slot index (see docs/asm.md).
      const target = pc + 1 + i.imm;
      if (target < 0 || target >= n) throw new ProgramLoadError(spec.name, pc, `callback target ${target} outside the program (0..${n - 1})`);
      i.imm = target;
      next.imm = 0;
    }
    code.imm[pc] = i.imm;
    code.immHi[pc] = next.imm;
    pc++;
    code.op[pc] = next.opcode;
    code.dst[pc] = next.dst;
    code.src[pc] = next.src;
    code.off[pc] = next.off;
    code.imm[pc] = next.imm;
  }
  checkJumps(spec.name, code);
  for (let pc = 0; pc < n; pc++) {
    code.packed[2 * pc] = code.op[pc] | (code.dst[pc] << 8) | (code.src[pc] << 12) | (code.off[pc] << 16);
    code.packed[2 * pc + 1] = code.imm[pc];
  }
  return { spec, insns, code, maps, stats: { runs: 0, instructions: 0, timeNs: 0 } };
}

const JUMP_CODES = new Set([0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]);

/** Every jump and local call must land inside the program (Linux: "jump out of range"). */
function checkJumps(name: string, code: DecodedCode): void {
  const n = code.length;
  for (let pc = 0; pc < n; pc++) {
    const op = code.op[pc];
    if (op === OP_LDDW) {
      pc++;
      continue;
    }
    const cls = op & 7;
    if (cls !== 0x05 && cls !== 0x06) continue;
    let target: number;
    if (op === 0x85) {
      if (code.src[pc] !== 1) continue;
      target = pc + 1 + code.imm[pc];
    } else if (op === 0x06) {
      target = pc + 1 + code.imm[pc];
    } else if (JUMP_CODES.has(op & 0xf0) && !(cls === 0x06 && (op & 0xf0) === 0x00)) {
      target = pc + 1 + code.off[pc];
    } else {
      continue;
    }
    if (target < 0 || target >= n) {
      throw new ProgramLoadError(name, pc, `jump out of range: target ${target} is outside the program (0..${n - 1})`);
    }
  }
}
