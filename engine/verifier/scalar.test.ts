// Soundness of the scalar domain: for abstract values built from concrete samples, every
// concrete result of an ALU op or a branch condition is contained in the abstract result.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { branchTaken, evalConst, refine, scAlu, scConst, scContains, scFeasible, scSext, scCoerce, negate, sync, SC_UNKNOWN, type AluOp, type Rel, type Sc } from './scalar.js';
import { tAdd, tConst, tIn, tMul, tRange } from './tnum.js';

const M64 = (1n << 64n) - 1n;

/** Smallest abstract value containing every sample (a range plus the tnum of the range). */
function abstractOf(xs: bigint[]): Sc {
  let umin = M64;
  let umax = 0n;
  let smin = (1n << 63n) - 1n;
  let smax = -(1n << 63n);
  for (const x of xs) {
    if (x < umin) umin = x;
    if (x > umax) umax = x;
    const s = BigInt.asIntN(64, x);
    if (s < smin) smin = s;
    if (s > smax) smax = s;
  }
  return sync({ ...SC_UNKNOWN, t: tRange(umin, umax), umin, umax, smin, smax });
}

const interesting = fc.oneof(
  fc.bigInt({ min: 0n, max: 40n }),
  fc.bigInt({ min: 0n, max: M64 }),
  fc.constantFrom(0n, 1n, 15n, 16n, 255n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 63n, M64, M64 - 1n),
  fc.bigInt({ min: M64 - 40n, max: M64 }),
);
const samples = fc.array(interesting, { minLength: 1, maxLength: 4 });
const OPS: AluOp[] = ['add', 'sub', 'mul', 'div', 'mod', 'sdiv', 'smod', 'or', 'and', 'xor', 'lsh', 'rsh', 'arsh'];
const RELS: Rel[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'sgt', 'sge', 'slt', 'sle', 'set', 'nset'];

function holds(rel: Rel, a: bigint, b: bigint, bits: 32 | 64): boolean {
  const m = bits === 64 ? M64 : 0xffffffffn;
  const x = a & m;
  const y = b & m;
  const sx = BigInt.asIntN(bits, x);
  const sy = BigInt.asIntN(bits, y);
  switch (rel) {
    case 'eq':
      return x === y;
    case 'ne':
      return x !== y;
    case 'gt':
      return x > y;
    case 'ge':
      return x >= y;
    case 'lt':
      return x < y;
    case 'le':
      return x <= y;
    case 'sgt':
      return sx > sy;
    case 'sge':
      return sx >= sy;
    case 'slt':
      return sx < sy;
    case 'sle':
      return sx <= sy;
    case 'set':
      return (x & y) !== 0n;
    case 'nset':
      return (x & y) === 0n;
  }
}

describe('tnum', () => {
  it('add and mul contain the concrete results', () => {
    fc.assert(
      fc.property(samples, samples, (xs, ys) => {
        const a = abstractOf(xs).t;
        const b = abstractOf(ys).t;
        for (const x of xs) for (const y of ys) {
          expect(tIn(tAdd(a, b), tConst(x + y))).toBe(true);
          expect(tIn(tMul(a, b), tConst(x * y))).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('scalar transfer functions', () => {
  it('every ALU op (64 and 32 bit) contains every concrete result', () => {
    fc.assert(
      fc.property(samples, samples, fc.constantFrom(...OPS), fc.constantFrom<32 | 64>(32, 64), (xs, ys0, op, bits) => {
        // Shift counts are masked by the interpreter; the verifier only sees in-range constants or registers.
        const ys = op === 'lsh' || op === 'rsh' || op === 'arsh' ? ys0.map((y) => y % BigInt(bits)) : ys0;
        const a = abstractOf(xs);
        const b = abstractOf(ys);
        const r = scAlu(op, a, b, bits);
        for (const x of xs) for (const y of ys) {
          const v = evalConst(op, x, y, bits);
          expect(scContains(r, v), `${op}${bits} ${x} ${y} = ${v} not in ${JSON.stringify(r, (_k, w) => (typeof w === 'bigint' ? w.toString() : w))}`).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('sign extension and truncation contain the concrete results', () => {
    fc.assert(
      fc.property(samples, fc.constantFrom(1, 2, 4), (xs, size) => {
        const a = abstractOf(xs);
        const bits = BigInt(size * 8);
        for (const x of xs) {
          expect(scContains(scCoerce(a, size), x & ((1n << bits) - 1n))).toBe(true);
          expect(scContains(scSext(a, size), BigInt.asUintN(64, BigInt.asIntN(size * 8, x)))).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('branch refinement keeps every pair that satisfies the condition, on both arms', () => {
    fc.assert(
      fc.property(samples, samples, fc.constantFrom(...RELS), fc.constantFrom<32 | 64>(32, 64), (xs, ys, rel, bits) => {
        const a = abstractOf(xs);
        const b = abstractOf(ys);
        const taken = branchTaken(a, b, rel, bits);
        for (const arm of [rel, negate(rel)]) {
          const [ra, rb] = refine(a, b, arm, bits);
          for (const x of xs) for (const y of ys) {
            if (!holds(arm, x, y, bits)) continue;
            expect(scFeasible(ra) && scFeasible(rb)).toBe(true);
            expect(scContains(ra, x)).toBe(true);
            expect(scContains(rb, y)).toBe(true);
          }
        }
        for (const x of xs) for (const y of ys) {
          if (taken === 1) expect(holds(rel, x, y, bits)).toBe(true);
          if (taken === 0) expect(holds(rel, x, y, bits)).toBe(false);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('constants are exact', () => {
    expect(scAlu('add', scConst(5n), scConst(7n), 64)).toEqual(scConst(12n));
    expect(scAlu('div', scConst(7n), scConst(0n), 64)).toEqual(scConst(0n));
    expect(scAlu('mod', scConst(7n), scConst(0n), 32)).toEqual(scConst(7n));
    expect(scAlu('sub', scConst(0n), scConst(1n), 32)).toEqual(scConst(0xffffffffn));
  });
});
