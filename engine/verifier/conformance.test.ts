// The bpf_conformance programs (shared/anchors/bpf-conformance) are valid programs that Linux
// loads; run as `raw` programs over their input memory, Kestrel's verifier accepts every one of
// them except the ones Linux itself rejects (shift immediates out of range, callx).
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { assemble } from '../asm/assembler.js';
import { verify } from './index.js';

const DIR = '/work/shared/anchors/bpf-conformance/tests/';
const LINUX_REJECTS: Record<string, string> = {
  'callx.data': 'unknown opcode 8d',
};

function sections(text: string): Record<string, string[]> {
  const sec: Record<string, string[]> = {};
  let cur: string | undefined;
  for (const line of text.split('\n')) {
    if (line.includes('--')) {
      cur = line.replace(/.*--\s*/, '').trim();
      sec[cur] = [];
    } else if (cur !== undefined) sec[cur].push(line);
  }
  return sec;
}

describe.runIf(existsSync(DIR))('bpf_conformance programs', () => {
  it('are accepted, except those Linux rejects too', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.data'));
    expect(files.length).toBeGreaterThan(300);
    const wrong: string[] = [];
    for (const f of files) {
      const sec = sections(readFileSync(DIR + f, 'utf8'));
      if (sec.asm === undefined) continue;
      const a = assemble(sec.asm.join('\n'), f);
      const mem = (sec.mem ?? []).join(' ').replace(/#.*/g, '').trim().split(/\s+/).filter(Boolean);
      const r = verify(a.insns, { progType: 'raw', ctxSize: mem.length, maps: a.maps });
      const expectReject = LINUX_REJECTS[f] ?? (/^(arsh|lsh|rsh)(32|64)?-imm-(high|neg)/.test(f) ? 'invalid shift' : undefined);
      if (expectReject === undefined && !r.ok) wrong.push(`${f}: rejected: ${r.error?.message}`);
      if (expectReject !== undefined && (r.ok || !(r.error?.message ?? '').includes(expectReject))) wrong.push(`${f}: expected '${expectReject}', got ${r.ok ? 'accept' : r.error?.message}`);
    }
    expect(wrong).toEqual([]);
  });
});
