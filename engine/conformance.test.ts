import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConformanceDir, parseDataFile, runCase, runConformance } from './conformance.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = resolve(repoRoot, '../shared/anchors/bpf-conformance/tests');

describe('bpf_conformance', () => {
  it('finds the 313 test files', () => {
    expect(existsSync(dir), `bpf_conformance tests missing: expected them at ${dir}`).toBe(true);
    expect(loadConformanceDir(dir)).toHaveLength(313);
  });

  it('passes every test on the interpreter (313/313)', () => {
    const outcomes = runConformance(loadConformanceDir(dir));
    const failed = outcomes.filter((o) => !o.pass).map((o) => `${o.name}: expected ${o.expected}, got ${o.actual}`);
    expect(failed).toEqual([]);
    expect(outcomes.filter((o) => o.pass)).toHaveLength(313);
  });

  it('checks the assembler against the -- raw section (lddw)', () => {
    const c = loadConformanceDir(dir).find((x) => x.name === 'lddw');
    expect(c?.raw).toBeDefined();
    const o = runCase(c!);
    expect(o.rawMatches).toBe(true);
    expect(o.pass).toBe(true);
  });

  it('parses sections, comments, decimal results and -- error', () => {
    const c = parseDataFile('# hdr\n-- asm\nmov %r0, 3 # three\nexit\n-- mem\n01 02\n  ff\n-- result\n3\n', 't');
    expect(c.mem).toEqual(new Uint8Array([1, 2, 255]));
    expect(c.result).toBe(3n);
    expect(runCase(c).pass).toBe(true);
    const e = parseDataFile('-- asm\nmov %r0, 1\nldxw %r0, [%r0+0]\nexit\n-- error\ninvalid read\n', 'e');
    const o = runCase(e);
    expect(o.actual).toMatch(/invalid read of 4 bytes/);
    expect(o.pass).toBe(true);
  });

  it('reports a wrong result as a failure', () => {
    const c = parseDataFile('-- asm\nmov %r0, 2\nexit\n-- result\n0x3\n', 'w');
    const o = runCase(c);
    expect(o.pass).toBe(false);
    expect(o.actual).toBe('r0 = 0x2');
  });
});
