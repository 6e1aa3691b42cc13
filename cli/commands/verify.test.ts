import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './verify.js';
import { assemble } from '../../engine/asm/assembler.js';

let dir: string;
let out: string;
let err: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-verify-'));
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('kestrel verify', () => {
  it('accepts a good program (exit 0) and prints statistics', async () => {
    const f = file('ok.asm', 'ldxdw r0, [r1+16]\nexit\n');
    expect(await run([f, '--stats'])).toBe(0);
    expect(out).toContain('accepted');
    expect(out).toMatch(/stats: \d+ insns processed/);
  });

  it('rejects with the failing insn, its disassembly and the registers (exit 1)', async () => {
    const f = file('bad.asm', '.map m hash key=4 value=8 entries=4\nstw [r10-4], 0\nmov r2, r10\nadd r2, -4\nlddw r1, map:m\ncall 1\nldxdw r0, [r0+0]\nexit\n');
    expect(await run([f])).toBe(1);
    expect(out).toContain("rejected at insn 6: R0 invalid mem access 'map_value_or_null'");
    expect(out).toContain('6: (79) r0 = *(u64 *)(r0 +0)');
    expect(out).toMatch(/R0=map_value_or_null\(id=\d+,ks=4,vs=8\)/);
  });

  it('honours --hook (kprobe context is pt_regs)', async () => {
    const f = file('kp.asm', 'ldxdw r0, [r1+160]\nexit\n');
    expect(await run([f])).toBe(1); // the execve record is 40 bytes
    expect(await run([f, '--hook', 'kprobe/__x64_sys_execve'])).toBe(0);
    const g = file('kp2.asm', 'ldxdw r0, [r1+0]\nexit\n');
    expect(await run([g, '--hook', 'kprobe/__x64_sys_execve'])).toBe(0);
    expect(await run([g])).toBe(1);
  });

  it('reports tracepoint reads past the record as an attach failure', async () => {
    const f = file('tp.asm', 'ldxdw r0, [r1+48]\nexit\n');
    expect(await run([f, '--hook', 'tracepoint/syscalls/sys_enter_execve'])).toBe(1);
    expect(out).toContain('attaching would fail');
  });

  it('--allow-uninit-stack follows Linux for privileged loaders', async () => {
    const f = file('u.asm', 'ldxdw r0, [r10-8]\nexit\n');
    expect(await run([f])).toBe(1);
    expect(out).toContain('invalid read from stack off -8+0 size 8');
    expect(await run([f, '--allow-uninit-stack'])).toBe(0);
  });

  it('verifies raw bytecode and prints JSON', async () => {
    const f = file('p.bin', assemble('mov r0, 1\nexit\n').insns);
    expect(await run([f, '--json'])).toBe(0);
    const j = JSON.parse(out) as { ok: boolean; programs: { ok: boolean; stats: { insnsProcessed: number } }[] };
    expect(j.ok).toBe(true);
    expect(j.programs[0].stats.insnsProcessed).toBe(2);
  });

  it('exit 2 for unreadable input, bad assembly, unknown hooks and --help 0', async () => {
    expect(await run([join(dir, 'missing.asm')])).toBe(2);
    expect(await run([file('x.asm', 'frobnicate r0\n')])).toBe(2);
    expect(err).toMatch(/x\.asm:1:1/);
    expect(await run([file('y.asm', 'mov r0, 0\nexit\n'), '--hook', 'nope'])).toBe(2);
    expect(await run(['--help'])).toBe(0);
  });
});
