import { describe, expect, it } from 'vitest';
import { assemble } from '../../engine/asm/assembler.js';
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

const EXECSNOOP = `
.map events ringbuf key=0 value=0 entries=4096
  mov r6, r1
  ldxdw r3, [r6+16]        # filename (user pointer)
  mov r1, r10
  add r1, -128
  mov r2, 128
  call 114                 # bpf_probe_read_user_str
  jsle r0, 0, out
  mov r3, r0
  jgt r3, 128, out
  lddw r1, map:events
  mov r2, r10
  add r2, -128
  mov r4, 0
  call 130                 # bpf_ringbuf_output
out:
  mov r0, 0
  exit
`;

const CONNSNOOP = `
.map events ringbuf key=0 value=0 entries=4096
  mov r6, r1
  ldxdw r3, [r6+24]        # uservaddr
  mov r1, r10
  add r1, -16
  mov r2, 16
  call 112                 # bpf_probe_read_user
  jne r0, 0, out
  ldxh r7, [r10-16]        # sin_family
  jne r7, 2, out
  ldxh r7, [r10-14]        # sin_port, network order
  be16 r7
  ldxw r8, [r10-12]        # sin_addr, network order
  stxw [r10-24], r8
  stxw [r10-20], r7
  lddw r1, map:events
  mov r2, r10
  add r2, -24
  mov r3, 8
  mov r4, 0
  call 130
out:
  mov r0, 0
  exit
`;

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
    const text = `
.map events ringbuf key=0 value=0 entries=4096
  ldxdw r3, [r1+112]       # ctx->di = struct pt_regs *regs
  add r3, 112              # &regs->di
  mov r1, r10
  add r1, -8
  mov r2, 8
  call 113                 # bpf_probe_read_kernel(&filename, 8, &regs->di)
  jne r0, 0, out
  ldxdw r3, [r10-8]
  mov r1, r10
  add r1, -72
  mov r2, 64
  call 114
  jsle r0, 0, out
  lddw r1, map:events
  mov r2, r10
  add r2, -72
  mov r3, 16
  mov r4, 0
  call 130
out:
  mov r0, 0
  exit
`;
    const ek = createEngineKernel();
    ek.attachSpec('kprobe/__x64_sys_execve', { name: 'kp', ...assemble(text), progType: 'kprobe' });
    ek.kernel.handle({ type: 'exec', ts: 1n, pid: 5, exe: '/usr/bin/kubectl', argv: ['kubectl'] });
    const [r] = drain(ek, 'events');
    expect(Buffer.from(r).toString()).toBe('/usr/bin/kubectl');
  });

  it('compiled programs find the kernel maps by name', () => {
    const text = `
.map kestrel_procs hash key=4 value=1112 entries=16384
.map events ringbuf key=0 value=0 entries=4096
  call 14                  # get_current_pid_tgid
  rsh r0, 32
  stxw [r10-4], r0
  lddw r1, map:kestrel_procs
  mov r2, r10
  add r2, -4
  call 1
  jeq r0, 0, out
  ldxw r7, [r0+8]          # ppid
  stxw [r10-8], r7
  lddw r1, map:events
  mov r2, r10
  add r2, -8
  mov r3, 4
  mov r4, 0
  call 130
out:
  mov r0, 0
  exit
`;
    const ek = createEngineKernel();
    ek.attachSpec('tracepoint/syscalls/sys_exit_execve', { name: 'ppid', ...assemble(text), progType: 'tracepoint' });
    ek.kernel.handle({ type: 'exec', ts: 1n, pid: 77, ppid: 42, exe: '/bin/true', argv: ['true'] });
    const [r] = drain(ek, 'events');
    expect(new DataView(r.buffer).getUint32(0, true)).toBe(42);
    expect(() => ek.bindMap({ name: 'kestrel_procs', type: 1, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 })).toThrow(/kernel map/);
  });
});
