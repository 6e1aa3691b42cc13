import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run as asmRun } from './asm.js';
import { run as disasmRun } from './disasm.js';
import { run as progRun } from './prog.js';

let dir: string;
let out: string;
let err: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-asm-'));
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1');
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const SUM = `; sum of the input bytes
  mov r0, 0
  mov r3, r1
  add r2, r1
loop:
  jge r3, r2, exit
  ldxb r4, [r3+0]
  add r0, r4
  add r3, 1
  ja loop
  exit
`;

describe('kestrel asm / disasm', () => {
  it('assembles to raw bytes and disassembles back', async () => {
    const src = file('sum.asm', SUM);
    const bin = join(dir, 'sum.bin');
    expect(await asmRun([src, '-o', bin])).toBe(0);
    const bytes = readFileSync(bin);
    expect(bytes.length).toBe(9 * 8);
    expect(await disasmRun([bin])).toBe(0);
    expect(out.split('\n')[0]).toBe('mov %r0, 0');
    expect(out).toContain('jge %r3, %r2, +4');
    const plain = out;
    out = '';
    expect(await disasmRun([bin, '--labels'])).toBe(0);
    expect(out).toContain('L3:\njge %r3, %r2, L8\n');
    expect(out).toContain('ja L3\n');
    out = plain;
    // The disassembly re-assembles to the same bytes.
    const again = file('again.asm', out);
    const bin2 = join(dir, 'again.bin');
    expect(await asmRun([again, '-o', bin2])).toBe(0);
    expect(readFileSync(bin2)).toEqual(bytes);
  });

  it('writes and reads hex slots, including the conformance -- raw style', async () => {
    expect(await asmRun([file('l.asm', 'lddw %r0, 0x1122334455667788\nexit\n'), '--hex'])).toBe(0);
    expect(out).toBe('1800000088776655\n0000000044332211\n9500000000000000\n');
    out = '';
    expect(await disasmRun([file('raw.txt', '0x5566778800000018\n0x1122334400000000\n0x0000000000000095\n')])).toBe(0);
    expect(out).toBe('lddw %r0, 0x1122334455667788\nexit\n');
  });

  it('reports assembly errors with file:line:column and exit 2', async () => {
    const p = file('bad.asm', 'mov r0, 1\n  jeq r0, 1, nowhere\n');
    expect(await asmRun([p])).toBe(2);
    expect(err).toBe(`${p}:2:14: undefined label 'nowhere'\n`);
  });

  it('rejects a truncated binary', async () => {
    expect(await disasmRun([file('t.bin', '\x95\x00\x00')])).toBe(2);
    expect(err).toMatch(/not a whole number of 8-byte instructions/);
  });

  it('prints help', async () => {
    expect(await asmRun(['--help'])).toBe(0);
    expect(out).toMatch(/usage: kestrel asm/);
    expect(await disasmRun(['--help'])).toBe(0);
    expect(await progRun(['run', '--help'])).toBe(0);
    expect(out).toMatch(/usage: kestrel prog run/);
  });
});

describe('kestrel prog run', () => {
  it('runs with --mem and prints r0 and statistics', async () => {
    const p = file('sum.asm', SUM);
    expect(await progRun(['run', p, '--mem', '01 02 03 fa'])).toBe(0);
    expect(out).toMatch(/^r0 = 0x100 \(256\)$/m);
    expect(out).toMatch(/^instructions: \d+$/m);
    expect(out).toMatch(/runs: 1/);
  });

  it('--json, --repeat', async () => {
    const p = file('sum.asm', SUM);
    expect(await progRun(['run', p, '--mem', '0102', '--json', '--repeat', '5'])).toBe(0);
    const o = JSON.parse(out) as Record<string, unknown>;
    expect(o.r0).toBe('0x3');
    expect(o.instructions).toBe(3 + 2 * 5 + 2); // setup, 5 per byte, final jge + exit
    expect(o.runs).toBe(5);
    expect(typeof o.ns_per_run).toBe('number');
    expect(typeof o.compile_ms).toBe('number');
    expect(o.fault).toBeUndefined();
  });

  it('restores the input memory before each repeated run', async () => {
    const p = file('inc.asm', 'ldxb r0, [r1+0]\nadd r0, 1\nstxb [r1+0], r0\nexit\n');
    expect(await progRun(['run', p, '--mem', '05', '--json', '--repeat', '3'])).toBe(0);
    expect((JSON.parse(out) as { r0: string }).r0).toBe('0x6');
  });

  it('exits 1 with the fault in JSON', async () => {
    const p = file('oob.asm', 'ldxw r0, [r1+2]\nexit\n');
    expect(await progRun(['run', p, '--mem', '0102', '--json'])).toBe(1);
    const o = JSON.parse(out) as { fault: string };
    expect(o.fault).toMatch(/insn 0 \(ldxw %r0, \[%r1\+2\]\): invalid read of 4 bytes/);
  });

  it('enforces --budget', async () => {
    const p = file('loop.asm', 'L: ja L\n');
    expect(await progRun(['run', p, '--budget', '100', '--json'])).toBe(1);
    expect(JSON.parse(out)).toMatchObject({ instructions: 100, fault: expect.stringMatching(/budget of 100 exhausted/) });
  });

  it('creates declared maps when the map implementation is present', async () => {
    const p = file(
      'map.asm',
      '.map counts array key=4 value=8 entries=4\n' +
        'stw [r10-4], 2\nlddw r1, map:counts\nmov r2, r10\nadd r2, -4\ncall 1\njeq r0, 0, +3\n' +
        'lddw r1, 0x2a\nstxdw [r0+0], r1\nldxdw r0, [r0+0]\nexit\n',
    );
    const code = await progRun(['run', p, '--json']);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ r0: '0x2a' });
  });

  it('--maps prints map entries after the run', async () => {
    const p = file(
      'count.asm',
      '.map counts hash key=4 value=8 entries=8\n' +
        'stw [r10-4], 7\nstdw [r10-16], 3\nlddw r1, map:counts\nmov r2, r10\nadd r2, -4\nmov r3, r10\nadd r3, -16\nmov r4, 0\ncall 2\nexit\n',
    );
    expect(await progRun(['run', p, '--maps', '--json'])).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ r0: '0x0', maps: { counts: [{ key: '07000000', value: '0300000000000000' }] } });
  });

  it('links mapval: to a single-element array map value', async () => {
    const p = file(
      'cfg.asm',
      '.map cfg array key=4 value=16 entries=1\nlddw r1, mapval:cfg+8\nstdw [r1+0], 77\nldxdw r0, [r1+0]\nexit\n',
    );
    expect(await progRun(['run', p, '--json', '--maps'])).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ r0: '0x4d', maps: { cfg: [{ key: '00000000', value: '00000000000000004d00000000000000' }] } });
    out = '';
    const bad = file('badcfg.asm', '.map cfg array key=4 value=16 entries=1\nlddw r1, mapval:cfg+16\nexit\n');
    expect(await progRun(['run', bad])).toBe(2);
    expect(err).toMatch(/insn 0: offset 16 is outside map 'cfg' value/);
  });

  it('usage errors exit 2', async () => {
    expect(await progRun(['run'])).toBe(2);
    expect(await progRun(['run', file('x.asm', 'exit\n'), '--exec', 'magic'])).toBe(2);
    expect(err).toMatch(/--exec must be interp or jit/);
    expect(await progRun(['run', file('y.asm', 'exit\n'), '--mem', 'zz'])).toBe(2);
    expect(await progRun(['frob'])).toBe(2);
  });
});
