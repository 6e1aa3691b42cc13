// The relocated, linked programs are real eBPF: every program of every C example (as the loader
// hands it to the engine: map references and global data as lddw src 1/2, subprograms appended,
// bpf_loop callbacks as src 4) is loaded into the running Linux kernel with its maps created
// through bpf(2), and the kernel's verifier must accept it, as Kestrel's verifier does. Where
// bpf() is not available (not root, no kernel support) the test says why and checks Kestrel only.

import { describe, expect, it } from 'vitest';
import { kernelVerify, type OracleProgType } from '../../test-support/kernel-oracle.js';
import { verify, HOOK_CONTEXTS } from '../verifier/index.js';
import { BPF_MAP_TYPE_PERF_EVENT_ARRAY } from '../maps/types.js';
import { compileExample } from './compile.js';
import { loadElf, programSpec } from './index.js';

const NAMES = ['execsnoop', 'connectlog', 'counts', 'pathstat', 'hello', 'exitsnoop', 'denyconnect', 'portdigits'];

describe('C examples load into the Linux kernel after relocation', () => {
  it('every program is accepted by Kestrel and by the running kernel', () => {
    let kernelChecked = 0;
    let reason: string | undefined;
    const overrideRefused: string[] = [];
    for (const n of NAMES) {
      const obj = loadElf(compileExample(n).bytes, { fileName: `${n}.o` });
      for (const prog of obj.programs) {
        const spec = programSpec(obj, prog);
        const hc = HOOK_CONTEXTS[prog.attach.hook ?? ''];
        expect(hc, `${n}/${prog.name}`).toBeDefined();
        const ours = verify(spec.insns, { progType: hc.progType, ctxSize: hc.ctxSize, maps: spec.maps, gpl: obj.gpl });
        expect({ program: `${n}/${prog.name}`, ok: ours.ok, error: ours.error?.message }).toEqual({ program: `${n}/${prog.name}`, ok: true, error: undefined });
        // A perf event array declared without max_entries gets one slot per CPU at creation.
        const maps = spec.maps.map((m) => (m.type === BPF_MAP_TYPE_PERF_EVENT_ARRAY && m.maxEntries === 0 ? { ...m, maxEntries: 1 } : m));
        const k = kernelVerify(spec.insns, maps, hc.progType as OracleProgType, obj.gpl);
        if (!k.available) {
          reason = k.reason;
          continue;
        }
        kernelChecked++;
        // Kernels built without CONFIG_BPF_KPROBE_OVERRIDE (this machine's) refuse the helper
        // itself; everything before the call was accepted, which is what this test is about.
        if (k.ok !== true && /cannot use helper bpf_override_return#58\n/.test(k.log ?? '')) {
          expect(k.log).toMatch(/call bpf_override_return#58\nprogram of this type cannot use helper bpf_override_return#58/);
          overrideRefused.push(`${n}/${prog.name}`);
          continue;
        }
        if (k.ok !== true) console.error(`${n}/${prog.name}:\n${(k.log ?? '').split('\n').slice(-25).join('\n')}`);
        expect({ program: `${n}/${prog.name}`, kernelAccepts: k.ok }).toEqual({ program: `${n}/${prog.name}`, kernelAccepts: true });
      }
    }
    if (reason !== undefined) console.warn(`kernel oracle unavailable, Linux's verdict not checked: ${reason}`);
    else {
      console.log(
        `${kernelChecked} programs from ${NAMES.length} C examples checked against the running kernel's verifier` +
          (overrideRefused.length > 0 ? `; ${overrideRefused.join(', ')} accepted up to bpf_override_return (kernel without CONFIG_BPF_KPROBE_OVERRIDE)` : ''),
      );
    }
  });
});
