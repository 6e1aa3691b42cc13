// Reading programs given as text slots: either the conformance `-- raw` style (one u64 per line,
// `0x5566778800000018`, the slot as a little-endian number) or `rules compile --json` style
// (16 hex digits per slot, the bytes in memory order). Used by `kestrel disasm`.

import { INSN_SIZE } from '../isa.js';

export class SlotTextError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    message: string,
  ) {
    super(`${line}:${column}: ${message}`);
    this.name = 'SlotTextError';
  }
}

/** Whether `text` looks like hex slots (every non-empty, non-comment line is one slot). */
export function looksLikeSlotText(text: string): boolean {
  let any = false;
  for (const raw of text.split(/\r?\n/)) {
    const l = raw.replace(/[#;].*$/, '').trim();
    if (l.length === 0) continue;
    if (!/^(0x[0-9a-fA-F]{1,16}|[0-9a-fA-F]{16})$/.test(l)) return false;
    any = true;
  }
  return any;
}

export function parseSlotText(text: string): Uint8Array {
  const out: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n];
    const l = raw.replace(/[#;].*$/, '').trim();
    if (l.length === 0) continue;
    const col = raw.indexOf(l) + 1;
    if (/^0x[0-9a-fA-F]{1,16}$/.test(l)) {
      let v = BigInt(l);
      for (let k = 0; k < INSN_SIZE; k++) {
        out.push(Number(v & 0xffn));
        v >>= 8n;
      }
    } else if (/^[0-9a-fA-F]{16}$/.test(l)) {
      for (let k = 0; k < INSN_SIZE; k++) out.push(parseInt(l.slice(2 * k, 2 * k + 2), 16));
    } else {
      throw new SlotTextError(n + 1, col, `expected a slot as 0x<u64> or 16 hex digits, got '${l}'`);
    }
  }
  return Uint8Array.from(out);
}

/** Hex bytes like "01 02 ff" or "0102ff" (for --mem). */
export function parseHexBytes(text: string): Uint8Array {
  const t = text.replace(/0x/gi, '').replace(/[\s,:]/g, '');
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) throw new Error(`bad hex bytes '${text}'`);
  const b = new Uint8Array(t.length / 2);
  for (let k = 0; k < b.length; k++) b[k] = parseInt(t.slice(2 * k, 2 * k + 2), 16);
  return b;
}
