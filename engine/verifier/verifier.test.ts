// Targeted behaviour of verify(): malformed input, pruning, statistics, options and the log.
import { describe, expect, it } from 'vitest';
import { assemble } from '../asm/assembler.js';
import { HOOK_CONTEXTS, verify } from './index.js';
import { liveRegs } from './liveness.js';
import { decode } from '../isa.js';

const TP = { progType: 'tracepoint' as const, ctxSize: 40, maps: [] };

describe('verify', () => {
  it('rejects malformed byte strings with a message instead of throwing', () => {
    expect(verify(new Uint8Array(7), TP).error?.message).toBe('program length 7 is not a multiple of 8');
    expect(verify(new Uint8Array(0), TP).error?.message).toBe('empty program');
    expect(verify(new Uint8Array(8).fill(0xff), TP).error?.message).toBe('unknown opcode ff');
  });

  it('prunes joined diamonds: work grows linearly, not exponentially', () => {
    const body: string[] = ['ldxdw r6, [r1+16]', 'mov r7, 0'];
    for (let k = 0; k < 30; k++) body.push(`jgt r6, ${k}, L${k}`, 'mov r2, 1', 'add r7, r2', `L${k}:`, 'and r7, 0xff');
    body.push('mov r0, r7', 'exit');
    const a = assemble(body.join('\n'));
    const r = verify(a.insns, { ...TP, maps: a.maps });
    expect(r.ok).toBe(true);
    expect(r.stats.insnsProcessed).toBeLessThan(2000); // 2^30 paths without pruning
    expect(r.stats.states).toBeGreaterThan(0);
  });

  it('reports stack depth per subprogram and the highest context byte read', () => {
    const a = assemble('ldxdw r2, [r1+32]\nstdw [r10-24], 1\ncall local f\nmov r0, 0\nexit\nf:\nstdw [r10-200], 0\nmov r0, 0\nexit\n');
    const r = verify(a.insns, { ...TP, maps: a.maps });
    expect(r.ok).toBe(true);
    expect(r.stats.stackDepth).toEqual([24, 200]);
    expect(r.maxCtxOffset).toBe(40);
  });

  it('honours maxInsns and logLevel', () => {
    const a = assemble('mov r1, 0\nloop:\nadd r1, 1\njlt r1, 100000, loop\nmov r0, 0\nexit\n');
    const r = verify(a.insns, { ...TP, maxInsns: 1000, logLevel: 0 });
    expect(r.error?.message).toBe('BPF program is too large. Processed 1001 insn');
    expect(r.log).not.toMatch(/R10=fp0/);
    const b = assemble('ldxdw r2, [r1+16]\njeq r2, 0, out\nmov r2, 1\nout:\nmov r0, r2\nexit\n');
    const full = verify(b.insns, { ...TP, logLevel: 2 });
    expect(full.ok).toBe(true);
    expect(full.log).toContain('1: (15) if r2 == 0x0 goto pc+1');
    expect(full.log).toMatch(/from 1 to 3: R1=ctx\(\) R2=0 R10=fp0/);
  });

  it('names registers and bounds in the rejection log', () => {
    const a = assemble('.map m array key=4 value=16 entries=4\nldxdw r6, [r1+16]\nand r6, 31\nstw [r10-4], 0\nmov r2, r10\nadd r2, -4\nlddw r1, map:m\ncall 1\nadd r0, r6\nldxb r0, [r0+0]\nexit\n');
    const r = verify(a.insns, { ...TP, maps: a.maps });
    expect(r.ok).toBe(false);
    expect(r.error).toEqual({ insn: 9, message: 'invalid access to map value, value_size=16 off=31 size=1' });
    expect(r.log).toContain('9: (71) r0 = *(u8 *)(r0 +0)');
    expect(r.log).toContain('R0=map_value(ks=4,vs=16,smin=0,smax=31,umax=31');
    expect(r.log).toContain('R0 max value is outside of the allowed memory range');
    expect(r.log).toMatch(/processed \d+ insns \(limit 1000000\)/);
  });

  it('publishes the hooks of SPEC §3', () => {
    expect(HOOK_CONTEXTS['tracepoint/syscalls/sys_enter_execve']).toEqual({ progType: 'tracepoint', ctxSize: 40 });
    expect(HOOK_CONTEXTS['kprobe/__x64_sys_execve']).toEqual({ progType: 'kprobe', ctxSize: 168 });
    expect(HOOK_CONTEXTS.socket_filter.progType).toBe('socket_filter');
  });
});

describe('liveness', () => {
  it('marks registers read before written', () => {
    const a = assemble('mov r2, 1\nadd r3, r2\nmov r0, r3\nexit\n');
    const live = liveRegs(decode(a.insns));
    expect(live[0] & (1 << 3)).not.toBe(0); // r3 read at 1 before any write
    expect(live[0] & (1 << 2)).toBe(0); // r2 written at 0
    expect(live[3]).toBe(1); // exit reads r0
  });
});
