import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assemble } from '../../engine/asm/assembler.js';
import { verify } from '../../engine/verifier/index.js';
import { kernelVerify } from '../../test-support/kernel-oracle.js';
import { HOOKS } from './hooks.js';
import { RingBufConsumer, RingBufMap } from '../../engine/maps/index.js';
import { createEngineKernel, type FaultReport } from './engine.js';
import type { HookName } from './hooks.js';

function attachAsm(hook: HookName, text: string, name: string) {
  const ek = createEngineKernel({ seed: 1 });
  const faults: FaultReport[] = [];
  return { ek, faults, prog: ek.attachSpec(hook, { name, ...assemble(text, `${name}.s`), progType: 'tracepoint' }) };
}

function drain(ek: ReturnType<typeof createEngineKernel>, name: string): Uint8Array[] {
  const rb = ek.vm.mapByName(name);
  if (!(rb instanceof RingBufMap)) throw new Error('no ring buffer');
  const out: Uint8Array[] = [];
  new RingBufConsumer(rb).consume((d) => void out.push(d.slice()));
  return out;
}

const EXAMPLES = fileURLToPath(new URL('./examples/', import.meta.url));
const example = (name: string): string => readFileSync(join(EXAMPLES, name), 'utf8');
const EXECSNOOP = example('execsnoop.s');
const CONNSNOOP = example('connsnoop.s');

describe('engine programs on the simulated kernel', () => {
  it('an execsnoop on sys_enter_execve copies the filename into a ring buffer', () => {
    const { ek, prog } = attachAsm('tracepoint/syscalls/sys_enter_execve', EXECSNOOP, 'execsnoop');
    ek.kernel.handle({ type: 'exec', ts: 1n, pid: 100, exe: '/usr/bin/curl', argv: ['curl'] });
    ek.kernel.handle({ type: 'exec', ts: 2n, pid: 101, exe: '/bin/sh', argv: ['sh', '-c', 'id'] });
    const recs = drain(ek, 'events').map((r) => Buffer.from(r).toString());
    expect(recs).toEqual(['/usr/bin/curl\0', '/bin/sh\0']);
    expect(prog.stats.runs).toBe(2);
  });

  it('a program on sys_enter_connect decodes address and port', () => {
    const { ek } = attachAsm('tracepoint/syscalls/sys_enter_connect', CONNSNOOP, 'connsnoop');
    ek.kernel.handle({ type: 'connect', ts: 1n, pid: 7, family: 'inet', daddr: '10.96.0.1', dport: 443 });
    ek.kernel.handle({ type: 'connect', ts: 2n, pid: 7, family: 'inet6', daddr: '::1', dport: 80 });
    ek.kernel.handle({ type: 'connect', ts: 3n, pid: 7, family: 'inet', daddr: '203.0.113.7', dport: 3333 });
    const recs = drain(ek, 'events').map((r) => `${r[0]}.${r[1]}.${r[2]}.${r[3]}:${new DataView(r.buffer).getUint32(4, true)}`);
    expect(recs).toEqual(['10.96.0.1:443', '203.0.113.7:3333']);
  });

  it('bpf_send_signal(SIGKILL) from a program kills the process before exec', () => {
    const { ek } = attachAsm('tracepoint/syscalls/sys_enter_execve', 'mov r1, 9\ncall 109\nmov r0, 0\nexit', 'killer');
    const res = ek.kernel.handle({ type: 'exec', ts: 1n, pid: 5, exe: '/usr/bin/nmap', argv: ['nmap'] });
    expect(res.map((h) => `${h.event.type}:${h.event.enforced ?? ''}`)).toEqual(['exec:kill', 'exit:kill']);
  });

  it('bpf_override_return on the execve kprobe denies the exec', () => {
    const ek = createEngineKernel();
    ek.attachSpec('kprobe/__x64_sys_execve', { name: 'deny', ...assemble('lddw r2, -1\ncall 58\nmov r0, 0\nexit'), progType: 'kprobe' });
    const [h] = ek.kernel.handle({ type: 'exec', ts: 1n, pid: 5, exe: '/usr/bin/apt', argv: ['apt'] });
    expect(h.event).toMatchObject({ ret: -1, enforced: 'deny' });
  });

  it('the execve kprobe reads arguments through the user pt_regs (probe_read_kernel)', () => {
    const text = example('kprobe-execve.s');
    const ek = createEngineKernel();
    ek.attachSpec('kprobe/__x64_sys_execve', { name: 'kp', ...assemble(text), progType: 'kprobe' });
    ek.kernel.handle({ type: 'exec', ts: 1n, pid: 5, exe: '/usr/bin/kubectl', argv: ['kubectl'] });
    const [r] = drain(ek, 'events');
    expect(Buffer.from(r).toString()).toBe('/usr/bin/kubectl');
  });

  it('compiled programs find the kernel maps by name', () => {
    const text = example('ppid.s');
    const ek = createEngineKernel();
    ek.attachSpec('tracepoint/syscalls/sys_exit_execve', { name: 'ppid', ...assemble(text), progType: 'tracepoint' });
    ek.kernel.handle({ type: 'exec', ts: 1n, pid: 77, ppid: 42, exe: '/bin/true', argv: ['true'] });
    const [r] = drain(ek, 'events');
    expect(new DataView(r.buffer).getUint32(0, true)).toBe(42);
    expect(() => ek.bindMap({ name: 'kestrel_procs', type: 1, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 })).toThrow(/kernel map/);
  });
});

describe('the example programs are real eBPF', () => {
  const cases: [string, HookName][] = [
    ['execsnoop.s', 'tracepoint/syscalls/sys_enter_execve'],
    ['connsnoop.s', 'tracepoint/syscalls/sys_enter_connect'],
    ['kprobe-execve.s', 'kprobe/__x64_sys_execve'],
    ['ppid.s', 'tracepoint/syscalls/sys_exit_execve'],
  ];
  for (const [file, hook] of cases) {
    it(`${file} passes Kestrel's verifier for ${hook}, and Linux's where bpf() is usable`, () => {
      const a = assemble(example(file), file);
      const info = HOOKS[hook];
      const ours = verify(a.insns, { progType: info.progType, ctxSize: info.ctxSize, maps: a.maps, gpl: true });
      expect({ file, ok: ours.ok, error: ours.error?.message }).toEqual({ file, ok: true, error: undefined });
      const k = kernelVerify(a.insns, a.maps, info.progType, true);
      if (!k.available) {
        console.warn(`kernel oracle unavailable, Linux's verdict not checked: ${k.reason}`);
        return;
      }
      if (k.ok !== true) console.error((k.log ?? '').split('\n').slice(-20).join('\n'));
      expect({ file, kernelAccepts: k.ok }).toEqual({ file, kernelAccepts: true });
    });
  }
});
