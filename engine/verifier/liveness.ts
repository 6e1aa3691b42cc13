// Static register liveness (backward dataflow over each function's CFG). A register that is not
// live at an instruction is written before it is read on every path from there, so its value
// cannot matter: state pruning ignores it (Linux gets the same effect from REG_LIVE_READ marks).
// Calls count as reading their argument registers; exit reads r0.

import type { Insn } from '../isa.js';
import { HELPER_BY_ID } from '../helpers/protos.js';
import { jumpTarget } from './structure.js';

const R0 = 1;
const ARGS = 0b111110; // r1..r5
const CALL_DEF = 0b111111; // r0..r5

/** live[i] = bitmask of registers live before insn i (bit r). */
export function liveRegs(insns: readonly Insn[]): Uint16Array {
  const n = insns.length;
  const use = new Uint16Array(n);
  const def = new Uint16Array(n);
  const succ: number[][] = new Array(n);
  const second = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (insns[i].opcode === 0x18 && i + 1 < n) second[++i] = 1;
  for (let i = 0; i < n; i++) {
    succ[i] = [];
    if (second[i]) continue;
    const x = insns[i];
    const op = x.opcode;
    const cls = op & 7;
    const isX = (op & 8) !== 0;
    const d = 1 << (x.dst & 15);
    const s = 1 << (x.src & 15);
    let next = true;
    switch (cls) {
      case 0x04:
      case 0x07: {
        const code = op & 0xf0;
        if (code === 0xb0) use[i] = isX ? s : 0;
        else use[i] = d | (isX ? s : 0);
        def[i] = d;
        break;
      }
      case 0x01:
        use[i] = s;
        def[i] = d;
        break;
      case 0x02:
        use[i] = d;
        break;
      case 0x03:
        if ((op & 0xe0) === 0xc0) {
          if (x.imm === 0x100) {
            use[i] = s;
            def[i] = d;
          } else if (x.imm === 0xf1) {
            use[i] = d | s | R0;
            def[i] = R0;
          } else {
            use[i] = d | s;
            def[i] = (x.imm & 1) !== 0 ? s : 0;
          }
        } else use[i] = d | s;
        break;
      case 0x00:
        def[i] = d;
        if (op === 0x18 && i + 2 <= n) succ[i].push(i + 2);
        next = false;
        break;
      case 0x05:
      case 0x06: {
        const code = op & 0xf0;
        if (code === 0x90) {
          use[i] = R0;
          next = false;
        } else if (code === 0x80) {
          const p = x.src === 0 ? HELPER_BY_ID.get(x.imm) : undefined;
          use[i] = p !== undefined && p.varargs !== true ? ((1 << (p.args.length + 1)) - 2) & ARGS : ARGS;
          def[i] = CALL_DEF;
        } else if (code === 0x00) {
          succ[i].push(jumpTarget(x, i));
          next = false;
        } else {
          use[i] = d | (isX ? s : 0);
          succ[i].push(jumpTarget(x, i));
        }
        break;
      }
    }
    if (next && i + 1 < n) succ[i].push(i + 1);
  }
  const live = new Uint16Array(n);
  // Iterate to a fixpoint, scanning backwards (usually converges in a few passes).
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      if (second[i]) continue;
      let out = 0;
      for (const t of succ[i]) if (t >= 0 && t < n) out |= live[t];
      const v = (use[i] | (out & ~def[i])) & 0x7ff;
      if (v !== live[i]) {
        live[i] = v;
        changed = true;
      }
    }
  }
  return live;
}
