// The kernel oracle: verdicts from the running kernel, single and batched, with maps patched in.
import { describe, expect, it } from 'vitest';
import { assemble } from '../engine/asm/assembler.js';
import { kernelReason, kernelVerify, kernelVerifyBatch } from './kernel-oracle.js';

const GOOD = assemble('.map m hash key=4 value=8 entries=4\nstw [r10-4], 0\nmov r2, r10\nadd r2, -4\nlddw r1, map:m\ncall 1\njeq r0, 0, out\nldxdw r0, [r0+0]\nexit\nout:\nmov r0, 0\nexit\n');
const BAD = assemble('ldxw r0, [r1+0]\nexit\n');

describe('kernel oracle', () => {
  it('gives the kernel verdict and log, or says why it cannot', () => {
    const g = kernelVerify(GOOD.insns, GOOD.maps, 'tracepoint');
    if (!g.available) {
      console.log(`kernel oracle unavailable: ${g.reason}`);
      expect(g.reason).toBeTruthy();
      return;
    }
    expect(g.ok).toBe(true);
    expect(g.log).toMatch(/processed \d+ insns/);
    const b = kernelVerify(BAD.insns, BAD.maps, 'tracepoint');
    expect(b.ok).toBe(false);
    expect(b.errno).toBe(13);
    expect(kernelReason(b.log)).toBe('invalid bpf_context access off=0 size=4');
    // The same program is fine as a socket filter (skb->len at offset 0).
    expect(kernelVerify(BAD.insns, BAD.maps, 'socket_filter').ok).toBe(true);
  });

  it('answers a batch in order', () => {
    const v = kernelVerifyBatch([
      { insns: GOOD.insns, maps: GOOD.maps, progType: 'tracepoint' },
      { insns: BAD.insns, maps: BAD.maps, progType: 'tracepoint' },
      { insns: BAD.insns, maps: BAD.maps, progType: 'socket_filter' },
    ]);
    expect(v).toHaveLength(3);
    if (!v[0].available) return;
    expect(v.map((x) => x.ok)).toEqual([true, false, true]);
  });
});
