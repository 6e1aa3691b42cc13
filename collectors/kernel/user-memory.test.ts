import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { UserMemory, USER_ARENA_BASE } from './user-memory.js';

const TWO32 = 4294967296;
const split = (a: number): [number, number] => [a % TWO32 >>> 0, Math.floor(a / TWO32)];

describe('user memory', () => {
  it('readInto copies exactly what read returns, and leaves dst alone when unmapped (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.integer({ min: -8, max: 320 }), fc.integer({ min: 0, max: 200 }), (bytes, at, len) => {
        const um = new UserMemory();
        const base = um.putBytes(bytes);
        expect(base).toBe(USER_ARENA_BASE);
        const [lo, hi] = split(base + at);
        const want = um.read(lo, hi, len);
        const dst = new Uint8Array(len + 16).fill(0xaa);
        const ok = um.readInto(dst, 8, lo, hi, len);
        expect(ok).toBe(want !== undefined);
        if (want !== undefined) expect(dst.subarray(8, 8 + len)).toEqual(want);
        else expect(dst.every((b) => b === 0xaa)).toBe(true);
        expect(dst.subarray(0, 8).every((b) => b === 0xaa) && dst.subarray(8 + len).every((b) => b === 0xaa)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
