// Source lines from .BTF.ext line_info (what `bpftool prog dump xlated linum` and the kernel's
// verifier log use): per code section, records {insn_off, file_name_off, line_off, line_col}
// whose strings live in .BTF's string section. Used to say "execsnoop.c:42:7: e->pid = ..." next
// to a verifier rejection or a run-time fault. Malformed line info is an ElfError like the rest.

import { Bytes } from './bytes.js';
import type { Btf } from './btf.js';
import { ElfError } from './errors.js';

export interface LineInfo {
  /** Instruction index (within the section, or within the linked program after linking). */
  insn: number;
  file: string;
  line: number;
  col: number;
  /** The source line's text, as clang recorded it. */
  src: string;
}

const MAX_RECORDS = 1 << 20;

/** Line info by section name, each list sorted by instruction. */
export function parseLineInfo(ext: Uint8Array, btf: Btf): Map<string, LineInfo[]> {
  const b = new Bytes(ext);
  const out = new Map<string, LineInfo[]>();
  const hdrLen = b.u32(4, '.BTF.ext header');
  if (hdrLen < 24) return out;
  const off = b.u32(16, '.BTF.ext header');
  const len = b.u32(20, '.BTF.ext header');
  if (len === 0) return out;
  const start = hdrLen + off;
  b.need(start, len, '.BTF.ext line_info');
  const end = start + len;
  const recSize = b.u32(start, '.BTF.ext line_info');
  if (recSize < 16 || recSize > 256) throw new ElfError(`.BTF.ext line_info: record size ${recSize} out of range`);
  let o = start + 4;
  let total = 0;
  while (o < end) {
    const secName = btf.str(b.u32(o, '.BTF.ext line_info section'), '.BTF.ext line_info section name');
    const n = b.u32(o + 4, '.BTF.ext line_info section');
    o += 8;
    total += n;
    if (total > MAX_RECORDS || o + n * recSize > end) throw new ElfError(`.BTF.ext line_info for '${secName}': ${n} records run past the section`);
    const list = out.get(secName) ?? [];
    for (let i = 0; i < n; i++, o += recSize) {
      const insnOff = b.u32(o, '.BTF.ext line_info record');
      const lc = b.u32(o + 12, '.BTF.ext line_info record');
      // Line 0 marks compiler-generated code with no source line; keep the previous one.
      if (lc >>> 10 === 0) continue;
      list.push({
        insn: Math.floor(insnOff / 8),
        file: btf.str(b.u32(o + 4, '.BTF.ext line_info record'), 'line_info file name'),
        src: btf.str(b.u32(o + 8, '.BTF.ext line_info record'), 'line_info source line'),
        line: lc >>> 10,
        col: lc & 0x3ff,
      });
    }
    list.sort((x, y) => x.insn - y.insn);
    out.set(secName, list);
  }
  return out;
}

/** The line covering instruction `insn`: the last record at or before it. */
export function lineAt(lines: readonly LineInfo[] | undefined, insn: number): LineInfo | undefined {
  if (lines === undefined || lines.length === 0) return undefined;
  let lo = 0;
  let hi = lines.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (lines[mid].insn <= insn) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best < 0 ? undefined : lines[best];
}

/** `file:line:col: source` for messages. */
export function formatLine(l: LineInfo): string {
  const base = l.file.split('/').pop() ?? l.file;
  return `${base}:${l.line}:${l.col}: ${l.src.trim()}`;
}
