// Random eBPF programs for the JIT's differential property test: scalar ALU of every kind
// (including the division corner cases), stack loads/stores/atomics, forward branches, a bounded
// loop and a local call. Built to be accepted by the verifier most of the time; the test
// compares only the programs it accepts.

import { encode, type Insn } from '../isa.js';

/** xorshift32; deterministic per seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  imm(): number {
    const k = this.int(6);
    if (k === 0) return 0;
    if (k === 1) return -1;
    if (k === 2) return this.pick([1, 2, 7, 31, 32, 63, 64, 0x7fffffff, -0x80000000]);
    return this.u32() | 0;
  }
}

const I = (opcode: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ opcode, dst, src, off, imm });

const ALU_CODES = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0];
const JMP_CODES = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];
const SIZES = [0x00, 0x08, 0x10, 0x18]; // W H B DW
const ATOMIC_IMMS = [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1];

/** One straight-line instruction over scalar registers `regs` and the 64 initialised stack bytes. */
function straight(r: Rng, regs: readonly number[], out: Insn[]): void {
  const k = r.int(20);
  const dst = r.pick(regs);
  const src = r.pick(regs);
  if (k < 10) {
    const cls = r.int(2) === 0 ? 0x07 : 0x04;
    const code = r.pick(ALU_CODES);
    const x = r.int(2) === 0 ? 0x08 : 0;
    const signed = (code === 0x30 || code === 0x90) && r.int(2) === 0 ? 1 : 0;
    let imm = r.imm();
    // Linux rejects constant shifts out of range and constant division by zero.
    if (code === 0x60 || code === 0x70 || code === 0xc0) imm = r.int(cls === 0x07 ? 64 : 32);
    if ((code === 0x30 || code === 0x90) && imm === 0) imm = 3;
    out.push(I(cls | code | x, dst, x ? src : 0, signed, x ? 0 : imm));
  } else if (k === 10) {
    out.push(I(r.int(2) === 0 ? 0x87 : 0x84, dst));
  } else if (k === 11) {
    // movsx
    const wide = r.int(2) === 0;
    out.push(I(wide ? 0xbf : 0xbc, dst, src, wide ? r.pick([8, 16, 32]) : r.pick([8, 16])));
  } else if (k === 12) {
    out.push(I(r.pick([0xd4, 0xdc, 0xd7]), dst, 0, 0, r.pick([16, 32, 64])));
  } else if (k < 15) {
    const size = r.pick(SIZES);
    const bytes = size === 0x18 ? 8 : size === 0x00 ? 4 : size === 0x08 ? 2 : 1;
    const off = -8 * (1 + r.int(8)) + (r.int(8 / bytes) * bytes);
    if (r.int(2) === 0) out.push(I(0x63 | size, 10, src, off));
    else out.push(I(0x62 | size, 10, 0, off, r.imm()));
  } else if (k < 17) {
    const size = r.pick(SIZES);
    const bytes = size === 0x18 ? 8 : size === 0x00 ? 4 : size === 0x08 ? 2 : 1;
    const off = -8 * (1 + r.int(8)) + (r.int(8 / bytes) * bytes);
    const sx = size !== 0x18 && r.int(3) === 0;
    out.push(I((sx ? 0x81 : 0x61) | size, dst, 10, off));
  } else if (k < 19) {
    const wide = r.int(2) === 0;
    const off = -8 * (1 + r.int(8)) + (wide ? 0 : 4 * r.int(2));
    out.push(I(wide ? 0xdb : 0xc3, 10, src, off, r.pick(ATOMIC_IMMS)));
  } else {
    const lo = r.imm();
    const hi = r.imm();
    out.push(I(0x18, dst, 0, 0, lo), I(0, 0, 0, 0, hi));
  }
}

/**
 * `n` straight instructions followed by `pad`, then up to 3 forward conditional jumps inserted
 * at random places; each jump's target is recorded by identity and resolved at the end.
 */
function body(r: Rng, regs: readonly number[], n: number, pad: Insn): Insn[] {
  const out: Insn[] = [];
  for (let k = 0; k < n; k++) straight(r, regs, out);
  out.push(pad);
  const targets = new Map<Insn, Insn>();
  const isSecondSlot = (at: number): boolean => at > 0 && out[at - 1].opcode === 0x18 && !targets.has(out[at - 1]);
  for (let j = 0, nJumps = r.int(4); j < nJumps; j++) {
    const at = r.int(out.length); // insert before out[at]
    if (isSecondSlot(at)) continue;
    let t = at + r.int(out.length - at); // target: out[t], t ≥ at
    while (isSecondSlot(t)) t++;
    const wide = r.int(2) === 0;
    const x = r.int(2) === 0 ? 0x08 : 0;
    const jmp = I((wide ? 0x05 : 0x06) | r.pick(JMP_CODES) | x, r.pick(regs), x ? r.pick(regs) : 0, 0, x ? 0 : r.imm());
    targets.set(jmp, out[t]);
    out.splice(at, 0, jmp);
  }
  out.forEach((i, pc) => {
    const t = targets.get(i);
    if (t !== undefined) i.off = out.indexOf(t) - pc - 1;
  });
  return out;
}

/** A random program as bytes. */
export function randomProgram(seed: number): Uint8Array {
  const r = new Rng(seed);
  const out: Insn[] = [];
  // Every register a scalar, 64 stack bytes initialised.
  for (let reg = 0; reg <= 9; reg++) out.push(I(0xb7, reg, 0, 0, r.imm()));
  for (let s = 1; s <= 8; s++) out.push(I(0x7a, 10, 0, -8 * s, r.imm()));
  const all = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  // Straight part with forward branches. Jump offsets are resolved by target identity.
  out.push(...body(r, all, 6 + r.int(20), I(0xb7, 9, 0, 0, 0)));
  // A bounded loop on r9 whose body never writes r9.
  if (r.int(2) === 0) {
    const trips = 1 + r.int(6);
    out.push(I(0xb7, 9, 0, 0, trips));
    const loopBody: Insn[] = [];
    for (let k = 0, n = 2 + r.int(6); k < n; k++) straight(r, [0, 2, 3, 4, 5, 6, 7, 8], loopBody);
    out.push(...loopBody);
    out.push(I(0x17, 9, 0, 0, 1)); // sub r9, 1
    out.push(I(0x55, 9, 0, -(loopBody.length + 2), 0)); // jne r9, 0, loop start
  }
  // A local call: r1..r5 are arguments; afterwards only r0, r6..r9 are readable.
  const withCall = r.int(2) === 0;
  let callAt = -1;
  if (withCall) {
    callAt = out.length;
    out.push(I(0x85, 0, 1, 0, 0));
    out.push(I(0x0f, 0, 6)); // add r0, r6
  }
  out.push(I(0x95));
  if (withCall) {
    const fnStart = out.length;
    out[callAt].imm = fnStart - callAt - 1;
    out.push(I(0xb7, 0, 0, 0, r.imm()));
    for (let s = 1; s <= 4; s++) out.push(I(0x7a, 10, 0, -8 * s, r.imm()));
    const f: Insn[] = [];
    for (let k = 0, n = 3 + r.int(10); k < n; k++) {
      const before = f.length;
      straight(r, [0, 1, 2, 3, 4, 5], f);
      // Keep callee stack accesses inside its 32 initialised bytes.
      for (let q = before; q < f.length; q++) {
        const x = f[q];
        if (x.dst !== 10 && x.src !== 10) continue;
        const slot = Math.ceil(-x.off / 8);
        const inner = x.off + 8 * slot;
        x.off = -8 * (((slot - 1) % 4) + 1) + inner;
      }
    }
    out.push(...f);
    out.push(I(0x95));
  }
  return encode(out);
}
