// BTF parsing on hand-built blobs: well-formed types, and the hostile cases (cycles, ids out of
// range, truncated data, bad strings) that must end in an ElfError.

import { describe, expect, it } from 'vitest';
import { BtfKind, parseBtf } from './btf.js';
import { decodeValue } from './decode.js';
import { ElfError } from './errors.js';

/** A tiny BTF writer: types as [name, info, sizeOrType, ...extra u32s]. */
function btfBlob(strings: string[], types: number[][]): Uint8Array {
  const strTab = Buffer.from('\0' + strings.map((s) => s + '\0').join(''), 'latin1');
  const words = types.flat();
  const typeBytes = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => typeBytes.writeUInt32LE(w >>> 0, i * 4));
  const hdr = Buffer.alloc(24);
  hdr.writeUInt16LE(0xeb9f, 0);
  hdr.writeUInt8(1, 2);
  hdr.writeUInt32LE(24, 4);
  hdr.writeUInt32LE(0, 8);
  hdr.writeUInt32LE(typeBytes.length, 12);
  hdr.writeUInt32LE(typeBytes.length, 16);
  hdr.writeUInt32LE(strTab.length, 20);
  return new Uint8Array(Buffer.concat([hdr, typeBytes, strTab]));
}

/** Offset of the i-th string (0-based) in the table built by btfBlob. */
function so(strings: string[], i: number): number {
  let o = 1;
  for (let k = 0; k < i; k++) o += strings[k].length + 1;
  return o;
}

const info = (kind: number, vlen = 0, kflag = 0): number => ((kflag << 31) | (kind << 24) | vlen) >>> 0;

describe('BTF parser', () => {
  const S = ['int', 'char', 'event', 'pid', 'comm', 'flags', 'kind_t', 'K_A', 'K_B', 'kind'];
  // 1 int (4, signed), 2 char (1), 3 char[8], 4 enum kind_t, 5 struct event {int pid; char comm[8]; u32 flags:3; enum kind}
  const types = [
    [so(S, 0), info(BtfKind.Int), 4, (1 << 24) | 32],
    [so(S, 1), info(BtfKind.Int), 1, (1 << 24) | 8],
    [0, info(BtfKind.Array), 0, 2, 1, 8],
    [so(S, 6), info(BtfKind.Enum, 2), 4, so(S, 7), 1, so(S, 8), 2],
    [so(S, 2), info(BtfKind.Struct, 4, 1), 20, so(S, 3), 1, 0, so(S, 4), 3, 32, so(S, 5), 1, (3 << 24) | 96, so(S, 9), 4, 128],
  ];

  it('parses types, sizes and names', () => {
    const btf = parseBtf(btfBlob(S, types));
    const ev = btf.find('event', BtfKind.Struct);
    expect(ev?.id).toBe(5);
    expect(btf.sizeOf(5)).toBe(20);
    expect(btf.sizeOf(3)).toBe(8);
    expect(btf.describe(3)).toBe('char[8]');
    expect(ev?.members?.map((m) => [m.name, m.bitOffset, m.bitSize])).toEqual([
      ['pid', 0, 0],
      ['comm', 32, 0],
      ['flags', 96, 3],
      ['kind', 128, 0],
    ]);
  });

  it('decodes a struct with a char array, a bitfield and an enum', () => {
    const btf = parseBtf(btfBlob(S, types));
    const rec = new Uint8Array(20);
    const d = new DataView(rec.buffer);
    d.setInt32(0, -7, true);
    rec.set(Buffer.from('bash'), 4);
    d.setUint32(12, 0b11111101, true); // only the low 3 bits belong to `flags`
    d.setUint32(16, 2, true);
    expect(decodeValue(btf, 5, rec)).toEqual({ pid: -7, comm: 'bash', flags: 5, kind: 'K_B' });
  });

  it('rejects a typedef cycle instead of looping', () => {
    const s = ['a', 'b'];
    const btf = parseBtf(btfBlob(s, [[so(s, 0), info(BtfKind.Typedef), 2], [so(s, 1), info(BtfKind.Typedef), 1]]));
    expect(() => btf.sizeOf(1)).toThrow(/cycle/);
    expect(() => btf.skipMods(2)).toThrow(ElfError);
  });

  it('rejects an array that contains itself', () => {
    const btf = parseBtf(btfBlob([], [[0, info(BtfKind.Array), 0, 1, 1, 2]]));
    expect(() => btf.sizeOf(1)).toThrow(/cycle|too deep|out of range/);
  });

  it('rejects type ids out of range, bad name offsets, truncated types and unknown kinds', () => {
    expect(() => parseBtf(btfBlob([], [[0, info(BtfKind.Ptr), 99]]))).toThrow(/refers to type 99, out of range/);
    expect(() => parseBtf(btfBlob([], [[5000, info(BtfKind.Ptr), 0]]))).toThrow(/name offset 5000/);
    expect(() => parseBtf(btfBlob([], [[0, info(BtfKind.Struct, 1000), 4]]))).toThrow(/run past the type section/);
    expect(() => parseBtf(btfBlob([], [[0, info(25), 4]]))).toThrow(/unknown kind 25/);
    expect(() => parseBtf(btfBlob([], [[0, info(BtfKind.Array), 0, 1]]))).toThrow(ElfError);
  });

  it('rejects bad headers', () => {
    const good = btfBlob(S, types);
    const badMagic = good.slice();
    badMagic[0] = 0;
    expect(() => parseBtf(badMagic)).toThrow(/bad magic/);
    const badLen = good.slice();
    new DataView(badLen.buffer).setUint32(12, 0xffffff00, true);
    expect(() => parseBtf(badLen)).toThrow(/past end/);
    const noNul = good.slice(0, good.length - 1);
    new DataView(noNul.buffer).setUint32(20, new DataView(good.buffer).getUint32(20, true) - 1, true);
    expect(() => parseBtf(noNul)).toThrow(/not NUL-terminated/);
    expect(() => parseBtf(new Uint8Array(3))).toThrow(ElfError);
  });

  it('decodes nested zero-size arrays without blowing up', () => {
    const s = ['empty'];
    // 1 struct empty {} (size 0); 2..6 arrays of 64 of the previous type: 64^5 values of nothing.
    const types: number[][] = [[so(s, 0), info(BtfKind.Struct, 0), 0]];
    for (let k = 1; k <= 5; k++) types.push([0, info(BtfKind.Array), 0, k, 1, 64]);
    const btf = parseBtf(btfBlob(s, types));
    const t0 = performance.now();
    const v = decodeValue(btf, 6, new Uint8Array(16));
    expect(performance.now() - t0).toBeLessThan(2000);
    // Decoding stops at its node budget (65,536 values) instead of visiting 64^5.
    const leaves = JSON.stringify(v).split('{}').length - 1;
    expect(leaves).toBeGreaterThan(1000);
    expect(leaves).toBeLessThanOrEqual(65536);
  });

  it('bounds sizes that would overflow', () => {
    const btf = parseBtf(btfBlob(['int'], [[1, info(BtfKind.Int), 4, (1 << 24) | 32], [0, info(BtfKind.Array), 0, 1, 1, 0xffffffff], [0, info(BtfKind.Array), 0, 2, 1, 0xffffffff]]));
    expect(() => btf.sizeOf(3)).toThrow(/out of range/);
  });
});
